"""torchinit.diagnosis: diagnose, compare_policies."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import torchinit as ti

KAIMING = ti.Policy(
    [ti.Rule(nn.Linear, weight=ti.KaimingNormal(mode="fan_in", nonlinearity="relu"), bias="zeros")],
    name="kaiming",
)
XAVIER = ti.Policy([ti.Rule(nn.Linear, weight="xavier_normal", bias="zeros")], name="xavier")


def deep_relu(depth: int = 30, width: int = 512) -> nn.Sequential:
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(depth)])


def inputs(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- the done-when figures: He et al.'s forward analysis, measured


@pytest.fixture(scope="module")
def deep_diagnoses() -> dict[str, ti.Diagnosis]:
    comparison = ti.compare_policies(
        deep_relu, [KAIMING, XAVIER, "torch_default"], inputs(256, 512), seed=0
    )
    return comparison.diagnoses


def layer_outputs(diagnosis: ti.Diagnosis) -> list[ti.LayerRow]:
    """The rows of the outputs of the 30 layers (Linear + ReLU): their ReLUs'."""
    return [row for row in diagnosis.layers if row.type == "ReLU"]


def test_kaiming_keeps_the_output_std_over_30_relu_layers(
    deep_diagnoses: dict[str, ti.Diagnosis],
) -> None:
    layers = deep_diagnoses["kaiming"].layers
    assert [row.label for row in layers[:3]] == ["0.0", "0.1", "1.0"]
    assert len(layers) == 60
    outputs = layer_outputs(deep_diagnoses["kaiming"])
    assert 0.3 <= outputs[-1].out_std / outputs[0].out_std <= 3
    assert 0.3 <= outputs[0].grad_std / outputs[-1].grad_std <= 3  # type: ignore[operator]


def test_xavier_loses_the_output_std_over_30_relu_layers(
    deep_diagnoses: dict[str, ti.Diagnosis],
) -> None:
    outputs = layer_outputs(deep_diagnoses["xavier"])
    assert outputs[-1].out_std / outputs[0].out_std < 1e-3
    assert outputs[0].grad_std / outputs[-1].grad_std < 1e-3  # type: ignore[operator]


def test_the_guide_shows_the_measured_figures(deep_diagnoses: dict[str, ti.Diagnosis]) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "diagnose.md").read_text(
        encoding="utf-8"
    )
    for label, diagnosis in deep_diagnoses.items():
        first, last = layer_outputs(diagnosis)[0], layer_outputs(diagnosis)[-1]
        forward = last.out_std / first.out_std
        backward = first.grad_std / last.grad_std  # type: ignore[operator]
        assert f"| `{label}` | {forward:.2g} | {backward:.2g} |" in page


def test_relu_outputs_are_half_zeros(deep_diagnoses: dict[str, ti.Diagnosis]) -> None:
    for row in deep_diagnoses["kaiming"].layers:
        if row.type == "ReLU":
            assert 0.4 < row.zero_fraction < 0.6
            assert row.saturated_fraction is None
        else:
            assert row.zero_fraction == 0.0


def test_the_default_loss_sends_a_unit_gradient_into_the_output() -> None:
    model = deep_relu(depth=3, width=16)
    diagnosis = ti.diagnose(model, inputs(8, 16))
    projection = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    last = diagnosis.layers[-1]
    assert last.grad_std == projection.std(correction=0).item()
    assert all(row.grad_std is not None and row.grad_std > 0 for row in diagnosis.layers)


def test_rows_hold_the_exact_statistics_of_each_output() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh())
    x = inputs(5, 4)
    diagnosis = ti.diagnose(model, x)
    hidden = model[0](x).detach()
    linear = diagnosis.layers[0]
    assert linear.out_mean == hidden.mean().item()
    assert linear.out_std == hidden.std(correction=0).item()
    assert linear.out_rms == hidden.square().mean().sqrt().item()
    assert diagnosis.layers[1].out_std == torch.tanh(hidden).std(correction=0).item()


# --- the model is left exactly as it was


class Everything(nn.Module):
    """BatchNorm in train mode, dropout, a frozen layer, grads already there, an in-place ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = nn.Linear(8, 8)
        self.frozen.requires_grad_(False)
        self.linear = nn.Linear(8, 8)
        self.bn = nn.BatchNorm1d(8)
        self.drop = nn.Dropout(0.5)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(8, 2)
        self.head.eval()  # a mixed model: one module in eval mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.drop(self.bn(self.linear(self.frozen(x))))))


def snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "state": {name: value.clone() for name, value in model.state_dict().items()},
        "training": [module.training for module in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "grad_values": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "hooks": [
            {name: dict(value) for name, value in vars(module).items() if "hooks" in name}
            for module in model.modules()
        ],
        "rng": torch.get_rng_state(),
    }


def assert_unchanged(before: dict[str, Any], model: nn.Module) -> None:
    after = snapshot(model)
    assert before["state"].keys() == after["state"].keys()
    for name, value in before["state"].items():
        assert torch.equal(value, after["state"][name]), name
    assert before["training"] == after["training"]
    assert before["requires_grad"] == after["requires_grad"]
    # the same grad objects, with the same values
    assert all(a is b for a, b in zip(before["grads"], after["grads"], strict=True))
    for old, new in zip(before["grad_values"], after["grad_values"], strict=True):
        assert (old is None and new is None) or torch.equal(old, new)
    assert before["hooks"] == after["hooks"]
    assert torch.equal(before["rng"], after["rng"])


@pytest.mark.parametrize("mode", [None, "train", "eval"])
def test_diagnose_leaves_the_model_as_it_was(mode: Any) -> None:
    torch.manual_seed(0)
    model = Everything()
    model.linear.weight.grad = torch.ones_like(model.linear.weight)
    model.head.register_forward_hook(lambda *args: None)
    before = snapshot(model)
    diagnosis = ti.diagnose(model, inputs(16, 8), mode=mode)
    assert diagnosis.mode == (mode or "train")
    assert_unchanged(before, model)
    # and the pass did run in that mode: BatchNorm's batch statistics normalise in train mode
    bn = next(row for row in diagnosis.layers if row.name == "bn")
    if mode == "eval":
        assert bn.out_std != pytest.approx(1.0, abs=1e-3)
    else:
        assert bn.out_std == pytest.approx(1.0, abs=1e-3)


def test_without_a_mode_each_module_keeps_its_own() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
    with torch.no_grad():
        model[1].running_var.fill_(100.0)
    model[1].eval()  # a frozen BatchNorm in a model in train mode
    as_is = ti.diagnose(model, inputs(16, 8))
    assert as_is.mode == "train"
    assert as_is.layers[1].out_std < 0.2  # normalised by the running variance of 100
    trained = ti.diagnose(model, inputs(16, 8), mode="train")
    assert trained.layers[1].out_std == pytest.approx(1.0, abs=1e-3)
    assert not model[1].training


def test_a_layer_that_returns_its_input_leaves_no_hook_on_it() -> None:
    # nn.Identity hands back the caller's own tensor: the gradient hook on it must go too
    x = inputs(4, 3).requires_grad_(True)
    diagnosis = ti.diagnose(nn.Sequential(nn.Identity(), nn.Linear(3, 2)), x)
    assert diagnosis.layers[0].grad_std is None  # no parameter before it: no gradient there
    assert not x._backward_hooks
    assert x.grad is None


def test_an_in_place_activation_does_not_change_the_row_before_it() -> None:
    def build(inplace: bool) -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=inplace), nn.Linear(8, 3))

    plain = ti.diagnose(build(False), inputs(16, 4))
    in_place = ti.diagnose(build(True), inputs(16, 4))
    assert in_place.layers == plain.layers
    assert plain.layers[0].zero_fraction == 0.0


def test_a_module_called_twice_gives_a_row_per_call() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 4)
            self.act = nn.Tanh()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.linear(self.act(x)))

    diagnosis = ti.diagnose(Twice(), inputs(3, 4))
    rows = [(row.name, row.call, row.label) for row in diagnosis.layers]
    assert rows == [("act", 0, "act"), ("linear", 0, "linear"), ("act", 1, "act#1")]
    # the first tanh sees only the input: no gradient reaches it on its way to a parameter
    assert diagnosis.layers[0].grad_std is None
    assert diagnosis.layers[2].grad_std is not None


def test_saturated_fraction_of_bounded_activations_with_huge_weights() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 64), nn.ReLU6()
    )
    ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0.0, 100.0))]), seed=0)
    diagnosis = ti.diagnose(model, inputs(32, 64))
    fractions = {row.type: row.saturated_fraction for row in diagnosis.layers}
    assert fractions["Linear"] is None
    for name in ("Tanh", "Sigmoid", "ReLU6"):
        assert fractions[name] is not None, name
        assert fractions[name] > 0.95, name


def test_saturated_fraction_is_small_with_a_sane_init() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh())
    ti.init_model(model, XAVIER, seed=0)
    fraction = ti.diagnose(model, inputs(32, 64)).layers[1].saturated_fraction
    assert fraction is not None
    assert fraction < 0.05


def test_attention_gets_a_row() -> None:
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(16, 2, batch_first=True)
            self.norm = nn.LayerNorm(16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(x + self.attn(x, x, x)[0])

    diagnosis = ti.diagnose(Attention(), inputs(2, 5, 16))
    assert [row.name for row in diagnosis.layers] == ["attn", "norm"]
    assert all(row.grad_std is not None for row in diagnosis.layers)


# --- inputs and outputs of every shape


class DictOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.linear = nn.Linear(8, 8)

    def forward(self, ids: torch.Tensor, scale: float = 1.0) -> dict[str, Any]:
        hidden = self.linear(self.embed(ids)) * scale
        return {"ids": ids, "out": (hidden, hidden.sum())}


def test_token_ids_as_keyword_arguments_and_a_dict_output() -> None:
    ids = torch.randint(0, 10, (2, 5), generator=torch.Generator().manual_seed(0))
    by_kwargs = ti.diagnose(DictOut(), {"ids": ids, "scale": 2.0})
    assert [row.name for row in by_kwargs.layers] == ["embed", "linear"]
    assert by_kwargs.layers[-1].grad_std is not None
    torch.manual_seed(0)
    model = DictOut()
    by_args = ti.diagnose(model, (ids, 2.0))
    assert by_args.layers[0].out_std == model.embed.weight[ids].std(correction=0).item()


def test_a_custom_loss_is_called_on_the_whole_output() -> None:
    seen = []

    def loss(output: dict[str, Any]) -> torch.Tensor:
        seen.append(sorted(output))
        return output["out"][1] * 3.0

    ids = torch.arange(5).reshape(1, 5)
    diagnosis = ti.diagnose(DictOut(), ids, loss=loss)
    assert seen == [["ids", "out"]]
    # d(3 * sum(hidden)) / d(hidden) is 3 everywhere: std 0
    assert diagnosis.layers[-1].grad_std == 0.0


def test_hugging_face_model_output() -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=50, n_positions=16)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config)
    ids = torch.randint(0, 50, (2, 8), generator=torch.Generator().manual_seed(0))
    report = ti.init_model(model, "gpt2", seed=0)
    before = snapshot(model)
    diagnosis = ti.diagnose(model, ids, report=report)
    assert_unchanged(before, model)
    names = [row.name for row in diagnosis.layers]
    assert names[:2] == ["transformer.wte", "transformer.wpe"]
    assert "transformer.h.1.attn.c_attn" in names
    assert names[-1] == "lm_head"
    assert all(
        row.grad_std is not None for row in diagnosis.layers if row.name != "transformer.wpe"
    )
    targets = {row.name: row.target_std for row in diagnosis.params}
    assert targets["transformer.wte.weight"] == 0.02
    # GPT-2 scales the residual projections by 1/sqrt(2 * n_layer)
    assert targets["transformer.h.0.attn.c_proj.weight"] == pytest.approx(0.01)


def test_resnet18_in_train_mode_keeps_its_batchnorm_statistics() -> None:
    models = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    torch.manual_seed(0)
    model = models.resnet18(weights=None, num_classes=10)
    model.train()
    before = snapshot(model)
    diagnosis = ti.diagnose(model, inputs(2, 3, 64, 64))
    assert_unchanged(before, model)
    labels = [row.label for row in diagnosis.layers]
    # BasicBlock calls its one ReLU twice
    assert labels.count("layer1.0.relu") == 1
    assert labels.count("layer1.0.relu#1") == 1
    assert labels[-1] == "fc"
    assert diagnosis.mode == "train"


# --- target_std


def test_target_std_comes_from_the_report() -> None:
    model = nn.Sequential(nn.Linear(100, 50), nn.Linear(50, 50), nn.LayerNorm(50))
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight=ti.XavierUniform(), bias=ti.TruncNormal(std=0.1)),
            ti.Rule(nn.LayerNorm, weight="ones"),
        ]
    )
    report = ti.init_model(model, policy, seed=0)
    params = {row.name: row for row in ti.diagnose(model, inputs(4, 100), report=report).params}
    assert params["0.weight"].target_std == pytest.approx(math.sqrt(2 / 150))
    assert params["0.weight"].std == pytest.approx(math.sqrt(2 / 150), rel=0.05)
    assert params["2.weight"].target_std == 0.0
    assert params["2.bias"].target_std is None  # not initialized by the policy
    assert params["2.weight"].shape == (50,)
    without = ti.diagnose(model, inputs(4, 100))
    assert all(row.target_std is None for row in without.params)


# --- the table, JSON and the plot


def test_table_and_json() -> None:
    torch.manual_seed(0)
    diagnosis = ti.diagnose(nn.Sequential(nn.Linear(3, 2), nn.Tanh()), inputs(4, 3))
    lines = str(diagnosis).splitlines()
    assert lines[0] == "torchinit.diagnose: Sequential (train mode): 2 layer calls, 2 parameters"
    assert lines[1].split() == [
        "layer", "type", "out_mean", "out_std", "out_rms", "zero", "saturated", "grad_std"
    ]  # fmt: skip
    assert lines[2].split()[:2] == ["0", "Linear"]
    assert lines[2].split()[6] == "-"
    assert lines[5].split() == ["parameter", "shape", "std", "target_std"]
    assert lines[6].split()[:2] == ["0.weight", "2x3"]
    assert lines[6].split()[3] == "-"
    data = json.loads(json.dumps(diagnosis.to_dict(), allow_nan=False))
    assert data["layers"][0]["name"] == "0"
    assert data["layers"][0]["call"] == 0
    assert data["params"][0] == {
        "name": "0.weight",
        "shape": [2, 3],
        "std": diagnosis.params[0].std,
        "target_std": None,
    }


def test_nan_statistics_become_null_in_json() -> None:
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(math.inf)
    data = ti.diagnose(model, torch.ones(1, 2), backward=False).to_dict()
    json.dumps(data, allow_nan=False)
    assert data["layers"][0]["out_std"] is None


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    diagnosis = ti.diagnose(deep_relu(depth=3, width=8), inputs(4, 8))
    path = tmp_path / "diagnosis.png"
    diagnosis.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    diagnosis = ti.diagnose(nn.Linear(2, 2), torch.ones(1, 2))
    with pytest.raises(ti.MissingDependencyError) as error:
        diagnosis.plot(tmp_path / "x.png")
    assert isinstance(error.value, ImportError)
    assert str(error.value) == (
        f"plot: plot needs matplotlib: pip install torchinit[plot] (got '{tmp_path / 'x.png'}')"
    )


# --- compare_policies


def test_compare_policies_draws_every_policy_from_the_same_seed(tmp_path: Path) -> None:
    def build() -> nn.Module:
        return deep_relu(depth=10, width=64)

    x = inputs(32, 64)
    rng = torch.get_rng_state()
    comparison = ti.compare_policies(build, [KAIMING, XAVIER, "torch_default"], x, seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert list(comparison.diagnoses) == ["kaiming", "xavier", "torch_default"]
    model = build()
    report = ti.init_model(model, XAVIER, seed=3)
    assert comparison.diagnoses["xavier"] == ti.diagnose(model, x, report=report)
    lines = str(comparison).splitlines()
    assert lines[0].split()[:4] == ["depth", "layer", "kaiming", "out_std"]
    assert lines[1].split()[:2] == ["0", "0.0"]
    assert len(lines) == 21
    json.dumps(comparison.to_dict())
    labelled = ti.compare_policies(build, {"He": KAIMING}, x)
    assert list(labelled.diagnoses) == ["He"]
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    comparison.plot(tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 0


# --- errors


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: ti.diagnose(nn.Linear(2, 2), torch.ones(1, 2), mode="test"),  # type: ignore[arg-type]
            ti.InvalidArgumentError,
            "mode: must be one of ['eval', 'train'] (got 'test')",
        ),
        (
            lambda: ti.diagnose(nn.Linear(2, 2), [torch.ones(1, 2)]),  # type: ignore[arg-type]
            ti.ArgumentTypeError,
            "inputs: must be a tensor, a tuple of positional arguments or a mapping of keyword "
            "arguments (got 'list')",
        ),
        (
            lambda: ti.diagnose("model", torch.ones(1, 2)),  # type: ignore[arg-type]
            ti.ArgumentTypeError,
            "model: must be a torch.nn.Module (got 'model')",
        ),
        (
            lambda: ti.diagnose(nn.Linear(2, 2), torch.ones(1, 2), loss=lambda out: out),
            ti.ArgumentTypeError,
            "loss(output): must return a tensor of one element (got tensor(",
        ),
        (
            lambda: ti.diagnose(nn.Identity(), torch.ones(1, 2, dtype=torch.long)),
            ti.ArgumentTypeError,
            "diagnose: the model's output holds no floating-point tensor; pass loss= or "
            "backward=False (got 'Tensor')",
        ),
        (
            lambda: ti.compare_policies(lambda: "model", ["resnet"], torch.ones(1, 2)),
            ti.ArgumentTypeError,
            "build_model(): must return a torch.nn.Module (got 'model')",
        ),
        (
            lambda: ti.compare_policies(nn.Identity, "resnet", torch.ones(1, 2)),
            ti.ArgumentTypeError,
            "policies: must be a list of policies or a mapping of labels to policies "
            "(got 'resnet')",
        ),
        (
            lambda: ti.compare_policies(nn.Identity, [], torch.ones(1, 2)),
            ti.InvalidArgumentError,
            "policies: must hold at least one policy (got [])",
        ),
        (
            lambda: ti.compare_policies(nn.Identity, [XAVIER, XAVIER], torch.ones(1, 2)),
            ti.InvalidArgumentError,
            "policies: two policies have this label; pass a mapping of labels to policies "
            "(got 'xavier')",
        ),
    ],
)
def test_error_messages(call: Callable[[], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(message)


def test_an_error_inside_the_pass_leaves_the_model_as_it_was() -> None:
    model = Everything()
    before = snapshot(model)
    with pytest.raises(ti.ArgumentTypeError):
        ti.diagnose(model, inputs(4, 8), loss=lambda out: out)
    assert_unchanged(before, model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_matches_the_cpu_numbers() -> None:
    model = deep_relu(depth=4, width=64)
    ti.init_model(model, KAIMING, seed=0)
    x = inputs(32, 64)
    on_cpu = ti.diagnose(model, x)
    cuda_rng = torch.cuda.get_rng_state_all()
    model.cuda()
    before = snapshot(model)
    on_cuda = ti.diagnose(model, x.cuda())
    assert_unchanged(before, model)
    assert all(
        torch.equal(a, b) for a, b in zip(cuda_rng, torch.cuda.get_rng_state_all(), strict=True)
    )
    for cpu_row, cuda_row in zip(on_cpu.layers, on_cuda.layers, strict=True):
        # TF32 or another summation order may move the last digits, and flip a value near 0
        assert cuda_row.out_std == pytest.approx(cpu_row.out_std, rel=1e-2)
        assert cuda_row.zero_fraction == pytest.approx(cpu_row.zero_fraction, abs=1e-2)
    # the default loss's projection is drawn on the output's device: a CUDA draw, not the CPU one
    assert on_cuda.layers[-1].grad_std == pytest.approx(1.0, rel=0.1)
