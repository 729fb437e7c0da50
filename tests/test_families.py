"""torchinit.families: named groups of torch.nn layers, in Python rules and YAML type names."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch import nn

import torchinit as ti
from torchinit import families
from torchinit.errors import PlanError


def test_the_families_are_these_public_torch_nn_classes() -> None:
    def names(family: families.Family) -> list[str]:
        return [cls.__name__ for cls in family]

    assert {name: names(family) for name, family in families.FAMILIES.items()} == {
        "Conv": ["Conv1d", "Conv2d", "Conv3d", "LazyConv1d", "LazyConv2d", "LazyConv3d"],
        "ConvTranspose": [
            "ConvTranspose1d",
            "ConvTranspose2d",
            "ConvTranspose3d",
            "LazyConvTranspose1d",
            "LazyConvTranspose2d",
            "LazyConvTranspose3d",
        ],
        "BatchNorm": [
            "BatchNorm1d",
            "BatchNorm2d",
            "BatchNorm3d",
            "SyncBatchNorm",
            "LazyBatchNorm1d",
            "LazyBatchNorm2d",
            "LazyBatchNorm3d",
        ],
        "InstanceNorm": [
            "InstanceNorm1d",
            "InstanceNorm2d",
            "InstanceNorm3d",
            "LazyInstanceNorm1d",
            "LazyInstanceNorm2d",
            "LazyInstanceNorm3d",
        ],
        "Norm": [
            *names(families.BatchNorm),
            *names(families.InstanceNorm),
            "GroupNorm",
            "LayerNorm",
            "RMSNorm",
        ],
        "Embeddings": ["Embedding", "EmbeddingBag"],
    }
    for family in families.FAMILIES.values():
        assert all(getattr(nn, cls.__name__) is cls for cls in family)
        assert families.FAMILIES[family.name] is family
        assert getattr(families, family.name) is family
        # a family's name is never a torch.nn name, which would take precedence in YAML
        assert not hasattr(nn, family.name)
    with pytest.raises(TypeError):
        families.FAMILIES["Mine"] = families.Conv  # type: ignore[index]


class MyConv(nn.Conv2d):
    pass


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (nn.Conv2d(1, 1, 1), {"Conv"}),
        (nn.LazyConv1d(1, 1), {"Conv"}),
        (MyConv(1, 1, 1), {"Conv"}),
        (nn.ConvTranspose2d(1, 1, 1), {"ConvTranspose"}),
        (nn.BatchNorm2d(1), {"BatchNorm", "Norm"}),
        (nn.LazyBatchNorm1d(), {"BatchNorm", "Norm"}),
        (nn.SyncBatchNorm(1), {"BatchNorm", "Norm"}),
        (nn.InstanceNorm2d(1), {"InstanceNorm", "Norm"}),
        (nn.GroupNorm(1, 1), {"Norm"}),
        (nn.LayerNorm(1), {"Norm"}),
        (nn.RMSNorm(1), {"Norm"}),
        (nn.EmbeddingBag(2, 1), {"Embeddings"}),
        (nn.Linear(1, 1), set()),
        (nn.LocalResponseNorm(2), set()),
    ],
)
def test_isinstance_of_a_family(layer: nn.Module, expected: set[str]) -> None:
    got = {name for name, family in families.FAMILIES.items() if isinstance(layer, family)}
    assert got == expected


def test_a_family_is_one_object_when_copied_or_pickled() -> None:
    assert pickle.loads(pickle.dumps(families.Norm)) is families.Norm
    assert copy.deepcopy(families.Conv) is families.Conv
    assert repr(families.Embeddings) == "Family('Embeddings', (nn.Embedding, nn.EmbeddingBag))"


@pytest.mark.parametrize(
    ("types", "described"),
    [
        (families.Conv, "Conv"),
        ((families.Conv, families.ConvTranspose), "Conv|ConvTranspose"),
        ((nn.Linear, families.Norm), "Linear|Norm"),
        ((families.BatchNorm, families.InstanceNorm), "BatchNorm|InstanceNorm"),
        # the whole family, however it was written
        (
            (*families.BatchNorm, *families.InstanceNorm, nn.GroupNorm, nn.LayerNorm, nn.RMSNorm),
            "Norm",
        ),
        ((nn.Conv2d, nn.BatchNorm2d), "Conv2d|BatchNorm2d"),
    ],
)
def test_rules_take_families_and_describe_them(types: object, described: str) -> None:
    rule = ti.Rule(types, weight="ones")  # type: ignore[arg-type]
    assert rule.describe() == described
    assert all(isinstance(cls, type) for cls in rule.types)


def dcgan_generator() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(16, 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(True),
        nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False),
        nn.Conv2d(3, 3, 3),
        nn.Tanh(),
    )


def test_the_family_form_of_classname_find_is_bit_exact() -> None:
    # the DCGAN tutorial's hook: find('Conv') matches Conv2d and ConvTranspose2d
    def weights_init(m: nn.Module) -> None:
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    policy = ti.Policy(
        [
            ti.Rule((families.Conv, families.ConvTranspose), weight=ti.Normal(0.0, 0.02)),
            ti.Rule(families.BatchNorm, weight=ti.Normal(1.0, 0.02), bias="zeros"),
        ],
        order="apply",
    )
    torch.manual_seed(0)
    expected = dcgan_generator()
    expected.apply(weights_init)
    torch.manual_seed(0)
    model = dcgan_generator()
    report = ti.init_model(model, policy)
    for (name, want), got in zip(
        expected.state_dict().items(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(want, got), name
    assert report["0.weight"].rule_label == "Conv|ConvTranspose"
    assert report["1.weight"].rule_label == "BatchNorm"


# --------------------------------------------------------------------------- YAML type names


def _labels(model: nn.Module, yaml_text: str) -> dict[str, str | None]:
    report = ti.plan(model, ti.Policy.from_yaml(yaml_text))
    return {entry.name: entry.rule_label for entry in report.initialized}


def test_yaml_type_names_a_family() -> None:
    model = nn.Sequential(nn.Conv1d(1, 1, 1), nn.ConvTranspose1d(1, 1, 1), nn.LayerNorm(1))
    labels = _labels(
        model,
        "rules:\n"
        "  - match: {type: [Conv, ConvTranspose]}\n    weight: zeros\n"
        "  - match: {type: Norm}\n    weight: ones\n",
    )
    assert labels == {
        "0.weight": "Conv|ConvTranspose",
        "1.weight": "Conv|ConvTranspose",
        "2.weight": "Norm",
    }


class Conv(nn.Module):
    """A model's own block called Conv (as in YOLO code bases): conv, norm, activation."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(1)


def test_a_family_and_a_model_class_of_one_name_is_an_error() -> None:
    policy = ti.Policy.from_yaml("rules:\n  - match: {type: Conv}\n    conv.weight: zeros\n")
    with pytest.raises(PlanError) as caught:
        ti.plan(nn.Sequential(Conv()), policy)
    assert str(caught.value) == (
        "<string>:2: rules[0].match.type: names the family torchinit.families.Conv and a layer "
        "class of the model; write torchinit.families.Conv for the family, or the class's full "
        f"name, one of ['{__name__}.Conv'] (got 'Conv')"
    )
    # either spelling then says which
    assert _labels(
        nn.Sequential(Conv()),
        "rules:\n  - match: {type: torchinit.families.Conv}\n    weight: zeros\n",
    ) == {"0.conv.weight": "Conv"}
    assert _labels(
        nn.Sequential(Conv()),
        f"rules:\n  - match: {{type: {__name__}.Conv}}\n    conv.weight: zeros\n",
    ) == {"0.conv.weight": "Conv"}


def test_a_misspelt_family_gets_a_suggestion() -> None:
    policy = ti.Policy.from_yaml("rules:\n  - match: {type: ConvTranspos}\n    weight: zeros\n")
    with pytest.raises(PlanError) as caught:
        ti.plan(nn.Sequential(nn.Linear(1, 1)), policy)
    assert str(caught.value) == (
        "<string>:2: rules[0].match.type: no layer class of this name in torch.nn or in the "
        "model; did you mean 'ConvTranspose'? (got 'ConvTranspos')"
    )
