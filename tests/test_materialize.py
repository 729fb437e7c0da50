"""torchinit.materialize: init_model(meta_model, policy, device=..., seed=N)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import torchinit as ti


class Tiny(nn.Module):
    """Conv + BN + a tied embedding/head + an unmatched Linear and a frozen LayerNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.embed = nn.Embedding(20, 8)
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.norm.requires_grad_(False)
        self.head = nn.Linear(8, 20, bias=False)
        self.head.weight = self.embed.weight


POLICY = ti.Policy(
    [
        ti.Rule(nn.Conv2d, weight=ti.KaimingNormal(mode="fan_out"), bias="zeros"),
        ti.Rule(nn.BatchNorm2d, weight="ones", bias="zeros"),
        ti.Rule(nn.Embedding, weight=ti.Normal(0.0, 0.02)),
    ],
    name="tiny",
)
# what the meta path adds for the tensors no rule sets: their layer's own reset
DEFAULTS = POLICY.then(
    ti.Rule(name="proj", weight="torch_default", bias="torch_default"),
    ti.Rule(name="norm", weight="torch_default", bias="torch_default"),
)


def on_meta() -> Tiny:
    with torch.device("meta"):
        return Tiny()


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return model.state_dict()


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    left, right = state(a), state(b)
    assert left.keys() == right.keys()
    for key in left:
        assert torch.equal(left[key], right[key]), key


def test_keyed_meta_to_cpu_equals_keyed_init_on_the_cpu() -> None:
    meta = on_meta()
    report = ti.init_model(meta, POLICY, device="cpu", seed=5)
    cpu = Tiny()
    ti.init_model(cpu, DEFAULTS, seed=5)
    assert_same_state(meta, cpu)
    assert not any(t.is_meta for t in meta.state_dict().values())
    assert report["proj.weight"].rule_label == "layer default (no rule matched)"
    assert report["proj.weight"].status == "initialized"
    assert report.unmatched == []


def test_unseeded_meta_to_cpu_draws_like_the_same_loop_on_the_cpu() -> None:
    meta = on_meta()
    torch.manual_seed(3)
    ti.init_model(meta, POLICY, device="cpu")
    after_meta = torch.get_rng_state()
    cpu = Tiny()
    torch.manual_seed(3)
    ti.init_model(cpu, DEFAULTS)
    assert_same_state(meta, cpu)
    assert torch.equal(torch.get_rng_state(), after_meta)


def test_ties_buffers_and_requires_grad_are_restored() -> None:
    model = on_meta()
    ti.init_model(model, POLICY, device="cpu", seed=1)
    assert model.head.weight is model.embed.weight
    assert torch.equal(model.bn.running_mean, torch.zeros(8))
    assert torch.equal(model.bn.running_var, torch.ones(8))
    assert int(model.bn.num_batches_tracked) == 0
    assert not model.norm.weight.requires_grad
    assert model.proj.weight.requires_grad


def test_frozen_skipped_and_excluded_tensors_get_their_layer_default() -> None:
    model = on_meta()
    report = ti.init_model(
        model, DEFAULTS, device="cpu", seed=2, skip_frozen=True, exclude="conv.bias"
    )
    assert report["norm.weight"].rule_label == (
        "layer default (skipped: frozen (requires_grad=False) and skip_frozen=True)"
    )
    assert report["conv.bias"].rule_label == "layer default (excluded by include/exclude)"
    assert torch.equal(model.norm.weight, torch.ones(8))
    assert float(model.conv.bias.detach().abs().max()) <= 1 / (3 * 9) ** 0.5


def test_plan_on_a_meta_model_allocates_nothing() -> None:
    model = on_meta()
    report = ti.plan(model, POLICY, device="cpu", seed=1)
    assert all(t.is_meta for t in model.state_dict().values())
    assert [e.name for e in report.initialized][:2] == ["conv.weight", "conv.bias"]
    assert "layer default (no rule matched)" in str(report)


@pytest.mark.parametrize("seed", [None, 1])
def test_plan_on_a_meta_model_needs_no_device(seed: int | None) -> None:
    model = on_meta()
    report = ti.plan(model, DEFAULTS, seed=seed, skip_frozen=True)
    assert all(t.is_meta for t in model.state_dict().values())
    assert report.to_dict()["entries"] == ti.plan(model, DEFAULTS, seed=seed, skip_frozen=True,
                                                 device="cpu").to_dict()["entries"]  # fmt: skip
    assert "layer default (skipped: frozen" in str(report)
    # init_model still needs to know where to materialize
    with pytest.raises(ti.InvalidArgumentError, match="pass device='cpu' or 'cuda'"):
        ti.init_model(model, DEFAULTS, seed=seed)


def test_plan_on_a_meta_model_checks_its_buffers() -> None:
    class Scaled(nn.Linear):
        def __init__(self) -> None:
            super().__init__(2, 2)
            self.register_buffer("scale", torch.ones(2))

    with torch.device("meta"):
        model = nn.Sequential(Scaled())
    with pytest.raises(ti.PlanError, match=r"buffers \['0.scale'\] are on the meta device"):
        ti.plan(model, POLICY)


def test_torchvision_resnet_on_meta() -> None:
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        meta = torchvision.models.resnet18(weights=None)
    report = ti.init_model(meta, "resnet", device="cpu", seed=0)
    cpu = torchvision.models.resnet18(weights=None)
    ti.init_model(
        cpu,
        ti.get_preset("resnet").then(
            ti.Rule(nn.Linear, weight="torch_default", bias="torch_default")
        ),
        seed=0,
    )
    assert_same_state(meta, cpu)
    assert report["fc.weight"].strategy == ti.TorchDefault()


def test_hugging_face_rotary_inv_freq_is_recomputed() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
    )  # fmt: skip
    reference = transformers.LlamaModel(config)
    with torch.device("meta"):
        meta = transformers.LlamaModel(config)
    report = ti.init_model(meta, "llama", device="cpu", seed=0)
    assert torch.equal(meta.rotary_emb.inv_freq, reference.rotary_emb.inv_freq)
    assert torch.equal(meta.rotary_emb.original_inv_freq, reference.rotary_emb.inv_freq)
    assert report.unmatched == []
    assert not any(t.is_meta for t in meta.state_dict().values())


class Computed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.register_buffer("table", torch.arange(4.0))


def test_a_buffer_nothing_can_restore_is_an_error_before_anything_is_allocated() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.BatchNorm1d(2), Computed())
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(model, "torch_default", device="cpu", seed=0)
    assert str(info.value) == (
        "device: buffers ['1.table'] are on the meta device and torchinit cannot compute their "
        "values; register how with torchinit.register_buffer_init(LayerClass, buffers=[...]), "
        "or build the model with those buffers on a real device"
    )
    assert all(t.is_meta for t in model.state_dict().values())


def test_register_buffer_init_restores_a_custom_buffer() -> None:
    @ti.register_buffer_init(Computed, buffers=["table"])
    def _table(layer: nn.Module) -> None:
        layer.table.copy_(torch.arange(4.0))

    try:
        with torch.device("meta"):
            model = Computed()
        ti.init_model(model, "torch_default", device="cpu", seed=0)
        assert torch.equal(model.table, torch.arange(4.0))
    finally:
        ti.materialize._RESTORERS.remove(f"{__name__}.Computed")


def test_register_buffer_init_refuses_a_layer_registered_twice() -> None:
    def table(layer: nn.Module) -> None:
        layer.table.copy_(torch.arange(4.0))

    def doubled(layer: nn.Module) -> None:
        layer.table.copy_(2 * torch.arange(4.0))

    ti.register_buffer_init(Computed, buffers=["table"])(table)
    try:
        with pytest.raises(ti.RegistryError) as info:
            ti.register_buffer_init(Computed, buffers=["table"])(doubled)
        assert str(info.value) == (
            f"name: a buffer init named '{__name__}.Computed' is already registered; "
            f"pass overwrite=True to replace it (got '{__name__}.Computed')"
        )
        ti.register_buffer_init(Computed, buffers=["table"], overwrite=True)(doubled)
        with torch.device("meta"):
            model = Computed()
        ti.init_model(model, "torch_default", device="cpu", seed=0)
        assert torch.equal(model.table, 2 * torch.arange(4.0))
    finally:
        ti.materialize._RESTORERS.remove(f"{__name__}.Computed")


class Bare(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))


def test_a_parameter_no_rule_sets_and_without_a_layer_reset_is_an_error() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(3, 3), Bare())
    linear_only = ti.Policy([ti.Rule(nn.Linear, weight="torch_default", bias="torch_default")])
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(model, linear_only, device="cpu", seed=0)
    assert str(info.value) == (
        "device: parameters ['1.scale (Bare; no rule matched)'] are on the meta device, no rule "
        "sets them and their layer has no reset_parameters(); add rules for them"
    )
    report = ti.init_model(
        model, ti.Policy([ti.Rule(param="1.scale", init="ones")]), device="cpu", seed=0
    )
    assert torch.equal(model[1].scale, torch.ones(3))
    assert report["0.weight"].strategy == ti.TorchDefault()


@pytest.mark.parametrize(
    ("device", "error", "message"),
    [
        (None, ti.InvalidArgumentError, "device: the model has tensors on the meta device (e.g. "
         "'conv.weight'); pass device='cpu' or 'cuda' to materialize and initialize them "
         "(got None)"),
        ("meta", ti.InvalidArgumentError,
         "device: is the device to materialize on; it cannot be meta (got 'meta')"),
        ("gpu", ti.InvalidArgumentError, "device: is not a device"),
        (1.5, ti.ArgumentTypeError,
         "device: must be a torch.device, a device string or None (got 1.5)"),
    ],
)  # fmt: skip
def test_bad_devices_for_a_meta_model(device: object, error: type, message: str) -> None:
    model = on_meta()
    with pytest.raises(error) as info:
        ti.init_model(model, POLICY, device=device, seed=0)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert all(t.is_meta for t in model.state_dict().values())


def test_device_on_a_model_that_is_not_on_meta() -> None:
    model = Tiny()
    before = {k: v.clone() for k, v in state(model).items()}
    ti.init_model(model, POLICY, device="cpu", seed=0)  # its own device: no-op
    ti.init_model(model, POLICY, device=torch.device("cpu"), seed=0)
    with pytest.raises(ti.InvalidArgumentError) as info:
        ti.init_model(Tiny(), POLICY, device="cuda", seed=0)
    assert str(info.value) == (
        "device: the model is on cpu (e.g. 'conv.weight'), not on the meta device; device= only "
        "materializes meta models: move the model with .to() instead (got 'cuda')"
    )
    assert not torch.equal(before["conv.weight"], model.conv.weight)


def test_real_tensors_beside_meta_ones_are_kept() -> None:
    """As accelerate's init_empty_weights(include_buffers=False) leaves them."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2, device="meta"))
    kept = model[0].weight.detach().clone()
    policy = ti.Policy([ti.Rule(name="1", weight="zeros")])
    report = ti.init_model(model, policy, device="cpu", seed=0)
    assert torch.equal(model[0].weight, kept)
    assert torch.equal(model[1].weight, torch.zeros(2, 2))
    assert report.unmatched == ["0.weight", "0.bias"]
    assert report["1.bias"].strategy == ti.TorchDefault()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_meta_to_cuda_equals_meta_to_cpu() -> None:
    cpu, cuda = on_meta(), on_meta()
    ti.init_model(cpu, POLICY, device="cpu", seed=4)
    ti.init_model(cuda, POLICY, device="cuda", seed=4)
    for key, value in state(cpu).items():
        assert torch.equal(value, state(cuda)[key].cpu()), key
