"""torchinit.lsuv_init: layer-sequential unit-variance init (Mishkin & Matas 2016)."""

from __future__ import annotations

import copy
import json
import warnings

import pytest
import torch
from torch import nn

import torchinit
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, TorchInitWarning


def _mlp(depth: int = 20, width: int = 64, std: float = 0.01) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layer = nn.Linear(width, width)
        torchinit.Normal(std=std)(
            layer.weight, generator=torch.Generator().manual_seed(len(layers))
        )
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.ReLU()]
    return nn.Sequential(*layers)


def _inputs(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def _output_stds(model: nn.Module, inputs: torch.Tensor, names: list[str]) -> dict[str, float]:
    stds: dict[str, float] = {}
    modules = dict(model.named_modules())

    def hook(name: str):
        def record(module: nn.Module, args: object, output: torch.Tensor) -> None:
            stds.setdefault(name, float(output.double().std()))

        return record

    handles = [modules[name].register_forward_hook(hook(name)) for name in names]
    with torch.no_grad():
        model(inputs)
    for handle in handles:
        handle.remove()
    return stds


def test_every_layer_ends_within_tol_of_the_target() -> None:
    model, inputs = _mlp(), _inputs(256, 64)
    before = _output_stds(model, inputs, ["38"])["38"]
    report = torchinit.lsuv(model, inputs, target_std=1.0, tol=0.05)
    assert before < 1e-20  # N(0, 0.01): the signal is gone after 20 layers
    names = [str(2 * i) for i in range(20)]
    assert [layer.name for layer in report.layers] == names
    assert report.converged
    for name, std in _output_stds(model, inputs, names).items():
        assert abs(std - 1.0) <= 0.05, (name, std)
        assert report[name].final_std == pytest.approx(std, rel=1e-12)


def test_the_model_is_as_before_but_for_its_weights() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Dropout(0.5), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 10))  # fmt: skip
    model.train()
    model[0].requires_grad_(False)
    model[4].weight.grad = torch.ones_like(model[4].weight)
    hook = model[4].register_forward_hook(lambda *args: None)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    rng = torch.get_rng_state()
    torchinit.lsuv(model, _inputs(16, 3, 8, 8), mode="train")
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True, True, True]
    assert torch.equal(model[4].weight.grad, torch.ones_like(model[4].weight))
    assert model[0].weight.grad is None
    assert list(model[4]._forward_hooks) == [hook.id]
    assert all(not m._forward_hooks for m in list(model.modules())[:-1])
    for name, buffer in model.named_buffers():
        assert torch.equal(buffer, buffers[name]), name


def test_agrees_with_the_lsuv_package() -> None:
    package = pytest.importorskip("lsuv")
    model, inputs = _mlp(depth=8, std=0.1), _inputs(128, 64)
    theirs = copy.deepcopy(model)
    names = [str(2 * i) for i in range(8)]
    torchinit.lsuv(model, inputs, tol=0.1)
    package.lsuv_with_singlebatch(theirs, inputs, needed_std=1.0, std_tol=0.1, do_orthonorm=False,
                     verbose=False)  # fmt: skip
    ours, reference = _output_stds(model, inputs, names), _output_stds(theirs, inputs, names)
    for name in names:
        assert abs(ours[name] - 1) <= 0.1
        assert abs(reference[name] - 1) <= 0.1
        assert ours[name] == pytest.approx(reference[name], abs=0.1), name


class _Reordered(nn.Module):
    """Layers registered in another order than the forward pass calls them; one called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.late = nn.Linear(16, 16)
        self.early = nn.Linear(16, 16)
        self.unused = nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.late(torch.tanh(self.early(torch.tanh(self.early(x)))))


def test_layers_are_taken_in_forward_order_and_the_uncalled_are_named() -> None:
    model = _Reordered()
    with pytest.warns(TorchInitWarning) as caught:
        report = torchinit.lsuv(model, _inputs(64, 16))
    assert [layer.name for layer in report.layers] == ["early", "late", "unused"]
    assert report["unused"].initial_std is None
    assert not report.converged
    assert str(caught[0].message) == "lsuv: unused (never called): not within 0.1 of std 1"


def test_a_layer_that_cannot_reach_the_target_is_a_warning() -> None:
    model = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32))
    torchinit.init_model(model, "torch_default", seed=0)
    with torch.no_grad():
        model[2].bias.copy_(torch.linspace(-20, 20, 32))  # its output is mostly its bias
    with pytest.warns(TorchInitWarning, match=r"^lsuv: 2 \(std 1\d\.\d+ after 3 rescalings\)"):
        report = torchinit.lsuv(model, _inputs(64, 32), max_iter=3)
    assert report["0"].converged
    assert not report["2"].converged
    assert report["2"].iterations == 3
    assert str(report).splitlines()[3].startswith("2      Linear  11.")
    assert str(report).splitlines()[3] == "2      Linear  11.91       11.92 (!)  0.0005914  3"


def test_attention_and_transformer_layers_are_reached() -> None:
    layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True, dropout=0.0)
    model = nn.Sequential(nn.Linear(8, 32), layer)
    model.eval()
    fast_path = torch.backends.mha.get_fastpath_enabled()
    with torch.no_grad():
        layer.linear2.weight.mul_(50)
    report = torchinit.lsuv(model, _inputs(4, 10, 8))
    assert [row.name for row in report.layers] == ["0", "1.self_attn", "1.linear1", "1.linear2"]
    assert report.converged
    assert torch.backends.mha.get_fastpath_enabled() == fast_path


def test_orthogonal_pre_init_is_deterministic_and_leaves_the_global_rng() -> None:
    first, second = _mlp(depth=4), _mlp(depth=4)
    rng = torch.get_rng_state()
    for model in (first, second):
        torchinit.lsuv(model, _inputs(64, 64), orthogonal=True,
                       generator=torch.Generator().manual_seed(5))  # fmt: skip
    assert torch.equal(torch.get_rng_state(), rng)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    weight = first[0].weight.detach()
    weight = weight / weight.norm(dim=1, keepdim=True)
    assert torch.allclose(weight @ weight.T, torch.eye(64), atol=1e-5)
    assert all(not m.bias.any() for m in first if isinstance(m, nn.Linear))


class _Keywords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> dict[str, torch.Tensor]:
        return {"mask": x > 0, "hidden": self.proj(x) * scale}


@pytest.mark.parametrize("inputs", [{"x": _inputs(32, 8), "scale": 3.0}, (_inputs(32, 8), 3.0)])
def test_inputs_may_be_keywords_or_positional(inputs) -> None:
    report = torchinit.lsuv(_Keywords(), inputs)
    assert report["proj"].converged


def test_include_and_exclude_choose_the_layers() -> None:
    model = _mlp(depth=4)
    report = torchinit.lsuv(model, _inputs(64, 64), include="[0-4]", exclude=["2"])
    assert [row.name for row in report.layers] == ["0", "4"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"target_std": 0}, InvalidArgumentError, "target_std: must be > 0 (got 0)"),
        ({"tol": -1.0}, InvalidArgumentError, "tol: must be > 0 (got -1.0)"),
        ({"max_iter": 0}, InvalidArgumentError, "max_iter: must be >= 1 (got 0)"),
        (
            {"mode": "test"},
            InvalidArgumentError,
            "mode: must be one of ['eval', 'train'] (got 'test')",
        ),
        ({"types": [nn.Linear, "Conv2d"]}, ArgumentTypeError, "types: must be nn.Module classes"),
    ],
)
def test_arguments_are_checked(kwargs, error, message) -> None:
    with pytest.raises(error) as caught:
        torchinit.lsuv(nn.Linear(2, 2), _inputs(4, 2), **kwargs)
    assert str(caught.value).startswith(message)


def test_the_report_prints_and_is_json_ready() -> None:
    model = _mlp(depth=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = torchinit.lsuv(model, _inputs(64, 64))
    lines = str(report).splitlines()
    assert lines[0] == "lsuv: 2 layers, every layer within 0.1 of std 1"
    assert lines[1].split() == ["layer", "type", "std", "before", "std", "after", "scale",
                                "iterations"]  # fmt: skip
    data = json.loads(json.dumps(report.to_dict()))
    assert data["converged"] is True
    assert data["layers"][0]["name"] == "0"
