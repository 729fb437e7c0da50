"""torchinit.probe: running a model to measure it leaves it as it was."""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn

from torchinit.probe import Probe, first_tensor, rng_preserved, run


def _model() -> nn.Module:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.eval()
    model[0].weight.grad = torch.full((4, 4), 2.0)
    return model


@pytest.mark.parametrize("fails", [False, True])
def test_everything_but_the_parameters_is_restored(fails: bool) -> None:
    model = _model()
    stats = model[1].running_mean.clone()
    rng = torch.get_rng_state()
    fast_path = torch.backends.mha.get_fastpath_enabled()
    try:
        with Probe(model, mode="train") as probe:
            assert all(module.training for module in model.modules())
            assert not torch.backends.mha.get_fastpath_enabled()
            probe.on_output(model[0], lambda module, output: None)
            model[0].weight.requires_grad_(False)
            model[0].weight.grad = None
            run(model, torch.randn(8, 4))  # dropout draws; BatchNorm updates its statistics
            with torch.no_grad():
                model[0].bias.fill_(3.0)
            if fails:
                raise RuntimeError("a failing measurement")
    except RuntimeError:
        assert fails
    assert not any(module.training for module in model.modules())
    assert torch.equal(model[1].running_mean, stats)
    assert int(model[1].num_batches_tracked) == 0
    assert torch.equal(torch.get_rng_state(), rng)
    assert model[0].weight.requires_grad
    assert torch.equal(model[0].weight.grad, torch.full((4, 4), 2.0))
    assert model[0]._forward_hooks == collections.OrderedDict()
    assert torch.backends.mha.get_fastpath_enabled() == fast_path
    assert torch.equal(model[0].bias, torch.full((4,), 3.0))  # parameters are the caller's


def test_a_hook_cannot_change_an_output() -> None:
    layer = nn.Linear(2, 2)
    with Probe(layer) as probe:
        probe.on_output(layer, lambda module, output: torch.zeros(2))
        assert run(layer, torch.ones(1, 2)).abs().sum() > 0


def test_gradient_hooks_are_removed_on_exit() -> None:
    layer = nn.Linear(2, 2)
    x = torch.ones(1, 2, requires_grad=True)  # the caller's tensor: it outlives the probe
    seen = []
    with Probe(layer) as probe:
        probe.on_grad(x, lambda grad: seen.append(grad.clone()))
        torch.autograd.grad(run(layer, x).sum(), [x])
    assert torch.equal(seen[0], layer.weight.detach().sum(0, keepdim=True))
    assert not x._backward_hooks
    torch.autograd.grad(run(layer, x).sum(), [x])
    assert len(seen) == 1


def test_a_gradient_hook_cannot_change_the_gradient() -> None:
    x = torch.ones(3, requires_grad=True)
    with Probe(nn.Identity()) as probe:
        probe.on_grad(x, lambda grad: torch.zeros(3))
        (grad,) = torch.autograd.grad((2 * x).sum(), [x])
    assert torch.equal(grad, torch.full((3,), 2.0))


class _Replaces(nn.Module):
    """Assigns itself a new buffer tensor on each call (an EMA written as ``self.x = ...``)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("average", torch.zeros(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.average = 0.9 * self.average + 0.1 * x.mean(0)
        return x


def test_a_buffer_the_pass_replaces_is_put_back() -> None:
    model = _Replaces()
    buffer = model.average
    with Probe(model):
        run(model, torch.ones(4, 2))
        assert model.average is not buffer
    assert model.average is buffer
    assert torch.equal(buffer, torch.zeros(2))


def _draw_and_fail() -> None:
    with rng_preserved():
        torch.rand(3)
        raise RuntimeError("boom")


def test_rng_preserved_restores_after_an_error() -> None:
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="boom"):
        _draw_and_fail()
    assert torch.equal(torch.get_rng_state(), before)


def test_mode_none_keeps_each_modules_own() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    model[1].eval()
    with Probe(model, mode=None):
        assert [m.training for m in model.modules()] == [True, True, False]


class _Output(dict):
    """Like a Hugging Face ModelOutput: a dict."""


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (torch.ones(1), torch.ones(1)),
        (torch.ones(1, dtype=torch.long), None),
        ((torch.ones(1, dtype=torch.long), [None, torch.zeros(2)]), torch.zeros(2)),
        (
            _Output(ids=torch.ones(1, dtype=torch.long), logits=torch.full((3,), 2.0)),
            torch.full((3,), 2.0),
        ),
        ("text", None),
    ],
    ids=["tensor", "integer", "nested", "mapping", "other"],
)
def test_first_tensor(output: object, expected: torch.Tensor | None) -> None:
    found = first_tensor(output)
    assert (found is None) if expected is None else torch.equal(found, expected)


def test_run_spreads_tuples_and_mappings() -> None:
    def model(a: int, b: int = 0) -> tuple[int, int]:
        return a, b

    assert run(model, (1, 2)) == (1, 2)
    assert run(model, {"a": 1, "b": 3}) == (1, 3)
    assert run(model, 4) == (4, 0)
