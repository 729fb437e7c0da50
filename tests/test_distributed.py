"""torchinit.distributed: keyed init of FSDP2/DTensor parameters equals the unsharded init.

The two-rank tests spawn two real processes (gloo on the loopback interface, one CPU mesh of
two ranks) once per module and compare, here, each parameter's ``full_tensor()`` with an
unsharded twin initialized in this process, under scheme 2 and scheme 3 of keyed seeding (each
against a twin of its own scheme). Under scheme 3 each rank also records the flat indices
``counter.draw`` is asked for: exactly its own elements. The one-rank tests run a gloo group of
one rank in this process, on an in-memory store.
"""

from __future__ import annotations

import collections
import contextlib
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from gloo_ranks import free_port, gloo_group, spawn, two_rank_results
from torch import nn

import torchinit as ti

dist = pytest.importorskip("torch.distributed", reason="torch is built without distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is unavailable", allow_module_level=True)

from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.fsdp import fully_shard  # noqa: E402
from torch.distributed.tensor import (  # noqa: E402
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
)
from torch.distributed.tensor.placement_types import _StridedShard  # noqa: E402

SEED = 2026
#: The keyed schemes every layout is checked under (``init_model(..., scheme_version=)``).
SCHEMES = (2, 3)
POLICY = ti.Policy(
    [
        ti.Rule(
            nn.Linear,
            weight=ti.TruncNormal(std=0.02, a=-0.04, b=0.04),
            bias=ti.Uniform(-1.0, 1.0),
        ),
        # the tests' smaller models lack some of these layers
        ti.Rule(
            nn.Linear,
            name="even",
            weight=ti.Normal(0.0, 1.0),
            bias=ti.Constant(0.5),
            optional=True,
        ),
        ti.Rule(nn.Linear, name="ortho", weight=ti.Orthogonal(), optional=True),
        ti.Rule(nn.Embedding, weight=ti.PaddedNormal(0.0, 1.0, padding_idx=3), optional=True),
    ]
)
UNSUPPORTED = (
    "unsupported.weight: rules[0].weight: keyed init supports the DTensor placements Shard, "
    "_StridedShard and Replicate only, not Partial(sum) (got (Partial(sum),))"
)


def sharded_net() -> nn.Sequential:
    """Every case FSDP2 shards over two ranks (rows: rank 0 gets the first ceil(n / 2))."""
    layers: collections.OrderedDict[str, nn.Module] = collections.OrderedDict()
    layers["uneven"] = nn.Linear(7, 5)  # 3 + 2 rows
    layers["single"] = nn.Linear(5, 1)  # rank 1 has no rows
    layers["even"] = nn.Linear(3, 4)  # 2 + 2 rows; normal and constant
    layers["embed"] = nn.Embedding(5, 4, padding_idx=3)  # the padding row is on rank 1
    layers["ortho"] = nn.Linear(4, 7)  # no law: drawn whole, 4 + 3 rows kept
    # 1.1M weights, two chunks; rank 1's rows start at element 550,000, inside chunk 0
    layers["big"] = nn.Linear(1100, 1000)
    return nn.Sequential(layers)


def replicated_net(mesh: Any, row_mesh: Any) -> nn.Sequential:
    """A replicated weight, and rows sharded over the second dimension of a 2-D mesh."""
    model = nn.Sequential(collections.OrderedDict(rep=nn.Linear(3, 5), hsdp=nn.Linear(9, 5)))
    with torch.no_grad():
        model.rep.weight = nn.Parameter(distribute_tensor(model.rep.weight, mesh, [Replicate()]))
        model.hsdp.weight = nn.Parameter(
            distribute_tensor(model.hsdp.weight, row_mesh, [Replicate(), Shard(0)])
        )
    return model


def unsupported_net(mesh: Any) -> nn.Sequential:
    """A supported parameter first, then a partial sum."""
    model = nn.Sequential(
        collections.OrderedDict(first=nn.Linear(4, 6), unsupported=nn.Linear(4, 6))
    )
    with torch.no_grad():
        model.first.weight = nn.Parameter(distribute_tensor(model.first.weight, mesh, [Shard(0)]))
        model.unsupported.weight = nn.Parameter(
            DTensor.from_local(model.unsupported.weight.detach().clone(), mesh, [Partial()])
        )
    return model


def full(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter's global value (a collective: every rank calls it)."""
    return {
        name: (p.full_tensor() if isinstance(p, DTensor) else p).detach().clone()
        for name, p in model.named_parameters()
    }


def local(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: (p.to_local() if isinstance(p, DTensor) else p).detach().clone()
        for name, p in model.named_parameters()
    }


def assert_same(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for name, value in got.items():
        assert torch.equal(value, expected[name]), name


@contextlib.contextmanager
def recording_draws() -> Iterator[dict[int, list[torch.Tensor]]]:
    """Per counter key, the flat indices ``counter.draw`` is asked for inside the block (seeding
    calls it through the module attribute, so this wrapper sees every scheme-3 draw)."""
    asked: dict[int, list[torch.Tensor]] = collections.defaultdict(list)
    draw = ti.counter.draw

    def recording(
        kind: str, params: tuple[float, ...], key: int, index: torch.Tensor, **options: Any
    ) -> torch.Tensor:
        asked[key].append(index.to("cpu", copy=True))
        return draw(kind, params, key, index, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ti.counter, "draw", recording)
        yield asked


def held_indices(value: torch.Tensor) -> torch.Tensor:
    """The global flat indices of the elements of ``value`` this rank holds, sorted: a tensor
    of flat indices distributed by torch with ``value``'s placements (not torchinit's index
    arithmetic). A collective-free split: every rank splits its own copy."""
    flat = torch.arange(value.numel(), dtype=torch.float64).view(value.shape)  # exact below 2^53
    if isinstance(value, DTensor):
        flat = distribute_tensor(
            flat, value.device_mesh, value.placements, src_data_rank=None
        ).to_local()
    return flat.reshape(-1).long().sort().values


def drawn_elements(
    model: nn.Module, report: ti.InitReport, asked: dict[int, list[torch.Tensor]]
) -> dict[str, str]:
    """Per parameter, "exact" when the indices scheme 3 asked ``counter.draw`` for on this rank
    (``asked``, see :func:`recording_draws`) are its local elements' global flat indices, each
    once and nothing else; "no law" when its strategy has none (nothing may be asked for); else
    what differs. Elements, not candidate draws: truncated-normal rejection happens inside
    ``draw``."""
    keyed = ti.seeding.KeyedSeeding(SEED, model, version=3)
    found = {}
    for name, value in model.named_parameters():
        strategy = report[name].strategy
        calls = asked.pop(keyed.counter_key([name], strategy), [])
        drawn = torch.cat([torch.zeros(0, dtype=torch.int64), *calls]).sort().values
        if strategy.law(tuple(value.shape)) is None:
            found[name] = "no law" if not calls else f"{drawn.numel()} drawn without a law"
            continue
        held = held_indices(value)
        if torch.equal(drawn, held):
            found[name] = "exact"
        else:
            elsewhere = int(torch.isin(drawn, held, invert=True).sum())
            found[name] = (
                f"{drawn.numel()} drawn for {held.numel()} local elements, {elsewhere} elsewhere"
            )
    if asked:
        found["<no parameter>"] = f"{len(asked)} other keys drawn"
    return found


def keyed_init(
    model: nn.Module,
    policy: ti.Policy,
    version: int,
    drawn: dict[str, dict[str, str]],
    case: str,
    **options: Any,
) -> None:
    """``init_model`` with ``seed=SEED`` under scheme ``version``; under scheme 3,
    ``drawn[case]`` says what each parameter drew on this rank (:func:`drawn_elements`)."""
    with recording_draws() as asked:
        report = ti.init_model(model, policy, seed=SEED, scheme_version=version, **options)
    if version == 3:
        drawn[case] = drawn_elements(model, report, asked)


def two_ranks(rank: int, port: int, out: str) -> None:
    """One rank of the two-process run: every case, results saved by rank 0."""
    with gloo_group(rank, 2, port):
        mesh = init_device_mesh("cpu", (2,))
        row_mesh = init_device_mesh("cpu", (1, 2))
        torch.manual_seed(rank)  # different garbage on each rank: keyed init must not care

        result: dict[str, Any] = {"torchinit": ti.__file__, "drawn": {}}
        for version in SCHEMES:
            model = sharded_net()
            for layer in model:
                fully_shard(layer, mesh=mesh)
            fully_shard(model, mesh=mesh)
            parameters = [id(p) for p in model.parameters()]
            rows = {name: p.to_local().shape[0] for name, p in model.named_parameters()}
            keyed_init(model, POLICY, version, result["drawn"], "fsdp2")
            result[f"sharded/{version}"] = full(model)
            result[f"same_parameters/{version}"] = parameters == [id(p) for p in model.parameters()]
            replicated = replicated_net(mesh, row_mesh)
            keyed_init(replicated, POLICY, version, result["drawn"], "replicated")
            result[f"replicated_local/{version}"] = local(replicated)
        result["shard_rows"] = rows

        refused = unsupported_net(mesh)
        before = local(refused)
        try:
            ti.init_model(refused, POLICY, seed=SEED)
            result["message"] = "no error"
        except ti.PlanError as error:
            result["message"] = str(error)
        result["unchanged"] = all(torch.equal(before[k], v) for k, v in local(refused).items())
        torch.save(result, Path(out) / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return two_rank_results(two_ranks, tmp_path_factory.mktemp("ranks"))


@pytest.fixture(scope="module")
def sharded_reference() -> dict[int, dict[str, torch.Tensor]]:
    """Per scheme, the values of :func:`sharded_net` initialized unsharded in this process."""
    expected = {}
    for version in SCHEMES:
        reference = sharded_net()
        ti.init_model(reference, POLICY, seed=SEED, scheme_version=version)
        expected[version] = {k: v.detach() for k, v in reference.named_parameters()}
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("version", SCHEMES)
def test_fsdp2_shards_hold_the_unsharded_values(
    ranks: list[dict[str, Any]], sharded_reference: dict[int, Any], version: int
) -> None:
    expected = sharded_reference[version]
    for result in ranks:
        assert result["torchinit"] == ti.__file__  # the code under test, not an installed copy
        assert_same(result[f"sharded/{version}"], expected)
        assert result[f"same_parameters/{version}"]
    assert torch.equal(expected["embed.weight"][3], torch.zeros(4))


@pytest.mark.slow
def test_the_two_ranks_cover_every_kind_of_shard(ranks: list[dict[str, Any]]) -> None:
    """The cases above happen: uneven and empty shards, a boundary inside a chunk."""
    rows = [result["shard_rows"] for result in ranks]
    assert (rows[0]["uneven.weight"], rows[1]["uneven.weight"]) == (3, 2)
    assert (rows[0]["single.weight"], rows[1]["single.weight"]) == (1, 0)
    assert (rows[0]["ortho.weight"], rows[1]["ortho.weight"]) == (4, 3)
    assert rows[0]["embed.weight"] == 3
    boundary = rows[0]["big.weight"] * 1100
    assert 0 < boundary < ti.seeding.CHUNK_ELEMENTS < 1000 * 1100


@pytest.mark.slow
@pytest.mark.parametrize("version", SCHEMES)
def test_replicated_and_2d_mesh_parameters_hold_the_unsharded_values(
    ranks: list[dict[str, Any]], version: int
) -> None:
    reference = nn.Sequential(collections.OrderedDict(rep=nn.Linear(3, 5), hsdp=nn.Linear(9, 5)))
    ti.init_model(reference, POLICY, seed=SEED, scheme_version=version)
    got = [result[f"replicated_local/{version}"] for result in ranks]
    assert torch.equal(got[0]["rep.weight"], reference.rep.weight)
    assert torch.equal(got[1]["rep.weight"], reference.rep.weight)
    hsdp = torch.cat([rank["hsdp.weight"] for rank in got])
    assert torch.equal(hsdp, reference.hsdp.weight)


@pytest.mark.slow
def test_under_scheme_3_each_of_two_ranks_draws_exactly_its_elements(
    ranks: list[dict[str, Any]],
) -> None:
    """FSDP2 rows (uneven, empty, padded), replicated, and rows of a 2-D mesh."""
    fsdp2 = dict.fromkeys(dict(sharded_net().named_parameters()), "exact")
    fsdp2["ortho.weight"] = "no law"
    replicated = dict.fromkeys(["rep.weight", "rep.bias", "hsdp.weight", "hsdp.bias"], "exact")
    for result in ranks:
        assert result["drawn"] == {"fsdp2": fsdp2, "replicated": replicated}


@pytest.mark.slow
def test_an_unsupported_placement_is_refused_before_anything_is_touched(
    ranks: list[dict[str, Any]],
) -> None:
    for result in ranks:
        assert result["message"] == UNSUPPORTED
        assert result["unchanged"]


# ------------------------------------------------------ tensor parallel and 2-D meshes

#: The Llama model's tests draw in chunks this small, so that every weight spans several.
SMALL_CHUNK = 1000
STRATEGIES = {
    "normal": ti.Normal(0.0, 0.02),
    "uniform": ti.Uniform(-0.05, 0.05),
    "trunc_normal": ti.TruncNormal(std=0.02, a=-0.04, b=0.04),
    "kaiming": ti.KaimingNormal(),
    "xavier": ti.XavierUniform(),
    "orthogonal": ti.Orthogonal(),  # no law: drawn whole on every rank
}
LLAMA_POLICIES = {
    name: ti.Policy(
        [
            ti.Rule(nn.Linear, weight=strategy, bias=ti.Normal(0.0, 0.02)),
            # the model with the big weights has neither
            ti.Rule(nn.Embedding, weight=strategy, optional=True),
            ti.Rule(nn.RMSNorm, weight=ti.Constant(1.0), optional=True),
        ]
    )
    for name, strategy in STRATEGIES.items()
}
#: Colwise splits the out features (weight rows, Shard(0)), rowwise the in features (Shard(1)).
TP_PLAN = {
    "attention.q": "colwise",
    "attention.k": "colwise",
    "attention.v": "colwise",
    "attention.o": "rowwise",
    "feed_forward.gate": "colwise",
    "feed_forward.up": "colwise",
    "feed_forward.down": "rowwise",
}


class Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.q = nn.Linear(dim, dim)  # biased, as in Qwen: a colwise bias is Shard(0)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim, bias=False)


class FeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)


class Layer(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.attention_norm = nn.RMSNorm(dim)
        self.attention = Attention(dim)
        self.ffn_norm = nn.RMSNorm(dim)
        self.feed_forward = FeedForward(dim, hidden)


class Llama(nn.Module):
    """The parameters of a Llama-style decoder (no forward: only the layouts matter)."""

    def __init__(self, vocab: int = 67, dim: int = 48, hidden: int = 130, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(Layer(dim, hidden) for _ in range(layers))
        self.norm = nn.RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied


def parallelize(model: nn.Module, layers: Any, layout: str, mesh: Any) -> None:
    """``layout``: "fsdp" (a 1-D mesh), "tp" (a 1-D mesh) or "fsdp_tp" (mesh ("dp", "tp"))."""
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    styles = {"colwise": ColwiseParallel, "rowwise": RowwiseParallel}
    tp_mesh = mesh if layout == "tp" else mesh["tp"] if layout == "fsdp_tp" else None
    dp_mesh = mesh if layout == "fsdp" else mesh["dp"] if layout == "fsdp_tp" else None
    for layer in layers:
        if tp_mesh is not None:
            present = dict(layer.named_modules())
            plan = {name: styles[style]() for name, style in TP_PLAN.items() if name in present}
            parallelize_module(layer, tp_mesh, plan)
        if dp_mesh is not None:
            fully_shard(layer, mesh=dp_mesh)
    if dp_mesh is not None and not any(layer is model for layer in layers):
        fully_shard(model, mesh=dp_mesh)


class Big(nn.Module):
    """Weights of 2.2M elements: three chunks of the real size, cut by the shards."""

    def __init__(self) -> None:
        super().__init__()
        self.feed_forward = FeedForward(1100, 2000)


def placements_of(model: nn.Module) -> dict[str, str]:
    return {
        name: repr(tuple(p.placements)) if isinstance(p, DTensor) else "tensor"
        for name, p in model.named_parameters()
    }


#: Shards distribute_tensor makes on a 2 x 2 mesh: uneven, strided, columns of columns, 3-D.
BLOCKS = {
    "blocks": ((7, 9), (Shard(0), Shard(1))),
    "strided": ((9, 5), (_StridedShard(0, split_factor=2), Shard(0))),
    "columns": ((5, 9), (Shard(1), Shard(1))),
    "hsdp_tp": ((6, 7), (Replicate(), Shard(1))),
    "cube": ((3, 5, 6), (Shard(2), Shard(0))),
}


class Holder(nn.Module):
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(value)


def blocks_net(mesh: Any | None) -> nn.ModuleDict:
    """One parameter per entry of :data:`BLOCKS` (plain tensors when ``mesh`` is None)."""
    net = nn.ModuleDict()
    for name, (shape, placements) in BLOCKS.items():
        value = torch.zeros(shape)
        if mesh is not None:
            # every rank splits its own zeros: torch's scatter of an uneven _StridedShard fails
            value = distribute_tensor(value, mesh, placements, src_data_rank=None)
        net[name] = Holder(value)
    return net


BLOCKS_POLICY = ti.Policy([ti.Rule(Holder, weight=ti.Normal(0.0, 1.0))])


@contextlib.contextmanager
def small_pieces() -> Iterator[None]:
    """Scheme 2's chunks and scheme 3's tasks of :data:`SMALL_CHUNK` elements (scheme 3's
    values do not depend on its task size: the reference keeps the real one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ti.seeding, "CHUNK_ELEMENTS", SMALL_CHUNK)
        patch.setattr(ti.seeding, "COUNTER_TASK_ELEMENTS", SMALL_CHUNK)
        yield


def layout_ranks(rank: int, world: int, port: int, out: str) -> None:
    """One rank of a run of every layout of ``world`` ranks under each scheme; rank 0 saves
    the global values and what every rank drew under scheme 3."""
    with gloo_group(rank, world, port):
        torch.manual_seed(rank)  # different garbage on each rank: keyed init must not care
        layouts = ["fsdp", "tp"] if world == 2 else ["fsdp_tp"]
        result: dict[str, Any] = {"torchinit": ti.__file__}
        drawn: dict[str, dict[str, str]] = {}
        for layout in layouts:
            shape = (2, 2) if layout == "fsdp_tp" else (2,)
            names = ("dp", "tp") if layout == "fsdp_tp" else None
            mesh = init_device_mesh("cpu", shape, mesh_dim_names=names)
            with torch.device("meta"):
                model = Llama()
            parallelize(model, model.layers, layout, mesh)
            net = blocks_net(mesh) if layout == "fsdp_tp" else None
            with small_pieces():
                for version in SCHEMES:
                    for name, policy in LLAMA_POLICIES.items():
                        case = f"{layout}/{version}/{name}"
                        keyed_init(model, policy, version, drawn, case, device="cpu")
                        result[case] = full(model)
                    if net is not None:
                        keyed_init(net, BLOCKS_POLICY, version, drawn, f"blocks/{version}")
                        result[f"blocks/{version}"] = full(net)
            result[f"{layout}/placements"] = placements_of(model)
            if net is not None:
                result["blocks/placements"] = placements_of(net)
            # scheme 2 only: its real chunks cut by the shards (scheme 3 would take seconds
            # per rank, and its small tasks above are cut by the shards the same way)
            with torch.device("meta"):
                big = Big()
            parallelize(big, [big], layout, mesh)
            for name in ("trunc_normal", "xavier"):
                ti.init_model(big, LLAMA_POLICIES[name], device="cpu", seed=SEED)
                result[f"{layout}/big/{name}"] = full(big)
            result[f"{layout}/big/placements"] = placements_of(big)
        every_rank: list[Any] = [None] * world
        dist.all_gather_object(every_rank, drawn)
        result["drawn"] = every_rank
        if rank == 0:
            torch.save(result, Path(out) / "result.pt")


def run_layouts(out: Path, world: int) -> dict[str, Any]:
    spawn(layout_ranks, world, world, free_port(), str(out))
    return dict(torch.load(out / "result.pt", weights_only=False))


@pytest.fixture(scope="module")
def two_layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_layouts(tmp_path_factory.mktemp("two_layouts"), 2)


@pytest.fixture(scope="module")
def four_layouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_layouts(tmp_path_factory.mktemp("four_layouts"), 4)


@pytest.fixture(scope="module")
def llama_reference() -> dict[str, dict[str, torch.Tensor]]:
    """Each scheme's and strategy's values on one process, unsharded (scheme 2 in small chunks,
    as in the ranks)."""
    threads = torch.get_num_threads()
    # on one thread, as the ranks: the QR of orthogonal gives other bits on other numbers of
    # threads (sharded or not)
    torch.set_num_threads(1)
    expected = {}
    for version in SCHEMES:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ti.seeding, "CHUNK_ELEMENTS", SMALL_CHUNK)
            for name, policy in LLAMA_POLICIES.items():
                model = Llama()
                ti.init_model(model, policy, seed=SEED, scheme_version=version)
                expected[f"{version}/{name}"] = {k: v.detach() for k, v in model.named_parameters()}
            blocks = blocks_net(None)
            ti.init_model(blocks, BLOCKS_POLICY, seed=SEED, scheme_version=version)
            expected[f"blocks/{version}"] = {k: v.detach() for k, v in blocks.named_parameters()}
    for name in ("trunc_normal", "xavier"):
        big = Big()
        ti.init_model(big, LLAMA_POLICIES[name], seed=SEED)
        expected[f"big/{name}"] = {k: v.detach() for k, v in big.named_parameters()}
    torch.set_num_threads(threads)
    return expected


@pytest.mark.slow
@pytest.mark.parametrize("version", SCHEMES)
@pytest.mark.parametrize("layout", ["fsdp", "tp"])
def test_llama_on_two_ranks_gets_the_unsharded_values(
    two_layouts: dict[str, Any], llama_reference: dict[str, Any], layout: str, version: int
) -> None:
    assert two_layouts["torchinit"] == ti.__file__
    for name in STRATEGIES:
        assert_same(two_layouts[f"{layout}/{version}/{name}"], llama_reference[f"{version}/{name}"])
    if version == 2:
        for name in ("trunc_normal", "xavier"):
            assert_same(two_layouts[f"{layout}/big/{name}"], llama_reference[f"big/{name}"])


@pytest.mark.slow
@pytest.mark.parametrize("version", SCHEMES)
def test_llama_on_a_2x2_fsdp_tp_mesh_gets_the_unsharded_values(
    four_layouts: dict[str, Any], llama_reference: dict[str, Any], version: int
) -> None:
    assert four_layouts["torchinit"] == ti.__file__
    for name in STRATEGIES:
        assert_same(four_layouts[f"fsdp_tp/{version}/{name}"], llama_reference[f"{version}/{name}"])
    if version == 2:
        for name in ("trunc_normal", "xavier"):
            assert_same(four_layouts[f"fsdp_tp/big/{name}"], llama_reference[f"big/{name}"])


@pytest.mark.slow
@pytest.mark.parametrize("version", SCHEMES)
def test_any_shard_of_a_2x2_mesh_gets_the_unsharded_values(
    four_layouts: dict[str, Any], llama_reference: dict[str, Any], version: int
) -> None:
    assert_same(four_layouts[f"blocks/{version}"], llama_reference[f"blocks/{version}"])
    assert four_layouts["blocks/placements"] == {
        f"{name}.weight": repr(placements) for name, (_, placements) in BLOCKS.items()
    }


def llama_draws(layout: str) -> dict[str, dict[str, str]]:
    """What :func:`drawn_elements` says on every rank of ``layout`` under each policy: each
    parameter drew exactly its elements, but the orthogonal weights (no law) drew nothing."""
    model = Llama()
    matrices = (nn.Linear, nn.Embedding)
    weights = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, matrices)}
    return {
        f"{layout}/3/{policy}": {
            name: "no law" if policy == "orthogonal" and name in weights else "exact"
            for name, _ in model.named_parameters()
        }
        for policy in STRATEGIES
    }


@pytest.mark.slow
def test_under_scheme_3_each_rank_of_each_layout_draws_exactly_its_elements(
    two_layouts: dict[str, Any], four_layouts: dict[str, Any]
) -> None:
    """Shard(0) (FSDP2, colwise TP), Shard(1) (rowwise TP), replicated (the TP embedding),
    _StridedShard and 2-D blocks (FSDP2 x TP, the 2 x 2 blocks), uneven and empty shards."""
    two = llama_draws("fsdp") | llama_draws("tp")
    blocks = {"blocks/3": dict.fromkeys([f"{name}.weight" for name in BLOCKS], "exact")}
    assert two_layouts["drawn"] == [two, two]
    assert four_layouts["drawn"] == [llama_draws("fsdp_tp") | blocks] * 4


@pytest.mark.slow
def test_the_layouts_are_the_ones_named(
    two_layouts: dict[str, Any], four_layouts: dict[str, Any]
) -> None:
    """What torch makes of each layout: FSDP2 rows, TP rows and columns, strided rows."""
    fsdp, tp = two_layouts["fsdp/placements"], two_layouts["tp/placements"]
    both = four_layouts["fsdp_tp/placements"]
    assert fsdp["layers.0.feed_forward.down.weight"] == "(Shard(dim=0),)"
    assert fsdp["embed.weight"] == "(Shard(dim=0),)"
    assert tp["layers.0.attention.q.weight"] == "(Shard(dim=0),)"
    assert tp["layers.0.attention.q.bias"] == "(Shard(dim=0),)"
    assert tp["layers.0.feed_forward.down.weight"] == "(Shard(dim=1),)"
    assert tp["embed.weight"] == "tensor"
    assert both["layers.0.feed_forward.up.weight"] == "(_StridedShard(dim=0, sf=2), Shard(dim=0))"
    assert both["layers.0.feed_forward.down.weight"] == "(Shard(dim=0), Shard(dim=1))"
    assert both["embed.weight"] == "(Shard(dim=0),)"
    big = four_layouts["fsdp_tp/big/placements"]
    assert big["feed_forward.down.weight"] == "(Shard(dim=0), Shard(dim=1))"
    assert 2 * ti.seeding.CHUNK_ELEMENTS < 1100 * 2000


# --------------------------------------------------------------------------- one rank


@pytest.fixture(scope="module")
def mesh() -> Iterator[Any]:
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def one_rank_net(mesh: Any, placement: Any) -> nn.Sequential:
    model = nn.Sequential(
        collections.OrderedDict(first=nn.Linear(4, 6), unsupported=nn.Linear(4, 6))
    )
    with torch.no_grad():
        model.first.weight = nn.Parameter(distribute_tensor(model.first.weight, mesh, [Shard(0)]))
        model.unsupported.weight = nn.Parameter(
            DTensor.from_local(model.unsupported.weight.detach().clone(), mesh, [placement])
        )
    return model


@pytest.mark.parametrize("version", SCHEMES)
def test_one_rank_fsdp2_gets_the_unsharded_values(
    mesh: Any, sharded_reference: dict[int, Any], version: int
) -> None:
    model = sharded_net()
    fully_shard(model, mesh=mesh)
    ti.init_model(model, POLICY, seed=SEED, scheme_version=version)
    assert_same(full(model), sharded_reference[version])


@pytest.mark.parametrize("version", SCHEMES)
def test_fsdp2_built_on_the_meta_device_gets_the_unsharded_values(
    mesh: Any, sharded_reference: dict[int, Any], version: int
) -> None:
    with torch.device("meta"):
        model = sharded_net()
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    ti.init_model(model, POLICY, seed=SEED, scheme_version=version)
    assert_same(full(model), sharded_reference[version])


@pytest.mark.parametrize("version", SCHEMES)
def test_fsdp2_on_meta_materialized_by_init_model_gets_the_unsharded_values(
    mesh: Any, sharded_reference: dict[int, Any], version: int
) -> None:
    """torchtitan's flow in one call: meta, fully_shard, init_model(device=..., seed=...)."""
    with torch.device("meta"):
        model = sharded_net()
    fully_shard(model, mesh=mesh)
    ti.init_model(model, POLICY, device="cpu", seed=SEED, scheme_version=version)
    assert_same(full(model), sharded_reference[version])


def test_fsdp2_on_meta_with_parameters_no_rule_sets_is_refused(mesh: Any) -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    fully_shard(model, mesh=mesh)
    linear_only = ti.Policy([ti.Rule(nn.Linear, weight="zeros", bias="zeros")])
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, linear_only, device="cpu", seed=SEED)
    assert str(caught.value) == (
        "device: parameters ['1.weight (no rule matched)', '1.bias (no rule matched)'] are "
        "sharded (DTensor) on the meta device and no rule sets them; a layer's default init "
        "cannot be drawn shard by shard: add rules for them"
    )
    assert all(p.is_meta for p in model.parameters())


@pytest.mark.parametrize("version", SCHEMES)
def test_a_non_contiguous_local_shard_gets_the_unsharded_values(mesh: Any, version: int) -> None:
    model = nn.Linear(6, 4)
    transposed = torch.zeros(6, 4).t()
    model.weight = nn.Parameter(DTensor.from_local(transposed, mesh, [Replicate()]))
    assert not model.weight.to_local().is_contiguous()
    ti.init_model(model, POLICY, seed=SEED, scheme_version=version)
    reference = nn.Linear(6, 4)
    ti.init_model(reference, POLICY, seed=SEED, scheme_version=version)
    assert torch.equal(model.weight.to_local(), reference.weight)
    assert model.weight.to_local().data_ptr() == transposed.data_ptr()


@pytest.mark.parametrize(
    ("placement", "shown"),
    [(Partial(), "Partial(sum)"), (Partial("max"), "Partial(max)")],
)
def test_each_unsupported_placement_is_refused(mesh: Any, placement: Any, shown: str) -> None:
    model = one_rank_net(mesh, placement)
    before = local(model)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "unsupported.weight: rules[0].weight: keyed init supports the DTensor placements "
        f"Shard, _StridedShard and Replicate only, not {shown} (got ({shown},))"
    )
    assert all(torch.equal(before[k], v) for k, v in local(model).items())


def test_without_seed_a_dtensor_parameter_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    before = local(model)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: a DTensor (FSDP2) parameter needs keyed seeding: pass "
        "seed= (torch's random ops on DTensors follow the global tensor only on CUDA-like "
        "meshes, and some strategies do not run on DTensors) (got (Shard(dim=0),))"
    )
    assert all(torch.equal(before[k], v) for k, v in local(model).items())


def test_torch_default_on_a_dtensor_parameter_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.TorchDefault())]), seed=0)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: torch_default resets the layer through torch's DTensor "
        "random ops, which do not give the unsharded values; use a tensor strategy "
        "(got (Shard(dim=0),))"
    )


class Twice(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return 2 * weight

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / 2


def test_a_parametrized_dtensor_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    nn.utils.parametrize.register_parametrization(model.first, "weight", Twice())
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: a parametrized tensor whose value is a DTensor cannot "
        "be initialized (got (Shard(dim=0),))"
    )


def test_a_local_shard_that_disagrees_with_the_placements_is_refused(mesh: Any) -> None:
    model = nn.Linear(4, 6)
    # six local rows, but a global shape of five: no split of five rows gives six
    wrong = DTensor.from_local(torch.zeros(6, 4), mesh, [Shard(0)], shape=(5, 4), stride=(4, 1))
    model.weight = nn.Parameter(wrong)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "weight: rules[0].weight: DTensor's split of the placements gives a shard of shape "
        "(5, 4), but the local shard has shape (6, 4) (got (Shard(dim=0),))"
    )
    assert torch.equal(model.weight.to_local(), torch.zeros(6, 4))


@pytest.mark.parametrize(
    ("shape", "mesh_shape", "coordinate", "placements", "expected"),
    [
        # uneven, as torch.chunk: 7 columns are 2 + 2 + 2 + 1, 5 are 2 + 2 + 1 + 0
        ((2, 7), (4,), (3,), [Shard(1)], [[0, 1], [6]]),
        ((2, 5), (4,), (3,), [Shard(1)], [[0, 1], []]),
        # a 2-D block, and two mesh dims splitting one tensor dim left to right
        ((5, 9), (2, 2), (1, 0), [Shard(0), Shard(1)], [[3, 4], [0, 1, 2, 3, 4]]),
        ((9,), (2, 2), (1, 1), [Shard(0), Shard(0)], [[7, 8]]),
        # FSDP2 over TP: the rows of the TP shard a rank holds are two runs
        ((8, 2), (2, 2), (1, 0), [_StridedShard(0, sf=2), Shard(0)], [[2, 3], [0, 1]]),
        ((8, 2), (2, 2), (0, 1), [_StridedShard(0, sf=2), Shard(0)], [[4, 5], [0, 1]]),
        # uneven: TP rank 0 holds rows 0 to 4, FSDP rank 0 the first three of them
        ((9, 1), (2, 2), (0, 0), [_StridedShard(0, sf=2), Shard(0)], [[0, 1, 2], [0]]),
        ((9, 1), (2, 2), (1, 1), [_StridedShard(0, sf=2), Shard(0)], [[7, 8], [0]]),
        ((3, 4), (2,), (1,), [Replicate()], [[0, 1, 2], [0, 1, 2, 3]]),
        ((), (2,), (1,), [Replicate()], []),
    ],
)
def test_local_indices_follow_dtensors_split(
    shape: tuple[int, ...],
    mesh_shape: tuple[int, ...],
    coordinate: tuple[int, ...],
    placements: list[Any],
    expected: list[list[int]],
) -> None:
    held = ti.distributed.local_indices(shape, mesh_shape, coordinate, placements)
    assert [index.tolist() for index in held] == expected


@pytest.mark.slow
def test_importing_torchinit_does_not_import_dtensor() -> None:
    code = "import sys, torchinit; print('torch.distributed.tensor' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


#: name: (global shape, mesh shape, a rank's coordinate, placements, that rank's elements of
#: a tensor of the global shape, written with torch.chunk as DTensor splits: each mesh dim's
#: chunk in turn, but FSDP2 over TP (_StridedShard) takes the TP chunk (mesh dim 1) first)
SHARDS = {
    "rows": ((9, 13), (2,), (1,), [Shard(0)], lambda x: x.chunk(2, 0)[1]),
    "columns, uneven": ((9, 13), (4,), (3,), [Shard(1)], lambda x: x.chunk(4, 1)[3]),
    "strided": (
        (9, 13),
        (2, 2),
        (1, 0),
        [_StridedShard(0, split_factor=2), Shard(0)],
        lambda x: x.chunk(2, 0)[0].chunk(2, 0)[1],
    ),
    "2x2 blocks": (
        (9, 13),
        (2, 2),
        (0, 1),
        [Shard(0), Shard(1)],
        lambda x: x.chunk(2, 0)[0].chunk(2, 1)[1],
    ),
    "replicated": ((9, 13), (2,), (1,), [Replicate()], lambda x: x),
    "replicated columns": (
        (9, 13),
        (2, 2),
        (1, 1),
        [Replicate(), Shard(1)],
        lambda x: x.chunk(2, 1)[1],
    ),
    "cube": (
        (3, 5, 6),
        (2, 2),
        (1, 0),
        [Shard(2), Shard(0)],
        lambda x: x.chunk(2, 2)[1].chunk(2, 0)[0],
    ),
}


@pytest.mark.parametrize(
    "strategy",
    [ti.Normal(0.0, 1.0), ti.TruncNormal(std=1.0, a=-1.0, b=1.0)],
    ids=["normal", "trunc_normal"],
)
@pytest.mark.parametrize("case", SHARDS)
def test_under_scheme_3_a_shard_draws_exactly_its_elements(
    case: str, strategy: ti.Strategy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each element once, nothing else, in tasks of 7 elements that cut rows (truncated-normal
    rejection redraws inside ``counter.draw``: it counts elements, not attempts)."""
    shape, mesh_shape, coordinate, placements, held = SHARDS[case]
    monkeypatch.setattr(ti.seeding, "COUNTER_TASK_ELEMENTS", 7)
    keyed = ti.seeding.KeyedSeeding(SEED, nn.Linear(1, 1), version=3)
    law = strategy.law(shape)
    assert law is not None
    block = ti.seeding.Block(
        shape, ti.distributed.local_indices(shape, mesh_shape, coordinate, placements)
    )
    out = torch.empty(block.numel)
    with recording_draws() as asked:
        ti.seeding.run_tasks(keyed.chunk_tasks(["w"], strategy, law, shape, out, block=block))
    expected = held(torch.arange(math.prod(shape)).view(shape)).reshape(-1)
    key = keyed.counter_key(["w"], strategy)
    assert list(asked) == [key]
    assert len(asked[key]) == math.ceil(block.numel / 7)
    assert torch.equal(torch.cat(asked[key]).sort().values, expected.sort().values)
    whole = torch.empty(math.prod(shape))
    ti.seeding.run_tasks(keyed.chunk_tasks(["w"], strategy, law, shape, whole))
    assert torch.equal(out, whole[expected])


def test_fsdp2_parameters_are_read_from_a_checkpoint_without_seed(
    mesh: Any, tmp_path: Path
) -> None:
    saved = {name: torch.randn_like(p) for name, p in sharded_net().named_parameters()}
    torch.save(saved, tmp_path / "w.pt")
    with torch.device("meta"):
        model = sharded_net()
    fully_shard(model, mesh=mesh)
    policy = ti.Policy([ti.Rule(param="**", init=ti.Checkpoint(tmp_path / "w.pt"))])
    ti.init_model(model, policy, device="cpu")
    for name, value in full(model).items():
        assert torch.equal(value, saved[name]), name


def checkpoint_ranks(rank: int, port: int, out: str) -> None:
    """One rank of a two-process run reading a checkpoint into FSDP2 rows and column shards."""
    with gloo_group(rank, 2, port):
        mesh = init_device_mesh("cpu", (2,))
        model = sharded_net()
        for layer in model:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        columns = nn.Linear(5, 3)
        with torch.no_grad():
            columns.weight = nn.Parameter(distribute_tensor(columns.weight, mesh, [Shard(1)]))
        torch.manual_seed(rank)  # garbage differing per rank: the file decides every value
        policy = ti.Policy([ti.Rule(param="**", init=ti.Checkpoint(Path(out) / "w.pt"))])
        ti.init_model(model, policy)
        ti.init_model(columns, ti.Policy([ti.Rule(param="**", init=ti.Checkpoint(
            Path(out) / "columns.pt"))]))  # fmt: skip
        result = {"model": full(model), "columns": full(columns), "local": local(columns)}
        torch.save(result, Path(out) / f"rank{rank}.pt")


@pytest.mark.slow
def test_each_rank_reads_its_own_shard_of_a_checkpoint(tmp_path: Path) -> None:
    saved = {name: torch.randn_like(p) for name, p in sharded_net().named_parameters()}
    torch.save(saved, tmp_path / "w.pt")
    columns = {"weight": torch.randn(3, 5), "bias": torch.randn(3)}
    torch.save(columns, tmp_path / "columns.pt")
    results = two_rank_results(checkpoint_ranks, tmp_path)
    for rank, result in enumerate(results):
        for name, value in result["model"].items():
            assert torch.equal(value, saved[name]), (rank, name)
        assert torch.equal(result["columns"]["weight"], columns["weight"])
        assert torch.equal(result["columns"]["bias"], columns["bias"])
    # Shard(1) over two ranks: columns 0-2 on rank 0, 3-4 on rank 1
    assert torch.equal(results[0]["local"]["weight"], columns["weight"][:, :3])
    assert torch.equal(results[1]["local"]["weight"], columns["weight"][:, 3:])
