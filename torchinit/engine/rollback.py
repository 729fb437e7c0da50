"""Rollback: a failure while :func:`~torchinit.init_model` writes leaves the model as it was.

Planning raises every error it can foresee before the first write. What it cannot foresee (a
strategy or a layer's ``reset_parameters()`` raising, ``KeyboardInterrupt``, out of memory)
happens half-way through; then:

* with ``rollback=True`` (the default), every tensor execution may write was copied first
  (on its own device, each storage once) and is copied back, and torch's random state (the
  global CPU generator, the CUDA ones once CUDA is initialized, ``generator=``) is restored:
  the cost is one copy of the bytes written, in memory and about half the time of drawing them
  (``bench/engine_overhead.py``);
* a model on the meta device costs nothing to roll back: its meta tensors are kept and put
  back, so it is on the meta device again, with the same ``Parameter`` objects;
* with ``rollback=False`` nothing is copied or restored; the error's note lists the tensors
  written, in order.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from torchinit import distributed
from torchinit.engine.index import Slot, join, parametrization_list
from torchinit.engine.planning import Plan
from torchinit.errors import TorchInitWarning, caller_stacklevel
from torchinit.materialize import Materialization
from torchinit.strategies import TorchDefault

__all__ = ["WARN_BYTES"]

#: A rollback that copies more bytes than this warns first (``rollback=False`` skips the copy).
WARN_BYTES = 1 << 30

#: A layer reset as a plan holds it: the layer, its reset and the slots it sets.
Reset = tuple[nn.Module, TorchDefault, list[Slot]]


class Journal:
    """What execution has written so far, in order, for the note of a failure without rollback:
    ``written`` (done) and ``writing`` (under way when the failure came: possibly partly
    written)."""

    __slots__ = ("writing", "written")

    def __init__(self) -> None:
        self.written: list[Slot | Reset] = []
        self.writing: list[Slot | Reset] = []


def _names(entries: list[Slot | Reset]) -> list[str]:
    """The tensors the journal's ``entries`` write: a slot's name; a reset's slots and its
    layer's buffers (``reset_parameters()`` may reset running statistics)."""
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, Slot):
            names.append(entry.names[0])
            continue
        module, _, covered = entry
        names += [slot.names[0] for slot in covered]
        first = covered[0]
        prefix = first.names[0][: -len(first.local)].removesuffix(".")
        names += [join(prefix, name) for name, _ in module.named_buffers()]
    return names


def _may_write(plan: Plan) -> Iterator[torch.Tensor]:
    """Every tensor executing ``plan`` may write: a parameter slot's parameter, a parametrized
    slot's originals and its parametrizations' buffers (spectral norm's ``_u``, ``_v``), and
    every parameter and buffer of a layer that is reset."""
    for slot, _ in plan.actions:
        if slot.parameter is not None:
            yield slot.parameter
        elif slot.kind == "parametrized":
            plist = parametrization_list(slot.module, slot.local)
            yield from plist.parameters()
            yield from plist.buffers()
    for module, _, _ in plan.resets.values():
        yield from module.parameters()
        yield from module.buffers()


def _view_key(tensor: torch.Tensor) -> Any:
    """The same key for two tensors that are the same memory (tied parameters)."""
    if distributed.is_dtensor(tensor):
        return id(tensor)
    return (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())


def _nbytes(tensor: torch.Tensor) -> int:
    local: Any = tensor.to_local() if distributed.is_dtensor(tensor) else tensor  # type: ignore[attr-defined]
    return int(local.numel() * local.element_size())


def _size(nbytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} bytes"


class Rollback:
    """What a failure of one ``init_model`` call puts back (see the module's docstring).

    Made before the first write (and before a meta model is materialized).

    Args:
        plan: the plan about to be executed.
        generator: the ``generator=`` of the call, whose state is restored too.
        meta: the materialization of a meta model (then nothing is copied).
        copy: ``rollback``: copy the tensors to be written (ignored for a meta model).
    """

    def __init__(
        self,
        plan: Plan,
        generator: torch.Generator | None,
        meta: Materialization | None,
        *,
        copy: bool,
    ) -> None:
        self.meta_entries: list[tuple[nn.Module, dict[str, Any], dict[str, Any]]] | None = None
        self.saved: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.restores = copy or meta is not None
        if meta is not None:
            # the meta tensors themselves: materialization replaces them, so putting them back
            # puts the model back on the meta device, ties included, at no cost
            self.meta_entries = [
                (module, dict(module._parameters), dict(module._buffers))
                for module in plan.model.modules()
            ]
        elif copy:
            self.saved = self._copy(plan)
        if self.restores:
            self.cpu_rng = torch.get_rng_state()
            self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None  # type: ignore[no-untyped-call]
            self.generator = generator
            self.generator_state = generator.get_state() if generator is not None else None

    @staticmethod
    def _copy(plan: Plan) -> list[tuple[torch.Tensor, torch.Tensor]]:
        tensors: dict[Any, torch.Tensor] = {}
        for tensor in _may_write(plan):
            if tensor.numel() > 0:
                tensors.setdefault(_view_key(tensor), tensor)
        nbytes = sum(_nbytes(tensor) for tensor in tensors.values())
        if nbytes > WARN_BYTES:
            warnings.warn(
                f"init_model: rollback: copies {_size(nbytes)} of tensors before writing, so "
                "that a failure can restore them (rollback=False skips the copy)",
                TorchInitWarning,
                stacklevel=caller_stacklevel(),
            )
        with torch.no_grad():
            return [(tensor, tensor.detach().clone()) for tensor in tensors.values()]

    def undo(self, error: BaseException, journal: Journal) -> None:
        """Put back what was kept and add a note to ``error`` saying what state it left."""
        if not self.restores:
            written = _names(journal.written)
            partly = _names(journal.writing)
            # every name, however many: the user has to know exactly what to redo
            listed = ", ".join(written) if written else "none"
            if partly:
                listed += f"; possibly partly written: {', '.join(partly)}"
            error.add_note(
                "torchinit: init_model(rollback=False) failed part-way: the model is partly "
                f"initialized (tensors written: {listed}); torch's random state was not restored"
            )
            return
        with torch.no_grad():
            if self.meta_entries is not None:
                for module, parameters, buffers in self.meta_entries:
                    module._parameters.clear()
                    module._parameters.update(parameters)
                    module._buffers.clear()
                    module._buffers.update(buffers)
            for tensor, value in self.saved or ():
                tensor.copy_(value)
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        if self.generator is not None and self.generator_state is not None:
            self.generator.set_state(self.generator_state)
        what = (
            "the model is back on the meta device and torch's random state as it was"
            if self.meta_entries is not None
            else "the model's tensors and torch's random state are as they were"
        )
        error.add_note(
            f"torchinit: init_model failed part-way and rolled back: {what} before the call"
        )
