"""torchinit.integrations.torchtitan: ``init_weights`` after ``to_empty``, sharded or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

import torchinit as ti
from torchinit.integrations.torchtitan import init_weights

SEED = 7
POLICY = ti.Policy(
    [
        ti.Rule(nn.Linear, weight=ti.TruncNormal(std=0.02), bias="zeros"),
        ti.Rule(nn.BatchNorm1d, weight="ones", bias="zeros"),
    ]
)


def net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.Linear(6, 3))


def emptied() -> nn.Sequential:
    """``net()`` as torchtitan has it before ``init_weights``: built on meta, then
    ``to_empty``; every tensor set to NaN, so that a tensor left alone shows."""
    with torch.device("meta"):
        model = net()
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.fill_(0 if tensor.dtype == torch.long else float("nan"))
    return model


def tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def assert_same(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for name, value in got.items():
        assert torch.equal(value, expected[name]), name


def reference() -> dict[str, torch.Tensor]:
    """The same policy and seed on a model built on the CPU."""
    model = net()
    ti.init_model(model, POLICY, seed=SEED)
    return tensors(model)


def test_every_tensor_gets_the_value_of_an_ordinary_init() -> None:
    model = emptied()
    report = init_weights(model, POLICY, seed=SEED)
    assert_same(tensors(model), reference())
    assert report.summary().endswith("6 tensors initialized, 0 unmatched, 0 skipped, 0 excluded")


def test_buffers_are_allocated_on_buffer_device() -> None:
    model = emptied()
    before = model[1].running_var
    init_weights(model, POLICY, seed=SEED, buffer_device="cpu")
    assert model[1].running_var is not before
    assert model[1].running_var.device == torch.device("cpu")
    assert_same(tensors(model), reference())


def test_a_model_still_on_meta_is_refused() -> None:
    with torch.device("meta"):
        model = net()
    with pytest.raises(ti.InvalidArgumentError) as caught:
        init_weights(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "model: has tensors on the meta device (e.g. '0.weight'): call "
        "model.to_empty(device=...) first, as torchtitan does, or let "
        "torchinit.init_model(model, policy, device=..., seed=...) materialize it "
        "(got 'Sequential')"
    )


def test_buffer_device_cannot_be_meta() -> None:
    with pytest.raises(ti.InvalidArgumentError) as caught:
        init_weights(emptied(), POLICY, seed=SEED, buffer_device="meta")
    assert str(caught.value) == (
        "buffer_device: is the device to materialize on; it cannot be meta (got 'meta')"
    )


class Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("factor", torch.ones(3))


def test_a_buffer_nothing_can_restore_is_refused_before_anything_is_written() -> None:
    model = emptied()
    model.append(Scale())
    with pytest.raises(ti.PlanError) as caught:
        init_weights(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "model: buffers ['3.factor'] hold the uninitialized memory of to_empty and torchinit "
        "cannot compute their values; register how with "
        "torchinit.register_buffer_init(LayerClass, buffers=[...])"
    )
    assert all(tensor.isnan().all() for tensor in model.parameters())


def test_a_parameter_the_policy_does_not_set_is_refused_before_anything_is_written() -> None:
    model = emptied()
    model[2].bias.requires_grad_(False)
    linear_only = ti.Policy([ti.Rule(nn.Linear, weight="zeros", bias="zeros")])
    with pytest.raises(ti.PlanError) as caught:
        init_weights(model, linear_only, seed=SEED, skip_frozen=True)
    assert str(caught.value) == (
        "policy: parameters ['1.weight (unmatched)', '1.bias (unmatched)', '2.bias (skipped)'] "
        "hold the uninitialized memory of to_empty and the policy does not set them: add "
        "rules for them"
    )
    assert all(tensor.isnan().all() for tensor in model.parameters())
    assert model[1].running_var.isnan().all()


# --------------------------------------------------------------------------- FSDP2, one rank


@pytest.fixture(scope="module")
def mesh() -> Iterator[Any]:
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is unavailable")
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def test_fsdp2_shards_get_the_unsharded_values(mesh: Any) -> None:
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor

    with torch.device("meta"):
        model = net()
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    init_weights(model, POLICY, seed=SEED)
    assert isinstance(model[0].weight, DTensor)
    full = {
        name: value.full_tensor() if isinstance(value, DTensor) else value
        for name, value in tensors(model).items()
    }
    assert_same(full, reference())
