"""torchinit.probe: running a model to measure it leaves it as it was."""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn

from torchinit.probe import Probe, first_tensor, run


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
