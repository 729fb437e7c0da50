"""torchinit.seeding: keyed seeding's values depend on (seed, name, strategy) only."""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import time

import pytest
import torch
from torch import nn

import torchinit as ti
from torchinit import counter, seeding


def net(extra: bool = False) -> nn.Module:
    layers: collections.OrderedDict[str, nn.Module] = collections.OrderedDict()
    if extra:
        layers["extra"] = nn.Linear(5, 5)
    layers["conv"] = nn.Conv2d(3, 2, 2)
    layers["bn"] = nn.BatchNorm2d(2)
    layers["flat"] = nn.Flatten()
    layers["fc"] = nn.Linear(2, 2)
    return nn.Sequential(layers)


def values(model: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in model.state_dict().items() if k.startswith(prefix)}


def test_golden_values_pin_the_scheme() -> None:
    """Changing these numbers changes every keyed init: bump seeding.VERSION instead."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 2, 2), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2))
    report = ti.init_model(model, "vgg", seed=2026)
    expected_conv = torch.tensor(
        [0.17328327894210815, -0.06118802726268768, 0.1250433474779129, -0.3448558747768402,
         -0.767797589302063, -0.8797767162322998]
    )  # fmt: skip
    expected_fc = torch.tensor(
        [0.0044119348749518394, 0.01187753863632679, -0.001206295215524733, 0.014370079152286053]
    )
    assert torch.equal(model[0].weight.flatten()[:6], expected_conv)
    assert torch.equal(model[3].weight.flatten(), expected_fc)
    assert report.seeding == {"scheme": "torchinit-keyed", "version": 2, "seed": 2026}


def test_golden_values_of_a_second_chunk_and_of_the_fast_trunc_normal() -> None:
    big = nn.Linear(1100, 1000)  # 1.1M weights: two chunks
    policy = ti.Policy(
        [
            ti.Rule(
                nn.Linear,
                weight=ti.TruncNormal(std=0.02, a=-0.04, b=0.04),
                bias=ti.Uniform(-1.0, 1.0),
            )
        ]
    )
    ti.init_model(big, policy, seed=2026)
    flat = big.weight.flatten()
    chunk = ti.seeding.CHUNK_ELEMENTS
    expected = {
        0: [-0.028335431590676308, -0.005482069682329893, -0.006438683718442917],
        chunk: [-0.008818886242806911, 0.014462102204561234, -0.006319996435195208],
    }
    for start, numbers in expected.items():
        assert torch.equal(flat[start : start + 3], torch.tensor(numbers))
    bias = [-0.06552886962890625, -0.12713658809661865, -0.14530646800994873]
    assert torch.equal(big.bias[:3], torch.tensor(bias))


VERSIONS = pytest.mark.parametrize("version", seeding.VERSIONS, ids=lambda v: f"v{v}")


def test_golden_values_pin_scheme_3() -> None:
    """Changing these numbers changes every scheme-3 init: add a version instead."""
    model = nn.Sequential(nn.Conv2d(3, 2, 2), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2, 2))
    report = ti.init_model(model, "vgg", seed=2026, scheme_version=3)
    expected_conv = torch.tensor(
        [-0.26207035779953003, 0.42862483859062195, 0.1534573882818222, 0.16353720426559448,
         0.5102415680885315, -0.25112712383270264]
    )  # fmt: skip
    expected_fc = torch.tensor(
        [-0.011607845313847065, -0.006142087746411562, 0.007123442366719246, -0.009013713337481022]
    )  # fmt: skip
    assert torch.equal(model[0].weight.flatten()[:6], expected_conv)
    assert torch.equal(model[3].weight.flatten(), expected_fc)
    assert report.seeding == {"scheme": "torchinit-keyed", "version": 3, "seed": 2026}
    assert "torchinit-keyed v3 seed=2026" in report.summary()

    big = nn.Linear(1100, 1000)
    policy = ti.Policy(
        [
            ti.Rule(
                nn.Linear,
                weight=ti.TruncNormal(std=0.02, a=-0.04, b=0.04),
                bias=ti.Uniform(-1.0, 1.0),
            )
        ]
    )
    ti.init_model(big, policy, seed=2026, scheme_version=3)
    flat = big.weight.flatten()
    expected = {
        0: [-6.044453402864747e-05, -0.012202500365674496, 0.015638425946235657],
        2**20: [-0.03437386825680733, -0.002404315397143364, -0.03923424705862999],
    }
    for start, numbers in expected.items():
        assert torch.equal(flat[start : start + 3], torch.tensor(numbers))
    bias = [0.6180558204650879, 0.513489842414856, 0.602053701877594]
    assert torch.equal(big.bias[:3], torch.tensor(bias))


def test_scheme_3_is_counter_draw_at_the_flat_indices_under_the_tensors_key() -> None:
    """The scheme as documented, recomputed from its parts: key = the first 8 bytes
    (little-endian) of sha256(json([scheme, 3, seed, name, spec])), values = counter.draw at
    the row-major flat indices, rounded to float32."""
    model = nn.Linear(30, 20)
    strategy = ti.TruncNormal(std=0.5, a=-0.6, b=1.0)
    ti.init_model(model, _big_policy(strategy), seed=77, scheme_version=3)
    text = json.dumps(
        ["torchinit-keyed", 3, 77, "weight", strategy.to_spec()],
        sort_keys=True,
        separators=(",", ":"),
    )
    key = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    law = strategy.law((20, 30))
    assert law is not None
    expected = counter.draw(law.kind, law.params, key, torch.arange(600)).float().view(20, 30)
    assert torch.equal(model.weight, expected)
    assert torch.equal(model.bias, torch.zeros(20))


def test_scheme_3_gives_other_values_than_scheme_2_for_every_strategy() -> None:
    """Laws come from the counters, the rest (orthogonal, a layer's reset) from generators
    keyed with the version: no tensor repeats scheme 2's values."""
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, name="0", weight=ti.Orthogonal(), bias=ti.Normal()),
            ti.Rule(nn.Linear, name="1", weight="torch_default", bias="torch_default"),
        ]
    )
    two, three = (nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 3)) for _ in range(2))
    ti.init_model(two, policy, seed=6)
    ti.init_model(three, policy, seed=6, scheme_version=3)
    for name, value in values(two).items():
        assert not torch.equal(value, values(three)[name]), name


def test_scheme_3_tasks_and_blocks_do_not_change_the_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = _big_policy(ti.KaimingNormal())
    reference = nn.Linear(700, 900)
    ti.init_model(reference, policy, seed=4, scheme_version=3)
    monkeypatch.setattr(seeding, "COUNTER_TASK_ELEMENTS", 1000)
    monkeypatch.setattr(counter, "BLOCK", 333)
    small = nn.Linear(700, 900)
    ti.init_model(small, policy, seed=4, scheme_version=3)
    assert torch.equal(small.weight, reference.weight)


def test_scheme_3_float64_tensors_hold_the_values_float32_ones_round() -> None:
    """Each value is computed in float64 and rounded once, to the tensor's dtype."""
    policy = _big_policy(ti.TruncNormal(std=0.02))
    single, double = nn.Linear(50, 40), nn.Linear(50, 40).double()
    ti.init_model(single, policy, seed=12, scheme_version=3)
    ti.init_model(double, policy, seed=12, scheme_version=3)
    assert torch.equal(double.weight.float(), single.weight)
    assert not torch.equal(double.weight, single.weight.double())


def test_scheme_3_on_a_meta_model_equals_the_model_built_in_memory() -> None:
    built = net()
    ti.init_model(built, "vgg", seed=9, scheme_version=3)
    with torch.device("meta"):
        lazy = net()
    ti.init_model(lazy, "vgg", seed=9, scheme_version=3, device="cpu")
    assert all(torch.equal(v, values(lazy)[k]) for k, v in values(built).items())


@VERSIONS
def test_independent_of_traversal_order_and_of_other_parameters(version: int) -> None:
    reference = net()
    ti.init_model(reference, "vgg", seed=7, scheme_version=version)
    in_apply_order = net()
    ti.init_model(in_apply_order, "vgg", seed=7, order="apply", scheme_version=version)
    with_extra = net(extra=True)
    ti.init_model(with_extra, "vgg", seed=7, scheme_version=version)
    expected = values(reference)
    assert all(torch.equal(v, values(in_apply_order)[k]) for k, v in expected.items())
    assert all(torch.equal(v, values(with_extra)[k]) for k, v in expected.items())


@VERSIONS
def test_independent_of_the_number_of_threads(version: int) -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = net()
        ti.init_model(one, "vgg", seed=3, scheme_version=version)
        torch.set_num_threads(max(2, threads))
        many = net()
        ti.init_model(many, "vgg", seed=3, scheme_version=version)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(v, values(many)[k]) for k, v in values(one).items())


@pytest.mark.parametrize(
    ("wrap", "prefix"),
    [
        (nn.DataParallel, "module."),
        (torch.compile, "_orig_mod."),
        (lambda model: torch.compile(nn.DataParallel(model)), "_orig_mod.module."),
    ],
    ids=["DataParallel", "torch.compile", "both"],
)
@VERSIONS
def test_independent_of_wrappers_that_prefix_names(wrap, prefix: str, version: int) -> None:
    plain = net()
    ti.init_model(plain, "vgg", seed=11, scheme_version=version)
    wrapped = wrap(net())
    report = ti.init_model(wrapped, "vgg", seed=11, scheme_version=version)
    assert report.initialized[0].name.startswith(prefix)
    assert all(torch.equal(v, values(wrapped, prefix)[k]) for k, v in values(plain).items())


class Tied(nn.Module):
    def __init__(self, head_first: bool) -> None:
        super().__init__()
        if head_first:
            self.lm_head = nn.Linear(4, 10, bias=False)
            self.embed = nn.Embedding(10, 4)
        else:
            self.embed = nn.Embedding(10, 4)
            self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight


@VERSIONS
def test_a_tied_parameter_is_keyed_by_its_smallest_name(version: int) -> None:
    policy = ti.Policy([ti.Rule((nn.Embedding, nn.Linear), weight=ti.Normal(0.0, 0.02))])
    first, second = Tied(head_first=False), Tied(head_first=True)
    ti.init_model(first, policy, seed=1, scheme_version=version)
    ti.init_model(second, policy, seed=1, scheme_version=version)
    assert torch.equal(first.embed.weight, second.embed.weight)


@VERSIONS
def test_seed_and_strategy_change_the_values(version: int) -> None:
    a, b, c = net(), net(), net()
    ti.init_model(a, "vgg", seed=1, scheme_version=version)
    ti.init_model(b, "vgg", seed=2, scheme_version=version)
    ti.init_model(
        c,
        ti.get_preset("vgg").then(ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02))),
        seed=1,
        scheme_version=version,
    )
    assert not torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)
    assert torch.equal(a.conv.weight, c.conv.weight)


@VERSIONS
def test_the_global_generator_is_never_touched(version: int) -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, name="0", weight="torch_default", bias="torch_default"),
            ti.Rule(nn.Linear, weight=ti.Normal(), bias=ti.Uniform()),
        ]
    )
    state = torch.get_rng_state()
    ti.init_model(model, policy, seed=9, scheme_version=version)
    assert torch.equal(torch.get_rng_state(), state)
    again = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3), nn.Linear(3, 2))
    ti.init_model(again, policy, seed=9, scheme_version=version)
    assert torch.equal(model[0].weight, again[0].weight)


def test_plan_reports_the_scheme_and_draws_nothing() -> None:
    model = net()
    before = values(model)
    state = torch.get_rng_state()
    report = ti.plan(model, "vgg", seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(v, values(model)[k]) for k, v in before.items())
    assert "torchinit-keyed v2 seed=4" in report.summary()
    assert report.to_dict()["seeding"] == {"scheme": "torchinit-keyed", "version": 2, "seed": 4}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seed": 1.5}, ti.ArgumentTypeError, "seed: must be an integer (got 1.5)"),
        ({"seed": True}, ti.ArgumentTypeError, "seed: must be an integer (got True)"),
        ({"seed": -1}, ti.InvalidArgumentError, "seed: must be >= 0 (got -1)"),
        ({"seed": 2**64}, ti.InvalidArgumentError, f"seed: must be < 2**64 (got {2**64})"),
        (
            {"seed": 1, "generator": torch.Generator()},
            ti.InvalidArgumentError,
            "seed: give either seed= (keyed seeding) or generator=, not both (got 1)",
        ),
        (
            {"scheme_version": 3},
            ti.InvalidArgumentError,
            "scheme_version: selects a keyed seeding scheme: give seed= too (got 3)",
        ),
        (
            {"seed": 1, "scheme_version": 1},
            ti.InvalidArgumentError,
            "scheme_version: must be one of [2, 3] (got 1)",
        ),
        (
            {"seed": 1, "scheme_version": True},
            ti.InvalidArgumentError,
            "scheme_version: must be one of [2, 3] (got True)",
        ),
        (
            {"seed": 1, "scheme_version": "3"},
            ti.InvalidArgumentError,
            "scheme_version: must be one of [2, 3] (got '3')",
        ),
    ],
)
def test_bad_seeds(kwargs: dict[str, object], error: type, message: str) -> None:
    model = net()
    before = values(model)
    with pytest.raises(error) as info:
        ti.init_model(model, "vgg", **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert all(torch.equal(v, values(model)[k]) for k, v in before.items())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@VERSIONS
def test_cuda_gets_the_same_values_as_the_cpu(version: int) -> None:
    cpu = net()
    ti.init_model(cpu, "vgg", seed=21, scheme_version=version)
    cuda = net().cuda()
    ti.init_model(cuda, "vgg", seed=21, scheme_version=version)
    assert all(torch.equal(v, values(cuda)[k].cpu()) for k, v in values(cpu).items())


def _big_policy(strategy: ti.Strategy) -> ti.Policy:
    return ti.Policy([ti.Rule(nn.Linear, weight=strategy, bias="zeros")])


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_chunks_are_the_same_on_any_number_of_threads(threads: int) -> None:
    keyed = ti.seeding.KeyedSeeding(5, nn.Linear(1, 1))
    strategy = ti.KaimingNormal()
    law = strategy.law((1500, 2000))
    assert law is not None
    reference = torch.empty(3_000_000)
    ti.seeding.run_tasks(
        keyed.chunk_tasks(["w"], strategy, law, (1500, 2000), reference), threads=1
    )
    out = torch.empty(3_000_000)
    tasks = keyed.chunk_tasks(["w"], strategy, law, (1500, 2000), out)
    assert len(tasks) == 3
    ti.seeding.run_tasks(tasks, threads=threads)
    assert torch.equal(out, reference)


@pytest.mark.parametrize(
    ("start", "stop"),
    [(0, 10), (1000, 2_500_000), (2**20, 2**21), (2**20 - 1, 2**20 + 1), (2_999_990, 3_000_000)],
)
@VERSIONS
def test_any_range_of_elements_equals_the_same_range_of_the_whole(
    start: int, stop: int, version: int
) -> None:
    """What a rank holding some rows of a sharded tensor computes."""
    keyed = ti.seeding.KeyedSeeding(5, nn.Linear(1, 1), version)
    strategy = ti.TruncNormal(std=1.0, a=-1.0, b=1.5)
    law = strategy.law((3000, 1000))
    assert law is not None
    whole = torch.empty(3_000_000)
    ti.seeding.run_tasks(keyed.chunk_tasks(["w"], strategy, law, (3000, 1000), whole))
    part = torch.empty(stop - start)
    ti.seeding.run_tasks(keyed.chunk_tasks(["w"], strategy, law, (3000, 1000), part, start))
    assert torch.equal(part, whole[start:stop])


def test_a_range_outside_the_tensor_is_refused() -> None:
    keyed = ti.seeding.KeyedSeeding(5, nn.Linear(1, 1))
    law = ti.Normal().law((10,))
    assert law is not None
    with pytest.raises(ValueError, match="outside a tensor of 10 elements"):
        keyed.chunk_tasks(["w"], ti.Normal(), law, (10,), torch.empty(5), start=6)


def _block(shape: tuple[int, ...], *held: list[int]) -> seeding.Block:
    return seeding.Block(shape, tuple(torch.tensor(index, dtype=torch.int64) for index in held))


@pytest.mark.parametrize(
    ("strategy", "block"),
    [
        # columns: every row's run of columns is scattered over the chunks
        (ti.Normal(), _block((40, 30), list(range(40)), [4, 5, 6, 29])),
        # a 2-D block whose rows are whole runs, and one whose runs fill whole chunks
        (ti.Uniform(-1.0, 2.0), _block((40, 30), [3, 4, 5, 17], list(range(30)))),
        (ti.Uniform(), _block((40, 25), [0, 1, 2, 3, 8, 9, 10, 11], list(range(25)))),
        # the zero row (padding_idx 6) cut by the block, and a constant
        (ti.PaddedNormal(std=2.0, padding_idx=6), _block((10, 20), [5, 6, 9], [0, 7, 8, 19])),
        (ti.Constant(3.0), _block((10, 20), [1, 2], [3])),
        (ti.TruncNormal(a=-1.0, b=1.0), _block((3, 4, 5), [1, 2], [0, 3], [1, 2, 4])),
        (
            ti.Normal(),
            _block(
                (),
            ),
        ),
    ],
)
@VERSIONS
def test_a_block_holds_the_same_elements_of_the_whole(
    strategy: ti.Strategy, block: seeding.Block, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a rank holding any DTensor shard computes (chunks of 100 elements, or tasks of 7
    under scheme 3: many of them)."""
    monkeypatch.setattr(seeding, "CHUNK_ELEMENTS", 100)
    monkeypatch.setattr(seeding, "COUNTER_TASK_ELEMENTS", 7)
    keyed = seeding.KeyedSeeding(5, nn.Linear(1, 1), version)
    law = strategy.law(block.shape)
    assert law is not None
    whole = torch.empty(block.shape)
    seeding.run_tasks(keyed.chunk_tasks(["w"], strategy, law, block.shape, whole.view(-1)))
    expected = whole
    for dim, index in enumerate(block.indices):
        expected = expected.index_select(dim, index)
    # float32 is written in place (a chunk the block holds whole is drawn right there)
    for dtype in (torch.float32, torch.bfloat16):
        part = torch.empty(block.numel, dtype=dtype)
        tasks = keyed.chunk_tasks(["w"], strategy, law, block.shape, part, block=block)
        seeding.run_tasks(tasks, threads=2)
        assert torch.equal(part, expected.reshape(-1).to(dtype))
    if version == 2:
        # a task per chunk the block overlaps, and no other
        flat = block.flat(torch.arange(block.numel))
        assert len(tasks) == len(set((flat // 100).tolist()))
    else:
        assert len(tasks) == -(-block.numel // 7)


def test_a_block_and_a_range_together_are_refused() -> None:
    keyed = seeding.KeyedSeeding(5, nn.Linear(1, 1))
    law = ti.Normal().law((10,))
    assert law is not None
    with pytest.raises(ValueError, match=r"^a block of 2 elements needs start 0 and as many$"):
        keyed.chunk_tasks(
            ["w"], ti.Normal(), law, (10,), torch.empty(2), 1, block=_block((10,), [1, 2])
        )


@VERSIONS
def test_layout_and_dtype_do_not_change_the_values(version: int) -> None:
    """Contiguous, transposed (non-contiguous), bfloat16 and parametrized tensors of the same
    name get the same values (drawn in float32, then cast)."""
    policy = _big_policy(ti.XavierUniform())
    plain = nn.Linear(1200, 1000)
    ti.init_model(plain, policy, seed=8, scheme_version=version)

    transposed = nn.Linear(1200, 1000)
    transposed.weight = nn.Parameter(torch.empty(1200, 1000).t())
    assert not transposed.weight.is_contiguous()
    ti.init_model(transposed, policy, seed=8, scheme_version=version)
    assert torch.equal(transposed.weight, plain.weight)

    half = nn.Linear(1200, 1000).to(torch.bfloat16)
    ti.init_model(half, policy, seed=8, scheme_version=version)
    assert torch.equal(half.weight, plain.weight.to(torch.bfloat16))

    normed = torch.nn.utils.parametrizations.weight_norm(nn.Linear(1200, 1000))
    ti.init_model(normed, policy, seed=8, scheme_version=version)
    torch.testing.assert_close(normed.weight, plain.weight)


@VERSIONS
def test_a_padding_row_is_zero_in_whichever_chunk_it_falls(version: int) -> None:
    vocab, dim = 3000, 700  # the padding row 1497 straddles the chunk boundary at 2**20
    embedding = nn.Embedding(vocab, dim, padding_idx=1497)
    plain = nn.Embedding(vocab, dim)
    policy = ti.Policy([ti.Rule(nn.Embedding, weight=ti.PaddedNormal(std=0.02, padding_idx=1497))])
    ti.init_model(embedding, policy, seed=3, scheme_version=version)
    ti.init_model(plain, policy, seed=3, scheme_version=version)
    assert 1497 * dim < ti.seeding.CHUNK_ELEMENTS < 1499 * dim
    assert torch.equal(embedding.weight[1497], torch.zeros(dim))
    keep = torch.arange(vocab) != 1497
    assert torch.equal(embedding.weight[keep], plain.weight[keep])
    assert float(plain.weight.detach()[keep].std()) == pytest.approx(0.02, rel=0.01)


@pytest.mark.parametrize(
    "strategy",
    [ti.TruncNormal(std=0.02, a=-0.04, b=0.04), ti.LecunNormal(), ti.Uniform(-0.3, 0.1)],
    ids=str,
)
@VERSIONS
def test_keyed_values_follow_the_strategys_distribution(
    strategy: ti.Strategy, version: int
) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    model = nn.Linear(1000, 1500)
    ti.init_model(model, _big_policy(strategy), seed=13, scheme_version=version)
    values = model.weight.detach().double().flatten().numpy()
    law = strategy.law((1500, 1000))
    assert law is not None
    if law.kind == "uniform":
        low, high = law.params
        reference = scipy_stats.uniform(low, high - low)
    else:
        mean, std, a, b = law.params
        reference = scipy_stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
    sample = values[::15]  # 100,000 values: KS is sensitive enough, and quick
    assert scipy_stats.kstest(sample, reference.cdf).pvalue > 1e-4
    assert abs(values.mean() - reference.mean()) < 6 * reference.std() / len(values) ** 0.5


@VERSIONS
def test_a_model_with_multi_chunk_tensors_is_the_same_on_one_or_many_threads(
    version: int,
) -> None:
    def model() -> nn.Module:
        return nn.Sequential(nn.Embedding(3000, 800), nn.Linear(800, 1500), nn.LayerNorm(1500))

    policy = ti.Policy(
        [
            ti.Rule(nn.Embedding, weight=ti.TruncNormal(std=0.02, a=-0.04, b=0.04)),
            ti.Rule(nn.Linear, weight=ti.XavierUniform(), bias="zeros"),
            ti.Rule(nn.LayerNorm, weight="ones", bias="zeros"),
        ]
    )
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2, 4):
            torch.set_num_threads(count)
            built = model()
            ti.init_model(built, policy, seed=17, scheme_version=version)
            results.append(values(built))
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(v, other[k]) for k, v in results[0].items())


@pytest.mark.parametrize("failing", [0, 5])
def test_a_failing_task_stops_the_others_and_is_raised_after_all_stopped(failing: int) -> None:
    done: list[int] = []

    def task(index: int) -> None:
        if index == failing:
            raise RuntimeError(f"task {index} failed")
        # a task that gives up the GIL, as torch's kernels do: otherwise, were the failing
        # thread switched out between its raise and stopping the others, the other thread
        # could run every task left within one switch interval (5 ms)
        time.sleep(0.01)
        done.append(index)

    tasks = [(1 << 20, functools.partial(task, i)) for i in range(40)]
    with pytest.raises(RuntimeError, match=f"task {failing} failed"):
        ti.seeding.run_tasks(tasks, threads=2)
    settled = list(done)
    time.sleep(0.05)
    assert done == settled  # nothing runs on after the call returned
    assert len(done) < 40


def test_a_law_of_an_unknown_kind_is_refused() -> None:
    law = ti.Law("cauchy", (0.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(
        ValueError,
        match=r"^Law kind cauchy not supported, please use one of "
        r"\('constant', 'uniform', 'normal', 'trunc_normal'\)$",
    ):
        seeding._draw(law, torch.empty(3), None)
