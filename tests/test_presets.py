"""The "resnet" and "vgg" presets reproduce torchvision's own init loops bit for bit.

The reference is torchvision's model as it builds itself. The candidate is the same model built
under the same seed with only torchvision's init loop switched off (``init_disabled``, see
conftest.py: the layer constructors still run their own ``reset_parameters``), then initialized
by ``torchinit.init_model``. Every tensor of the two state_dicts must be ``torch.equal``.
"""

import copy
import gc
import pathlib
import pickle
import subprocess
import sys
import types

import pytest
import torch
from torch import nn

import torchinit
from torchinit import (
    ArgumentTypeError,
    FromModel,
    InvalidArgumentError,
    Normal,
    PlanError,
    Policy,
    RegistryError,
    Rule,
    TruncNormal,
    UnknownNameError,
    available_presets,
    init_model,
)

SEEDS = (0, 1234)
# subprocesses start here, not in the repository root, where `python -c` would import the
# source tree's torchinit instead of the installed one
TESTS = pathlib.Path(__file__).resolve().parent

RESNETS = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnext50_32x4d",
    "wide_resnet50_2",
]
VGGS = [f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")]

# len(model.state_dict()): parameters and buffers (running stats, num_batches_tracked).
STATE_DICT_SIZES = {
    "resnet18": 122,
    "resnet34": 218,
    "resnet50": 320,
    "resnet101": 626,
    "resnext50_32x4d": 320,
    "wide_resnet50_2": 320,
    "vgg11": 22,
    "vgg11_bn": 62,
    "vgg13": 26,
    "vgg13_bn": 76,
    "vgg16": 32,
    "vgg16_bn": 97,
    "vgg19": 38,
    "vgg19_bn": 118,
}


@pytest.fixture(autouse=True)
def _free_memory():
    # VGG models hold 130M+ parameters each: release every model before the next test builds.
    yield
    gc.collect()


def _build(tv_models, arch, seed, **kwargs):
    torch.manual_seed(seed)
    return getattr(tv_models, arch)(**kwargs)


def _assert_bit_exact(reference, candidate):
    """Every state_dict entry equal, same names, same dtypes; returns how many were compared."""
    expected, actual = reference.state_dict(), candidate.state_dict()
    assert list(actual) == list(expected)
    different = [
        name
        for name, tensor in expected.items()
        if tensor.dtype != actual[name].dtype or not torch.equal(tensor, actual[name])
    ]
    assert different == []
    return len(expected)


def _count(model, types):
    return sum(isinstance(module, types) for module in model.modules())


def _next_random():
    return torch.rand(4)


# --------------------------------------------------------------------------- torchvision


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("zero_init_residual", [False, True], ids=["plain", "zero_init_residual"])
@pytest.mark.parametrize("arch", RESNETS)
def test_resnet_preset_is_bit_exact(tv_models, init_disabled, arch, zero_init_residual, seed):
    reference = _build(tv_models, arch, seed, zero_init_residual=zero_init_residual)
    expected_next = _next_random()

    with init_disabled(tv_models.resnet) as suppressed:
        model = _build(tv_models, arch, seed, zero_init_residual=zero_init_residual)
    # exactly the calls of torchvision's loop were suppressed: one per conv, two per norm,
    # and one per residual block with zero_init_residual
    blocks = _count(model, (tv_models.resnet.BasicBlock, tv_models.resnet.Bottleneck))
    assert len(suppressed) == (
        _count(model, nn.Conv2d)
        + 2 * _count(model, (nn.BatchNorm2d, nn.GroupNorm))
        + (blocks if zero_init_residual else 0)
    )

    report = init_model(model, "resnet", zero_init_residual=zero_init_residual)

    assert _assert_bit_exact(reference, model) == STATE_DICT_SIZES[arch]
    # the preset drew exactly the random numbers torchvision's loop drew, no more
    assert torch.equal(_next_random(), expected_next)
    assert report.unmatched == ["fc.weight", "fc.bias"]
    zeroed = [e.name for e in report.initialized if e.rule_label.startswith("zero-init")]
    assert len(zeroed) == (blocks if zero_init_residual else 0)
    del reference, model, report


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arch", VGGS)
def test_vgg_preset_is_bit_exact(tv_models, init_disabled, arch, seed):
    reference = _build(tv_models, arch, seed)
    expected_next = _next_random()

    with init_disabled(tv_models.vgg) as suppressed:
        model = _build(tv_models, arch, seed)
    # torchvision's loop: two calls per conv (weight, bias), norm and linear layer
    assert len(suppressed) == 2 * _count(model, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))

    report = init_model(model, "vgg")

    assert _assert_bit_exact(reference, model) == STATE_DICT_SIZES[arch]
    assert torch.equal(_next_random(), expected_next)
    assert report.unmatched == []
    del reference, model, report


@pytest.mark.parametrize(
    ("arch", "preset", "first_layer"),
    [
        (
            "resnet50",
            "resnet",
            (
                "conv1",
                dict(
                    in_channels=3, out_channels=64, kernel_size=7, stride=2, padding=3, bias=False
                ),
            ),
        ),
        (
            "vgg11_bn",
            "vgg",
            ("features.0", dict(in_channels=3, out_channels=64, kernel_size=3, padding=1)),
        ),
    ],
)
def test_disabling_the_torchvision_loop_really_changes_the_model(
    tv_models, init_disabled, arch, preset, first_layer
):
    """So that the bit-exactness tests can fail: without torchinit, the models differ."""
    module = getattr(tv_models, preset)
    reference = _build(tv_models, arch, 0)
    with init_disabled(module) as suppressed:
        # only the model file's globals are proxies; torch.nn itself is untouched
        assert module.nn is not torch.nn
        assert module.nn.Conv2d is nn.Conv2d
        assert module.nn.init.kaiming_normal_ is not nn.init.kaiming_normal_
        model = _build(tv_models, arch, 0)
    assert module.nn is torch.nn
    assert module.torch is torch
    assert len(suppressed) > 0

    expected, actual = reference.state_dict(), model.state_dict()
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    # every conv weight kept its constructor's (kaiming_uniform) values instead
    assert all(not torch.equal(expected[f"{c}.weight"], actual[f"{c}.weight"]) for c in convs)
    # the constructors still ran: the first layer built equals a fresh one under the same seed
    name, arguments = first_layer
    with torch.random.fork_rng():
        torch.manual_seed(0)
        assert torch.equal(actual[f"{name}.weight"], nn.Conv2d(**arguments).weight)

    init_model(model, preset)
    _assert_bit_exact(reference, model)
    del reference, model, expected, actual


def test_init_disabled_refuses_a_module_without_torch(init_disabled):
    import json

    message = r"json has no global referring to torch\.nn\.init"
    with pytest.raises(AssertionError, match=message), init_disabled(json):
        pass


# --------------------------------------------------------------------------- a user's own model


class _Block(nn.Module):
    def __init__(self, channels, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = norm(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=True)
        self.bn2 = norm(channels)

    def forward(self, x):
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class _Net(nn.Module):
    """ResNet-like, not torchvision's: BatchNorm2d and GroupNorm, convs with and without bias."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=True)
        self.stem_norm = nn.GroupNorm(4, 16)
        self.layer1 = nn.Sequential(_Block(16, nn.BatchNorm2d), _Block(16, nn.BatchNorm2d))
        self.layer2 = nn.Sequential(_Block(16, lambda c: nn.GroupNorm(4, c)))
        self.head = nn.Linear(16, 10)


RESIDUAL_NORMS = ["layer1.0.bn2", "layer1.1.bn2", "layer2.0.bn2"]
UNTOUCHED = [
    "stem.bias",
    "layer1.0.conv2.bias",
    "layer1.1.conv2.bias",
    "layer2.0.conv2.bias",
    "head.weight",
    "head.bias",
]


def _hand_written_init(model, zero=()):
    """torchvision's ResNet loop, written out for a model of one's own."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    for name in zero:
        nn.init.constant_(model.get_submodule(name).weight, 0)


def _pair(seed):
    torch.manual_seed(seed)
    model = _Net()
    built = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    return model, built


@pytest.mark.parametrize("seed", SEEDS)
def test_resnet_preset_on_own_model_matches_hand_written_loop(seed):
    expected, _ = _pair(seed)
    torch.manual_seed(seed + 1)
    _hand_written_init(expected)
    expected_next = _next_random()

    model, built = _pair(seed)
    torch.manual_seed(seed + 1)
    report = init_model(model, "resnet")

    assert _assert_bit_exact(expected, model) == 39
    assert torch.equal(_next_random(), expected_next)
    # conv biases and Linear are left as built, and reported as such
    assert report.unmatched == UNTOUCHED
    state = model.state_dict()
    assert all(torch.equal(state[name], built[name]) for name in UNTOUCHED)
    assert {e.rule_label for e in report.initialized} == {"conv", "norm"}
    assert len(report.initialized) == 7 + 2 * 7  # 7 conv weights, 7 norms


@pytest.mark.parametrize("seed", SEEDS)
def test_resnet_preset_residual_norms_zeroes_exactly_those(seed):
    expected, _ = _pair(seed)
    torch.manual_seed(seed)
    _hand_written_init(expected, zero=RESIDUAL_NORMS)

    model, _ = _pair(seed)
    torch.manual_seed(seed)
    report = init_model(model, "resnet", zero_init_residual=True, residual_norms=["layer*.*.bn2"])

    _assert_bit_exact(expected, model)
    zeroed = [e.name for e in report.initialized if e.rule_label == "zero-init residual"]
    assert zeroed == [f"{name}.weight" for name in RESIDUAL_NORMS]
    norms = [n for n, m in model.named_modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    assert len(norms) == 7
    for name in norms:
        norm = model.get_submodule(name)
        assert torch.equal(
            norm.weight, torch.full_like(norm.weight, 0 if name in RESIDUAL_NORMS else 1)
        )
        assert torch.equal(norm.bias, torch.zeros_like(norm.bias))


def test_resnet_preset_residual_norms_need_zero_init_residual():
    plain, _ = _pair(0)
    torch.manual_seed(0)
    init_model(plain, "resnet")
    model, _ = _pair(0)
    torch.manual_seed(0)
    init_model(model, "resnet", residual_norms=["layer*.*.bn2"])
    _assert_bit_exact(plain, model)


def test_resnet_zero_init_residual_without_residual_norms_zeroes_nothing_on_own_model():
    """Only torchvision's BasicBlock/Bottleneck are known; other models need residual_norms."""
    plain, _ = _pair(0)
    torch.manual_seed(0)
    init_model(plain, "resnet")
    model, _ = _pair(0)
    torch.manual_seed(0)
    init_model(model, "resnet", zero_init_residual=True)
    _assert_bit_exact(plain, model)


# --------------------------------------------------------------------------- torchvision zoo

# (torchvision constructor, preset, constructor keywords, the file holding its init loop)
ZOO = [
    ("mobilenet_v2", "mobilenet_v2", {}, "mobilenetv2"),
    ("mobilenet_v3_small", "mobilenet_v3", {}, "mobilenetv3"),
    ("mobilenet_v3_large", "mobilenet_v3", {}, "mobilenetv3"),
    ("efficientnet_b0", "efficientnet", {}, "efficientnet"),
    ("efficientnet_v2_s", "efficientnet", {}, "efficientnet"),
    ("mnasnet0_5", "mnasnet", {}, "mnasnet"),
    ("densenet121", "densenet", {}, "densenet"),
    ("regnet_y_400mf", "regnet", {}, "regnet"),
    ("regnet_x_400mf", "regnet", {}, "regnet"),
    ("convnext_tiny", "convnext", {}, "convnext"),
    ("squeezenet1_0", "squeezenet", {}, "squeezenet"),
    ("squeezenet1_1", "squeezenet", {}, "squeezenet"),
    ("googlenet", "googlenet", {"init_weights": True, "aux_logits": True}, "googlenet"),
    ("inception_v3", "inception", {"init_weights": True, "aux_logits": True}, "inception"),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("arch", "preset", "kwargs", "source"), ZOO, ids=[case[0] for case in ZOO])
def test_torchvision_zoo_preset_is_bit_exact(
    tv_models, init_disabled, arch, preset, kwargs, source, seed
):
    reference = _build(tv_models, arch, seed, **kwargs)
    expected_next = _next_random()

    with init_disabled(f"torchvision.models.{source}") as suppressed:
        model = _build(tv_models, arch, seed, **kwargs)
    # torchvision's own loop really was switched off: the model differs before torchinit runs
    assert len(suppressed) > 0
    assert any(
        not torch.equal(a, b)
        for a, b in zip(reference.state_dict().values(), model.state_dict().values(), strict=True)
    )

    report = init_model(model, preset)

    _assert_bit_exact(reference, model)
    assert torch.equal(_next_random(), expected_next)
    assert report.initialized
    del reference, model, report
    gc.collect()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("arch", ["alexnet", "shufflenet_v2_x1_0"])
def test_torch_default_preset_replays_construction(tv_models, arch, seed):
    """alexnet and shufflenet_v2 have no init loop: their init is the layers' own defaults."""
    reference = _build(tv_models, arch, seed)
    expected_next = _next_random()
    model = _build(tv_models, arch, seed + 1)
    torch.manual_seed(seed)
    report = init_model(model, "torch_default")
    _assert_bit_exact(reference, model)
    assert torch.equal(_next_random(), expected_next)
    assert report.unmatched == []


def test_inception_preset_reads_each_layers_stddev(tv_models):
    model = tv_models.inception_v3(init_weights=False, aux_logits=True)
    report = torchinit.plan(model, "inception")
    assert report["AuxLogits.fc.weight"].strategy == TruncNormal(0.0, 0.001, -2.0, 2.0)
    assert report["fc.weight"].strategy == TruncNormal(0.0, 0.1, -2.0, 2.0)


@pytest.mark.parametrize(
    ("wrap", "prefix"),
    [(nn.DataParallel, "module."), (torch.compile, "_orig_mod.")],
    ids=["DataParallel", "torch.compile"],
)
def test_squeezenet_preset_sees_through_wrappers(tv_models, wrap, prefix):
    # the preset's name rule (final_conv='classifier.1') on the bare name of a wrapped model
    bare = _build(tv_models, "squeezenet1_0", 0)
    torch.manual_seed(1)
    init_model(bare, "squeezenet")
    wrapped = wrap(_build(tv_models, "squeezenet1_0", 0))
    torch.manual_seed(1)
    report = init_model(wrapped, "squeezenet")
    assert report[f"{prefix}classifier.1.weight"].strategy == torchinit.Normal(0.0, 0.01)
    assert report.unused_rules == ()
    expected, got = bare.state_dict(), wrapped.state_dict()
    assert list(got) == [prefix + key for key in expected]
    for key, value in expected.items():
        assert torch.equal(value, got[prefix + key]), key


def test_squeezenet_final_conv_option():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
    report = torchinit.plan(model, "squeezenet", final_conv="1")
    assert report["1.weight"].strategy == torchinit.Normal(0.0, 0.01)
    assert report["0.weight"].strategy == torchinit.KaimingUniform()


class _NoReset(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))


def test_torch_default_refuses_a_layer_without_reset():
    with pytest.raises(PlanError) as caught:
        init_model(nn.Sequential(nn.Linear(2, 2), _NoReset()), "torch_default")
    assert str(caught.value) == (
        "1.scale: rules[0].*: torch_default: the layer has no reset_parameters() or "
        "_reset_parameters() (got '_NoReset')"
    )


# --------------------------------------------------------------------------- preset machinery


@pytest.fixture
def small():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def test_available_presets():
    presets = available_presets()
    assert {"resnet", "vgg"} <= set(presets)
    assert presets == sorted(presets)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("resnt", "did you mean 'resnet'? "),
        ("Resnet", "did you mean 'resnet'? "),
        ("transformer", ""),
    ],
)
def test_unknown_preset(small, name, hint):
    with pytest.raises(UnknownNameError) as caught:
        init_model(small, name)
    assert str(caught.value) == (
        f"preset: unknown preset; {hint}available: {available_presets()} (got {name!r})"
    )
    assert isinstance(caught.value, KeyError)


def test_unknown_option(small):
    with pytest.raises(UnknownNameError) as caught:
        init_model(small, "resnet", zero_init_residul=True)
    assert str(caught.value) == (
        "resnet.zero_init_residul: unknown option; did you mean 'zero_init_residual'? "
        "preset 'resnet' takes ['zero_init_residual', 'residual_norms'] (got True)"
    )


def test_vgg_takes_no_options(small):
    with pytest.raises(UnknownNameError) as caught:
        init_model(small, "vgg", zero_init_residual=True)
    assert str(caught.value) == (
        "vgg.zero_init_residual: unknown option; preset 'vgg' takes [] (got True)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"zero_init_residual": "yes"},
            "resnet.zero_init_residual: must be true or false (got 'yes')",
        ),
        ({"zero_init_residual": 1}, "resnet.zero_init_residual: must be true or false (got 1)"),
        (
            {"zero_init_residual": True, "residual_norms": "layer*.*.bn2"},
            "resnet.residual_norms: must be a list of globs naming norm layers "
            "(got 'layer*.*.bn2')",
        ),
        (
            {"residual_norms": [3]},
            "resnet.residual_norms: must be a list of globs naming norm layers (got [3])",
        ),
    ],
)
def test_wrong_option_type(small, options, message):
    before = {k: v.clone() for k, v in small.state_dict().items()}
    with pytest.raises(ArgumentTypeError) as caught:
        init_model(small, "resnet", **options)
    assert str(caught.value) == message
    assert isinstance(caught.value, TypeError)
    after = small.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    ("preset", "options", "error", "message"),
    [
        ("resnet", {"residual_norms": 5}, ArgumentTypeError,
         "resnet.residual_norms: must be a list of globs naming norm layers (got 5)"),
        ("fixup", {"num_branches": 4, "branch_layers": 5}, ArgumentTypeError,
         "fixup.branch_layers: must be a list of globs naming layers (got 5)"),
        ("fixup", {"num_branches": 4, "last_layers": None}, ArgumentTypeError,
         "fixup.last_layers: must be a list of globs naming layers (got None)"),
        ("nanogpt", {"n_layer": 10**400}, InvalidArgumentError,
         "nanogpt.n_layer: must be within ±1.8e+308 (the float range) (got 1" + "0" * 194
         + " ... 00000)"),
        ("gpt2", {"n_layer": 10**400}, InvalidArgumentError,
         "gpt2.n_layer: must be within ±1.8e+308 (the float range) (got 1" + "0" * 194
         + " ... 00000)"),
        ("fixup", {"num_branches": 10**400}, InvalidArgumentError,
         "fixup.num_branches: must be within ±1.8e+308 (the float range) (got 1" + "0" * 194
         + " ... 00000)"),
        ("bert", {"initializer_range": 10**400}, InvalidArgumentError,
         "bert.initializer_range: must be within ±1.8e+308 (the float range) (got 1"
         + "0" * 194 + " ... 00000)"),
        ("mup", {"width_mult": 10**400}, InvalidArgumentError,
         "mup.width_mult: must be within ±1.8e+308 (the float range) (got 1" + "0" * 194
         + " ... 00000)"),
    ],
)  # fmt: skip
def test_hostile_option_values_are_torchinit_errors(preset, options, error, message):
    # each escaped as a builtin TypeError/OverflowError from inside the preset before
    with pytest.raises(error) as caught:
        torchinit.get_preset(preset, **options)
    assert str(caught.value) == message


def test_options_with_a_policy_are_refused(small):
    with pytest.raises(InvalidArgumentError) as caught:
        init_model(small, torchinit.get_preset("vgg"), zero_init_residual=True)
    assert str(caught.value) == (
        "options: only presets take options; put them in the Policy's rules instead "
        "(got {'zero_init_residual': True})"
    )


@pytest.fixture
def preset_name():
    name = "test_presets_linear"
    assert name not in torchinit.PRESETS
    yield name
    torchinit.PRESETS.remove(name)
    assert name not in torchinit.PRESETS


def _linear_preset(name, std_default=0.02):
    def linear(*, std: float = std_default) -> Policy:
        return Policy([Rule(nn.Linear, weight=Normal(0.0, std), bias="zeros")], name=name)

    return linear


def test_every_rule_a_preset_returns_is_optional(preset_name):
    factory = _linear_preset(preset_name)
    torchinit.register_preset(preset_name)(factory)
    assert not factory().rules[0].optional
    assert torchinit.get_preset(preset_name).rules == (factory().rules[0].as_optional(),)
    assert all(rule.optional for rule in torchinit.get_preset("resnet").rules)


def test_register_preset_new_name(preset_name):
    factory = _linear_preset(preset_name)
    assert torchinit.register_preset(preset_name)(factory) is factory
    assert preset_name in available_presets()

    model = nn.Linear(4, 3)
    torch.manual_seed(0)
    report = init_model(model, preset_name, std=0.5)
    torch.manual_seed(0)
    expected = torch.empty(3, 4).normal_(0.0, 0.5)
    assert torch.equal(model.weight.detach(), expected)
    assert torch.equal(model.bias.detach(), torch.zeros(3))
    assert report.policy == preset_name

    # options annotated float are type-checked
    with pytest.raises(ArgumentTypeError) as caught:
        init_model(model, preset_name, std="big")
    assert str(caught.value) == f"{preset_name}.std: must be a number (got 'big')"


def test_register_preset_existing_name_is_refused(preset_name):
    original = torchinit.PRESETS["resnet"]
    with pytest.raises(RegistryError) as caught:
        torchinit.register_preset("resnet")(_linear_preset("resnet"))
    assert str(caught.value) == (
        "name: a preset named 'resnet' is already registered; "
        "pass overwrite=True to replace it (got 'resnet')"
    )
    assert torchinit.PRESETS["resnet"] is original

    first, second = _linear_preset(preset_name), _linear_preset(preset_name, std_default=1.0)
    torchinit.register_preset(preset_name)(first)
    with pytest.raises(RegistryError):
        torchinit.register_preset(preset_name)(second)
    assert torchinit.PRESETS[preset_name] is first


def test_register_preset_overwrite(preset_name):
    first, second = _linear_preset(preset_name), _linear_preset(preset_name, std_default=1.0)
    torchinit.register_preset(preset_name)(first)
    torchinit.register_preset(preset_name, overwrite=True)(second)
    assert torchinit.PRESETS[preset_name] is second
    assert torchinit.get_preset(preset_name).rules[0].strategies[0][1] == Normal(0.0, 1.0)


def test_register_preset_refuses_positional_options(preset_name):
    def positional(std=0.02):
        return Policy([Rule(nn.Linear, weight=Normal(0.0, std))])

    with pytest.raises(ArgumentTypeError) as caught:
        torchinit.register_preset(preset_name)(positional)
    assert str(caught.value) == (
        f"{preset_name}.std: preset options must be keyword-only (def preset(*, option=...))"
    )
    assert preset_name not in torchinit.PRESETS


def test_preset_must_return_a_policy(preset_name):
    torchinit.register_preset(preset_name)(lambda: None)
    with pytest.raises(ArgumentTypeError) as caught:
        init_model(nn.Linear(2, 2), preset_name)
    assert str(caught.value) == f"{preset_name}: preset must return a Policy (got 'NoneType')"


def _depth_preset(name: str, **marker: object):
    """A preset whose ``depth`` comes from the model (``model.config.depth`` or ``model.depth``)."""

    def deep(*, depth: int = FromModel("config.depth", "depth", **marker), std: float = 0.1):
        rule = Rule(nn.Linear, weight=Normal(0.0, std / depth), bias="zeros")
        return Policy([rule], name=name)

    return torchinit.register_preset(name)(deep)


class _Configured(nn.Module):
    def __init__(self, **config: object) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(**config)
        self.layer = nn.Linear(2, 2)


def test_from_model_reads_the_first_attribute_path_there_is(preset_name):
    _depth_preset(preset_name)
    report = torchinit.plan(_Configured(depth=4), preset_name)
    assert report["layer.weight"].strategy == Normal(0.0, 0.025)
    assert report.options == {"depth": (4, "model.config.depth"), "std": (0.1, "default")}
    flat = nn.Linear(2, 2)
    flat.depth = 5  # type: ignore[assignment]
    assert torchinit.plan(flat, preset_name).options["depth"] == (5, "model.depth")
    # an attribute that is None is absent: the next path is read
    none = _Configured(depth=None)
    none.depth = 2  # type: ignore[assignment]
    assert torchinit.get_preset(preset_name, model=none).options["depth"] == (2, "model.depth")


def test_from_model_given_option_wins(preset_name):
    _depth_preset(preset_name)
    policy = torchinit.get_preset(preset_name, model=_Configured(depth=4), depth=10, std=0.5)
    assert policy.rules[0].strategies[0] == ("weight", Normal(0.0, 0.05))
    assert dict(policy.options) == {"depth": (10, "given"), "std": (0.5, "given")}


def test_from_model_required_option_errors(preset_name):
    _depth_preset(preset_name)
    with pytest.raises(InvalidArgumentError) as caught:
        init_model(_Configured(layers=3), preset_name)
    assert str(caught.value) == (
        f"{preset_name}.depth: not given and the model has no model.config.depth or "
        "model.depth; pass depth=... (got '_Configured')"
    )
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset(preset_name)
    assert str(caught.value) == (
        f"{preset_name}.depth: not given and there is no model to read it from "
        "(model.config.depth or model.depth); pass depth=..."
    )


def test_from_model_default_when_the_model_has_none(preset_name):
    _depth_preset(preset_name, default=2)
    assert torchinit.plan(nn.Linear(2, 2), preset_name).options["depth"] == (2, "default")
    assert torchinit.get_preset(preset_name).options["depth"] == (2, "default")
    assert torchinit.plan(_Configured(depth=8), preset_name).options["depth"] == (
        8,
        "model.config.depth",
    )


def test_from_model_values_are_type_checked_like_given_ones(preset_name):
    _depth_preset(preset_name)
    with pytest.raises(ArgumentTypeError) as caught:
        init_model(_Configured(depth=2.5), preset_name)
    assert str(caught.value) == f"{preset_name}.depth: must be an integer (got 2.5)"


def test_from_model_read_function(preset_name):
    def count(model: nn.Module, options: dict[str, object]) -> tuple[int, str] | str:
        linears = sum(isinstance(m, nn.Linear) for m in model.modules())
        return (linears, "model: Linear layers") if linears else "the model has no Linear"

    marker = FromModel(read=count, reads="a count of Linear layers")
    assert repr(marker) == "<from a count of Linear layers>"

    def counted(*, depth: int = marker) -> Policy:
        return Policy([Rule(nn.Linear, weight=Normal(0.0, 1.0 / depth))], name=preset_name)

    torchinit.register_preset(preset_name)(counted)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    assert torchinit.plan(model, preset_name).options["depth"] == (2, "model: Linear layers")
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.plan(nn.Sequential(nn.Conv1d(1, 1, 1)), preset_name)
    assert str(caught.value) == (
        f"{preset_name}.depth: not given and the model has no Linear; pass depth=... "
        "(got 'Sequential')"
    )


def test_from_model_shows_what_it_reads():
    assert repr(FromModel("config.n_layer", "n_layer")) == (
        "<from model.config.n_layer or model.n_layer>"
    )
    assert repr(FromModel("config.initializer_range", default=0.02)) == (
        "<from model.config.initializer_range, else 0.02>"
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((), {}, InvalidArgumentError, "FromModel: needs an attribute path or read="),
        (("config.",), {}, ArgumentTypeError, "FromModel.paths[0]: must be a dotted attribute "
         "path (got 'config.')"),
        ((), {"read": 3}, ArgumentTypeError, "FromModel.read: must be callable (got 3)"),
    ],
)  # fmt: skip
def test_from_model_errors(args, kwargs, error, message):
    with pytest.raises(error) as caught:
        FromModel(*args, **kwargs)
    assert str(caught.value) == message


def test_register_preset_refuses_an_option_named_model(preset_name):
    def clashing(*, model: str = "x") -> Policy:
        return Policy([Rule(nn.Linear, bias="zeros")])

    with pytest.raises(ArgumentTypeError) as caught:
        torchinit.register_preset(preset_name)(clashing)
    assert str(caught.value) == f"{preset_name}.model: a preset option cannot be named 'model'"
    torchinit.register_preset(preset_name)(_linear_preset(preset_name))  # for the fixture


def test_policy_options_are_kept_by_then_and_not_compared():
    policy = torchinit.get_preset("gpt2", n_layer=2)
    extended = policy.then(Rule(nn.Linear, bias="zeros"))
    assert extended.options == policy.options
    assert Policy(policy.rules, name="gpt2", order="apply") == policy  # the rules decide
    assert pickle.loads(pickle.dumps(policy)).options == policy.options
    assert copy.deepcopy(policy).options == policy.options
    assert torchinit.get_preset("resnet").options == {
        "zero_init_residual": (False, "default"),
        "residual_norms": ((), "default"),
    }


@pytest.mark.slow
def test_importing_torchinit_does_not_import_torchvision():
    code = (
        "import sys, torch, torchinit\n"
        "assert 'torchvision' not in sys.modules\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))\n"
        "torchinit.init_model(model, 'resnet', zero_init_residual=True, residual_norms=['1'])\n"
        "torchinit.init_model(model, 'vgg')\n"
        "assert 'torchvision' not in sys.modules, 'using a preset imported torchvision'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_zero_init_residual_without_torchvision_needs_residual_norms():
    code = (
        "import torch, torchinit\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))\n"
        "try:\n"
        "    torchinit.init_model(model, 'resnet', zero_init_residual=True)\n"
        "except torchinit.InvalidArgumentError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == (
        "resnet.zero_init_residual: needs residual_norms=[...] (globs naming the last norm "
        "layer of each residual branch) for a model that is not torchvision's (got True)"
    )


def test_residual_norms_only_zero_normalization_layers():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    report = init_model(model, "resnet", zero_init_residual=True, residual_norms=["*"])
    assert torch.equal(model[1].weight, torch.zeros(4))
    assert not torch.equal(model[0].weight, torch.zeros_like(model[0].weight))
    assert report["0.weight"].rule_label == "conv"


#: every optional dependency pyproject names, and the libraries the dialects read: the
#: presets reproduce some of them and the integrations use others, but only on request
OPTIONAL_LIBRARIES = {
    "torchvision",
    "timm",
    "transformers",
    "mup",
    "lsuv",
    "safetensors",
    "omegaconf",
    "hydra",
    "lightning",
    "matplotlib",
    "tqdm",
    "rich",
    "mmengine",
    "jax",
    "keras",
}


@pytest.mark.slow
def test_no_preset_imports_an_optional_library():
    """Importing torchinit and planning every preset on a plain model (as a policy name, a
    dict and a Policy) imports none of the optional libraries."""
    code = (
        "import sys, warnings, torch\n"
        "before = set(sys.modules)  # torch itself imports some (torch.hub: tqdm)\n"
        "import torchinit\n"
        "warnings.simplefilter('ignore')\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),\n"
        "                            torch.nn.Flatten(), torch.nn.Linear(4, 2))\n"
        "options = {'resnet': {'zero_init_residual': True, 'residual_norms': ['1']},\n"
        "           'timm_vit': {}, 'zero_init_residual': {'norms': ['1']}}\n"
        "for name in torchinit.available_presets():\n"
        "    try:\n"
        "        torchinit.plan(model, name, **options.get(name, {}))\n"
        "        policy = torchinit.get_preset(name, model=model, **options.get(name, {}))\n"
        "        torchinit.plan(model, policy.to_dict())\n"
        "    except torchinit.TorchInitError:\n"
        "        pass\n"
        f"loaded = sorted({OPTIONAL_LIBRARIES!r} & (set(sys.modules) - before))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
