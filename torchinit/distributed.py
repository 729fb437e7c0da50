"""Keyed init of sharded parameters: FSDP2, tensor parallelism, DTensor on any mesh.

A model whose parameters are DTensors, for example one sharded with
``torch.distributed.fsdp.fully_shard`` or ``parallelize_module``, is initialized with the same
call as any other::

    init_model(model, policy, seed=N)

run on every rank. Afterwards each parameter's ``full_tensor()`` equals, bit for bit, what the
unsharded model gets from the same call on one process. Each rank writes only its own shard,
in place, into ``param.to_local()`` (the ``Parameter`` objects are kept).

Supported placements: ``Shard(d)`` on any dim, ``_StridedShard`` (FSDP2 over tensor
parallelism) and ``Replicate()``, in any combination, on a mesh of any number of dimensions;
uneven shards and ranks without elements are fine. Placements act on each dim on their own, so
a shard is a :class:`~torchinit.seeding.Block`: per dim, the global indices it holds, found by
applying DTensor's own split to ``arange(size)`` (:func:`local_indices`, checked against
``to_local().shape``). What it costs:

* a strategy with an elementwise law (:meth:`~torchinit.Strategy.law`: constant, uniform,
  normal, truncated normal and everything built from them), under scheme 2 (``seed=N``, the
  default), draws on the CPU every keyed chunk that holds one of the rank's elements and keeps
  those (:meth:`~torchinit.seeding.KeyedSeeding.chunk_tasks`), with a chunk of scratch memory.
  A row shard (``Shard(0)``, FSDP2, colwise TP) draws about its own size; a column shard
  (``Shard(1)``, rowwise TP) holds part of every row, so it draws every chunk: the whole
  tensor's draws, time not memory;
* the same strategy under scheme 3 (``scheme_version=3``) draws exactly the rank's elements,
  each from its own counter, on the tensor's device, whatever the layout. Per element it is
  much slower on a CPU (eagerly 25-65x ``normal_``), so scheme 2 stays faster on CPU ranks
  unless a column shard is split some 60 ways; on GPUs it saves the CPU draw and the copy
  (``bench/layouts_cost.py`` prints both schemes per layout);
* a strategy without one (orthogonal, sparse, eye, dirac, gate_constant) needs the whole
  tensor: every rank draws it whole on the CPU and keeps its own elements, under either
  scheme. That costs each rank the full tensor's memory and time (an orthogonal 8192 x 8192
  weight is a QR of the whole matrix on every rank), but no communication.

Refused with a :class:`~torchinit.PlanError` before any tensor is touched:

* ``Partial`` and any other placement (the message names it);
* DTensor parameters without ``seed=``: torch's random ops on DTensors only follow the global
  tensor on CUDA-like meshes (on a CPU mesh each rank draws its shard from its own global
  generator, so the shards repeat each other), and orthogonal or the fast truncated normal do
  not run on DTensors at all. Keyed seeding is the one mode whose values do not depend on the
  sharding (a ``checkpoint`` rule draws nothing: each rank copies its
  own elements from the file, seeded or not);
* ``torch_default`` (a layer's own ``reset_parameters``) on a DTensor parameter: the reset
  draws through torch's DTensor random ops, with the problem above;
* a parametrized tensor whose value is a DTensor.

Every rank must run the same call with the same policy, seed and scheme. No tensor data is
exchanged between ranks: ``init_model`` only checks, with one small collective, that every rank
has the same seed, policy, scheme and torchinit version (:mod:`torchinit.engine.consensus`).
This module imports nothing from ``torch.distributed`` until it meets a DTensor, and a torch
built without distributed support simply has none.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from typing import Any

import torch

from torchinit.errors import PlanError
from torchinit.seeding import Block, KeyedSeeding, Task, run_tasks
from torchinit.strategies import Strategy

__all__ = [
    "check",
    "is_dtensor",
    "is_dtensor_type",
    "keyed_tasks",
    "local_block",
    "local_indices",
]

_SUPPORTED = "Shard, _StridedShard and Replicate"


def is_dtensor(value: torch.Tensor) -> bool:
    """Whether ``value`` is a DTensor (an FSDP2 parameter is one)."""
    return is_dtensor_type(type(value))


def is_dtensor_type(cls: type) -> bool:
    """Whether ``cls`` is DTensor or a subclass."""
    # no DTensor can exist before torch.distributed.tensor is imported, so it is not imported
    # here: torchinit stays cheap to import, and works on builds without torch.distributed
    module = sys.modules.get("torch.distributed.tensor")
    return module is not None and issubclass(cls, module.DTensor)


def _splitting() -> tuple[type, ...]:
    """The placement types that split a dim: ``Shard``, and ``_StridedShard`` where it exists."""
    from torch.distributed.tensor import Shard

    try:
        from torch.distributed.tensor.placement_types import _StridedShard
    except ImportError:  # a private class: older releases lack it
        return (Shard,)
    return (Shard, _StridedShard)


def _unsupported(placements: Sequence[Any]) -> list[Any]:
    from torch.distributed.tensor import Replicate

    # exact types: a subclass (Partial's MaskPartial, a new kind of shard) may place elements
    # in a way the split below does not know
    known = (Replicate, *_splitting())
    return [p for p in placements if type(p) not in known]


def local_indices(
    shape: Sequence[int],
    mesh_shape: Sequence[int],
    coordinate: Sequence[int],
    placements: Sequence[Any],
) -> tuple[torch.Tensor, ...]:
    """Per dim of a DTensor of global ``shape``, the global indices the rank at ``coordinate``
    of a mesh of ``mesh_shape`` holds, in order.

    The placements act left to right, each on one dim alone, with DTensor's own split
    (``_split_tensor``, which ``distribute_tensor`` uses): applied to ``arange(shape[d])``,
    it gives the indices along ``d``. No process group is needed.

    Args:
        shape: the global shape.
        mesh_shape: the device mesh's shape.
        coordinate: the rank's coordinate in the mesh.
        placements: one per mesh dim: ``Shard``, ``_StridedShard`` or ``Replicate``.

    Raises:
        ValueError: a placement is none of those.

    Example:
        >>> from torch.distributed.tensor import Shard
        >>> local_indices((3, 5), (2, 2), (0, 1), [Shard(0), Shard(1)])
        (tensor([0, 1]), tensor([3, 4]))
    """
    splitting = _splitting()
    unsupported = _unsupported(placements)
    if unsupported:
        raise ValueError(
            f"keyed init supports the DTensor placements {_SUPPORTED} only, not {unsupported[0]!r}"
        )
    held = [torch.arange(size) for size in shape]
    for placement, chunks, index in zip(placements, mesh_shape, coordinate, strict=True):
        if type(placement) in splitting:
            dim = placement.dim % len(shape)
            # the split works on a tensor of the global rank: the indices along its dim
            along = [1] * len(shape)
            along[dim] = len(held[dim])
            pieces, _ = placement._split_tensor(
                held[dim].view(along), chunks, with_padding=False, contiguous=False
            )
            held[dim] = pieces[index].reshape(-1)
    return tuple(held)


def local_block(value: Any) -> Block | None:
    """The elements ``value``'s local shard holds; None on a rank outside the mesh.

    Raises:
        ValueError: an unsupported placement, or the indices disagree with the local shard.
    """
    shape = tuple(value.shape)
    mesh = value.device_mesh
    coordinate = mesh.get_coordinate()
    if coordinate is None:
        return None  # a rank outside the mesh holds nothing
    try:
        indices = local_indices(shape, tuple(mesh.shape), coordinate, value.placements)
    except AttributeError:
        # a private method: a torch release may rename it; refuse rather than guess
        raise ValueError(
            "this torch's placements have no _split_tensor, which keyed init needs to place a shard"
        ) from None
    local = tuple(value.to_local().shape)
    held = tuple(len(index) for index in indices)
    if held != local or not all(bool((index.diff() > 0).all()) for index in indices):
        raise ValueError(
            f"DTensor's split of the placements gives a shard of shape {held}, but the local "
            f"shard has shape {local}"
        )
    return Block(shape, indices)


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
    # a strategy filled by name (a checkpoint) draws nothing: each rank copies its elements
    if not keyed and not strategy.by_name:
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
    try:
        local_block(dtensor)
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
    block = local_block(dtensor)
    if block is None or local.numel() == 0:
        return []
    law = strategy.law(shape)
    if law is None:
        whole = functools.partial(_whole, keyed, names, strategy, block, local)
        return [(math.prod(shape), whole)]
    chunks, staging = chunk_into(keyed, names, strategy, law, local, shape=shape, block=block)
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
    block: Block,
    local: torch.Tensor,
) -> None:
    """Draw the whole tensor (a strategy without a law) and keep this rank's elements."""
    from torchinit.engine.execution import draw_whole

    # grad mode is per thread: the engine's no_grad does not reach the pool's threads
    with torch.no_grad():
        drawn = draw_whole(keyed, names, strategy, block.shape, local.dtype)
        for dim, index in enumerate(block.indices):
            drawn = drawn.index_select(dim, index)
        local.copy_(drawn)
