"""torchtitan's ``init_weights(buffer_device=...)`` as one call to a torchinit policy.

torchtitan builds a model on the meta device, shards it (``fully_shard``, tensor parallelism),
allocates it with ``model.to_empty(device=...)`` and then calls
``model.init_weights(buffer_device=...)``, which must give every parameter *and* every buffer
its value: after ``to_empty`` all of them hold uninitialized memory. :func:`init_weights` is
the whole body of such a method::

    class Transformer(nn.Module):
        def init_weights(self, buffer_device: torch.device | None = None) -> None:
            torchinit.integrations.torchtitan.init_weights(
                self, POLICY, seed=0, buffer_device=buffer_device
            )

With keyed seeding every parameter's global value is the same on any sharding and any number
of ranks, and equal to what the unsharded model gets (:doc:`/guide/distributed`). The package
torchtitan itself is not needed.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from torchinit.engine import init_model, plan
from torchinit.errors import InvalidArgumentError, PlanError
from torchinit.materialize import _tensors, find_restorers, target_device
from torchinit.policy import Policy
from torchinit.report import InitReport

__all__ = ["init_weights"]


def init_weights(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy,
    *,
    seed: int,
    buffer_device: str | torch.device | None = None,
    scheme_version: int | None = None,
    **options: Any,
) -> InitReport:
    """Give every tensor of a model allocated by ``to_empty`` its value: buffers, then the policy.

    Everything is checked before anything is written: every buffer must have a registered
    restorer (norm layers' running statistics, Hugging Face rotary embeddings, your layers'
    with :func:`torchinit.register_buffer_init`), and the policy must set every parameter
    (``to_empty`` left them all uninitialized; a layer's default init cannot be drawn shard by
    shard). Then each buffer is allocated on ``buffer_device`` (if given) and restored, and
    ``init_model(model, policy, seed=seed)`` fills the parameters, in place, shard by shard.

    Args:
        model: the model after ``model.to_empty(device=...)``, sharded or not.
        policy: a preset name, a YAML policy file or a :class:`~torchinit.Policy`.
        seed: the keyed seed (:mod:`torchinit.seeding`): the values do not depend on the
            sharding, the number of ranks or the device.
        buffer_device: where the buffers go (torchtitan's meaning: the accelerator when the
            parameters are offloaded to the CPU); ``None`` keeps each where it is.
        scheme_version: the keyed scheme (see :func:`torchinit.init_model`).
        **options: options of the preset.

    Returns:
        The :class:`~torchinit.InitReport` of :func:`torchinit.init_model`.

    Example:
        >>> import torch, torchinit
        >>> from torchinit.integrations.torchtitan import init_weights
        >>> with torch.device("meta"):
        ...     model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
        >>> model = model.to_empty(device="cpu")
        >>> policy = torchinit.Policy([
        ...     torchinit.Rule(torch.nn.Linear, weight="xavier_uniform", bias="zeros"),
        ...     torchinit.Rule(torch.nn.BatchNorm1d, weight="ones", bias="zeros"),
        ... ])
        >>> len(init_weights(model, policy, seed=0).initialized)
        4
        >>> model[1].running_var.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    on_meta = next((name for name, tensor in _tensors(model) if tensor.is_meta), None)
    if on_meta is not None:
        raise InvalidArgumentError(
            f"has tensors on the meta device (e.g. {on_meta!r}): call "
            "model.to_empty(device=...) first, as torchtitan does, or let "
            "torchinit.init_model(model, policy, device=..., seed=...) materialize it",
            path="model",
            got=type(model).__name__,
        )
    device = target_device(buffer_device, "buffer_device")
    restorers, missing = find_restorers(model, every=True)
    if missing:
        raise PlanError(
            f"buffers {missing} hold the uninitialized memory of to_empty and torchinit "
            "cannot compute their values; register how with "
            "torchinit.register_buffer_init(LayerClass, buffers=[...])",
            path="model",
        )
    planned = plan(model, policy, seed=seed, scheme_version=scheme_version, **options)
    unset = [
        f"{entry.name} ({entry.status})"
        for entry in planned
        if entry.status != "initialized" and entry.shape is not None and 0 not in entry.shape
    ]
    if unset:
        raise PlanError(
            f"parameters {unset} hold the uninitialized memory of to_empty and the policy "
            "does not set them: add rules for them",
            path="policy",
        )
    with torch.no_grad():
        for module, restorer in restorers:
            if device is not None:
                for name, buffer in module._buffers.items():
                    if buffer is not None:
                        module._buffers[name] = torch.empty_like(buffer, device=device)
            restorer.restore(module)
    # last, so that a rule that names a buffer wins over its restorer
    return init_model(model, policy, seed=seed, scheme_version=scheme_version, **options)
