"""torchinit.dialects.mmengine against mmengine 0.10 itself: the same model initialized by
mmengine's ``initialize``/``init_weights`` and by the imported policy under the same seed."""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from scipy import stats
from torch import nn

import torchinit
from torchinit import KaimingNormal, KaimingUniform, TorchInitError, TorchInitWarning
from torchinit.dialects.mmengine import (
    bias_init_with_prob,
    from_mmengine,
    init_like_mmengine,
    load_init_cfg,
    mmengine_passes,
)

mmengine_model = pytest.importorskip("mmengine.model", reason="mmengine is not installed")
BaseModule = mmengine_model.BaseModule
initialize = mmengine_model.initialize


class Net(nn.Module):
    """Convolutions, a norm, linears and a composite head, as the configs below name them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 16)
        self.head = nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.Linear(4, 2))
        self.reg = nn.Conv2d(8, 4, 1, bias=False)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.named_parameters()}


def _by_mmengine(build: Callable[[], nn.Module], init_cfg: Any = None) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build()
    torch.manual_seed(1)
    if init_cfg is None:
        model.init_weights()
    else:
        initialize(model, copy.deepcopy(init_cfg))
    return _state(model)


def _by_torchinit(
    build: Callable[[], nn.Module], apply: Callable[[nn.Module], object]
) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = build()
    torch.manual_seed(1)
    apply(model)
    return _state(model)


def _assert_equal(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    different = [name for name in want if not torch.equal(got[name], want[name])]
    assert not different


# one random entry each: torchinit's one pass draws what mmengine draws, bit for bit
SINGLE = [
    dict(type="Constant", val=0.5, bias=-1, layer="Conv2d"),
    dict(type="Xavier", layer=["Conv2d", "Linear"]),
    dict(type="Xavier", gain=2, distribution="uniform", bias=0.1, layer="Linear"),
    dict(type="Normal", mean=0.5, std=0.02, layer="Linear"),
    dict(type="TruncNormal", std=0.02, layer=["Conv2d", "Linear"]),
    dict(type="TruncNormal", std=0.5, a=-0.3, b=0.4, bias=0.25, layer="Linear"),
    dict(type="Uniform", a=-0.5, b=0.25, layer="Conv2d"),
    dict(type="Kaiming", layer="Conv2d"),
    dict(type="Kaiming", a=0.1, mode="fan_in", nonlinearity="leaky_relu", layer="Conv2d"),
    dict(type="Kaiming", distribution="uniform", layer=["Conv2d", "Linear"]),
    dict(type="Caffe2Xavier", layer="Conv2d"),
    dict(type="Normal", std=0.01, bias_prob=0.01, layer="Conv2d"),
    dict(type="Constant", val=2, bias=0.5, layer=["_BatchNorm", "GroupNorm"]),
]


@pytest.mark.parametrize("init_cfg", SINGLE, ids=[str(c) for c in SINGLE])
def test_each_init_type_equals_mmengine_bit_for_bit(init_cfg: dict[str, Any]) -> None:
    want = _by_mmengine(Net, init_cfg)
    policy = from_mmengine(init_cfg)
    _assert_equal(_by_torchinit(Net, lambda m: torchinit.init_model(m, policy)), want)
    _assert_equal(_by_torchinit(Net, lambda m: init_like_mmengine(m, init_cfg)), want)
    before = _by_torchinit(Net, lambda m: None)
    assert any(not torch.equal(before[name], want[name]) for name in want)


def test_trunc_normal_is_drawn_by_mmengines_sampler_not_torchs() -> None:
    # mmengine draws by the inverse CDF (its copy of an older torch.nn.init.trunc_normal_),
    # as trunc_normal_icdf does; torch 2.14's trunc_normal_ (torchinit's TruncNormal) rejects
    init_cfg = dict(type="TruncNormal", std=0.5, a=-0.3, b=0.4, layer="Linear")
    want = _by_mmengine(Net, init_cfg)
    policy = from_mmengine(init_cfg)
    assert policy.rules[0].init == torchinit.TruncNormalInverseCDF(0.0, 0.5, -0.3, 0.4)
    rejection = torchinit.Policy(
        [torchinit.Rule(nn.Linear, weight=torchinit.TruncNormal(0.0, 0.5, -0.3, 0.4))]
    )
    by_torch = _by_torchinit(Net, lambda m: torchinit.init_model(m, rejection))
    assert any(not torch.equal(by_torch[name], want[name]) for name in want)
    _assert_equal(_by_torchinit(Net, lambda m: torchinit.init_model(m, policy)), want)


def test_defaults_are_mmengines() -> None:
    kaiming = from_mmengine(dict(type="Kaiming", layer="Conv2d")).rules[0].init
    assert kaiming == KaimingNormal(a=0.0, mode="fan_out", nonlinearity="relu")
    caffe2 = from_mmengine(dict(type="Caffe2Xavier", layer="Conv2d")).rules[0].init
    assert caffe2 == KaimingUniform(a=1.0, mode="fan_in", nonlinearity="leaky_relu")
    trunc = from_mmengine(dict(type="TruncNormal", layer="Linear")).rules[0].init
    assert trunc == torchinit.TruncNormalInverseCDF(0.0, 1.0, -2.0, 2.0)


def test_bias_prob_is_mmengines_bias_init_with_prob() -> None:
    from mmengine.model import bias_init_with_prob as theirs

    for prob in (0.01, 0.1, 0.5, 0.9, 1e-4):
        assert bias_init_with_prob(prob) == theirs(prob)
    bias = from_mmengine(dict(type="Normal", bias_prob=0.01, layer="Conv2d")).rules[1].init
    assert bias == torchinit.Constant(theirs(0.01))


class Conv2d(nn.Module):  # an unrelated class that shares torch's name
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(3, 3))


class MyConv(nn.Conv2d):  # direct base Conv2d: matched by mmengine's layer='Conv2d'
    pass


class DeepConv(MyConv):  # Conv2d two levels up: not matched by mmengine, though isinstance is
    pass


class Layered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.plain = nn.Conv2d(2, 2, 1)
        self.mine = MyConv(2, 2, 1)
        self.deep = DeepConv(2, 2, 1)
        self.same_name = Conv2d()


def test_layer_matches_the_class_name_and_direct_bases_as_mmengine() -> None:
    init_cfg = dict(type="Constant", val=3.0, bias=2.0, layer="Conv2d")
    want = _by_mmengine(Layered, init_cfg)
    got = _by_torchinit(Layered, lambda m: torchinit.init_model(m, from_mmengine(init_cfg)))
    _assert_equal(got, want)
    assert (got["plain.weight"] == 3).all()
    assert (got["mine.weight"] == 3).all()
    assert (got["same_name.weight"] == 3).all()
    assert not (got["deep.weight"] == 3).all()  # isinstance would have matched it


class FooNet(nn.Module):  # mmengine's own override example
    def __init__(self) -> None:
        super().__init__()
        self.feat = nn.Conv2d(3, 16, 3)
        self.reg = nn.Conv2d(16, 10, 3)
        self.cls = nn.Conv2d(16, 5, 3)


def test_override_with_a_type_sets_the_named_layer_after_the_outer_entry() -> None:
    init_cfg = dict(
        type="Constant",
        val=1,
        bias=2,
        layer="Conv2d",
        override=dict(type="Constant", name="reg", val=3, bias=4),
    )
    want = _by_mmengine(FooNet, init_cfg)
    got = _by_torchinit(FooNet, lambda m: torchinit.init_model(m, from_mmengine(init_cfg)))
    _assert_equal(got, want)
    assert (got["reg.weight"] == 3).all()
    assert (got["reg.bias"] == 4).all()
    assert (got["cls.weight"] == 1).all()
    assert (got["cls.bias"] == 2).all()


def test_override_with_only_a_name_takes_the_outer_config_as_it_is() -> None:
    # no layer: the outer entry sets nothing, its override sets 'reg' with its arguments
    init_cfg = dict(type="Normal", std=0.01, bias_prob=0.01, override=dict(name="reg"))
    want = _by_mmengine(FooNet, init_cfg)
    with warnings.catch_warnings():  # an entry with an override does something: no warning
        warnings.simplefilter("error")
        policy = from_mmengine(init_cfg)
    got = _by_torchinit(FooNet, lambda m: torchinit.init_model(m, policy))
    _assert_equal(got, want)
    assert torch.equal(got["reg.bias"], torch.full((10,), bias_init_with_prob(0.01)))
    assert [rule.label for rule in policy.rules] == [
        "init_cfg.override Normal(name=reg, std=0.01, bias=-4.59511985013459)"
    ] * 2


def test_an_override_on_a_composite_initializes_every_descendant_with_the_parameter() -> None:
    # mmengine's wholemodule: the head's conv, norm and linear, whatever their class
    init_cfg = dict(
        type="Kaiming", layer="Conv2d", override=dict(name="head", type="Normal", std=0.3, bias=0.5)
    )
    want = _by_mmengine(Net, init_cfg)
    got = _by_torchinit(Net, lambda m: init_like_mmengine(m, init_cfg))
    _assert_equal(got, want)
    for name in ("head.0.bias", "head.1.bias", "head.3.bias"):
        assert (got[name] == 0.5).all()
    assert not (got["head.1.weight"] == 1).any()  # the norm's weight drawn, not left at 1


def test_overridden_tensors_differ_in_bits_only_in_the_default_draw_order() -> None:
    # mmengine draws head.0.weight twice (Kaiming, then Normal): torchinit's one pass once
    init_cfg = dict(
        type="Kaiming", layer="Conv2d", override=dict(name="head", type="Normal", std=0.3)
    )
    want = _by_mmengine(Net, init_cfg)
    got = _by_torchinit(Net, lambda m: torchinit.init_model(m, from_mmengine(init_cfg)))
    assert not torch.equal(got["head.0.weight"], want["head.0.weight"])
    assert torch.equal(got["head.0.bias"], want["head.0.bias"])  # constants are equal
    # the same law: drawn values of the override's normal, and the Kaiming std elsewhere
    assert (
        stats.kstest(got["head.1.weight"].flatten().numpy(), stats.norm(0, 0.3).cdf).pvalue > 1e-4
    )
    fan_out = 8 * 3 * 3
    assert (
        stats.kstest(
            got["conv.weight"].flatten().numpy(), stats.norm(0, (2 / fan_out) ** 0.5).cdf
        ).pvalue
        > 1e-4
    )


def test_a_list_is_applied_in_order_and_the_last_entry_wins() -> None:
    init_cfg = [
        dict(type="Normal", std=0.5, layer=["Conv2d", "Linear"]),
        dict(type="Uniform", a=-0.1, b=0.1, layer="Linear"),
        dict(type="Constant", val=1, layer="_BatchNorm"),
    ]
    want = _by_mmengine(Net, init_cfg)
    _assert_equal(_by_torchinit(Net, lambda m: init_like_mmengine(m, init_cfg)), want)
    got = _by_torchinit(Net, lambda m: torchinit.init_model(m, from_mmengine(init_cfg)))
    assert got["fc.weight"].abs().max() <= 0.1
    assert torch.equal(got["bn.weight"], want["bn.weight"])
    report = torchinit.plan(Net(), from_mmengine(init_cfg))
    assert report["fc.weight"].rule_label == "init_cfg[1] Uniform(layer=Linear, a=-0.1, b=0.1)"
    assert report["conv.weight"].rule_label == "init_cfg[0] Normal(layer=Conv2d|Linear, std=0.5)"


# an mmdet-style model: BaseModules nested in BaseModules, each with its init_cfg


class Block(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)


class Backbone(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.stem = nn.Conv2d(3, 8, 3)
        self.norm = nn.BatchNorm2d(8)
        self.layers = mmengine_model.Sequential(
            Block(
                init_cfg=dict(
                    type="Constant", val=0, layer="BatchNorm2d", override=dict(name="bn2")
                )
            ),
            Block(),
        )


class Neck(BaseModule):
    def __init__(self) -> None:
        super().__init__(init_cfg=dict(type="Xavier", layer="Conv2d", distribution="uniform"))
        self.lateral = nn.ModuleList([nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1)])


class Head(BaseModule):
    def __init__(self) -> None:
        super().__init__(
            init_cfg=dict(
                type="Normal",
                layer="Conv2d",
                std=0.01,
                override=dict(type="Normal", name="cls", std=0.01, bias_prob=0.01),
            )
        )
        self.shared = nn.Conv2d(8, 8, 3, padding=1)
        self.cls = nn.Conv2d(8, 9, 3, padding=1)
        self.reg = nn.Conv2d(8, 4, 3, padding=1)


class Detector(BaseModule):
    def __init__(self, backbone_cfg: Any) -> None:
        super().__init__(
            init_cfg=[
                dict(type="Kaiming", layer="Conv2d"),
                dict(type="Constant", val=1, layer="_BatchNorm"),
            ]
        )
        self.backbone = Backbone(backbone_cfg)
        self.neck = Neck()
        self.head = Head()


def _detector(backbone_cfg: Any = None) -> Callable[[], nn.Module]:
    return lambda: Detector(copy.deepcopy(backbone_cfg))


def test_an_mmdet_style_model_is_reproduced_bit_for_bit_in_mmengines_order() -> None:
    build = _detector(dict(type="Normal", std=0.02, layer="Conv2d"))
    want = _by_mmengine(build)
    _assert_equal(_by_torchinit(build, init_like_mmengine), want)
    got = _by_torchinit(build, lambda m: torchinit.init_model(m, from_mmengine(m)))
    # one draw per tensor: the constants are mmengine's, drawn tensors differ in bits
    for name in (
        "head.cls.bias",
        "backbone.layers.0.bn2.weight",
        "backbone.norm.weight",
        "neck.lateral.0.bias",
    ):
        assert torch.equal(got[name], want[name]), name
    assert torch.equal(got["head.cls.bias"], torch.full((9,), bias_init_with_prob(0.01)))
    assert not torch.equal(got["head.reg.weight"], want["head.reg.weight"])
    report = torchinit.plan(build(), from_mmengine(build()))
    assert (
        report["head.cls.weight"].rule_label
        == "head.init_cfg.override Normal(name=cls, std=0.01, bias=-4.59511985013459)"
    )
    assert (
        report["backbone.layers.0.bn2.weight"].rule_label
        == "backbone.layers.0.init_cfg.override Constant(name=bn2, val=0)"
    )
    assert (
        report["neck.lateral.1.weight"].rule_label
        == "neck.init_cfg Xavier(layer=Conv2d, distribution=uniform)"
    )
    assert (
        report["backbone.stem.weight"].rule_label
        == "backbone.init_cfg Normal(layer=Conv2d, std=0.02)"
    )


def test_pretrained_loads_after_the_children_with_its_prefix(tmp_path: Path) -> None:
    source = _detector()()
    with torch.no_grad():
        for parameter in source.parameters():
            parameter.uniform_(5, 6)
    path = tmp_path / "detector.pt"
    torch.save(source.state_dict(), path)
    build = _detector(dict(type="Pretrained", checkpoint=str(path), prefix="backbone."))
    want = _by_mmengine(build)
    _assert_equal(_by_torchinit(build, init_like_mmengine), want)
    got = _by_torchinit(build, lambda m: torchinit.init_model(m, from_mmengine(m)))
    for name in want:
        if name.startswith("backbone."):
            assert torch.equal(got[name], want[name]), name
            assert (got[name] >= 5).all()
    report = torchinit.plan(build(), from_mmengine(build()))
    assert report["backbone.layers.1.conv1.weight"].rule_label == (
        f"backbone.init_cfg Pretrained(checkpoint={path}, prefix=backbone.)"
    )
    assert report["backbone.layers.1.conv1.weight"].strategy == torchinit.Checkpoint(
        str(path), keys={"backbone.": "backbone."}
    )


def test_init_weights_of_a_child_without_init_weights_is_not_walked_as_mmengine() -> None:
    class Inner(BaseModule):
        def __init__(self) -> None:
            super().__init__(init_cfg=dict(type="Constant", val=7, layer="Linear"))
            self.fc = nn.Linear(2, 2)

    class Outer(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.walked = Inner()
            self.hidden = nn.ModuleList([Inner()])  # torch's ModuleList has no init_weights

    want = _by_mmengine(Outer)
    got = _by_torchinit(Outer, lambda m: torchinit.init_model(m, from_mmengine(m)))
    _assert_equal(got, want)
    assert (got["walked.fc.weight"] == 7).all()
    assert not (got["hidden.0.fc.weight"] == 7).all()


def test_a_child_with_its_own_init_weights_is_a_warning() -> None:
    class Custom(BaseModule):
        def __init__(self) -> None:
            super().__init__(init_cfg=dict(type="Constant", val=7, layer="Linear"))
            self.fc = nn.Linear(2, 2)

        def init_weights(self) -> None:
            super().init_weights()

    class Outer(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.custom = Custom()

    with pytest.warns(TorchInitWarning, match=r"custom \(Custom\) has its own init_weights\(\)"):
        policy = from_mmengine(Outer())
    assert len(policy.rules) == 2


def test_the_policy_round_trips_through_yaml() -> None:
    policy = from_mmengine(_detector(dict(type="Normal", std=0.02, layer="Conv2d"))())
    assert torchinit.Policy.from_yaml(policy.to_yaml()) == policy


def test_passes_are_one_policy_per_entry() -> None:
    init_cfg = [
        dict(
            type="Kaiming",
            layer="Conv2d",
            override=[dict(name="reg"), dict(name="fc", type="Constant", val=1)],
        )
    ]
    names = [policy.name for policy in mmengine_passes(init_cfg, model=Net())]
    assert names == [
        "init_cfg[0] Kaiming(layer=Conv2d)",
        "init_cfg[0].override[0] Kaiming(name=reg)",
        "init_cfg[0].override[1] Constant(name=fc, val=1)",
    ]


@pytest.mark.slow
def test_the_library_does_not_import_mmengine() -> None:
    code = (
        "import sys, torchinit\n"
        "torchinit.from_mmengine(dict(type='Kaiming', layer='Conv2d'))\n"
        "print('mmengine' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=True,
    )
    assert out.stdout.strip() == "False"


# errors: the key path in the source config, mmengine refusing the same


def _message(init_cfg: Any, **kwargs: Any) -> str:
    with pytest.raises(TorchInitError) as caught:
        from_mmengine(init_cfg, **kwargs)
    return str(caught.value)


def test_an_unknown_type_suggests_the_closest() -> None:
    assert _message([dict(type="Kaiming", layer="Conv2d"), dict(type="Kaimng")]) == (
        "init_cfg[1].type: unknown init type 'Kaimng'; did you mean 'Kaiming'? known: "
        "['Constant', 'Xavier', 'Normal', 'TruncNormal', 'Uniform', 'Kaiming', 'Caffe2Xavier', "
        "'Pretrained'] (got 'Kaimng')"
    )


def test_an_override_with_arguments_but_no_type_is_refused_as_by_mmengine() -> None:
    init_cfg = [
        dict(type="Constant", val=1, layer="Conv2d"),
        dict(type="Constant", val=1, layer="Conv2d"),
        dict(type="Normal", layer="Conv2d", override=dict(name="reg", std=0.1)),
    ]
    assert _message(init_cfg) == (
        "init_cfg[2].override.type: required when the override has keys other than 'name' "
        "(got {'name': 'reg', 'std': 0.1})"
    )
    with pytest.raises(ValueError, match='need "type" key'):
        initialize(FooNet(), init_cfg)


def test_an_override_without_a_name_is_refused() -> None:
    assert _message(
        dict(type="Normal", layer="Conv2d", override=[dict(type="Constant", val=1)])
    ) == (
        "init_cfg.override[0].name: required: the name of the submodule to initialize "
        "(got {'type': 'Constant', 'val': 1})"
    )


def test_an_override_naming_no_attribute_is_refused_as_by_mmengine() -> None:
    init_cfg = dict(type="Normal", layer="Conv2d", override=dict(name="rge"))
    assert _message(init_cfg, model=FooNet()) == (
        "init_cfg.override.name: FooNet '(the model)' has no submodule of this name; did you "
        "mean 'reg'? its submodules are ['feat', 'reg', 'cls'] (got 'rge')"
    )
    with pytest.raises(RuntimeError, match="did not have attribute rge"):
        initialize(FooNet(), init_cfg)
    # without the model, the rule matches nothing: an error under strict=True
    with pytest.raises(
        torchinit.PlanError, match=r"rules\[2\].match.param: rule 'init_cfg.override"
    ):
        torchinit.init_model(FooNet(), from_mmengine(init_cfg), strict=True)


def test_a_model_s_errors_name_the_module_s_init_cfg() -> None:
    build = _detector(dict(type="Normal", stdd=0.02, layer="Conv2d"))
    with pytest.raises(TorchInitError) as caught:
        from_mmengine(build())
    assert str(caught.value) == (
        "backbone.init_cfg.stdd: Normal takes no argument 'stdd'; did you mean 'std'? it takes "
        "['bias', 'bias_prob', 'layer', 'mean', 'std'] (got 0.02)"
    )


@pytest.mark.parametrize(
    ("init_cfg", "message"),
    [
        ("Kaiming", "init_cfg: must be a dict or a list of dicts (got 'Kaiming')"),
        ([dict(type="Kaiming"), 3], "init_cfg[1]: must be a dict (got 3)"),
        (
            dict(layer="Conv2d"),
            "init_cfg.type: required: one of ['Constant', 'Xavier', 'Normal', "
            "'TruncNormal', 'Uniform', 'Kaiming', 'Caffe2Xavier', 'Pretrained'] "
            "(got {'layer': 'Conv2d'})",
        ),
        (dict(type="Constant", layer="Conv2d"), "init_cfg.val: required by Constant"),
        (
            dict(type="Normal", bias="0", layer="Conv2d"),
            "init_cfg.bias: must be a number (got '0')",
        ),
        (
            dict(type="Normal", bias_prob=1, layer="Conv2d"),
            "init_cfg.bias_prob: must be a float (got 1)",
        ),
        (
            dict(type="Normal", bias_prob=1.5, layer="Conv2d"),
            "init_cfg.bias_prob: must be in (0, 1) (got 1.5)",
        ),
        (
            dict(type="Normal", layer=("Conv2d",)),
            "init_cfg.layer: must be a class name or a list of them (got ('Conv2d',))",
        ),
        (
            dict(type="Xavier", distribution="normall", layer="Conv2d"),
            "init_cfg.distribution: must be one of ['uniform', 'normal'] (got 'normall')",
        ),
        (
            dict(type="Kaiming", mode="fan", layer="Conv2d"),
            "init_cfg.mode: must be one of ['fan_in', 'fan_out'] (got 'fan')",
        ),
        (dict(type="Normal", std=-1, layer="Conv2d"), "init_cfg.std: must be >= 0 (got -1)"),
        (
            dict(type="Caffe2Xavier", a=1, layer="Conv2d"),
            "init_cfg.a: Caffe2Xavier takes no argument 'a'; it takes "
            "['bias', 'bias_prob', 'layer'] (got 1)",
        ),
        (
            dict(type="Pretrained", checkpoint="torchvision://resnet50"),
            "init_cfg.checkpoint: torchinit reads local .safetensors/.pt/.pth files only; "
            "download it first (got 'torchvision://resnet50')",
        ),
        (
            dict(type="Pretrained", checkpoint="w.bin"),
            "init_cfg.checkpoint: must end in one of ['.safetensors', '.pt', '.pth'] (got 'w.bin')",
        ),
        (
            dict(type="Pretrained", checkpoint="w.pt", layer="Conv2d"),
            "init_cfg.layer: Pretrained takes no argument 'layer'; it takes "
            "['checkpoint', 'map_location', 'prefix'] (got 'Conv2d')",
        ),
        (
            dict(type="Normal", std=0.1),
            "init_cfg: initializes nothing: no entry has a layer, an override or a checkpoint "
            "(got {'type': 'Normal', 'std': 0.1})",
        ),
    ],
)
def test_error_messages(init_cfg: Any, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TorchInitWarning)
        assert _message(init_cfg) == message


def test_an_entry_that_initializes_nothing_is_a_warning() -> None:
    with pytest.warns(TorchInitWarning, match=r"init_cfg\[0\]: has neither layer nor override"):
        from_mmengine([dict(type="Normal"), dict(type="Constant", val=1, layer="Linear")])


def test_init_cfg_files_are_read_with_the_policy_files_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    big.write_text("init_cfg = dict(type='Normal', layer='Conv2d')\n" + "#" * (1 << 20))
    with pytest.raises(torchinit.PolicyFileError) as caught:
        load_init_cfg(big)
    assert str(caught.value) == (
        f"{big}: larger than 1048576 bytes, the limit for a policy (got 1048623 bytes)"
    )
    twice = tmp_path / "twice.yaml"
    twice.write_text("init_cfg:\n  type: Normal\n  type: Kaiming\n")
    with pytest.raises(torchinit.PolicyFileError) as caught:
        load_init_cfg(twice)
    assert str(caught.value) == f"{twice}:3: init_cfg.type: duplicate key (got 'type')"
