"""Execution: apply a validated plan, in traversal order or keyed, materializing a meta model."""

from __future__ import annotations

import collections
import warnings
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils import parametrize

from torchinit import distributed
from torchinit.engine import progress as progress_display
from torchinit.engine.index import Slot, parametrization_list
from torchinit.engine.planning import Plan
from torchinit.engine.rollback import Journal, Reset, Rollback
from torchinit.errors import TorchInitWarning
from torchinit.fans import warn_zero_element
from torchinit.materialize import Materialization
from torchinit.seeding import Block, KeyedSeeding, Task, draw_dtype, run_tasks
from torchinit.strategies import Law, Strategy, TensorSource, TorchDefault

_intercepted = torch.overrides.has_torch_function_variadic


def execute(
    plan: Plan,
    generator: torch.Generator | None,
    keyed: KeyedSeeding | None,
    meta: Materialization | None = None,
    *,
    progress: bool = False,
    rollback: bool = True,
) -> None:
    """Apply ``plan`` (under ``torch.no_grad()``), after materializing a meta model; with
    ``progress``, show progress over its tensors (a layer reset counts those it sets).

    On any exception (``KeyboardInterrupt`` too) the model and torch's random state are put
    back as they were, or with ``rollback=False`` (on a model not on the meta device) the
    error's note lists the tensors written (:mod:`torchinit.engine.rollback`)."""
    for _ in plan.empty_warnings:
        # what torch's kaiming functions say of the zero-element tensors the plan skips,
        # pointing at the line that called init_model (through its gc-pausing decorator)
        warn_zero_element(stacklevel=4)
    undo = Rollback(plan, generator, meta, copy=rollback, global_rng=keyed is None)
    journal = Journal()
    shown = None
    try:
        if meta is not None:
            meta.materialize(plan.model)
            _rebind(plan)
        if progress:
            total = len(plan.actions) + sum(len(covered) for _, _, covered in plan.resets.values())
            shown = progress_display.start(total, f"torchinit {plan.policy.name or '<policy>'}")
        if keyed is not None:
            _execute_keyed(plan, keyed, meta, shown, journal)
        else:
            _execute_in_order(plan, generator, shown, journal)
    except BaseException as error:
        undo.undo(error, journal)
        raise
    finally:
        if shown is not None:
            shown.close()


def _execute_in_order(
    plan: Plan,
    generator: torch.Generator | None,
    shown: progress_display.Progress | None,
    journal: Journal,
) -> None:
    """Apply the plan in traversal order, drawing from ``generator`` (or torch's global one),
    recording in ``journal`` what is written.

    Zeros and ones are filled here with the tensor method their strategy would call (see
    ``constant_fill``), when nothing intercepts calls on the tensor.
    """
    # a layer reset runs where the layer's first reset tensor comes, before its other
    # tensors are set, so that they are not overwritten by it
    resets = collections.deque(
        sorted(
            (min(slot.position for slot in covered), key)
            for key, (_, _, covered) in plan.resets.items()
        )
    )
    # progress off adds nothing to this loop: the shown one wraps its iterable
    actions = plan.actions if shown is None else shown.iterate(plan.actions)
    done = journal.written.append
    current: Slot | Reset | None = None
    try:
        for slot, assignment in actions:
            while resets and resets[0][0] < slot.position:
                current = plan.resets[resets.popleft()[1]]
                _reset(*current, generator)
                done(current)
                if shown is not None:
                    shown.update(len(current[2]))
            current = slot
            target = slot.parameter
            fill = assignment.fill
            if fill is None and assignment.strategy.by_name:
                _load(slot, plan.sources[slot.position], assignment.strategy)
            elif target is None:
                _apply_parametrized(slot, assignment.strategy, generator)
            elif fill is None or _intercepted(target):
                strategy = assignment.strategy
                try:
                    assignment.call(strategy, target, generator=generator)
                except Exception as error:
                    _add_note(error, slot, strategy)
                    raise
            elif fill == 0.0:
                target.zero_()
            else:
                target.fill_(fill)
            done(slot)
        for _, key in resets:
            current = plan.resets[key]
            _reset(*current, generator)
            done(current)
            if shown is not None:
                shown.update(len(current[2]))
    except BaseException:
        if current is not None and (not journal.written or journal.written[-1] is not current):
            journal.writing.append(current)
        raise


def _load(slot: Slot, source: TensorSource, strategy: Strategy) -> None:
    """Copy what a by-name strategy found for ``slot`` (a checkpoint's tensor) into it, cast
    to its dtype: a DTensor's rank copies its own elements only."""
    try:
        target = slot.parameter
        if target is None:
            _set_parametrized(slot, source.read())
        elif distributed.is_dtensor(target):
            block = distributed.local_block(target)
            if block is not None:
                cast(Any, target).to_local().copy_(source.read(block.indices))
        else:
            target.copy_(source.read())
    except Exception as error:
        _add_note(error, slot, strategy)
        raise


def _add_note(error: Exception, slot: Slot, strategy: Strategy) -> None:
    error.add_note(f"torchinit: while initializing {slot.names[0]!r} with {strategy.describe()}")


def _apply_parametrized(slot: Slot, strategy: Strategy, generator: torch.Generator | None) -> None:
    """Fill the parametrized tensor ``slot`` with ``strategy``, drawing from ``generator``."""
    try:
        current = getattr(slot.module, slot.local)
        _set_parametrized(slot, strategy(torch.empty_like(current), generator=generator))
    except Exception as error:
        _add_note(error, slot, strategy)
        raise


def _set_parametrized(slot: Slot, initial: torch.Tensor) -> None:
    """Set a parametrized tensor's originals so that the tensor itself equals ``initial``
    (when the parametrization can represent it: see ``docs/guide/policies.md``)."""
    plist = parametrization_list(slot.module, slot.local)
    current = getattr(slot.module, slot.local)
    originals: Any = initial.to(device=current.device, dtype=current.dtype)
    for parametrization in reversed(plist):
        originals = cast(Any, parametrization).right_inverse(originals)
    if plist.is_tensor:
        plist.original.copy_(originals)
    else:
        for position, tensor in enumerate(originals):
            getattr(plist, f"original{position}").copy_(tensor)
    _refresh_spectral_norms(slot, plist)


# torch's spectral_norm parametrization; private, so everything read from it is checked
_SPECTRAL_NORM: type | None = getattr(nn.utils.parametrizations, "_SpectralNorm", None)
_SPECTRAL_NORM_API = ("_reshape_weight_to_matrix", "_power_method", "_u", "_v")
# power iterations per round (what torch's _SpectralNorm.__init__ runs), and the most rounds
_POWER_ITERATIONS = 15
_ROUNDS = 20


def _refresh_spectral_norms(slot: Slot, plist: parametrize.ParametrizationList) -> None:
    """Bring a spectral norm's power-iteration vectors up to the weight just set.

    ``spectral_norm`` divides the weight by sigma = u^T W v, with ``_u`` and ``_v`` updated by
    one power iteration per forward in training mode only: after a new weight, sigma is the old
    weight's (an effective std of 0.5 for a Normal(0, 0.02) draw on a 128x64 layer, in eval
    mode). Power iterations, from the vectors the layer has (no random number is drawn), until
    sigma moves by less than 1e-4 of itself.
    """
    spectral = _SPECTRAL_NORM
    if spectral is None or not any(isinstance(p, spectral) for p in plist):
        return
    parametrizations = list(plist)
    last = max(i for i, p in enumerate(parametrizations) if isinstance(p, spectral))
    # each parametrization's input: the originals, then the output of the ones before it
    value: Any = (
        plist.original
        if plist.is_tensor
        else [tensor for _, tensor in plist.named_parameters(recurse=False)]  # original0, ...
    )
    for index, parametrization in enumerate(parametrizations[: last + 1]):
        if isinstance(parametrization, spectral) and value.ndim > 1:
            if not all(hasattr(parametrization, name) for name in _SPECTRAL_NORM_API):
                warnings.warn(
                    f"torchinit: {slot.names[0]}: cannot refresh the spectral norm's power "
                    "iteration (this torch's spectral_norm has changed); sigma stays the old "
                    "weight's until a forward pass in training mode",
                    TorchInitWarning,
                    stacklevel=2,
                )
                return
            _power_iterate(cast(Any, parametrization), value)
        if index < last:
            value = parametrization(*value) if isinstance(value, list) else parametrization(value)


def _power_iterate(spectral_norm: Any, weight: torch.Tensor) -> None:
    matrix = spectral_norm._reshape_weight_to_matrix(weight)
    sigma: torch.Tensor | None = None
    for _ in range(_ROUNDS):
        spectral_norm._power_method(matrix, _POWER_ITERATIONS)
        previous, sigma = sigma, torch.vdot(spectral_norm._u, torch.mv(matrix, spectral_norm._v))
        if previous is not None and abs(sigma - previous) <= 1e-4 * abs(sigma):
            return


def _rebind(plan: Plan) -> None:
    """Point the plan's slots at the parameters materialization put in place of the meta ones."""
    slots = [slot for slot, _ in plan.actions]
    slots += [slot for _, _, covered in plan.resets.values() for slot in covered]
    for slot in slots:
        if slot.kind == "param":
            slot.parameter = slot.module._parameters[slot.local]


def _execute_keyed(
    plan: Plan,
    keyed: KeyedSeeding,
    meta: Materialization | None,
    shown: progress_display.Progress | None,
    journal: Journal,
) -> None:
    """Keyed seeding: every tensor from its own generators, chunks filled in parallel,
    recording in ``journal`` what is written.

    The values depend on nothing but (seed, name, strategy), so the order here is free: layer
    resets first (a reset rewrites its whole layer; ``_reset`` restores the tensors it does
    not cover, which are then drawn after it), then the strategies without an elementwise law
    (orthogonal, ...), whole, then the tensors filled by name (a checkpoint's: copied, not
    drawn), then all chunks of all the others on ``torch.get_num_threads()`` threads.
    Progress counts a tensor drawn in chunks once all chunks are drawn.
    """
    for reset in plan.resets.values():
        module, layer_reset, covered = reset
        journal.writing.append(reset)
        names = [name for slot in covered for name in slot.names]
        if meta is not None:
            # drawn on a CPU copy of the layer from a CPU generator: the same values as a
            # reset of the layer on the CPU, whatever the device
            _reset_on_twin(
                module,
                meta.cpu_twin(module),
                layer_reset,
                covered,
                keyed.generator(names, layer_reset),
            )
        else:
            _reset(module, layer_reset, covered, keyed.generator(names, layer_reset))
        journal.written.append(journal.writing.pop())
        if shown is not None:
            shown.update(len(covered))
    tasks: list[Task] = []
    # the slots the tasks write into (the others' tasks write into staging tensors)
    in_place: list[Slot] = []
    staged: list[tuple[Slot, Strategy, torch.Tensor]] = []
    loaded: list[tuple[Slot, Strategy]] = []  # by-name strategies: nothing to draw
    for slot, assignment in plan.actions:
        strategy = assignment.strategy
        if strategy.by_name:
            loaded.append((slot, strategy))
            continue
        value = slot.value()
        assert value is not None
        if distributed.is_dtensor(value):
            tasks += distributed.keyed_tasks(keyed, slot.names, strategy, value)
            in_place.append(slot)
            continue
        shape = tuple(value.shape)
        law = strategy.law(shape)
        if law is None:
            drawn = draw_whole(keyed, slot.names, strategy, shape, value.dtype)
            staged.append((slot, strategy, drawn))
            if shown is not None:
                shown.update()
            continue
        # each task copies its chunk straight into a parameter (on any device)
        chunks, staging = chunk_into(
            keyed, slot.names, strategy, law, value, in_place=slot.kind == "param"
        )
        tasks += chunks
        if staging is None:
            in_place.append(slot)
        else:
            staged.append((slot, strategy, staging))
    for slot, strategy in loaded:
        journal.writing.append(slot)
        _load(slot, plan.sources[slot.position], strategy)
        journal.written.append(journal.writing.pop())
        if shown is not None:
            shown.update()
    # tasks run in parallel: when one fails, which others have run is not known
    journal.writing += in_place
    run_tasks(tasks)
    journal.written += in_place
    journal.writing.clear()
    if shown is not None:
        shown.update(shown.total - shown.done)
    for slot, used, drawn in staged:
        journal.writing.append(slot)
        try:
            if slot.kind == "param":
                assert slot.parameter is not None
                slot.parameter.copy_(drawn)
            else:
                _set_parametrized(slot, drawn)
        except Exception as error:
            _add_note(error, slot, used)
            raise
        journal.written.append(journal.writing.pop())


def draw_whole(
    keyed: KeyedSeeding,
    names: Sequence[str],
    strategy: Strategy,
    shape: tuple[int, ...],
    dtype: torch.dtype,
) -> torch.Tensor:
    """The keyed values of a whole tensor of ``shape``, drawn on the CPU (a strategy without
    an elementwise law: it needs the whole tensor at once)."""
    drawn = torch.empty(shape, dtype=draw_dtype(dtype))
    return strategy(drawn, generator=keyed.generator(names, strategy))


def chunk_into(
    keyed: KeyedSeeding,
    names: Sequence[str],
    strategy: Strategy,
    law: Law,
    target: torch.Tensor,
    *,
    shape: tuple[int, ...] | None = None,
    start: int = 0,
    block: Block | None = None,
    in_place: bool = True,
) -> tuple[list[Task], torch.Tensor | None]:
    """Tasks that draw ``target``'s keyed chunks: those of a tensor of ``shape`` (default:
    ``target``'s) from element ``start`` on, as many as ``target`` has, or those of the
    shard ``block`` (see :meth:`KeyedSeeding.chunk_tasks`).

    They write straight into ``target`` when it is contiguous and ``in_place``; otherwise into
    a staging tensor like it, returned: copy it into place once the tasks ran.
    """
    shape = tuple(target.shape) if shape is None else shape
    if in_place and target.is_contiguous():
        out, staging = target.view(-1), None
    else:
        # scheme 2 draws on the CPU, scheme 3 on the tensor's device: stage where it draws
        device = target.device if keyed.version == 3 else "cpu"
        staging = torch.empty(target.shape, dtype=draw_dtype(target.dtype), device=device)
        out = staging.view(-1)
    return keyed.chunk_tasks(names, strategy, law, shape, out, start, block=block), staging


def _reset(
    module: nn.Module,
    strategy: TorchDefault,
    covered: list[Slot],
    generator: torch.Generator | None,
) -> None:
    covered_ids = {id(slot.parameter) for slot in covered}
    keep = [p for p in module.parameters() if id(p) not in covered_ids and p.numel() > 0]
    saved = [p.detach().clone() for p in keep]
    strategy.reset(module, generator=generator)
    for parameter, value in zip(keep, saved, strict=True):
        parameter.copy_(value)


def _reset_on_twin(
    module: nn.Module,
    twin: nn.Module,
    strategy: TorchDefault,
    covered: list[Slot],
    generator: torch.Generator,
) -> None:
    strategy.reset(twin, generator=generator)
    for slot in covered:
        assert slot.parameter is not None
        slot.parameter.copy_(twin._parameters[slot.local])  # type: ignore[arg-type]
