"""YAML policies (``torchinit/config.py``) and the policy files shipped in ``configs/``.

* the ``configs/`` twins of the built-in presets load to policies equal to the presets, and
  initialize torchvision models bit for bit as the presets do;
* the hand-written ``configs/`` files load and do what they say;
* ``to_yaml``/``from_yaml`` and ``to_dict``/``from_dict`` round-trip every kind of rule;
* plain scalars follow the YAML 1.2 core schema, not PyYAML's YAML 1.1 (``yes`` is a string,
  ``1e-6`` a float), and nothing but plain data is accepted (no Python tags, no merge keys,
  no duplicate keys, no alias bombs);
* every error names the file and the line of the offending value, in the one template
  ``<file>:<line>: <key path>: <problem> (got <value>)``;
* layer types are names, resolved against ``torch.nn`` and the model's own classes, and loading
  a policy never imports anything;
* strategy arguments read from the matched layer (``{attr: stddev, default: 0.1}``).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import pathlib
import re
import subprocess
import sys
import textwrap
import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import torchinit
from torchinit import (
    ArgumentTypeError,
    AttrStrategy,
    Constant,
    Dirac,
    Eye,
    FromAttr,
    InvalidArgumentError,
    KaimingUniform,
    Normal,
    Ones,
    Orthogonal,
    PlanError,
    Policy,
    PolicyFileError,
    Rule,
    Sparse,
    TorchDefault,
    TorchInitError,
    TorchInitWarning,
    TruncNormal,
    Uniform,
    UnknownNameError,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
    config,
)

REPO = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"

# The presets torchinit ships, read when this module is collected: before any test or doctest
# has registered a preset of its own.
BUILTIN_PRESETS = torchinit.available_presets()

SEED = 0


# --------------------------------------------------------------------------- helpers


def write(tmp_path: pathlib.Path, text: str, name: str = "policy.yaml") -> pathlib.Path:
    """Write ``text`` (dedented, without a leading newline) to ``tmp_path / name``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def assert_same_state(a: nn.Module | dict[str, torch.Tensor], b: nn.Module) -> None:
    first = a if isinstance(a, dict) else a.state_dict()
    second = b.state_dict()
    assert list(first) == list(second)
    different = [key for key in first if not torch.equal(first[key], second[key])]
    assert not different, f"tensors differ: {different}"


def seeded(build: Callable[[], nn.Module], seed: int = SEED) -> nn.Module:
    torch.manual_seed(seed)
    return build()


def initialized(model: nn.Module, policy: Any, seed: int = SEED, **kwargs: Any) -> nn.Module:
    """A copy of ``model`` initialized with ``policy`` after ``torch.manual_seed(seed)``."""
    model = copy.deepcopy(model)
    torch.manual_seed(seed)
    torchinit.init_model(model, policy, **kwargs)
    return model


def only_strategy(policy: Policy) -> Any:
    """The strategy of a one-rule, one-parameter policy."""
    ((rule,),) = [policy.rules]
    ((_, strategy),) = rule.strategies
    return strategy


def line_of(message: str, source: str) -> int:
    """The line number that ``message`` gives after ``source:``."""
    match = re.match(re.escape(source) + r":(\d+): ", message)
    assert match, f"{message!r} does not start with {source}:<line>:"
    return int(match.group(1))


# --------------------------------------------------------------------------- configs/


def test_every_builtin_preset_has_a_yaml_twin():
    """Presets are defined in Python (so they work from an installed wheel); each one has a
    ``configs/<name>.yaml`` twin, kept equal to it by the tests below."""
    assert BUILTIN_PRESETS, "no preset is registered"
    missing = [name for name in BUILTIN_PRESETS if not (CONFIGS / f"{name}.yaml").is_file()]
    assert not missing, f"presets without a configs/<name>.yaml twin: {missing}"


@pytest.mark.parametrize("name", BUILTIN_PRESETS)
def test_preset_yaml_twin_equals_the_preset(name, options_without_model):
    loaded = Policy.from_yaml(CONFIGS / f"{name}.yaml")
    assert loaded == torchinit.get_preset(name, **options_without_model.get(name, {}))
    # a string path works as well as a pathlib.Path
    assert Policy.from_yaml(str(CONFIGS / f"{name}.yaml")) == loaded


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "build"),
    [("resnet", "resnet18"), ("vgg", "vgg11_bn")],
)
def test_preset_yaml_twin_initializes_like_the_preset(tv_models, name, build):
    model = seeded(lambda: getattr(tv_models, build)(weights=None))
    from_yaml = initialized(model, CONFIGS / f"{name}.yaml")
    from_preset = initialized(model, name)
    assert_same_state(from_preset, from_yaml)
    # and the initialization did something: it drew new numbers for the conv weights
    first_conv = next(key for key, v in model.state_dict().items() if v.dim() == 4)
    assert not torch.equal(model.state_dict()[first_conv], from_yaml.state_dict()[first_conv])


def test_every_file_in_configs_loads_and_documents_its_use():
    files = sorted(CONFIGS.glob("*.yaml"))
    assert {f.stem for f in files} >= {*BUILTIN_PRESETS, "resnet_zero_init", "transformer"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert text.startswith("#"), f"{path.name} does not start with a comment block"
        assert f'torchinit.init_model(model, "configs/{path.name}")' in header, path.name
        assert f"torchinit plan MODEL configs/{path.name}" in header, path.name
        if path.stem == "resnet_zero_init" and "torchvision" not in sys.modules:
            continue  # needs torchvision's classes (see its own test)
        assert isinstance(Policy.from_yaml(path), Policy)


def test_resnet_zero_init_yaml(tv_models):
    policy = Policy.from_yaml(CONFIGS / "resnet_zero_init.yaml")
    assert policy == torchinit.get_preset("resnet", zero_init_residual=True)

    built = seeded(lambda: tv_models.resnet18(weights=None))
    model = initialized(built, CONFIGS / "resnet_zero_init.yaml")
    blocks = [m for m in model.modules() if isinstance(m, tv_models.resnet.BasicBlock)]
    assert len(blocks) == 8
    for block in blocks:
        assert torch.all(block.bn2.weight == 0)
        assert torch.all(block.bn1.weight == 1)
    report = torchinit.plan(model, CONFIGS / "resnet_zero_init.yaml")
    assert report["layer1.0.bn2.weight"].rule_label == "zero-init BasicBlock.bn2"

    # the same as the preset with the option, bit for bit
    assert_same_state(initialized(built, "resnet", zero_init_residual=True), model)


def test_transformer_yaml():
    policy = Policy.from_yaml(CONFIGS / "transformer.yaml")
    assert policy.name == "transformer"
    linear = next(s for r in policy.rules if r.types == (nn.Linear,) for _, s in r.strategies)
    assert linear == TruncNormal(mean=0.0, std=0.02, a=-0.04, b=0.04)

    class TinyTransformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(100, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(32)
            self.head = nn.Linear(32, 100)

    model = seeded(TinyTransformer)
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, CONFIGS / "transformer.yaml")
    assert report.unmatched == []

    params = dict(model.named_parameters())
    biases = [name for name in params if name.endswith("bias")]
    assert "encoder.layers.0.self_attn.in_proj_bias" in biases
    assert all(torch.all(params[name] == 0) for name in biases)
    for name, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            assert torch.all(module.weight == 1), name
        if isinstance(module, nn.Linear):
            assert module.weight.abs().max() <= 0.04, name
        if isinstance(module, nn.MultiheadAttention):
            bound = math.sqrt(6 / sum(module.in_proj_weight.shape))
            assert module.in_proj_weight.abs().max() <= bound
            assert report[f"{name}.in_proj_weight"].strategy == XavierUniform()
    assert report["embed.weight"].strategy == Normal(0.0, 0.02)
    assert abs(model.embed.weight.std().item() - 0.02) < 0.002

    # the same random numbers as the hand-written loop it stands for
    reference = seeded(TinyTransformer)
    torch.manual_seed(SEED)
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
            elif isinstance(module, nn.MultiheadAttention):
                nn.init.xavier_uniform_(module.in_proj_weight)
        for name, parameter in reference.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(parameter)
    assert_same_state(reference, model)


def init_weights(m: nn.Module) -> None:
    """The seed write-up's ``init_weights``, as written."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def seed_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Linear(16 * 10 * 10, 10))


def nested_seed_model() -> nn.Module:
    """Nested, so that ``apply`` order (children first) differs from ``modules()`` order."""
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8)),
        nn.Linear(8, 8),
        nn.Sequential(nn.Linear(8, 4), nn.Sequential(nn.Conv2d(8, 8, 1))),
    )


@pytest.mark.parametrize("build", [seed_model, nested_seed_model])
def test_seeds_init_weights_yaml_equals_model_apply(build):
    policy = Policy.from_yaml(CONFIGS / "seeds_init_weights.yaml")
    assert policy.order == "apply"

    reference = seeded(build)
    torch.manual_seed(SEED)
    reference.apply(init_weights)

    model = seeded(build)
    torch.manual_seed(SEED)
    torchinit.init_model(model, CONFIGS / "seeds_init_weights.yaml")
    assert_same_state(reference, model)


# --------------------------------------------------------------------------- round trips


def preset_variants() -> dict[str, Callable[..., Policy]]:
    variants: dict[str, Callable[..., Policy]] = {
        name: functools.partial(torchinit.get_preset, name) for name in BUILTIN_PRESETS
    }
    variants["resnet residual_norms"] = lambda: torchinit.get_preset(
        "resnet", zero_init_residual=True, residual_norms=["layer*.*.bn3", "**.bn_last"]
    )
    return variants


class Block(nn.Module):
    """A model class of this module: named by its full name in YAML."""

    def __init__(self) -> None:
        super().__init__()
        self.bn3 = nn.BatchNorm2d(4)


HAND_BUILT: dict[str, Callable[[], Policy]] = {
    "param rules": lambda: Policy(
        [
            Rule(param="**.bias", init=Zeros()),
            Rule(nn.Linear, param="head.*", init=Normal(0.0, 0.02), label="head"),
        ]
    ),
    "name globs": lambda: Policy(
        [
            Rule(name="layer*.0.conv?", weight=KaimingUniform(a=math.sqrt(5))),
            Rule(nn.Conv2d, name="**.downsample.[0-9]", weight="ones"),
            Rule(name="**", bias="zeros"),
        ]
    ),
    "tuple types": lambda: Policy(
        [Rule((nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm), weight=Ones(), bias=Zeros())]
    ),
    "relative keys": lambda: Policy(
        [
            Rule(Block, params={"bn3.weight": Zeros()}),
            Rule(
                nn.TransformerEncoderLayer,
                params={"self_attn.in_proj_weight": XavierUniform(), "linear1.bias": "zeros"},
            ),
        ]
    ),
    "glob keys": lambda: Policy(
        [
            Rule(
                (nn.LSTM, nn.GRU),
                params={"weight_hh_*": Orthogonal(), "weight_ih_l[0-9]": XavierNormal()},
                bias_ih_l0="zeros",
            )
        ]
    ),
    "labels": lambda: Policy(
        [
            Rule(nn.Linear, weight="zeros", label=label)
            for label in [
                "linear",
                "yes",
                "no",
                "on",
                "off",
                "null",
                "~",
                "true",
                "1.0",
                "0x1f",
                "012",
                "key: value",
                "# not a comment",
                "- not a list",
                "{not: a mapping}",
                "'quoted'",
                "ünïcode",
                "",
                " padded ",
            ]
        ],
        name="yes",
    ),
    "reserved parameter names": lambda: Policy(
        [
            Rule(
                name="custom",
                params={"init": Zeros(), "label": Ones(), "match": "zeros", "params": "ones"},
            ),
            Rule(
                name="mixed",
                params={"weight": Zeros(), "init": Ones()},
                label="reserved after plain",
            ),
        ]
    ),
    "FromAttr": lambda: Policy(
        [
            Rule(
                (nn.Conv2d, nn.Linear),
                weight={"trunc_normal": {"std": FromAttr("stddev", 0.1), "a": -2, "b": 2}},
            ),
            Rule(nn.Linear, bias={"constant": {"val": FromAttr("bias_init")}}),
            Rule(param="**.weight_g", init={"normal": {"std": FromAttr("g_std", 1e-6)}}),
        ]
    ),
    "type names": lambda: Policy(
        [
            Rule(type_names=["Bottleneck"], params={"bn3.weight": Zeros()}),
            Rule(nn.Conv2d, type_names=["somepkg.blocks.SpecialConv"], weight="ones"),
            Rule(type_names=["BasicBlock"], param="**.bn2.weight", init="zeros"),
        ]
    ),
    "order apply": lambda: Policy(
        [Rule(nn.Linear, weight=XavierUniform(), bias=Zeros())], name="apply", order="apply"
    ),
    "numbers": lambda: Policy(
        [
            Rule(nn.Linear, weight=Normal(0.0, 1e-6), bias=Constant(-2.0)),
            Rule(nn.Conv1d, weight=Uniform(-1e-3, 1e3), bias=Constant(0.5)),
            Rule(nn.Conv2d, weight=TruncNormal(std=0.02, a=-0.04, b=0.04), bias=Constant(1e20)),
            Rule(nn.Conv3d, weight=VarianceScaling(1 / 3, "fan_avg", "truncated_normal")),
            Rule(nn.Bilinear, weight=Constant(5e-324), bias=Constant(1.7976931348623157e308)),
            Rule(nn.Embedding, weight=Sparse(0.1, std=0.01)),
            Rule(nn.RNN, weight_hh_l0=Orthogonal(gain=math.sqrt(2)), bias_hh_l0=Constant(-0.0)),
            Rule(nn.ConvTranspose2d, weight=Dirac(groups=2), bias=TorchDefault()),
            Rule(nn.Identity, name="eye", weight=Eye()),
            Rule(nn.PReLU, weight=Constant(0.25)),
        ]
    ),
}


def _assert_round_trips(policy: Policy) -> None:
    data = policy.to_dict()
    assert Policy.from_dict(data) == policy
    text = policy.to_yaml()
    again = Policy.from_yaml(text)
    assert again == policy
    # stable: the reloaded policy writes the same text
    assert again.to_yaml() == text
    # JSON is YAML too: the plain data needs nothing JSON lacks
    assert Policy.from_yaml(json.dumps(data)) == policy


@pytest.mark.parametrize("name", list(preset_variants()))
def test_preset_round_trips(name, options_without_model):
    variant = preset_variants()[name]
    _assert_round_trips(variant(**options_without_model.get(name, {})))


def test_preset_round_trips_with_torchvision_classes(tv_models):
    policy = torchinit.get_preset("resnet", zero_init_residual=True)
    assert tv_models.resnet.Bottleneck in policy.rules[2].types
    assert "type: torchvision.models.resnet.Bottleneck" in policy.to_yaml()
    _assert_round_trips(policy)
    both = torchinit.get_preset("resnet", zero_init_residual=True, residual_norms=["**.bn3"])
    _assert_round_trips(both)


@pytest.mark.parametrize("name", list(HAND_BUILT))
def test_hand_built_policy_round_trips(name):
    _assert_round_trips(HAND_BUILT[name]())


def test_round_trip_keeps_what_the_yaml_says():
    policy = HAND_BUILT["reserved parameter names"]()
    data = policy.to_dict()
    # reserved words go under params:, so they are not read as the rule's own keys
    assert data["rules"][0] == {
        "match": {"name": "custom"},
        "params": {"init": "zeros", "label": "ones", "match": "zeros", "params": "ones"},
    }
    # with a reserved name in the rule, every strategy goes under params:, in order
    assert "weight" not in data["rules"][1]
    assert data["rules"][1]["params"] == {"weight": "zeros", "init": "ones"}

    attr = HAND_BUILT["FromAttr"]()
    assert attr.to_dict()["rules"][0]["weight"] == {
        "trunc_normal": {"std": {"attr": "stddev", "default": 0.1}, "a": -2, "b": 2}
    }
    assert attr.to_dict()["rules"][1]["bias"] == {"constant": {"val": {"attr": "bias_init"}}}

    names = HAND_BUILT["type names"]().to_dict()["rules"]
    assert names[0]["match"] == {"type": "Bottleneck"}
    assert names[1]["match"] == {"type": ["Conv2d", "somepkg.blocks.SpecialConv"]}

    block = HAND_BUILT["relative keys"]().to_dict()["rules"][0]
    assert block["match"] == {"type": f"{__name__}.Block"}
    assert block["bn3.weight"] == "zeros"


def test_reserved_parameter_names_in_yaml_apply_to_those_parameters():
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.init = nn.Parameter(torch.full((3,), 5.0))
            self.label = nn.Parameter(torch.full((3,), 5.0))
            self.weight = nn.Parameter(torch.full((3,), 5.0))

    policy = Policy.from_yaml(
        """
        rules:
          - match: {name: odd}
            label: the odd one
            weight: ones
            params: {init: zeros, label: {constant: {val: 2}}}
        """
    )
    model = nn.Sequential()
    model.add_module("odd", Odd())
    report = torchinit.init_model(model, policy)
    assert model.odd.init.tolist() == [0.0] * 3
    assert model.odd.label.tolist() == [2.0] * 3
    assert model.odd.weight.tolist() == [1.0] * 3
    assert report["odd.init"].rule_label == "the odd one"


def test_round_trip_keeps_the_order_of_reserved_and_plain_names():
    policy = Policy([Rule(name="custom", params={"init": Zeros()}, weight=Ones())])
    assert Policy.from_dict(policy.to_dict()) == policy


@pytest.mark.parametrize("label", ["1e3", "1e-6", "0o17", "019"])
def test_round_trip_of_strings_that_look_like_yaml_1_2_numbers(label):
    policy = Policy([Rule(nn.Linear, weight="zeros", label=label)])
    assert Policy.from_yaml(policy.to_yaml()) == policy


def test_round_trip_of_a_class_defined_in_a_function_resolves_when_applied():
    """A local class has no importable full name: it reloads as a type name (so the policies
    are not equal), which still resolves against the model's classes when applied."""

    class LocalConv(nn.Conv2d):
        pass

    policy = Policy([Rule(LocalConv, weight="zeros")])
    reloaded = Policy.from_yaml(policy.to_yaml())
    assert reloaded.rules[0].type_names == (f"{__name__}.{LocalConv.__qualname__}",)
    model = nn.Sequential(LocalConv(1, 1, 1), nn.Conv2d(1, 1, 1))
    report = torchinit.plan(model, reloaded)
    assert report["0.weight"].status == "initialized"
    assert report["1.weight"].status == "unmatched"


# --------------------------------------------------------------------------- YAML 1.2 scalars


def _default_of(text: str) -> Any:
    """The value YAML ``text`` gives, read back from a FromAttr default (which keeps types)."""
    policy = Policy.from_yaml(
        f"rules:\n  - match: {{type: Linear}}\n"
        f"    weight: {{constant: {{val: {{attr: v, default: {text}}}}}}}\n"
    )
    strategy = only_strategy(policy)
    assert isinstance(strategy, AttrStrategy)
    ((_, value),) = strategy.args
    assert isinstance(value, FromAttr)
    return value.default


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e-6", 1e-6),
        ("-2.", -2.0),
        (".5", 0.5),
        ("1E3", 1000.0),
        ("+1.5e+2", 150.0),
        ("2.5", 2.5),
        ("!!float 1", 1.0),
        ("012", 12),
        ("0x1f", 31),
        ("0o17", 15),
        ("-7", -7),
        ("!!int 3", 3),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("", None),
    ],
)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text, expected):
    value = _default_of(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text", ["yes", "no", "on", "off", "Yes", "NO", "On", "y", "n", "'1.0'", '"true"', "1_000"]
)
def test_yaml_1_1_booleans_and_quoted_numbers_stay_strings(text):
    policy = Policy.from_yaml(
        f"rules:\n  - match: {{type: Linear}}\n    label: {text}\n    weight: zeros\n"
    )
    assert policy.rules[0].label == text.strip("'\"")


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("True", True), ("FALSE", False)])
def test_only_true_and_false_are_booleans(text, expected, tmp_path):
    path = write(
        tmp_path,
        f"extends: resnet\noptions:\n  zero_init_residual: {text}\n  residual_norms: ['**.bn3']\n",
    )
    policy = Policy.from_yaml(path)
    assert (len(policy.rules) > 2) is expected


def test_yes_is_not_a_boolean_option(tmp_path):
    path = write(
        tmp_path,
        """
        extends: resnet
        options:
          zero_init_residual: yes
        """,
    )
    with pytest.raises(ArgumentTypeError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:3: options.zero_init_residual: must be true or false (got 'yes')"
    )


def test_quoted_number_is_a_string_then_a_type_error(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            weight: {constant: {val: '1.0'}}
        """,
    )
    with pytest.raises(ArgumentTypeError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:3: rules[0].weight.constant.val: must be a number (got '1.0')"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!!float abc", "rules[0].weight.constant.val: is not a valid !!float (got 'abc')"),
        ("!!int 1.5", "rules[0].weight.constant.val: is not a valid !!int (got '1.5')"),
        ("!!bool yes", "rules[0].weight.constant.val: is not a valid !!bool (got 'yes')"),
    ],
)
def test_standard_tags_check_their_value(value, message):
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(
            f"rules:\n  - match: {{type: Linear}}\n    weight: {{constant: {{val: {value}}}}}\n"
        )
    assert str(caught.value) == f"<string>:3: {message}"


@pytest.mark.parametrize(("text", "expected"), [("!!float '1e-3'", 1e-3), ('!!int "12"', 12)])
def test_explicit_tag_on_a_quoted_scalar(text, expected):
    assert _default_of(text) == expected


def test_duplicate_key_is_an_error(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            weight: zeros
            bias: zeros
            weight: ones
        """,
    )
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == f"{path}:5: rules[0].weight: duplicate key (got 'weight')"


def test_duplicate_top_level_key_is_an_error(tmp_path):
    path = write(tmp_path, "name: a\nrules: [{match: {type: Linear}, weight: zeros}]\nname: b\n")
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == f"{path}:3: name: duplicate key (got 'name')"


def test_aliases_are_allowed_but_merge_keys_are_refused(tmp_path):
    aliased = Policy.from_yaml(
        """
        rules:
          - match: &linear {type: Linear}
            weight: &small {normal: {std: 0.01}}
          - match: *linear
            bias: *small
        """
    )
    assert [r.types for r in aliased.rules] == [(nn.Linear,), (nn.Linear,)]
    assert aliased.rules[1].strategies == (("bias", Normal(0.0, 0.01)),)

    path = write(
        tmp_path,
        """
        rules:
          - match: &linear {type: Linear}
            weight: zeros
          - match:
              <<: *linear
              name: head
            bias: zeros
        """,
    )
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == f"{path}:5: rules[1].match: merge keys ('<<') are not supported"


@pytest.mark.parametrize(
    ("tagged", "tag"),
    [
        ('!!python/object/apply:os.system ["touch MARKER"]', "python/object/apply:os.system"),
        ('!!python/object/new:os.system ["touch MARKER"]', "python/object/new:os.system"),
        ("!!python/name:os.system ''", "python/name:os.system"),
        ('!!python/module:os ""', "python/module:os"),
        ("!!binary aGVsbG8=", "binary"),
        ("!!set {a, b}", "set"),
    ],
)
def test_unsafe_tags_are_refused_without_side_effects(tmp_path, tagged, tag):
    marker = tmp_path / "marker"
    path = write(tmp_path, "name: x\nrules: " + tagged.replace("MARKER", str(marker)) + "\n")
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:2: rules: unsafe or unknown YAML tag; policy files hold plain YAML data only "
        f"(got 'tag:yaml.org,2002:{tag}')"
    )
    assert not marker.exists()


def test_custom_tag_is_refused(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: !foo {type: Linear}
            weight: zeros
        """,
    )
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:2: rules[0].match: unsafe or unknown YAML tag; policy files hold plain YAML "
        "data only (got '!foo')"
    )


def test_alias_bomb_is_refused_by_its_expanded_size(tmp_path):
    lines = ["rules:", "  - match: {type: Linear}", "    weight: zeros", "    label:"]
    lines.append('      - &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]')
    for level in range(1, 10):
        lines.append(f"      - &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    path = write(tmp_path, "\n".join(lines) + "\n")  # 9**10 strings once expanded

    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:5: rules[0].label[")
    assert message.endswith(": more than 20000 YAML nodes (aliases?)")


@pytest.fixture
def composed(monkeypatch):
    """How many nodes PyYAML composed in the calls made with this fixture."""
    calls = [0]
    compose_node = torchinit.config._Loader.compose_node

    def counting(self, parent, index):
        calls[0] += 1
        return compose_node(self, parent, index)

    monkeypatch.setattr(torchinit.config._Loader, "compose_node", counting)
    return calls


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [" + "0, " * 300_000 + "]\n", "<string>:1: more than 20000 YAML nodes (aliases?)"),
        ("rules:\n" + "- 0\n" * 200_000, "<string>:19999: more than 20000 YAML nodes (aliases?)"),
        ("rules: " + "[" * 200_000, "<string>:1: nested more than 100 levels deep"),
        (
            "rules:\n" + "".join(" " * i + "- \n" for i in range(200)),
            "<string>:101: nested more than 100 levels deep",
        ),
    ],
    ids=["flow", "block", "deep-flow", "deep-block"],
)
def test_bounds_stop_composition_where_they_are_passed(composed, text, message):
    # PyYAML composes node by node as it parses: stopping at the bound is what keeps a
    # hostile file cheap (about 50 us a node), not a check on the finished document
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(text)
    assert str(caught.value) == message
    assert composed[0] <= 20_001


@pytest.mark.parametrize(
    "text",
    ["rules: &a [*a]\n", "rules: &a {x: *a}\n", "rules: " + "[" * 2000 + "]" * 2000 + "\n"],
    ids=["recursive-list", "recursive-map", "nested-2000"],
)
def test_recursive_or_deep_yaml_is_a_policy_file_error(text):
    with pytest.raises(PolicyFileError):
        Policy.from_yaml(text)


# --------------------------------------------------------------------------- error messages

# (text, exception, message with <file> for the path, a word of the offending line)
ERRORS = {
    "yaml syntax": (
        """
        rules:
          - match: {type: Conv2d}
            weight: kaiming_normal: {mode: fan_out}
        """,
        PolicyFileError,
        "<file>:3: invalid YAML: mapping values are not allowed here",
        "kaiming_normal:",
    ),
    "unclosed bracket": (
        """
        rules:
          - match: {type: [Conv2d, Linear}
            weight: ones
        """,
        PolicyFileError,
        "<file>:2: invalid YAML: expected ',' or ']', but got '}', while parsing a flow "
        "sequence that starts at <file>:2, column 19",
        "[Conv2d",
    ),
    "unknown top-level key": (
        """
        nmae: my policy
        rules:
          - match: {type: Linear}
            weight: zeros
        """,
        UnknownNameError,
        "<file>:1: nmae: unknown key; did you mean 'name'? allowed: "
        "['name', 'order', 'extends', 'options', 'rules'] (got 'my policy')",
        "nmae",
    ),
    "unknown match key": (
        """
        rules:
          - match: {type: Linear}
            weight: zeros
          - match: {typ: Conv2d}
            weight: zeros
        """,
        UnknownNameError,
        "<file>:4: rules[1].match.typ: unknown key; did you mean 'type'? allowed: "
        "['type', 'name', 'param', 'optional', 'class_name'] (got 'Conv2d')",
        "typ:",
    ),
    "missing match": (
        """
        rules:
          - match: {type: Linear}
            weight: zeros
          - label: no match here
            weight: zeros
        """,
        InvalidArgumentError,
        "<file>:4: rules[1].match: every rule needs match: {type: ..., name: ..., param: ...}",
        "no match here",
    ),
    "match not a mapping": (
        """
        rules:
          - match: Conv2d
            weight: zeros
        """,
        ArgumentTypeError,
        "<file>:2: rules[0].match: must be a mapping with type, name and/or param (got 'Conv2d')",
        "match: Conv2d",
    ),
    "empty rules": (
        """
        name: nothing
        rules: []
        """,
        InvalidArgumentError,
        "<file>:2: rules: must contain at least one rule (got [])",
        "rules: []",
    ),
    "rules not a list": (
        """
        name: one rule
        rules:
          match: {type: Linear}
          weight: zeros
        """,
        ArgumentTypeError,
        "<file>:2: rules: must be a list of rules "
        "(got {'match': {'type': 'Linear'}, 'weight': 'zeros'})",
        "rules:",
    ),
    "non-mapping rule": (
        """
        rules:
          - match: {type: Linear}
            weight: zeros
          - zeros
        """,
        ArgumentTypeError,
        "<file>:4: rules[1]: a rule must be a mapping with a 'match' key (got 'zeros')",
        "- zeros",
    ),
    "unknown strategy": (
        """
        rules:
          - match: {type: Linear}
            weight: xavier_uniformm
        """,
        UnknownNameError,
        "<file>:3: rules[0].weight: unknown strategy; did you mean 'xavier_uniform'? "
        "available: <strategies> (got 'xavier_uniformm')",
        "xavier_uniformm",
    ),
    "unknown strategy argument": (
        """
        rules:
          - match: {type: Linear}
            weight:
              normal: {mean: 0.0, sdt: 0.02}
        """,
        UnknownNameError,
        "<file>:4: rules[0].weight.normal.sdt: unknown argument; did you mean 'std'? "
        "normal takes ['mean', 'std'] (got 0.02)",
        "sdt",
    ),
    "bad strategy argument": (
        """
        rules:
          - match: {type: Linear}
            weight: zeros
          - match: {type: Conv2d}
            weight:
              kaiming_normal:
                mode: fanin
        """,
        InvalidArgumentError,
        "<file>:7: rules[1].weight.kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] "
        "(got 'fanin')",
        "fanin",
    ),
    "wrong value type": (
        """
        rules:
          - match: {type: Linear}
            weight:
              normal: {mean: 0.0, std: [0.02]}
        """,
        ArgumentTypeError,
        "<file>:4: rules[0].weight.normal.std: must be a number (got [0.02])",
        "std: [0.02]",
    ),
    "options without extends": (
        """
        name: mine
        options: {zero_init_residual: true}
        rules:
          - match: {type: Linear}
            weight: zeros
        """,
        InvalidArgumentError,
        "<file>:2: options: options are for the preset named by extends: "
        "(add 'extends: <preset>') (got {'zero_init_residual': True})",
        "options:",
    ),
    "unknown preset": (
        """
        # a comment first
        extends: resnett
        """,
        UnknownNameError,
        "<file>:2: extends: unknown preset; did you mean 'resnet'? available: <presets> "
        "(got 'resnett')",
        "resnett",
    ),
    "unknown option": (
        """
        extends: resnet
        options:
          zero_init_residul: true
        """,
        UnknownNameError,
        "<file>:3: options.zero_init_residul: unknown option; did you mean "
        "'zero_init_residual'? preset 'resnet' takes ['zero_init_residual', 'residual_norms'] "
        "(got True)",
        "zero_init_residul",
    ),
    "bad option value": (
        """
        extends: resnet
        options:
          zero_init_residual: true
          residual_norms: "**.bn3"
        """,
        ArgumentTypeError,
        "<file>:4: options.residual_norms: must be a list of globs naming norm layers "
        "(got '**.bn3')",
        "residual_norms",
    ),
    "non-string key": (
        """
        rules:
          - match: {type: Linear}
            weight: zeros
            1: ones
        """,
        PolicyFileError,
        "<file>:4: rules[0]: keys must be strings (got 1)",
        "1: ones",
    ),
    "bad order": (
        """
        order: aply
        rules:
          - match: {type: Linear}
            weight: zeros
        """,
        InvalidArgumentError,
        "<file>:1: order: must be one of ['modules', 'apply'] (got 'aply')",
        "aply",
    ),
    "bad type": (
        """
        rules:
          - match: {type: [Linear, 3]}
            weight: zeros
        """,
        ArgumentTypeError,
        "<file>:2: rules[0].match.type: must be a layer class name or a list of them "
        "(got ['Linear', 3])",
        "type:",
    ),
    "bad from-attr": (
        """
        rules:
          - match: {type: Linear}
            weight:
              trunc_normal: {std: {attr: stddev, default: -1}}
        """,
        InvalidArgumentError,
        "<file>:4: rules[0].weight.trunc_normal.std: must be > 0 (got -1)",
        "default: -1",
    ),
    "not a mapping": (
        """
        - match: {type: Linear}
          weight: zeros
        """,
        ArgumentTypeError,
        "<file>:1: a policy must be a mapping with a 'rules' list "
        "(got [{'match': {'type': 'Linear'}, 'weight': 'zeros'}])",
        "match",
    ),
    # hostile input (issue 12): each escaped as a builtin exception before
    "a !!map tag on a scalar": (
        """
        name: !!map resnet
        rules: []
        """,
        PolicyFileError,
        "<file>:1: name: is not a valid !!map (got 'resnet')",
        "!!map",
    ),
    "a !!int tag on a list": (
        """
        rules: !!int [1]
        """,
        PolicyFileError,
        "<file>:1: rules: a !!int must be a single value",
        "!!int",
    ),
    "an integer too long to read": (
        f"""
        rules:
          - match: {{type: Linear}}
            weight: {{normal: {{std: {"9" * 5000}}}}}
        """,
        PolicyFileError,
        "<file>:3: rules[0].weight.normal.std: is an integer of 5000 digits, too long to read "
        f"(got '{'9' * 194} ... 9999')",
        "normal",
    ),
    "a number past the float range": (
        f"""
        rules:
          - match: {{type: Linear}}
            weight: {{normal: {{std: 0x1{"0" * 3700}}}}}
        """,
        InvalidArgumentError,
        "<file>:3: rules[0].weight.normal.std: must be within ±1.8e+308 (the float range) "
        "(got <int too large to print>)",
        "normal",
    ),
    "a number for a list option": (
        """
        extends: resnet
        options: {residual_norms: 5}
        """,
        ArgumentTypeError,
        "<file>:2: options.residual_norms: must be a list of globs naming norm layers (got 5)",
        "residual_norms",
    ),
    "an empty key": (
        """
        rules:
          - match: {type: Linear}
            weight: {normal: {'': 1}}
        """,
        UnknownNameError,
        "<file>:3: rules[0].weight.normal.'': unknown argument; normal takes ['mean', 'std'] "
        "(got 1)",
        "normal",
    ),
}


def test_an_unclosed_quote_is_reported_where_it_opens(tmp_path):
    # PyYAML notices it at the end of the file; the quote is lines above
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: 'Conv2d}
            weight: ones
          - match: {type: Linear}
            bias: zeros
        """,
    )
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:6: invalid YAML: found unexpected end of stream, while scanning a quoted "
        f"scalar that starts at {path}:2, column 19"
    )


@pytest.mark.parametrize("case", list(ERRORS))
def test_error_names_file_and_line(case, tmp_path):
    text, error, expected, offending = ERRORS[case]
    path = write(tmp_path, text)
    expected = (
        expected.replace("<file>", str(path))
        .replace("<strategies>", str(sorted(torchinit.STRATEGIES)))
        .replace("<presets>", str(torchinit.available_presets()))
    )
    with pytest.raises(error) as caught:
        Policy.from_yaml(path)
    assert isinstance(caught.value, TorchInitError)
    assert str(caught.value) == expected
    line = line_of(str(caught.value), str(path))
    assert offending in path.read_text(encoding="utf-8").splitlines()[line - 1]


def test_an_option_name_that_is_no_string():
    with pytest.raises(ArgumentTypeError) as caught:
        Policy.from_dict({"extends": "resnet", "options": {1: True}})
    assert str(caught.value) == "options: option names must be strings (got 1)"


def test_a_policy_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\nrules: []\n")
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:1: is not UTF-8 text: invalid continuation byte at byte 9 (got b'\\xe9')"
    )


def test_a_policy_path_with_a_nul_byte():
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml("a\0b.yaml")
    assert str(caught.value) == (
        "cannot read the policy file: the path contains a NUL byte (got 'a\\x00b.yaml')"
    )


def test_an_empty_key_has_a_key_path():
    with pytest.raises(UnknownNameError) as caught:
        Policy.from_yaml("'': x\n")
    assert str(caught.value) == (
        "<string>:1: '': unknown key; allowed: ['name', 'order', 'extends', 'options', "
        "'rules'] (got 'x')"
    )


def test_yaml_text_errors_say_string(tmp_path):
    text, _, expected, _ = ERRORS["bad strategy argument"]
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_yaml(textwrap.dedent(text))
    # dedent keeps the leading newline: one line more than in the file
    assert str(caught.value) == expected.replace("<file>:7", "<string>:8")


def test_missing_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"cannot read the policy file: No such file or directory (got {str(path)!r})"
    )
    with pytest.raises(PolicyFileError):
        torchinit.init_model(nn.Linear(2, 2), str(path))


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path):
    # a sparse file of NUL bytes: reading and parsing it would fail differently and slowly
    path = tmp_path / "big.yaml"
    with path.open("wb") as file:
        file.truncate(64 << 20)
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}: larger than 1048576 bytes, the limit for a policy (got 67108864 bytes)"
    )


def test_oversized_yaml_text_is_refused_before_it_is_parsed():
    text = "rules: []\n# " + "x" * (1 << 20) + "\n"
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(text)
    assert str(caught.value) == (
        "<string>: larger than 1048576 bytes, the limit for a policy (got 1048589 bytes)"
    )


def test_the_size_limit_counts_utf8_bytes_and_is_inclusive(tmp_path, monkeypatch):
    monkeypatch.setattr(torchinit.config, "_MAX_BYTES", 40)
    text = "name: " + "é" * 10 + "\nextends: vgg\n"  # 40 bytes, 30 characters
    assert len(text.encode("utf-8")) == 40
    assert Policy.from_yaml(text).name == "é" * 10
    assert Policy.from_yaml(write(tmp_path, text)).name == "é" * 10
    text = text.replace("name: ", "name: é")  # 42 bytes, 31 characters
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(text)
    assert (
        str(caught.value) == "<string>: larger than 40 bytes, the limit for a policy (got 42 bytes)"
    )
    path = write(tmp_path, text)
    with pytest.raises(PolicyFileError) as caught:
        Policy.from_yaml(path)
    assert (
        str(caught.value) == f"{path}: larger than 40 bytes, the limit for a policy (got 42 bytes)"
    )


def test_type_names_never_call_a_module_getattr(monkeypatch):
    # torch's module __getattr__ imports torch._inductor (seconds) for 'torch._inductor'
    asked = []

    def lazy(name):
        asked.append(name)
        return nn.Linear

    lazy_module = types.ModuleType("i12_lazy_models")
    lazy_module.__getattr__ = lazy
    monkeypatch.setitem(sys.modules, "i12_lazy_models", lazy_module)
    monkeypatch.setattr(nn, "__getattr__", lazy, raising=False)
    text = (
        "rules:\n  - match: {type: [i12_lazy_models.Block, Blocky], optional: true}\n"
        "    bias: zeros\n  - match: {type: Linear}\n    weight: zeros\n"
    )
    rule = Policy.from_yaml(text).rules[0]
    assert (rule.types, rule.type_names) == ((), ("i12_lazy_models.Block", "Blocky"))
    assert torchinit.plan(nn.Sequential(nn.Linear(2, 2)), Policy.from_yaml(text)) is not None
    assert asked == []


def test_an_error_from_the_file_is_not_located_twice(tmp_path):
    path = write(tmp_path, "rules:\n  - match: {type: Linear}\n    weight: {normal: {std: -1}}\n")
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == f"{path}:3: rules[0].weight.normal.std: must be >= 0 (got -1)"
    assert caught.value.where == f"{path}:3"
    assert caught.value.path == "rules[0].weight.normal.std"


def test_options_not_a_mapping(tmp_path):
    path = write(tmp_path, "extends: resnet\noptions: 3\n")
    with pytest.raises(ArgumentTypeError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == f"{path}:2: options: must be a mapping of option to value (got 3)"


def test_error_under_params_names_its_own_line(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            params:
              weight:
                normal: {std: -1}
        """,
    )
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_yaml(path)
    assert str(caught.value) == (
        f"{path}:5: rules[0].params.weight.normal.std: must be >= 0 (got -1)"
    )


def test_parameter_given_twice_in_one_rule_is_an_error(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            weight: zeros
            params: {weight: ones}
        """,
    )
    with pytest.raises(TorchInitError):
        Policy.from_yaml(path)


# --------------------------------------------------------------------------- layer type names


def test_torch_nn_name_resolves_at_load():
    policy = Policy.from_yaml(
        "rules:\n  - match: {type: [Conv2d, BatchNorm2d]}\n    weight: ones\n"
    )
    assert policy.rules[0].types == (nn.Conv2d, nn.BatchNorm2d)
    assert policy.rules[0].type_names == ()


def test_subclass_of_a_named_type_matches():
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(MyConv(1, 2, 3), nn.Conv1d(1, 2, 3))
    report = torchinit.init_model(
        model, Policy.from_yaml("rules:\n  - match: {type: Conv2d}\n    weight: zeros\n")
    )
    assert report["0.weight"].status == "initialized"
    assert torch.all(model[0].weight == 0)
    assert report["1.weight"].status == "unmatched"


def test_model_class_name_resolves_when_applied(tv_models, tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Bottleneck}
            bn3.weight: zeros
        """,
    )
    policy = Policy.from_yaml(path)
    assert policy.rules[0].types == ()
    assert policy.rules[0].type_names == ("Bottleneck",)

    model = seeded(lambda: tv_models.resnet50(weights=None))
    report = torchinit.init_model(model, path)
    bottlenecks = [m for m in model.modules() if isinstance(m, tv_models.resnet.Bottleneck)]
    assert len(bottlenecks) == 16
    assert all(torch.all(b.bn3.weight == 0) for b in bottlenecks)
    assert all(torch.all(b.bn2.weight == 1) for b in bottlenecks)
    assert report["layer4.2.bn3.weight"].strategy == Zeros()
    assert len(report.initialized) == 16


def test_full_name_resolves_at_load_when_its_module_is_imported(tv_models):
    policy = Policy.from_yaml(
        "rules:\n  - match: {type: torchvision.models.resnet.Bottleneck}\n    bn3.weight: zeros\n"
    )
    assert policy.rules[0].types == (tv_models.resnet.Bottleneck,)
    assert policy.rules[0].type_names == ()


NO_IMPORT_SCRIPT = r"""
import importlib.abc
import sys

import torchinit
from torchinit import InvalidArgumentError, Policy

searched = []


class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        searched.append(name)
        return None


sys.meta_path.insert(0, Spy())
before = set(sys.modules)
policy = Policy.from_yaml(
    "rules:\n"
    "  - match: {type: zz_no_such_pkg_q7.mod.Cls}\n"
    "    weight: zeros\n"
    "  - match: {type: torchvision.models.resnet.Bottleneck}\n"
    "    bn3.weight: zeros\n"
)
assert policy.rules[0].type_names == ("zz_no_such_pkg_q7.mod.Cls",), policy
assert policy.rules[1].type_names == ("torchvision.models.resnet.Bottleneck",), policy
assert set(sys.modules) == before, sorted(set(sys.modules) - before)
assert searched == [], searched
assert "torchvision" not in sys.modules

try:
    Policy.from_yaml(sys.argv[1])
except InvalidArgumentError as error:
    print(error)
assert "torchvision" not in sys.modules
"""


@pytest.mark.slow
def test_loading_never_imports_anything():
    """In a fresh interpreter: a dotted type name whose module is not imported stays a name;
    loading imports nothing (nothing is even looked up); torchvision is not imported either,
    so resnet_zero_init.yaml asks for residual_norms."""
    zero_init = CONFIGS / "resnet_zero_init.yaml"
    result = subprocess.run(
        [sys.executable, "-c", NO_IMPORT_SCRIPT, str(zero_init)],
        capture_output=True,
        text=True,
        cwd=REPO / "tests",  # not the root: `python -c` would import the source tree first
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(
        n
        for n, text in enumerate(zero_init.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith("options:")
    )
    assert result.stdout.strip() == (
        f"{zero_init}:{line}: options.zero_init_residual: needs residual_norms=[...] "
        "(globs naming the last norm layer of each residual branch) for a model that is not "
        "torchvision's (got True)"
    )


def test_misspelt_type_name_is_a_plan_error_with_file_and_line(tv_models, tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Conv2d}
            weight: {kaiming_normal: {mode: fan_out}}
          - match: {type: Botleneck}
            bn3.weight: zeros
        """,
    )
    model = seeded(lambda: tv_models.resnet50(weights=None))
    before = state(model)
    with pytest.raises(PlanError) as caught:
        torchinit.init_model(model, path)
    assert str(caught.value) == (
        f"{path}:4: rules[1].match.type: no layer class of this name in torch.nn or in the "
        "model; did you mean 'Bottleneck'? (got 'Botleneck')"
    )
    assert_same_state(before, model)


def _block_a() -> type[nn.Module]:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

    return Block


def _block_b() -> type[nn.Module]:
    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

    return Block


def test_ambiguous_short_name_asks_for_the_full_name():
    block_a, block_b = _block_a(), _block_b()
    model = nn.Sequential(block_a(), block_b())
    policy = Policy.from_yaml("rules:\n  - match: {type: Block}\n    fc.weight: zeros\n")
    with pytest.raises(PlanError) as caught:
        torchinit.plan(model, policy)
    full = sorted(f"{c.__module__}.{c.__qualname__}" for c in (block_a, block_b))
    assert str(caught.value) == (
        "<string>:2: rules[0].match.type: names several layer classes of the model; use the "
        f"full name, one of {full} (got 'Block')"
    )
    # the full name picks one of them
    chosen = Policy.from_yaml(
        f"rules:\n  - match: {{type: '{block_b.__module__}.{block_b.__qualname__}'}}\n"
        "    fc.weight: zeros\n"
    )
    report = torchinit.init_model(model, chosen)
    assert report["1.fc.weight"].status == "initialized"
    assert report["0.fc.weight"].status == "unmatched"
    assert torch.all(model[1].fc.weight == 0)


def test_type_name_of_a_base_class_of_the_models_layers():
    class Base(nn.Module):
        pass

    class Child(Base):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(3))

    model = nn.Sequential(Child())
    report = torchinit.init_model(
        model, Policy.from_yaml("rules:\n  - match: {type: Base}\n    weight: zeros\n")
    )
    assert report["0.weight"].status == "initialized"
    assert torch.all(model[0].weight == 0)


# --------------------------------------------------------------------------- FromAttr

INCEPTION_POLICY = """
name: inception
rules:
  - match: {type: [Conv2d, Linear]}
    weight: {trunc_normal: {std: {attr: stddev, default: 0.1}, a: -2, b: 2}}
  - match: {type: BatchNorm2d}
    weight: ones
    bias: zeros
"""


def test_from_attr_reads_each_layers_argument(tv_models):
    """torchvision's Inception: ``stddev`` is set on ``AuxLogits.fc`` (an nn.Linear: 0.001) and
    on ``AuxLogits.conv1`` - a BasicConv2d wrapper, not the nn.Conv2d inside it, so its
    ``conv1.conv`` gets the default 0.1 in torchvision's loop, and here too."""
    model = tv_models.inception_v3(weights=None, init_weights=False, aux_logits=True)
    report = torchinit.plan(model, Policy.from_yaml(INCEPTION_POLICY))
    stds = {
        entry.name: entry.strategy.std
        for entry in report
        if isinstance(entry.strategy, TruncNormal)
    }
    assert stds["AuxLogits.fc.weight"] == 0.001
    assert stds["AuxLogits.conv0.conv.weight"] == 0.1
    assert stds["AuxLogits.conv1.conv.weight"] == 0.1
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(stds) == len(layers)
    others = {name: std for name, std in stds.items() if name != "AuxLogits.fc.weight"}
    assert set(others.values()) == {0.1}
    assert report["fc.weight"].strategy == TruncNormal(std=0.1, a=-2.0, b=2.0)

    # a rule on the wrapper reads the wrapper's stddev (type named by a model class name)
    wrapper = Policy.from_yaml(
        """
        rules:
          - match: {type: BasicConv2d, name: "AuxLogits.*"}
            conv.weight: {trunc_normal: {std: {attr: stddev, default: 0.1}}}
        """
    )
    report = torchinit.plan(model, wrapper)
    assert report["AuxLogits.conv1.conv.weight"].strategy.std == 0.01
    assert report["AuxLogits.conv0.conv.weight"].strategy.std == 0.1


@pytest.mark.slow
def test_from_attr_reproduces_torchvisions_inception_init(tv_models):
    def build(init_weights: bool) -> nn.Module:
        return seeded(
            lambda: tv_models.inception_v3(weights=None, init_weights=init_weights, aux_logits=True)
        )

    reference = build(True)
    model = build(False)
    untouched = state(model)
    # the RNG continues from where the constructor left it, as torchvision's loop does
    torchinit.init_model(model, Policy.from_yaml(INCEPTION_POLICY))
    assert_same_state(reference, model)
    assert not torch.equal(untouched["fc.weight"], model.state_dict()["fc.weight"])


def test_from_attr_missing_attribute_without_default():
    policy = Policy.from_yaml(
        """
        rules:
          - match: {type: Linear}
            weight:
              trunc_normal: {std: {attr: stddev}}
        """
    )
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].stddev = 0.5
    before = state(model)
    with pytest.raises(PlanError) as caught:
        torchinit.init_model(model, policy)
    assert str(caught.value) == (
        "<string>:3: 1.weight: rules[0].weight.trunc_normal.std: the layer's (Linear) "
        "attribute 'stddev' is missing and no default is given"
    )
    assert_same_state(before, model)


def test_from_attr_bad_value_fails_at_plan_time(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            weight: {trunc_normal: {std: {attr: stddev, default: 0.1}}}
        """,
    )
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[1].stddev = -0.5
    before = state(model)
    for call in (torchinit.plan, torchinit.init_model):
        with pytest.raises(PlanError) as caught:
            call(model, path)
        assert str(caught.value) == (
            f"{path}:2: 1.weight: rules[0].weight.trunc_normal.std: must be > 0 (got -0.5)"
        )
        # the first layer's weight comes first in the plan, and was not touched either
        assert_same_state(before, model)


# --------------------------------------------------------------------------- init_model


def test_init_model_loads_yaml_files(tmp_path):
    text = """
        name: linear zeros
        rules:
          - match: {type: Linear}
            weight: zeros
            bias: {constant: {val: 0.5}}
        """
    for path in (write(tmp_path, text, "a.yaml"), write(tmp_path, text, "b.YML")):
        for given in (path, str(path)):
            model = nn.Sequential(nn.Linear(3, 3))
            report = torchinit.init_model(model, given)
            assert report.policy == "linear zeros"
            assert torch.all(model[0].weight == 0)
            assert torch.all(model[0].bias == 0.5)
            assert torchinit.plan(model, given).policy == "linear zeros"


def test_string_without_yaml_suffix_is_a_preset_name():
    with pytest.raises(UnknownNameError) as caught:
        torchinit.init_model(nn.Linear(2, 2), "configs/resnet")
    assert str(caught.value) == (
        f"preset: unknown preset; did you mean 'resnet'? available: "
        f"{torchinit.available_presets()} (got 'configs/resnet')"
    )


def test_init_model_passes_options_to_the_extended_preset(tmp_path):
    path = write(
        tmp_path,
        """
        extends: resnet
        options: {residual_norms: ["**.bn2"]}
        rules:
          - match: {type: Linear}
            bias: zeros
        """,
    )

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3)
            self.bn1 = nn.BatchNorm2d(4)
            self.bn2 = nn.BatchNorm2d(4)

    model = nn.Sequential(Block(), Block(), nn.Linear(4, 2))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(3.0)
    torchinit.init_model(model, path)
    assert all(torch.all(block.bn2.weight == 1) for block in model[:2])  # option is off

    report = torchinit.init_model(model, path, zero_init_residual=True)
    assert all(torch.all(block.bn2.weight == 0) for block in model[:2])
    assert all(torch.all(block.bn1.weight == 1) for block in model[:2])
    assert torch.all(model[2].bias == 0)
    assert report["0.bn2.weight"].rule_label == "zero-init residual"

    # the same as the preset with the same options plus the file's own rule
    expected = torchinit.get_preset(
        "resnet", zero_init_residual=True, residual_norms=["**.bn2"]
    ).then(Rule(nn.Linear, bias="zeros"))
    assert Policy.from_yaml(path, options={"zero_init_residual": True}) == expected


def test_options_with_a_file_without_extends_is_an_error(tmp_path):
    path = write(
        tmp_path,
        """
        rules:
          - match: {type: Linear}
            weight: zeros
        """,
    )
    model = nn.Sequential(nn.Linear(2, 2))
    before = state(model)
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.init_model(model, path, zero_init_residual=True)
    assert str(caught.value) == (
        f"{path}:1: options: options are for the preset named by extends: "
        "(add 'extends: <preset>') (got {'zero_init_residual': True})"
    )
    assert_same_state(before, model)


class _WithConfig(nn.Module):
    """A GPT-2-shaped model of one's own that carries a config, as Hugging Face's do."""

    def __init__(self, n_layer: int) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(n_layer=n_layer)
        self.c_proj = nn.Linear(4, 4)
        self.ln = nn.LayerNorm(4)


def test_extends_reads_the_presets_options_from_the_model(tmp_path):
    path = write(
        tmp_path,
        """
        extends: gpt2
        options: {initializer_range: 0.01}
        rules:
          - match: {type: LayerNorm}
            weight: zeros
        """,
    )
    report = torchinit.plan(_WithConfig(n_layer=2), path)
    assert report["c_proj.weight"].strategy == Normal(0.0, 0.01 / 2)
    assert report["ln.weight"].strategy == Zeros()
    assert report.options == {
        "n_layer": (2, "model.config.n_layer"),
        "initializer_range": (0.01, "given"),
    }
    # an option given to init_model beats both the file and the model
    report = torchinit.plan(_WithConfig(n_layer=2), path, n_layer=8)
    assert report.options["n_layer"] == (8, "given")
    assert report["c_proj.weight"].strategy == Normal(0.0, 0.01 / 4)
    loaded = Policy.from_yaml(path, model=_WithConfig(n_layer=3))
    assert loaded.options["n_layer"] == (3, "model.config.n_layer")


def test_extends_without_the_options_the_model_lacks_is_an_error(tmp_path):
    path = write(tmp_path, "extends: gpt2\n")
    model = nn.Sequential(nn.Linear(2, 2))
    before = state(model)
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.init_model(model, path)
    assert str(caught.value) == (
        f"{path}:1: options.n_layer: not given and model.config has no n_layer or "
        "num_hidden_layers; pass n_layer=... (got 'Sequential')"
    )
    assert_same_state(before, model)
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_yaml(path)  # no model to read it from
    assert str(caught.value) == (
        f"{path}:1: options.n_layer: not given and there is no model to read it from "
        "(model.config.n_layer or model.config.num_hidden_layers); pass n_layer=..."
    )


def test_yaml_policy_matching_nothing_warns_or_fails_under_strict(tmp_path):
    path = write(
        tmp_path,
        """
        name: convs only
        rules:
          - match: {type: Conv2d}
            weight: zeros
        """,
    )
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.warns(TorchInitWarning) as record:
        torchinit.init_model(model, path)
    assert [str(w.message) for w in record] == ["policy 'convs only' matches nothing in Sequential"]
    with pytest.raises(PlanError) as caught:
        torchinit.init_model(model, path, strict=True)
    assert str(caught.value) == "policy: policy 'convs only' matches nothing in Sequential"


def test_extended_preset_rules_are_optional_and_the_files_own_rules_are_not(tmp_path):
    path = write(
        tmp_path,
        """
        extends: resnet
        rules:
          - match: {type: Linear}
            bias: zeros
          - match: {type: LSTM, optional: true}
            bias_ih_l0: zeros
        """,
    )
    policy = Policy.from_yaml(path)
    assert [rule.optional for rule in policy.rules] == [True, True, False, True]
    assert "match: {type: LSTM, optional: true}" in policy.to_yaml()
    # resnet's GroupNorm rule and the optional LSTM rule match nothing in silence
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.warns(TorchInitWarning) as record:
        torchinit.plan(model, path)
    assert [str(w.message) for w in record] == [
        f"{path}:3: rules[2].match.type: matches no layer of Sequential; its layer classes "
        "are ['BatchNorm2d', 'Conv2d', 'Sequential'] (got 'Linear')"
    ]


# --------------------------------------------------------------------------- config systems
# Issue 16: a policy given as a plain dict or an OmegaConf/Hydra node, and init_model as a
# Hydra `_target_`. omegaconf and hydra-core come with the `test` extra.

DICT_POLICY: dict[str, Any] = {
    "name": "mlp",
    "rules": [
        {"match": {"type": "Linear"}, "weight": {"normal": {"std": 0.02}}, "bias": "zeros"},
        {"match": {"name": "2"}, "weight": "zeros"},
    ],
}


def mlp() -> nn.Module:
    return seeded(lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))


def test_init_model_takes_a_policy_mapping():
    by_dict = initialized(mlp(), DICT_POLICY)
    assert_same_state(initialized(mlp(), Policy.from_dict(DICT_POLICY)), by_dict)
    assert torch.all(by_dict[2].weight == 0)
    report = torchinit.plan(mlp(), DICT_POLICY)
    assert report.policy == "mlp"
    assert report["0.weight"].strategy == Normal(0.0, 0.02)


def test_a_policy_mapping_takes_preset_options_as_a_file_does():
    policy = {"extends": "resnet", "options": {"zero_init_residual": False}}
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    report = torchinit.plan(model, policy, zero_init_residual=True, residual_norms=["1"])
    assert report["1.weight"].strategy == Zeros()
    assert report.options["zero_init_residual"] == (True, "given")


def test_options_of_a_policy_mapping_need_extends():
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.plan(mlp(), DICT_POLICY, zero_init_residual=True)
    assert str(caught.value) == (
        "options: options are for the preset named by extends: (add 'extends: <preset>') "
        "(got {'zero_init_residual': True})"
    )


def test_errors_of_a_policy_mapping_name_the_key_path():
    bad = copy.deepcopy(DICT_POLICY)
    bad["rules"][1]["weight"] = {"normal": {"std": [0.02]}}
    with pytest.raises(ArgumentTypeError) as caught:
        torchinit.init_model(mlp(), bad)
    assert str(caught.value) == "rules[1].weight.normal.std: must be a number (got [0.02])"


@pytest.fixture
def omegaconf() -> Any:
    return pytest.importorskip("omegaconf", reason="omegaconf is not installed")


def test_from_dict_reads_a_dictconfig_as_its_plain_data(omegaconf):
    node = omegaconf.OmegaConf.create(DICT_POLICY)
    assert isinstance(node.rules, omegaconf.ListConfig)
    policy = Policy.from_dict(node)
    assert policy == Policy.from_dict(DICT_POLICY)
    assert policy.name == "mlp"
    assert_same_state(initialized(mlp(), DICT_POLICY), initialized(mlp(), node))


def test_a_dictconfig_is_resolved_against_its_whole_config(omegaconf):
    config = omegaconf.OmegaConf.create(
        {
            "width": 0.5,
            "init": {
                "policy": {
                    "rules": [
                        {"match": {"type": "Linear"}, "weight": {"normal": {"std": "${width}"}}}
                    ]
                }
            },
        }
    )
    policy = Policy.from_dict(config.init.policy)
    assert policy.rules[0].strategies == (("weight", Normal(0.0, 0.5)),)
    # a plain dict holding nodes is read the same way
    assert Policy.from_dict({"rules": config.init.policy.rules}) == policy


def test_errors_of_a_dictconfig_name_the_key_path(omegaconf):
    bad = copy.deepcopy(DICT_POLICY)
    bad["rules"][1]["weight"] = {"normal": {"std": -1}}
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_dict(omegaconf.OmegaConf.create(bad))
    assert str(caught.value) == "rules[1].weight.normal.std: must be >= 0 (got -1)"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("${nowhere}", "Interpolation key 'nowhere' not found"),
        ("???", "Missing mandatory value: std"),
    ],
)
def test_an_unresolvable_dictconfig_value_is_named_by_its_key_path(omegaconf, value, problem):
    rule = {"match": {"type": "Linear"}, "weight": {"normal": {"std": value}}}
    config = omegaconf.OmegaConf.create({"init": {"policy": {"rules": [rule]}}})
    with pytest.raises(InvalidArgumentError) as caught:
        Policy.from_dict(config.init.policy)
    assert str(caught.value) == (
        f"init.policy.rules[0].weight.normal.std: cannot be resolved by OmegaConf: {problem}"
    )


NO_OMEGACONF_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])  # the torchinit this test runs against
import torch
import torchinit
policy = {"rules": [{"match": {"type": "Linear"}, "bias": "zeros"}]}
torchinit.Policy.from_dict(policy)
torchinit.init_model(torch.nn.Linear(2, 2), policy)
print(sorted({"omegaconf", "hydra"} & set(sys.modules)))
"""


@pytest.mark.slow
def test_a_plain_dict_policy_never_imports_omegaconf():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_OMEGACONF_SCRIPT,
            str(pathlib.Path(torchinit.__file__).parents[1]),
        ],
        capture_output=True,
        text=True,
        cwd=REPO / "tests",  # not the root: `python -c` would import the source tree first
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


@pytest.fixture
def instantiate() -> Callable[..., Any]:
    pytest.importorskip("hydra", reason="hydra-core is not installed")
    from hydra.utils import instantiate

    return instantiate


HYDRA_CONFIG = """
init:
  _target_: torchinit.init_model
  policy: resnet
  seed: 7
  zero_init_residual: true
  residual_norms: ["*.1"]
"""


def keyed(model: nn.Module, policy: Any, seed: int, **options: Any) -> nn.Module:
    """``model`` initialized with ``policy`` by keyed seeding (``seed=``)."""
    torchinit.init_model(model, policy, seed=seed, **options)
    return model


def resnet_like() -> nn.Module:
    block = lambda: nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))  # noqa: E731
    return seeded(lambda: nn.Sequential(block(), block()))


def test_init_model_as_a_hydra_target_with_a_preset(omegaconf, instantiate):
    config = omegaconf.OmegaConf.create(HYDRA_CONFIG)
    model = resnet_like()
    report = instantiate(config.init, model=model)
    assert isinstance(report, torchinit.InitReport)
    assert report.applied
    expected = keyed(resnet_like(), "resnet", 7, zero_init_residual=True, residual_norms=["*.1"])
    assert_same_state(expected, model)
    assert torch.all(model[1][1].weight == 0)


def test_init_model_as_a_hydra_target_with_an_inline_policy(omegaconf, instantiate):
    config = omegaconf.OmegaConf.create({"init": {"_target_": "torchinit.init_model", "seed": 3}})
    config.init.policy = DICT_POLICY
    model = mlp()
    instantiate(config.init, model=model)
    assert_same_state(keyed(mlp(), DICT_POLICY, 3), model)


def test_init_model_as_a_partial_hydra_target(omegaconf, instantiate):
    config = omegaconf.OmegaConf.create(HYDRA_CONFIG)
    config.init._partial_ = True
    init = instantiate(config.init)
    model = resnet_like()
    init(model)
    expected = keyed(resnet_like(), "resnet", 7, zero_init_residual=True, residual_norms=["*.1"])
    assert_same_state(expected, model)


# --------------------------------------------------------------------------- hostile input
# Property tests (issue 12): whatever the data or text, loading raises only TorchInitError, and
# its message says where: a key path, or file:line. A fixed, derandomized example budget keeps
# them fast and the same on every run.

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

# keys of the schema, of strategies and of presets' options, so that trees reach past the top
SCHEMA_KEYS = [
    *config.TOP_KEYS, *config.MATCH_KEYS, *config.RULE_KEYS, "weight", "bias", "normal",
    "kaiming_normal", "trunc_normal", "std", "mean", "a", "b", "mode", "attr", "default",
    "residual_norms", "zero_init_residual", "n_layer", "",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # past uint64, past the float range, past Python's int-to-str limit (built by a map: even
    # hypothesis cannot repr the last as a constant)
    st.sampled_from([64, 1330, 16610]).map(lambda bits: 2**bits),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["resnet", "gpt2", "Linear", "Conv2d", "**.bias", "fan_out", "zeros", ""]),
    st.text(max_size=8),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(SCHEMA_KEYS), st.text(max_size=4), st.integers()),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)
FUZZ = hypothesis.settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)


def _only_located_errors(load: Callable[[], Any]) -> TorchInitError | None:
    """Run ``load``; a TorchInitError with a location is fine, anything else fails the test."""
    caught: TorchInitError | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            load()
        except TorchInitError as error:
            caught = error
    if caught is not None:
        assert caught.where or caught.path, str(caught)  # str(): formatting never raises either
    return caught


@FUZZ
@hypothesis.given(rules=st.lists(TREES, max_size=3), top=TREES)
def test_policy_from_any_data_raises_only_located_errors(rules, top):
    data = dict(top) if isinstance(top, dict) else {"name": top}
    data.setdefault("rules", rules)
    _only_located_errors(lambda: Policy.from_dict(data))


SNIPPETS = [
    "", ":", "- ", "{", "}", "[", "]", "'", '"', "!!map ", "!!int ", "!!python/object ", "&a ",
    "*a ", "<<: ", "\n", "  ", "\t", "#", "9" * 5000, "0x" + "f" * 4000, "1e999", ".nan",
    "''", "'': x\n", "~", "\x00", "\ufeff", "é", "extends: resnet\n", "options: {1: 2}\n",
]  # fmt: skip
CONFIG_TEXTS = sorted(path.read_text(encoding="utf-8") for path in CONFIGS.glob("*.yaml"))


@FUZZ
@hypothesis.given(
    text=st.sampled_from(CONFIG_TEXTS),
    edits=st.lists(
        st.tuples(
            st.booleans(),
            st.floats(0, 1),
            st.integers(0, 12),
            st.sampled_from(SNIPPETS) | st.text(max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_policy_files_raise_only_located_errors(text, edits):
    for value_only, where, cut, insert in edits:
        at = int(where * len(text))
        if value_only:  # replace the value of the next `key: value`, keeping the YAML valid
            colon = text.find(": ", at)
            end = text.find("\n", colon)
            if colon < 0 or end < 0:
                continue
            text = text[: colon + 2] + insert + text[end:]
        else:  # any splice: mostly syntax errors
            text = text[:at] + insert + text[at + cut :]
    text += "\n"  # YAML text, never read as a file name
    error = _only_located_errors(lambda: Policy.from_yaml(text))
    if error is not None:
        assert "<string>" in error.where, str(error)


# --------------------------------------------------------------------------- checkpoints


def test_a_relative_checkpoint_path_is_relative_to_the_policy_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    text = """\
        rules:
          - match: {param: "**"}
            init: {checkpoint: {path: weights/linear.pt}}
          - match: {type: Linear}
            bias: {checkpoint: {path: /abs/bias.safetensors, keys: {"": "head."}}}
        """
    policy = Policy.from_yaml(write(folder, text))
    assert policy.rules[0].init == torchinit.Checkpoint(folder / "weights" / "linear.pt")
    assert policy.rules[1].strategies[0][1].path == "/abs/bias.safetensors"
    assert Policy.from_yaml(policy.to_yaml()) == policy
    # YAML text has no folder: the working directory's, when the file is opened
    monkeypatch.chdir(tmp_path)
    assert Policy.from_yaml(textwrap.dedent(text)).rules[0].init.path == "weights/linear.pt"
    (folder / "weights").mkdir()
    torch.save({"weight": torch.ones(2, 3)}, folder / "weights" / "linear.pt")
    applied = """\
        rules:
          - match: {type: Linear}
            weight: {checkpoint: {path: weights/linear.pt}}
        """
    model = nn.Linear(3, 2)
    # run from tmp_path: the file's folder is what counts
    torchinit.init_model(model, write(folder, applied, "apply.yaml"))
    assert torch.equal(model.weight, torch.ones(2, 3))


def test_class_name_round_trips_and_reads_a_name_or_a_list():
    policy = torchinit.Policy(
        [
            torchinit.Rule(class_names=["Conv2d"], param="**.weight", init="zeros", optional=True),
            torchinit.Rule(class_names=["_BatchNorm", "GroupNorm"], weight="ones"),
        ]
    )
    _assert_round_trips(policy)
    data = policy.to_dict()
    assert data["rules"][0]["match"] == {
        "param": "**.weight",
        "class_name": "Conv2d",
        "optional": True,
    }
    assert data["rules"][1]["match"] == {"class_name": ["_BatchNorm", "GroupNorm"]}


def test_class_name_must_be_names():
    with pytest.raises(ArgumentTypeError) as caught:
        torchinit.Policy.from_dict({"rules": [{"match": {"class_name": [3]}, "weight": "zeros"}]})
    assert str(caught.value) == (
        "rules[0].match.class_name: must be a layer class name or a list of them (got [3])"
    )
