"""torchinit.policy: building rules and policies, and their validation messages."""

from __future__ import annotations

import dataclasses

import pytest
from torch import nn

import torchinit as ti


def test_rule_resolves_strategy_specs() -> None:
    rule = ti.Rule(
        nn.Conv2d,
        weight={"kaiming_normal": {"mode": "fan_out", "nonlinearity": "relu"}},
        bias="zeros",
    )
    assert rule.strategies == (
        ("weight", ti.KaimingNormal(mode="fan_out", nonlinearity="relu")),
        ("bias", ti.Zeros()),
    )
    assert rule.types == (nn.Conv2d,)
    assert not rule.is_param_rule


def test_params_mapping_and_keywords_combine() -> None:
    rule = ti.Rule(nn.MultiheadAttention, params={"in_proj_weight": "ones"}, in_proj_bias="zeros")
    assert [key for key, _ in rule.strategies] == ["in_proj_weight", "in_proj_bias"]


def test_rules_and_policies_are_values() -> None:
    a = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0, 0.02))], name="p")
    b = ti.Policy([ti.Rule(nn.Linear, weight={"normal": {"std": 0.02}})], name="p")
    assert a == b
    assert hash(a) == hash(b)
    assert a != ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0, 0.03))], name="p")


def test_then_appends_rules_that_take_precedence() -> None:
    base = ti.get_preset("resnet")
    extended = base.then(ti.Rule(name="fc", weight="zeros"))
    assert extended.rules[:-1] == base.rules
    assert extended.name == "resnet"


@pytest.mark.parametrize(
    ("rule", "description"),
    [
        (ti.Rule((nn.BatchNorm2d, nn.GroupNorm), weight="ones"), "BatchNorm2d|GroupNorm"),
        (ti.Rule(nn.Linear, name="head.*", weight="ones"), "Linear name='head.*'"),
        (ti.Rule(param="**.bias", init="zeros"), "param='**.bias'"),
        (ti.Rule(param="**.bias", init="zeros", label="biases"), "biases"),
    ],
)
def test_describe(rule: ti.Rule, description: str) -> None:
    assert rule.describe() == description


def test_parameter_rule_matching() -> None:
    rule = ti.Rule(nn.Linear, param="**.bias", init="zeros")
    assert rule.is_param_rule
    assert rule.matches_param_name(["head.bias"])
    assert not rule.matches_param_name(["head.weight"])
    assert rule.matches_type(nn.Linear(1, 1))
    assert not rule.matches_type(nn.Conv1d(1, 1, 1))


class MyConv(nn.Conv2d):
    pass


def test_types_match_subclasses() -> None:
    assert ti.Rule(nn.Conv2d, weight="ones").matches_type(MyConv(1, 1, 1))


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: ti.Rule("Conv2d", weight="ones"),
            ti.ArgumentTypeError,
            "types: must be an nn.Module subclass or a tuple of them (pass the class itself, "
            "e.g. nn.Conv2d, not its name) (got 'Conv2d')",
        ),
        (
            lambda: ti.Rule(nn.Linear, weight="ones", optional="yes"),
            ti.ArgumentTypeError,
            "optional: must be true or false (got 'yes')",
        ),
        (
            lambda: ti.Rule((), weight="ones"),
            ti.InvalidArgumentError,
            "types: must name at least one type (got ())",
        ),
        (
            lambda: ti.Rule(weight="ones"),
            ti.InvalidArgumentError,
            "match: a rule must match something: give types, name=... or param=...; to match "
            "every layer use name='**'",
        ),
        (
            lambda: ti.Rule(nn.Linear),
            ti.InvalidArgumentError,
            "strategies: a layer rule must give a strategy for at least one parameter, e.g. "
            "weight=... or bias=...",
        ),
        (
            lambda: ti.Rule(nn.Linear, init="zeros"),
            ti.InvalidArgumentError,
            "init: is for parameter rules (with param=...); a layer rule names its parameters, "
            "e.g. weight=... (got 'zeros')",
        ),
        (
            lambda: ti.Rule(param="**.bias"),
            ti.InvalidArgumentError,
            "init: a parameter rule needs a strategy: init=...",
        ),
        (
            lambda: ti.Rule(param="**.bias", init="zeros", weight="ones"),
            ti.InvalidArgumentError,
            "weight: a parameter rule takes one strategy as init=..., not per-parameter "
            "strategies (got 'ones')",
        ),
        (
            lambda: ti.Rule(param="**.bias", name="fc", init="zeros"),
            ti.InvalidArgumentError,
            "name: a parameter rule matches full parameter names; put the layer part in the "
            "glob (e.g. param='layer1.**.bias') instead of name=... (got 'fc')",
        ),
        (
            lambda: ti.Rule(name="a.**b", weight="ones"),
            ti.InvalidArgumentError,
            "name: '**' must stand alone between dots (e.g. 'a.**.b') (got 'a.**b')",
        ),
        (
            lambda: ti.Rule(param="", init="ones"),
            ti.InvalidArgumentError,
            "param: must not be empty (got '')",
        ),
        (
            lambda: ti.Rule(nn.Linear, params={"fc.*": "ones"}),
            ti.InvalidArgumentError,
            "fc.*: a parameter-name glob matches the layer's own parameters and cannot contain "
            "dots; use a parameter rule (param='**.x*') for dotted globs",
        ),
        (
            lambda: ti.Rule(nn.Linear, params=["weight"]),
            ti.ArgumentTypeError,
            "params: must be a mapping of parameter name to strategy (got ['weight'])",
        ),
        (
            lambda: ti.Rule(nn.Linear, params={"": "ones"}),
            ti.ArgumentTypeError,
            "parameter names must be non-empty strings (got '')",
        ),
        (
            lambda: ti.Rule(nn.Linear, weight={"kaiming_normal": {"mode": "fanin"}}),
            ti.InvalidArgumentError,
            "weight.kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] (got 'fanin')",
        ),
        (
            lambda: ti.Rule(nn.Linear, weight="kaiming_normall"),
            ti.UnknownNameError,
            f"weight: unknown strategy; did you mean 'kaiming_normal'? available: "
            f"{sorted(ti.STRATEGIES)} (got 'kaiming_normall')",
        ),
        (
            lambda: ti.Rule(nn.Linear, weight=0.5),
            ti.ArgumentTypeError,
            "weight: must be a Strategy, a strategy name, a one-key mapping "
            "{name: {arguments}} or a function of a tensor (got 0.5)",
        ),
        (
            lambda: ti.Rule(nn.Linear, weight="ones", label=3),
            ti.ArgumentTypeError,
            "label: must be a string (got 3)",
        ),
        (
            lambda: ti.Policy([]),
            ti.InvalidArgumentError,
            "rules: must contain at least one rule (got [])",
        ),
        (
            lambda: ti.Policy(ti.Rule(nn.Linear, weight="ones")),
            ti.ArgumentTypeError,
            None,
        ),
        (
            lambda: ti.Policy([ti.Rule(nn.Linear, weight="ones"), {"weight": "ones"}]),
            ti.ArgumentTypeError,
            "rules[1]: must be a Rule (got {'weight': 'ones'})",
        ),
        (
            lambda: ti.Policy([ti.Rule(nn.Linear, weight="ones")], order="post"),
            ti.InvalidArgumentError,
            "order: must be one of ['modules', 'apply'] (got 'post')",
        ),
        (
            lambda: ti.Policy([ti.Rule(nn.Linear, weight="ones")], name=3),
            ti.ArgumentTypeError,
            "name: must be a string (got 3)",
        ),
    ],
)
def test_construction_errors(build, error, message) -> None:
    with pytest.raises(error) as info:
        build()
    assert isinstance(info.value, ti.TorchInitError)
    if message is None:
        assert str(info.value).startswith("rules: must be a list of Rule (got Rule(")
    else:
        assert str(info.value) == message


def test_dataclasses_replace_builds_a_checked_rule() -> None:
    rule = ti.Rule(nn.Linear, weight="zeros", bias=ti.Normal(0.0, 0.1), label="head")
    moved = dataclasses.replace(rule, types=(nn.Conv2d,))
    assert moved == ti.Rule(nn.Conv2d, weight="zeros", bias=ti.Normal(0.0, 0.1), label="head")
    assert moved.strategies == rule.strategies
    named = ti.Rule(param="**.bias", init="zeros", type_names=["Conv2d"])
    assert named.with_types((nn.Conv2d,)) == ti.Rule(nn.Conv2d, param="**.bias", init="zeros")
    with pytest.raises(ti.InvalidArgumentError, match="must not be empty"):
        dataclasses.replace(rule, name="")


class _Conv2dSubclass(nn.Conv2d):
    pass


class _Conv2dGrandchild(_Conv2dSubclass):
    pass


class Conv2d(nn.Module):  # not torch's: an unrelated class of the same name
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(nn.init.ones_(nn.Linear(2, 2).weight.detach().clone()))


def _class_name_model() -> nn.Module:
    return nn.ModuleDict(
        {
            "plain": nn.Conv2d(2, 2, 1),
            "sub": _Conv2dSubclass(2, 2, 1),
            "grand": _Conv2dGrandchild(2, 2, 1),
            "same_name": Conv2d(),
            "linear": nn.Linear(2, 2),
        }
    )


def test_class_names_match_the_class_or_a_direct_base_by_name_not_isinstance() -> None:
    model = _class_name_model()
    by_name = ti.plan(model, ti.Policy([ti.Rule(class_names=["Conv2d"], weight="zeros")]))
    assert [e.name for e in by_name.initialized] == [
        "plain.weight",
        "sub.weight",
        "same_name.weight",
    ]
    by_type = ti.plan(model, ti.Policy([ti.Rule(nn.Conv2d, weight="zeros")]))
    assert [e.name for e in by_type.initialized] == ["plain.weight", "sub.weight", "grand.weight"]
    # a parameter rule too; with types, a layer must match both
    both = ti.Rule(nn.Conv2d, class_names=("Conv2d",), param="**.bias", init="zeros")
    assert [e.name for e in ti.plan(model, ti.Policy([both])).initialized] == [
        "plain.bias",
        "sub.bias",
    ]
    assert both.describe() == "Conv2d class_name=Conv2d param='**.bias'"


def test_class_names_must_be_a_list_of_names() -> None:
    with pytest.raises(ti.ArgumentTypeError) as caught:
        ti.Rule(class_names="Conv2d", weight="zeros")  # type: ignore[arg-type]
    assert str(caught.value) == "class_names: must be a list of layer class names (got 'Conv2d')"


def test_a_class_name_rule_that_matches_nothing_names_the_classes_the_model_has() -> None:
    policy = ti.Policy(
        [ti.Rule(class_names=["Conv2D"], weight="zeros"), ti.Rule(nn.Linear, bias="zeros")]
    )
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(_class_name_model(), policy, strict=True)
    assert str(caught.value).startswith(
        "rules[0].match.class_name: matches no layer of ModuleDict; did you mean 'Conv2d'? its "
        "layer classes are"
    )
