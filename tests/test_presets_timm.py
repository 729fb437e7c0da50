"""timm's own CNN inits (``torchinit/presets/timm.py``): ``timm_convnext`` bit for bit.

The reference is timm's own loop run again on a copy of the model from the same generator
state; every tensor must be ``torch.equal`` and the generator left in the same state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import pytest
import torch
from torch import nn

import torchinit
from torchinit import InvalidArgumentError, TruncNormalInverseCDF

timm = pytest.importorskip("timm", reason="timm is not installed")


def _convnext_loop(model: nn.Module) -> None:
    from timm.models import convnext
    from timm.models._manipulate import named_apply

    named_apply(partial(convnext._init_weights, head_init_scale=1.0), model)


def _inception_next_loop(model: nn.Module) -> None:
    model.apply(model._init_weights)


def _differing(first: nn.Module, second: nn.Module) -> list[str]:
    a, b = first.state_dict(), second.state_dict()
    assert list(a) == list(b)
    return [name for name in a if not torch.equal(a[name], b[name])]


@pytest.mark.parametrize(
    ("arch", "timms_loop"),
    [
        ("convnext_atto", _convnext_loop),
        ("convnext_nano", _convnext_loop),
        ("convnextv2_atto", _convnext_loop),
        ("inception_next_atto", _inception_next_loop),
    ],
)
def test_timm_convnext_is_timms_init_bit_for_bit(
    arch: str, timms_loop: Callable[[nn.Module], None]
) -> None:
    torch.manual_seed(0)
    built = timm.create_model(arch, pretrained=False)
    reference = copy.deepcopy(built)
    torch.manual_seed(1)
    timms_loop(reference)
    reference_next = torch.rand(4)
    ours = copy.deepcopy(built)
    torch.manual_seed(1)
    report = torchinit.init_model(ours, "timm_convnext")
    assert torch.equal(torch.rand(4), reference_next)
    assert _differing(reference, ours) == []
    # the loop did draw: the weights are not those of the construction
    assert "stem.0.weight" in _differing(built, ours)
    drawn = {row.name for row in report.entries if row.status == "initialized"}
    layers = [name for name, m in ours.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert {f"{name}.weight" for name in layers} <= drawn
    assert any(name.startswith("head.") for name in layers)


def test_timm_convnext_differs_from_torchvisions_sampler() -> None:
    # the convnext preset (torch's trunc_normal_, rejection) draws other bits from timm's
    torch.manual_seed(0)
    built = timm.create_model("convnext_atto", pretrained=False)
    by_timm, by_torch = copy.deepcopy(built), copy.deepcopy(built)
    torch.manual_seed(1)
    torchinit.init_model(by_timm, "timm_convnext")
    torch.manual_seed(1)
    torchinit.init_model(by_torch, "convnext")
    assert "stem.0.weight" in _differing(by_timm, by_torch)


def test_timm_convnext_policy() -> None:
    policy = torchinit.get_preset("timm_convnext", head_init_scale=1)
    assert policy.order == "apply"
    assert policy.rules[0].strategies == (
        ("weight", TruncNormalInverseCDF(std=0.02)),
        ("bias", torchinit.Zeros()),
    )


def test_timm_convnext_refuses_other_head_init_scales() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset("timm_convnext", head_init_scale=0.5)
    assert str(caught.value) == (
        "timm_convnext.head_init_scale: only 1.0 (timm's default) is reproduced bit for bit: "
        "timm multiplies the drawn head weight and bias by it, which no strategy does; "
        "initialize the head yourself after init_model for other values (got 0.5)"
    )


def test_timm_convnext_head_init_scale_must_be_a_number() -> None:
    with pytest.raises(torchinit.TorchInitError) as caught:
        torchinit.get_preset("timm_convnext", head_init_scale="1")
    assert str(caught.value) == "timm_convnext.head_init_scale: must be a number (got '1')"
