"""Keyed init of sharded parameters: FSDP2 (``fully_shard``) and DTensor.

A model whose parameters are DTensors, for example one sharded with
``torch.distributed.fsdp.fully_shard``, is initialized with the same call as any other::

    init_model(model, policy, seed=N)

run on every rank. Afterwards each parameter's ``full_tensor()`` equals, bit for bit, what the
unsharded model gets from the same call on one process. Each rank writes only its own shard,
in place, into ``param.to_local()`` (the ``Parameter`` objects are kept):

* a strategy with an elementwise law (:meth:`~torchinit.Strategy.law`: constant, uniform,
  normal, truncated normal and everything built from them) draws only the keyed chunks that
  the rank's rows overlap (:meth:`~torchinit.seeding.KeyedSeeding.chunk_tasks`), so a rank's
  work and memory follow its shard, not the tensor;
* a strategy without one (orthogonal, sparse, eye, dirac, gate_constant) needs the whole
  tensor: every rank draws it whole on the CPU and keeps its own rows. That costs each rank
  the full tensor's memory and time (an orthogonal 8192 x 8192 weight is a QR of the whole
  matrix on every rank), but no communication.

Supported placements: ``Shard(0)`` and ``Replicate()``, on a mesh of any number of dimensions
(FSDP2 and HSDP use nothing else); the local shard of such a DTensor is a contiguous range of
rows of the global tensor, found with DTensor's own ``compute_local_shape_and_global_offset``
(checked against ``to_local().shape``). Uneven shards and ranks without rows are fine. Any
other placement (``Shard(1)``, ``Partial``, ``_StridedShard`` from FSDP + tensor parallelism,
...) is refused with a :class:`~torchinit.PlanError` before any tensor is touched, and so are:

* DTensor parameters without ``seed=``: torch's random ops on DTensors only follow the global
  tensor on CUDA-like meshes (on a CPU mesh each rank draws its shard from its own global
  generator, so the shards repeat each other), and orthogonal or the fast truncated normal do
  not run on DTensors at all. Keyed seeding is the one mode whose values do not depend on the
  sharding;
* ``torch_default`` (a layer's own ``reset_parameters``) on a DTensor parameter: the reset
  draws through torch's DTensor random ops, with the problem above;
* a parametrized tensor whose value is a DTensor.

Every rank must run the same call with the same policy and seed; nothing is exchanged between
ranks. This module imports nothing from ``torch.distributed`` until it meets a DTensor, and a
torch built without distributed support simply has none.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from typing import Any

import torch

from torchinit.errors import PlanError
from torchinit.seeding import KeyedSeeding, Task, run_tasks
from torchinit.strategies import Strategy

__all__ = ["check", "is_dtensor", "is_dtensor_type", "keyed_tasks"]

_SUPPORTED = "Shard(0) and Replicate()"


def is_dtensor(value: torch.Tensor) -> bool:
    """Whether ``value`` is a DTensor (an FSDP2 parameter is one)."""
    return is_dtensor_type(type(value))


def is_dtensor_type(cls: type) -> bool:
    """Whether ``cls`` is DTensor or a subclass."""
    # no DTensor can exist before torch.distributed.tensor is imported, so it is not imported
    # here: torchinit stays cheap to import, and works on builds without torch.distributed
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and issubclass(cls, module.DTensor)


def _unsupported(placements: Sequence[Any]) -> list[Any]:
    from torch.distributed.tensor import Replicate, Shard

    # exact types: _StridedShard has been a subclass of Shard in some releases
    return [
        p for p in placements if not (type(p) is Replicate or (type(p) is Shard and p.dim == 0))
    ]


def _first_row(value: Any) -> int:
    """The global row at which ``value``'s local shard starts (it holds whole rows).

    Raises:
        ValueError: DTensor's offset utility disagrees with the local shard.
    """
    try:
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
    except ImportError:
        # a private helper: a torch release may move it; refuse rather than guess the offset
        raise ValueError(
            "this torch has no torch.distributed.tensor._utils."
            "compute_local_shape_and_global_offset, which keyed init needs to place a shard"
        ) from None

    shape = tuple(value.shape)
    local = tuple(value.to_local().shape)
    if not shape or value.device_mesh.get_coordinate() is None:
        return 0  # a replicated scalar, or a rank outside the mesh (its shard is empty)
    local_shape, offset = compute_local_shape_and_global_offset(
        shape, value.device_mesh, value.placements
    )
    if tuple(local_shape) != local or any(offset[1:]) or local[1:] != shape[1:]:
        raise ValueError(
            f"DTensor's compute_local_shape_and_global_offset gives shape {tuple(local_shape)} "
            f"at offset {tuple(offset)}, but the local shard has shape {local}"
        )
    return int(offset[0])


def check(
    value: torch.Tensor,
    strategy: Strategy,
    *,
    keyed: bool,
    parametrized: bool,
    where: str,
    path: str,
) -> None:
    """Raise :class:`~torchinit.PlanError` if keyed init cannot fill the DTensor ``value``.

    Args:
        value: a DTensor (see :func:`is_dtensor`), global shape.
        strategy: the strategy the plan gives it.
        keyed: whether ``init_model`` was called with ``seed=``.
        parametrized: whether ``value`` is the value of a parametrized tensor.
        where: the parameter's name, for the message.
        path: the rule's key path, for the message.
    """
    dtensor: Any = value
    placements = tuple(dtensor.placements)
    if not keyed:
        raise PlanError(
            "a DTensor (FSDP2) parameter needs keyed seeding: pass seed= (torch's random "
            "ops on DTensors follow the global tensor only on CUDA-like meshes, and some "
            "strategies do not run on DTensors)",
            where=where,
            path=path,
            got=placements,
        )
    if parametrized:
        raise PlanError(
            "a parametrized tensor whose value is a DTensor cannot be initialized",
            where=where,
            path=path,
            got=placements,
        )
    if strategy.module_level:
        raise PlanError(
            f"{strategy.name} resets the layer through torch's DTensor random ops, which do "
            "not give the unsharded values; use a tensor strategy",
            where=where,
            path=path,
            got=placements,
        )
    unsupported = _unsupported(placements)
    if unsupported:
        raise PlanError(
            f"keyed init supports the DTensor placements {_SUPPORTED} only, not {unsupported[0]!r}",
            where=where,
            path=path,
            got=placements,
        )
    try:
        _first_row(dtensor)
    except ValueError as error:
        raise PlanError(str(error), where=where, path=path, got=placements) from None


def keyed_tasks(
    keyed: KeyedSeeding, names: Sequence[str], strategy: Strategy, value: torch.Tensor
) -> list[Task]:
    """Tasks that fill this rank's shard of the DTensor ``value`` with its keyed values.

    ``value`` has passed :func:`check`. Call under ``torch.no_grad()``: the local shard is
    written in place.
    """
    # imported here: the engine imports this module
    from torchinit.engine.execution import chunk_into

    dtensor: Any = value
    shape = tuple(dtensor.shape)
    local: torch.Tensor = dtensor.to_local()
    if local.numel() == 0:
        return []
    first = _first_row(dtensor)
    law = strategy.law(shape)
    if law is None:
        whole = functools.partial(_whole, keyed, names, strategy, shape, local, first)
        return [(math.prod(shape), whole)]
    start = first * math.prod(shape[1:])
    chunks, staging = chunk_into(keyed, names, strategy, law, local, shape=shape, start=start)
    if staging is None:
        return chunks

    def fill_staged() -> None:
        run_tasks(chunks, threads=1)
        with torch.no_grad():  # per thread, as in _whole
            local.copy_(staging)

    return [(local.numel(), fill_staged)]


def _whole(
    keyed: KeyedSeeding,
    names: Sequence[str],
    strategy: Strategy,
    shape: tuple[int, ...],
    local: torch.Tensor,
    first: int,
) -> None:
    """Draw the whole tensor (a strategy without a law) and keep this rank's rows."""
    from torchinit.engine.execution import draw_whole

    # grad mode is per thread: the engine's no_grad does not reach the pool's threads
    with torch.no_grad():
        drawn = draw_whole(keyed, names, strategy, shape, local.dtype)
        local.copy_(drawn[first : first + local.shape[0]] if shape else drawn)
