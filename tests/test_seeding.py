"""torchinit.seeding: keyed seeding's values depend on (seed, name, strategy) only."""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn

import torchinit as ti


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
        [0.15513606369495392, -1.0585668087005615, 0.38724520802497864, 0.28539127111434937,
         -0.43987932801246643, 0.15501315891742706]
    )  # fmt: skip
    expected_fc = torch.tensor(
        [0.0013590841554105282, 0.012454788200557232, 0.020111549645662308, 0.001863451092503965]
    )
    assert torch.equal(model[0].weight.flatten()[:6], expected_conv)
    assert torch.equal(model[3].weight.flatten(), expected_fc)
    assert report.seeding == {"scheme": "torchinit-keyed", "version": 1, "seed": 2026}


def test_independent_of_traversal_order_and_of_other_parameters() -> None:
    reference = net()
    ti.init_model(reference, "vgg", seed=7)
    in_apply_order = net()
    ti.init_model(in_apply_order, "vgg", seed=7, order="apply")
    with_extra = net(extra=True)
    ti.init_model(with_extra, "vgg", seed=7)
    expected = values(reference)
    assert all(torch.equal(v, values(in_apply_order)[k]) for k, v in expected.items())
    assert all(torch.equal(v, values(with_extra)[k]) for k, v in expected.items())


def test_independent_of_the_number_of_threads() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = net()
        ti.init_model(one, "vgg", seed=3)
        torch.set_num_threads(max(2, threads))
        many = net()
        ti.init_model(many, "vgg", seed=3)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(v, values(many)[k]) for k, v in values(one).items())


@pytest.mark.parametrize(
    ("wrap", "prefix"),
    [(nn.DataParallel, "module."), (torch.compile, "_orig_mod.")],
    ids=["DataParallel", "torch.compile"],
)
def test_independent_of_wrappers_that_prefix_names(wrap, prefix: str) -> None:
    plain = net()
    ti.init_model(plain, "vgg", seed=11)
    wrapped = wrap(net())
    report = ti.init_model(wrapped, "vgg", seed=11)
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


def test_a_tied_parameter_is_keyed_by_its_smallest_name() -> None:
    policy = ti.Policy([ti.Rule((nn.Embedding, nn.Linear), weight=ti.Normal(0.0, 0.02))])
    first, second = Tied(head_first=False), Tied(head_first=True)
    ti.init_model(first, policy, seed=1)
    ti.init_model(second, policy, seed=1)
    assert torch.equal(first.embed.weight, second.embed.weight)


def test_seed_and_strategy_change_the_values() -> None:
    a, b, c = net(), net(), net()
    ti.init_model(a, "vgg", seed=1)
    ti.init_model(b, "vgg", seed=2)
    ti.init_model(
        c, ti.get_preset("vgg").then(ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02))), seed=1
    )
    assert not torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)
    assert torch.equal(a.conv.weight, c.conv.weight)


def test_the_global_generator_is_never_touched() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    policy = ti.Policy([ti.Rule(nn.Linear, weight="torch_default", bias="torch_default")])
    state = torch.get_rng_state()
    ti.init_model(model, policy, seed=9)
    assert torch.equal(torch.get_rng_state(), state)
    again = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    ti.init_model(again, policy, seed=9)
    assert torch.equal(model[0].weight, again[0].weight)


def test_plan_reports_the_scheme_and_draws_nothing() -> None:
    model = net()
    before = values(model)
    state = torch.get_rng_state()
    report = ti.plan(model, "vgg", seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(v, values(model)[k]) for k, v in before.items())
    assert "torchinit-keyed v1 seed=4" in report.summary()
    assert report.to_dict()["seeding"] == {"scheme": "torchinit-keyed", "version": 1, "seed": 4}


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
def test_cuda_gets_the_same_values_as_the_cpu() -> None:
    cpu = net()
    ti.init_model(cpu, "vgg", seed=21)
    cuda = net().cuda()
    ti.init_model(cuda, "vgg", seed=21)
    assert all(torch.equal(v, values(cuda)[k].cpu()) for k, v in values(cpu).items())
