"""The classic presets of ``torchinit/presets/classic.py``: fixup, zero_init_residual, mup,
lecun, orthogonal_rnn, and the ``gate_constant`` strategy.

Deterministic parts (zeros, ones, constants, which tensors are zeroed) are checked exactly with
``torch.equal``; random parts against their analytic distribution (``scipy.stats.kstest``,
p > 1e-4, and the sample std within 6/sqrt(2n) of the expected std, relative), and bit for bit
against the original code where it exists (torchvision's and timm's zero-init loops, the mup
package's ``mup.init.normal_``, a hand-written RNN loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import torchinit
from torchinit import (
    ArgumentTypeError,
    InvalidArgumentError,
    TorchInitError,
    init_model,
)

stats = pytest.importorskip("scipy.stats", reason="scipy is needed for the KS tests")

SEED = 0
P_MIN = 1e-4


# --------------------------------------------------------------------------- helpers


def seeded(build: Callable[[], nn.Module], seed: int = SEED) -> nn.Module:
    torch.manual_seed(seed)
    return build()


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    first, second = a.state_dict(), b.state_dict()
    assert list(first) == list(second)
    different = [key for key in first if not torch.equal(first[key], second[key])]
    assert not different, f"tensors differ: {different}"


def assert_distribution(tensor: torch.Tensor, dist: Any, std: float) -> None:
    """KS test of ``tensor``'s values against ``dist`` and its std within 6/sqrt(2n)."""
    values = tensor.detach().flatten().double().numpy()
    n = values.size
    assert stats.kstest(values, dist.cdf).pvalue > P_MIN
    assert abs(values.std() / std - 1) < 6 / math.sqrt(2 * n)


def assert_normal(tensor: torch.Tensor, std: float) -> None:
    assert_distribution(tensor, stats.norm(scale=std), std)


def fan_out(weight: torch.Tensor) -> int:
    return weight.shape[0] * math.prod(weight.shape[2:])


def fan_in(weight: torch.Tensor) -> int:
    return math.prod(weight.shape[1:])


def error_message(excinfo: pytest.ExceptionInfo[TorchInitError]) -> str:
    return str(excinfo.value)


# --------------------------------------------------------------------------- fixup


@pytest.fixture(scope="module")
def fixup_resnet50() -> nn.Module:
    """torchvision's ResNet-50 without normalization, initialized with the default fixup."""
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    import torchvision

    model = seeded(lambda: torchvision.models.resnet50(norm_layer=nn.Identity))
    torch.manual_seed(SEED)
    report = init_model(model, "fixup")
    assert report.unmatched == []
    # L counted from the model: the 16 Bottleneck conv3 layers that last_layers names
    assert report.options["num_branches"] == (16, "model: the layers matching last_layers")
    return model


def test_fixup_zeroes_branch_ends_and_classifier(fixup_resnet50):
    params = dict(fixup_resnet50.named_parameters())
    ends = [name for name in params if name.endswith("conv3.weight")]
    assert len(ends) == 16  # L = 16 Bottleneck branches, counted
    for name in [*ends, "fc.weight", "fc.bias"]:
        assert torch.equal(params[name], torch.zeros_like(params[name])), name


@pytest.mark.parametrize(
    "name", ["layer1.0.conv1.weight", "layer2.3.conv2.weight", "layer3.5.conv1.weight"]
)
def test_fixup_scales_the_other_branch_layers(fixup_resnet50, name):
    # He (fan_out, as the reference code) times L^(-1/(2m-2)) = 16^(-1/4)
    weight = dict(fixup_resnet50.named_parameters())[name]
    assert_normal(weight, math.sqrt(2 / fan_out(weight)) * 16**-0.25)


@pytest.mark.parametrize("name", ["conv1.weight", "layer1.0.downsample.0.weight"])
def test_fixup_he_init_outside_the_branches(fixup_resnet50, name):
    weight = dict(fixup_resnet50.named_parameters())[name]
    assert_normal(weight, math.sqrt(2 / fan_out(weight)))


class FixupBasicBlock(nn.Module):
    """A Fixup basic block as in the paper: scalar biases before each layer, a scalar scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias1a = nn.Parameter(torch.randn(1))
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bias1b = nn.Parameter(torch.randn(1))
        self.bias2a = nn.Parameter(torch.randn(1))
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.scale = nn.Parameter(torch.randn(1))
        self.bias2b = nn.Parameter(torch.randn(1))


class FixupNet(nn.Module):
    def __init__(self, blocks: int = 3, channels: int = 64) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.blocks = nn.Sequential(*[FixupBasicBlock(channels) for _ in range(blocks)])
        self.head = nn.Linear(channels, 10)


def test_fixup_basic_blocks_with_scalar_parameters():
    model = seeded(FixupNet)
    torch.manual_seed(SEED)
    report = init_model(
        model,
        "fixup",  # num_branches: counted, the 3 layers last_layers names
        layers_per_branch=2,
        branch_layers=["blocks.*.conv1"],
        last_layers=["blocks.*.conv2"],
        classifier="head",
        mode="fan_in",
    )
    assert report.unmatched == []
    params = dict(model.named_parameters())
    for name, value in params.items():
        if name.split(".")[-1].startswith("bias") and name.startswith("blocks."):
            assert torch.equal(value, torch.zeros(1)), name
        if name.endswith("scale"):
            assert torch.equal(value, torch.ones(1)), name
    for name in ["blocks.0.conv2.weight", "blocks.2.conv2.weight", "head.weight", "head.bias"]:
        assert torch.equal(params[name], torch.zeros_like(params[name])), name
    assert torch.equal(params["stem.bias"], torch.zeros(64))
    # m = 2: He (fan_in) times L^(-1/2), over the three conv1 together
    conv1 = torch.cat([params[f"blocks.{i}.conv1.weight"].flatten() for i in range(3)])
    assert_normal(conv1, math.sqrt(2 / (64 * 9)) * 3**-0.5)
    assert_normal(params["stem.weight"], math.sqrt(2 / 27))
    assert report.options["num_branches"] == (3, "model: the layers matching last_layers")
    assert report.options["mode"] == ("fan_in", "given")
    assert report.options["classifier"] == ("head", "given")
    assert report.options["scalar_scales"] == (("**.scale",), "default")


@pytest.mark.parametrize(
    ("wrap", "prefix"),
    [(nn.DataParallel, "module."), (torch.compile, "_orig_mod.")],
    ids=["DataParallel", "torch.compile"],
)
def test_fixup_on_a_wrapped_model_is_fixup_on_the_model(wrap, prefix):
    options = dict(
        layers_per_branch=2,
        branch_layers=["blocks.*.conv1"],
        last_layers=["blocks.*.conv2"],
        classifier="head",
    )
    bare = seeded(FixupNet)
    torch.manual_seed(SEED)
    init_model(bare, "fixup", **options)
    wrapped = wrap(seeded(FixupNet))
    torch.manual_seed(SEED)
    report = init_model(wrapped, "fixup", **options)
    # L counted through the wrapper, and its name rules matched: the same values
    assert report.options["num_branches"] == (3, "model: the layers matching last_layers")
    assert report[f"{prefix}blocks.0.conv2.weight"].strategy == torchinit.Zeros()
    expected = bare.state_dict()
    got = wrapped.state_dict()
    assert list(got) == [prefix + key for key in expected]
    different = [key for key in expected if not torch.equal(expected[key], got[prefix + key])]
    assert not different, f"tensors differ: {different}"


def test_fixup_given_num_branches_wins_over_the_count():
    model = FixupNet(blocks=3)
    options = dict(layers_per_branch=2, branch_layers=["blocks.*.conv1"])
    counted = torchinit.plan(model, "fixup", last_layers=["blocks.*.conv2"], **options)
    assert counted["blocks.0.conv1.weight"].strategy == torchinit.VarianceScaling(
        2 * 3**-1.0, "fan_out", "normal"
    )
    given = torchinit.plan(
        model, "fixup", num_branches=8, last_layers=["blocks.*.conv2"], **options
    )
    assert given.options["num_branches"] == (8, "given")
    assert given["blocks.0.conv1.weight"].strategy == torchinit.VarianceScaling(
        2 * 8**-1.0, "fan_out", "normal"
    )


def test_fixup_refuses_a_model_whose_branches_it_cannot_count():
    with pytest.raises(InvalidArgumentError) as excinfo:
        init_model(FixupNet(), "fixup")  # the default last_layers are ResNet's layer*.*.conv3
    assert error_message(excinfo) == (
        "fixup.num_branches: not given and no conv or linear layer of the model matches "
        "last_layers ['layer*.*.conv3'] to count; pass num_branches=... (got 'FixupNet')"
    )


def test_fixup_strategy_is_the_scaled_he_variance():
    policy = torchinit.get_preset("fixup", num_branches=8, layers_per_branch=2, mode="fan_in")
    scaled = policy.rules[1].strategies[0][1]
    assert scaled == torchinit.VarianceScaling(2 * 8**-1.0, "fan_in", "normal")


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        (
            {"layers_per_branch": 1},
            InvalidArgumentError,
            "fixup.layers_per_branch: must be >= 2 (got 1)",
        ),
        ({"num_branches": 0}, InvalidArgumentError, "fixup.num_branches: must be >= 1 (got 0)"),
        (
            {"num_branches": "16"},
            ArgumentTypeError,
            "fixup.num_branches: must be an integer (got '16')",
        ),
        (
            {"mode": "fan_avg"},
            InvalidArgumentError,
            "fixup.mode: must be one of ['fan_in', 'fan_out'] (got 'fan_avg')",
        ),
        (
            {"branch_layers": "layer*.*.conv1"},
            ArgumentTypeError,
            "fixup.branch_layers: must be a list of globs naming layers (got 'layer*.*.conv1')",
        ),
        (
            {"last_layers": []},
            InvalidArgumentError,
            "fixup.last_layers: must name the last layer of each branch (got [])",
        ),
        (
            {"scalar_scales": [1]},
            ArgumentTypeError,
            "fixup.scalar_scales: must be a list of globs naming parameters (got [1])",
        ),
    ],
)
def test_fixup_option_errors(options, kind, message):
    with pytest.raises(kind) as excinfo:
        torchinit.get_preset("fixup", **{"num_branches": 16, **options})
    assert error_message(excinfo) == message


# --------------------------------------------------------------------------- zero_init_residual


def zeroed_by(report: torchinit.InitReport) -> set[str]:
    return {entry.name for entry in report.entries if entry.status == "initialized"}


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_zero_init_residual_equals_torchvision(tv_models, arch):
    build = getattr(tv_models, arch)
    reference = seeded(lambda: build(zero_init_residual=True))
    model = seeded(build)
    plain = {name: value.clone() for name, value in model.state_dict().items()}
    report = init_model(model, "zero_init_residual")
    assert_same_state(reference, model)
    # exactly the tensors torchvision's option zeroes: those that differ from the plain build
    changed = {
        name
        for name, value in reference.state_dict().items()
        if not torch.equal(value, plain[name])
    }
    assert zeroed_by(report) == changed
    norm = "bn3" if arch == "resnet50" else "bn2"
    assert changed == {n for n in plain if n.startswith("layer") and n.endswith(f"{norm}.weight")}


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_zero_init_residual_equals_timm_zero_init_last(arch):
    timm = pytest.importorskip("timm", reason="timm is not installed")
    reference = seeded(lambda: timm.create_model(arch, pretrained=False, zero_init_last=True))
    model = seeded(lambda: timm.create_model(arch, pretrained=False, zero_init_last=False))
    plain = {name: value.clone() for name, value in model.state_dict().items()}
    report = init_model(model, "zero_init_residual")
    assert_same_state(reference, model)
    changed = {
        name
        for name, value in reference.state_dict().items()
        if not torch.equal(value, plain[name])
    }
    assert zeroed_by(report) == changed
    assert len(changed) == (16 if arch == "resnet50" else 8)


class PreNormBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(8)
        self.fc1 = nn.Linear(8, 8)
        self.norm2 = nn.LayerNorm(8)


def test_zero_init_residual_globs_touch_only_the_named_norms():
    model = seeded(lambda: nn.ModuleDict({"blocks": nn.Sequential(PreNormBlock(), PreNormBlock())}))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1.0)  # nothing is zero or one before
    before = {name: value.clone() for name, value in model.state_dict().items()}
    report = init_model(model, "zero_init_residual", norms=["blocks.*.norm2"])
    assert zeroed_by(report) == {"blocks.0.norm2.weight", "blocks.1.norm2.weight"}
    for name, value in model.state_dict().items():
        if name in zeroed_by(report):
            assert torch.equal(value, torch.zeros(8)), name
        else:
            assert torch.equal(value, before[name]), name
    assert len(report.unmatched) == len(before) - 2


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        (
            {"norms": "blocks.*.norm2"},
            ArgumentTypeError,
            "zero_init_residual.norms: must be a list of globs naming layers "
            "(got 'blocks.*.norm2')",
        ),
        (
            {"library_blocks": False},
            InvalidArgumentError,
            "zero_init_residual.norms: needs at least one glob when library_blocks is false "
            "(got [])",
        ),
        (
            {"library_blocks": "yes"},
            ArgumentTypeError,
            "zero_init_residual.library_blocks: must be true or false (got 'yes')",
        ),
    ],
)
def test_zero_init_residual_option_errors(options, kind, message):
    with pytest.raises(kind) as excinfo:
        torchinit.get_preset("zero_init_residual", **options)
    assert error_message(excinfo) == message


# --------------------------------------------------------------------------- mup

BASE_WIDTH, WIDTH, STD = 32, 128, 0.02


def mup_transformer(width: int) -> nn.Module:
    mup = pytest.importorskip("mup", reason="mup is not installed")

    class Toy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(50, width)
            self.layer = nn.TransformerEncoderLayer(width, 4, 4 * width, batch_first=True)
            self.norm = nn.LayerNorm(width)
            self.readout = mup.MuReadout(width, 50)

    return Toy()


def mup_mlp(width: int) -> nn.Module:
    mup = pytest.importorskip("mup", reason="mup is not installed")
    return nn.Sequential(
        nn.Linear(16, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        mup.MuReadout(width, 10),
    )


def mup_reference(model: nn.Module, readout_zero: bool) -> None:
    """The mup package's own init of ``model`` (after set_base_shapes), in parameter order."""
    import mup

    readout = {
        id(p) for m in model.modules() if isinstance(m, mup.MuReadout) for p in m.parameters()
    }
    norms = {id(m.weight) for m in model.modules() if isinstance(m, nn.LayerNorm)}
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            elif id(parameter) in norms:
                mup.init.ones_(parameter)
            elif id(parameter) in readout and readout_zero:
                parameter.zero_()
            else:
                mup.init.normal_(parameter, std=STD)


@pytest.mark.parametrize("readout_zero", [True, False])
@pytest.mark.parametrize(
    ("build", "options"),
    [(mup_transformer, {}), (mup_mlp, {"input_layers": ["0"]})],
    ids=["transformer", "mlp"],
)
def test_mup_equals_the_mup_package(build, options, readout_zero):
    import mup

    base, reference = build(BASE_WIDTH), seeded(lambda: build(WIDTH))
    mup.set_base_shapes(reference, base)
    model = seeded(lambda: build(WIDTH))
    torch.manual_seed(SEED)
    mup_reference(reference, readout_zero)
    torch.manual_seed(SEED)
    report = init_model(
        model, "mup", width_mult=WIDTH / BASE_WIDTH, std=STD, readout_zero=readout_zero, **options
    )
    assert report.unmatched == []
    assert_same_state(reference, model)  # bit for bit, the same draws in the same order

    # and the scalings, against the analytic distributions and the infshapes mup computed
    for name, parameter in reference.named_parameters():
        if name.endswith("bias") or parameter.dim() < 2:
            continue
        ninf = parameter.infshape.ninf()
        value = dict(model.named_parameters())[name]
        if "readout" in name or name.startswith("4."):
            assert ninf == 1  # only the fan-in scales: the output layer
            assert parameter.infshape[1].isinf()
            if readout_zero:
                assert torch.equal(value, torch.zeros_like(value))
            else:
                assert_normal(value, STD)
        elif ninf == 2:  # hidden: std / sqrt(width_mult)
            assert parameter.infshape.width_mult() == WIDTH / BASE_WIDTH
            assert_normal(value, STD * (BASE_WIDTH / WIDTH) ** 0.5)
        else:  # input: constant std
            assert_normal(value, STD)


@pytest.mark.parametrize("build", [mup_transformer, mup_mlp], ids=["transformer", "mlp"])
def test_mup_reads_the_width_multiplier_set_base_shapes_recorded(build):
    import mup

    base, reference = build(BASE_WIDTH), seeded(lambda: build(WIDTH))
    mup.set_base_shapes(reference, base)
    model = seeded(lambda: build(WIDTH))
    mup.set_base_shapes(model, base)
    torch.manual_seed(SEED)
    mup_reference(reference, readout_zero=True)
    torch.manual_seed(SEED)
    inputs = {"input_layers": ["0"]} if build is mup_mlp else {}
    report = init_model(model, "mup", std=STD, **inputs)  # width_mult: from the infshapes
    assert_same_state(reference, model)
    assert report.options["width_mult"] == (
        WIDTH / BASE_WIDTH,
        "model: the hidden parameters' infshape.width_mult()",
    )


def test_mup_refuses_a_model_without_infshape():
    with pytest.raises(InvalidArgumentError) as excinfo:
        init_model(nn.Sequential(nn.Linear(4, 4)), "mup")
    assert error_message(excinfo) == (
        "mup.width_mult: not given and no hidden parameter of the model has mup's infshape "
        "(mup.set_base_shapes); pass width_mult=... (got 'Sequential')"
    )


def test_mup_refuses_differing_width_multipliers():
    class InfShape:
        def __init__(self, mult: float) -> None:
            self.mult = mult

        def ninf(self) -> int:
            return 2

        def width_mult(self) -> float:
            return self.mult

    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[0].weight.infshape = InfShape(2.0)  # type: ignore[attr-defined]
    model[1].weight.infshape = InfShape(4.0)  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError) as excinfo:
        init_model(model, "mup")
    assert error_message(excinfo) == (
        "mup.width_mult: not given and the model's hidden parameters have different width "
        "multipliers [2.0, 4.0]; pass width_mult=... (got 'Sequential')"
    )
    assert init_model(model, "mup", width_mult=3.0).options["width_mult"] == (3.0, "given")


def test_mup_tied_readout_keeps_the_embedding():
    mup = pytest.importorskip("mup", reason="mup is not installed")

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(1000, 64)
            self.readout = mup.MuSharedReadout(self.embed.weight)

    model = seeded(Tied)
    report = init_model(model, "mup", width_mult=2.0)
    assert report["embed.weight"].rule_label == "tied readout"
    assert_normal(model.embed.weight, STD)
    assert torch.equal(model.readout.bias, torch.zeros_like(model.readout.bias))


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        ({"width_mult": 0}, InvalidArgumentError, "mup.width_mult: must be > 0 (got 0)"),
        ({"width_mult": "4"}, ArgumentTypeError, "mup.width_mult: must be a number (got '4')"),
        ({"std": -0.02}, InvalidArgumentError, "mup.std: must be > 0 (got -0.02)"),
        ({"readout_zero": 1}, ArgumentTypeError, "mup.readout_zero: must be true or false (got 1)"),
        (
            {"readout": "head"},
            ArgumentTypeError,
            "mup.readout: must be a list of globs naming layers (got 'head')",
        ),
        (
            {"input_layers": [""]},
            ArgumentTypeError,
            "mup.input_layers: must be a list of globs naming layers (got [''])",
        ),
    ],
)
def test_mup_option_errors(options, kind, message):
    with pytest.raises(kind) as excinfo:
        torchinit.get_preset("mup", **{"width_mult": 2.0, **options})
    assert error_message(excinfo) == message


# --------------------------------------------------------------------------- lecun


def selu_net() -> nn.Module:
    return nn.Sequential(
        nn.Linear(256, 512), nn.SELU(), nn.Linear(512, 256), nn.SELU(), nn.Conv2d(16, 32, 3)
    )


def test_lecun_truncated_normal():
    model = seeded(selu_net)
    report = init_model(model, "lecun")
    assert report.unmatched == []
    for module in (model[0], model[2], model[4]):
        std = math.sqrt(1 / fan_in(module.weight))
        inner = std / torchinit.strategies.TRUNCATED_NORMAL_STD
        assert_distribution(module.weight, stats.truncnorm(-2, 2, scale=inner), std)
        assert torch.equal(module.bias, torch.zeros_like(module.bias))


def test_lecun_untruncated_is_pytorchs_selu_recipe():
    model = seeded(selu_net)
    reference = seeded(selu_net)
    torch.manual_seed(SEED)
    for module in reference.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="linear")
            nn.init.zeros_(module.bias)
    torch.manual_seed(SEED)
    init_model(model, "lecun", truncated=False)
    assert_same_state(reference, model)
    assert_normal(model[2].weight, math.sqrt(1 / 512))


def test_lecun_option_error():
    with pytest.raises(ArgumentTypeError) as excinfo:
        torchinit.get_preset("lecun", truncated="no")
    assert error_message(excinfo) == "lecun.truncated: must be true or false (got 'no')"


# --------------------------------------------------------------------------- orthogonal_rnn


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(32, 64, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(16, 32)
        self.rnn = nn.RNN(16, 32)
        self.cell = nn.LSTMCell(8, 16)
        self.proj = nn.LSTM(8, 16, proj_size=4)


def test_orthogonal_rnn_equals_a_hand_loop():
    model, reference = seeded(Recurrent), seeded(Recurrent)
    torch.manual_seed(SEED)
    with torch.no_grad():
        for module in reference.children():
            for name, parameter in module.named_parameters():
                if name.startswith("weight_hh"):
                    nn.init.orthogonal_(parameter)
                elif name.startswith(("weight_ih", "weight_hr")):
                    nn.init.xavier_uniform_(parameter)
                else:
                    nn.init.zeros_(parameter)
                    if isinstance(module, (nn.LSTM, nn.LSTMCell)) and name.startswith("bias_ih"):
                        hidden = parameter.shape[0] // 4
                        parameter[hidden : 2 * hidden] = 1.0
    torch.manual_seed(SEED)
    report = init_model(model, "orthogonal_rnn")
    assert report.unmatched == []
    assert_same_state(reference, model)


def test_orthogonal_rnn_values():
    model = seeded(Recurrent)
    init_model(model, "orthogonal_rnn", forget_bias=2.0)
    for module in model.children():
        for name, parameter in module.named_parameters():
            if name.startswith("weight_hh"):
                gram = parameter.T @ parameter  # (gates·H, H): orthonormal columns
                assert torch.allclose(gram, torch.eye(gram.shape[0]), atol=1e-5), name
            elif name.startswith("weight_ih"):
                bound = math.sqrt(6 / sum(parameter.shape))
                dist = stats.uniform(-bound, 2 * bound)
                assert_distribution(parameter, dist, bound / math.sqrt(3))
            elif name.startswith("bias"):
                expected = torch.zeros_like(parameter)
                if isinstance(module, (nn.LSTM, nn.LSTMCell)) and name.startswith("bias_ih"):
                    hidden = parameter.shape[0] // 4
                    expected[hidden : 2 * hidden] = 2.0
                assert torch.equal(parameter, expected), name
    # the effective forget bias (bias_ih + bias_hh) is forget_bias
    total = model.lstm.bias_ih_l0 + model.lstm.bias_hh_l0
    assert torch.equal(total[64:128], torch.full((64,), 2.0))


def test_orthogonal_rnn_option_error():
    with pytest.raises(ArgumentTypeError) as excinfo:
        torchinit.get_preset("orthogonal_rnn", forget_bias="1")
    assert error_message(excinfo) == "orthogonal_rnn.forget_bias: must be a number (got '1')"
