"""timm models and torchinit (``torchinit/integrations/timm.py``, ``docs/guide/timm.md``).

* ``timm.create_model(..., pretrained=False)`` then a preset: timm's ResNet init is the
  ``resnet`` preset then ``zero_init_residual``, bit for bit (timm's ViT modes and the
  ``timm_vit`` preset: ``tests/test_presets_vit.py``);
* :func:`reset_head`: a new head initialized by the policy, every other tensor unchanged bit
  for bit, the head found by the model's ``get_classifier()`` (a nested ``head.fc``, the two
  heads of a distilled DeiT).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

import torchinit
from torchinit import ArgumentTypeError, InvalidArgumentError, UnknownNameError
from torchinit.integrations.timm import head_names, reset_head

timm = pytest.importorskip("timm", reason="timm is not installed")

HEAD_POLICY: dict[str, Any] = {
    "rules": [
        {
            "match": {"type": "Linear"},
            "weight": {"trunc_normal": {"std": 0.02}},
            "bias": {"constant": {"val": -1.5}},
        }
    ]
}


def build(name: str, seed: int = 0, **kwargs: Any) -> nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **kwargs)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The names whose tensors differ (or exist in one only)."""
    names = sorted(a.keys() | b.keys())
    return [n for n in names if n not in a or n not in b or not torch.equal(a[n], b[n])]


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_timm_resnet_init_is_the_resnet_preset_then_zero_init_residual(arch, monkeypatch):
    reference = build(arch)
    expected_next = torch.rand(4)
    # the same model with only timm's init loop switched off: what it drew is then drawn by
    # torchinit, from the same generator state
    monkeypatch.setattr(timm.models.resnet.ResNet, "init_weights", lambda self, **kw: None)
    model = build(arch)
    torchinit.init_model(model, "resnet")
    report = torchinit.init_model(model, "zero_init_residual")
    assert torch.equal(torch.rand(4), expected_next)
    assert differing(state(reference), state(model)) == []
    zeroed = [row.name for row in report.entries if row.status == "initialized"]
    assert len(zeroed) == (16 if arch == "resnet50" else 8)


# --------------------------------------------------------------------------- reset_head


def test_reset_head_initializes_the_new_head_only():
    model = build("resnet18")
    before = state(model)
    report = reset_head(model, 10, HEAD_POLICY, seed=3)
    after = state(model)
    assert differing(before, after) == ["fc.bias", "fc.weight"]
    assert model.fc.weight.shape == (10, 512)
    assert torch.all(model.fc.bias == -1.5)
    assert model.fc.weight.abs().max() <= 2.0  # trunc_normal's absolute bounds, not timm's
    assert [row.name for row in report.entries if row.status == "initialized"] == [
        "fc.weight",
        "fc.bias",
    ]
    assert report["fc.weight"].strategy == torchinit.TruncNormal(std=0.02)


def test_reset_head_is_the_documented_two_liner():
    model = build("resnet18")
    reset_head(model, 10, HEAD_POLICY, seed=3)
    by_hand = build("resnet18")
    by_hand.reset_classifier(10)
    torchinit.init_model(by_hand, HEAD_POLICY, include="fc.**", seed=3)
    assert differing(state(by_hand), state(model)) == []


def test_reset_head_of_a_nested_head_leaves_its_norm_alone():
    model = build("convnext_atto")
    assert head_names(model) == ["head.fc"]
    before = state(model)
    reset_head(model, 7, HEAD_POLICY, seed=0)
    assert differing(before, state(model)) == ["head.fc.bias", "head.fc.weight"]
    assert torch.all(model.head.fc.bias == -1.5)


def test_reset_head_of_a_distilled_model_initializes_both_heads():
    model = build("deit_tiny_distilled_patch16_224", img_size=32, depth=1)
    assert head_names(model) == ["head", "head_dist"]
    before = state(model)
    reset_head(model, 5, HEAD_POLICY, seed=0)
    changed = ["head.bias", "head.weight", "head_dist.bias", "head_dist.weight"]
    assert differing(before, state(model)) == changed
    assert torch.all(model.head_dist.bias == -1.5)


def test_reset_head_with_a_preset_and_its_options():
    model = build("vit_tiny_patch16_224", img_size=32, depth=1)
    before = state(model)
    report = reset_head(model, 10, "timm_vit", mode="jax", head_bias=-2.0)
    assert differing(before, state(model)) == ["head.bias", "head.weight"]
    assert torch.all(model.head.weight == 0)
    assert torch.all(model.head.bias == -2.0)
    assert report.options["mode"] == ("jax", "given")


def test_reset_head_with_global_pool():
    model = build("vit_tiny_patch16_224", img_size=32, depth=1)
    reset_head(model, 3, HEAD_POLICY, global_pool="avg", seed=0)
    assert model.global_pool == "avg"
    assert model.head.out_features == 3


def test_a_bad_policy_leaves_the_head_as_it_was():
    model = build("resnet18")
    before = state(model)
    with pytest.raises(UnknownNameError):
        reset_head(model, 10, "resnt")
    assert model.fc.out_features == 1000
    assert differing(before, state(model)) == []


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        (
            nn.Linear(2, 2),
            ArgumentTypeError,
            "model: must be a timm model: Linear has no reset_classifier() (got 'Linear')",
        ),
        ("resnet18", ArgumentTypeError, "model: must be a torch.nn.Module (got 'str')"),
    ],
)
def test_reset_head_needs_a_timm_model(model, error, message):
    with pytest.raises(error) as caught:
        reset_head(model, 10, HEAD_POLICY)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("num_classes", "error", "message"),
    [
        (0, InvalidArgumentError, "num_classes: must be >= 1 (got 0)"),
        (2.0, ArgumentTypeError, "num_classes: must be an integer (got 2.0)"),
    ],
)
def test_reset_head_needs_a_number_of_classes(num_classes, error, message):
    model = build("resnet18")
    with pytest.raises(error) as caught:
        reset_head(model, num_classes, HEAD_POLICY)
    assert str(caught.value) == message
    assert model.fc.out_features == 1000


def test_head_names_refuses_a_head_outside_the_model():
    model = build("resnet18")
    stray = copy.deepcopy(model.fc)
    model.get_classifier = lambda: stray
    with pytest.raises(InvalidArgumentError) as caught:
        head_names(model)
    assert str(caught.value) == (
        "model: get_classifier() returned layers that are not submodules of the model "
        "(got 'ResNet')"
    )
