"""Planning: what happens to each slot (initialized, skipped, excluded, default, or an error)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin  # type: ignore[attr-defined]

from torchinit import distributed
from torchinit.engine.index import ModelIndex, Slot, SlotKind, parametrization_list
from torchinit.engine.matching import (
    Assignment,
    assign,
    at_rule,
    resolve_type_names,
    unused_rule_error,
)
from torchinit.errors import (
    PlanError,
    TorchInitError,
    TorchInitWarning,
    caller_stacklevel,
    did_you_mean,
)
from torchinit.materialize import Materialization, meta_without_device
from torchinit.patterns import NameGlob
from torchinit.policy import Order, Policy
from torchinit.report import Outcome, Row
from torchinit.seeding import KeyedSeeding
from torchinit.strategies import AttrStrategy, TensorSource, TorchDefault, reset_method_name

#: A layer's reset and the slots it sets, by the layer's id.
Resets = dict[int, tuple[nn.Module, TorchDefault, list[Slot]]]

#: One check of a slot about to be initialized: raises :class:`PlanError` if it would fail.
Check = Callable[[Slot, torch.Tensor, Assignment], None]


@dataclasses.dataclass
class Plan:
    model: nn.Module
    policy: Policy
    order: Order
    report_rows: list[Row]
    actions: list[tuple[Slot, Assignment]]
    resets: Resets
    unused_rules: list[str]
    # zero-element tensors skipped whose strategy warns when handed one (see execute)
    empty_warnings: list[str] = dataclasses.field(default_factory=list)
    # where a by-name strategy (a checkpoint) reads each of its slots, by slot position
    sources: dict[int, TensorSource] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, eq=False, slots=True)
class Verdict:
    """What the checks say about every slot alike (same assignment, kind and tensor facts)."""

    shape: tuple[int, ...] | None  # for the report (None: no tensor, or a lazy one)
    dtype: str | None
    on_meta: bool  # a parameter on the meta device: it needs a value even if nothing sets it
    refusal: Callable[[Slot], None] | None  # an error whatever the rule (meta, no device=)
    skip: str | None  # why the slot is left alone even though a rule matched it
    checks: tuple[Check, ...]  # run in order on the slot once it is to be initialized


_NONE = "is None (e.g. a layer built with bias=False)"
_ZERO_ELEMENT = "zero-element tensor (nothing to initialize)"
_UNMATCHED = Outcome("unmatched", None, None, None)
_LAYER_DEFAULT = TorchDefault()


class Checks:
    """Every per-slot check of one plan, written once in :meth:`judge`.

    The slots of a model are alike by the thousand, so :func:`build_plan` memoises ``judge``'s
    result in ``memo`` by everything it reads, its arguments: the assignment, the slot's kind
    and the tensor's type, shape, dtype, device and ``requires_grad`` (the call's options are
    fixed for the plan). A check that reads the slot itself (its layer, its DTensor layout,
    its parametrizations) is a :data:`Check` in the verdict, run on every slot it is for.
    """

    def __init__(
        self,
        *,
        generator: torch.Generator | None,
        skip_frozen: bool,
        keyed: KeyedSeeding | None,
        meta: Materialization | None,
    ) -> None:
        self.generator = generator
        self.skip_frozen = skip_frozen
        self.keyed = keyed
        self.meta = meta
        self.memo: dict[tuple[Any, ...], Verdict] = {}
        # the files by-name strategies opened (Strategy.locate), each once per plan
        self.opened: dict[str, Any] = {}

    def judge(
        self,
        assignment: Assignment | None,
        kind: SlotKind,
        tensor_type: type | None,
        shape: torch.Size | None,
        dtype: torch.dtype | None,
        device: torch.device | None,
        requires_grad: bool,
    ) -> Verdict:
        """The verdict on a slot of ``kind`` given ``assignment``, from its tensor's facts."""
        if tensor_type is None:
            return Verdict(None, None, False, None, _NONE, ())
        assert dtype is not None
        assert device is not None
        lazy = issubclass(tensor_type, UninitializedTensorMixin)
        on_meta = device.type == "meta"
        refusal = _refuse_meta if on_meta and self.meta is None else None
        row_shape = None if shape is None else tuple(shape)
        row = (row_shape, None if lazy else str(dtype), on_meta and kind == "param", refusal)
        if kind == "none":
            return Verdict(*row, _NONE, ())
        if lazy:
            return Verdict(*row, None, (_refuse_lazy,))
        assert shape is not None
        if 0 in shape:
            return Verdict(*row, _ZERO_ELEMENT, ())
        if self.skip_frozen and not requires_grad:
            return Verdict(*row, "frozen (requires_grad=False) and skip_frozen=True", ())
        if assignment is None:
            return Verdict(*row, None, ())
        return Verdict(
            *row, None, tuple(self._checks(assignment, kind, tensor_type, shape, dtype, device))
        )

    def _checks(
        self,
        assignment: Assignment,
        kind: SlotKind,
        tensor_type: type,
        shape: torch.Size,
        dtype: torch.dtype,
        device: torch.device,
    ) -> list[Check]:
        """What stands between a slot and its initialization, in order; the first problem ends
        the list (it raises)."""
        strategy = assignment.strategy
        if not dtype.is_floating_point:
            return [_problem("only floating-point tensors can be initialized", got=dtype)]
        checks: list[Check] = []
        if distributed.is_dtensor_type(tensor_type):
            checks.append(self._check_dtensor)
        # a meta tensor is checked for the device it will be materialized on
        if self.meta is not None and device.type == "meta":
            device = self.meta.device
        if strategy.module_level:
            if kind == "parametrized":
                return [
                    *checks,
                    _problem(
                        f"{strategy.name} resets the layer and cannot set a parametrized "
                        "tensor; use a tensor strategy"
                    ),
                ]
            if self.keyed is not None and device.type != "cpu" and self.meta is None:
                return [
                    *checks,
                    _problem(
                        f"{strategy.name} with seed= needs the layer on the CPU (its keyed reset "
                        "draws from a CPU generator); initialize on the CPU, then move the model",
                        got=str(device),
                    ),
                ]
            checks.append(_check_reset_method)
        else:
            problem = strategy.check_shape(tuple(shape))
            if problem is not None:
                suffix = f".{strategy.name}"
                return [*checks, _problem(problem, suffix=suffix, got=tuple(shape))]
        if kind == "parametrized":
            checks.append(_check_right_inverse)
        generator = self.generator
        if generator is not None and generator.device.type != device.type and not strategy.by_name:
            checks.append(
                _problem(
                    f"the generator is on {generator.device} but the tensor is on {device}; "
                    "use a generator on the tensor's device",
                    path="generator",
                    got=str(generator.device),
                )
            )
        return checks

    def locate(
        self, slot: Slot, value: torch.Tensor, assignment: Assignment, names: list[str]
    ) -> TensorSource:
        """Where the by-name strategy of ``assignment`` reads ``slot`` (with bare ``names``)
        from; its error, at the tensor and the rule's key path, if it cannot."""
        try:
            return assignment.strategy.locate(names, tuple(value.shape), self.opened)
        except TorchInitError as error:  # a PlanError, or a MissingDependencyError
            raise type(error)(
                error.problem,
                where=slot.names[0],
                path=f"{assignment.path}.{error.path}",
                **({"got": error.got} if error.has_value else {}),
            ) from None

    def _check_dtensor(self, slot: Slot, value: torch.Tensor, assignment: Assignment) -> None:
        distributed.check(
            value,
            assignment.strategy,
            keyed=self.keyed is not None,
            parametrized=slot.kind == "parametrized",
            where=slot.names[0],
            path=assignment.path,
        )


def _problem(problem: str, *, suffix: str = "", path: str | None = None, got: Any = ...) -> Check:
    """A check that always fails with ``problem`` (at the rule's key path, plus ``suffix``)."""

    def refuse(slot: Slot, value: torch.Tensor, assignment: Assignment) -> None:
        raise PlanError(
            problem,
            where=slot.names[0],
            path=assignment.path + suffix if path is None else path,
            **({} if got is ... else {"got": got}),
        )

    return refuse


def _refuse_meta(slot: Slot) -> None:
    raise meta_without_device(slot.names[0])


def _refuse_lazy(slot: Slot, value: torch.Tensor, assignment: Assignment) -> None:
    raise PlanError(
        "is an uninitialized lazy parameter; run a forward pass with a sample input "
        "before initializing",
        where=slot.names[0],
        path=assignment.path,
        got=type(slot.module).__name__,
    )


def _check_reset_method(slot: Slot, value: torch.Tensor, assignment: Assignment) -> None:
    if reset_method_name(slot.module) is None:
        raise PlanError(
            f"{assignment.strategy.name}: the layer has no reset_parameters() or "
            "_reset_parameters()",
            where=slot.names[0],
            path=assignment.path,
            got=type(slot.module).__name__,
        )


def _check_right_inverse(slot: Slot, value: torch.Tensor, assignment: Assignment) -> None:
    for parametrization in parametrization_list(slot.module, slot.local):
        if not hasattr(parametrization, "right_inverse"):
            raise PlanError(
                f"parametrization {type(parametrization).__name__} has no right_inverse, "
                "so its original tensor cannot be set from an initial value",
                where=slot.names[0],
                path=assignment.path,
            )


def build_plan(
    model: nn.Module,
    policy: Policy,
    *,
    order: Order,
    strict: bool,
    includes: list[NameGlob] | None,
    excludes: list[NameGlob] | None,
    checks: Checks,
) -> Plan:
    """Resolve ``policy`` against ``model``: every slot's fate, every error raised up front."""
    index = ModelIndex(model, order)
    policy, inactive = resolve_type_names(policy, index)
    assigned, layers, unused = assign(index, policy, inactive)
    model_name = type(index.model).__name__
    if not any(assigned):
        message = f"policy {policy.name or '<policy>'!r} matches nothing in {model_name}"
        if strict:
            raise PlanError(message, path="policy")
        warnings.warn(message, TorchInitWarning, stacklevel=caller_stacklevel())
    else:
        for rule_index in unused:
            rule = policy.rules[rule_index]
            if not rule.optional:
                _complain(
                    at_rule(unused_rule_error(index, policy, rule_index, model_name), rule), strict
                )
    for path, globs in (("include", includes), ("exclude", excludes)):
        if globs:
            for error in _unused_globs(index, globs, path, model_name):
                _complain(error, strict)

    rows: list[Row] = []
    actions: list[tuple[Slot, Assignment]] = []
    resets: Resets = {}
    selecting = includes is not None or excludes is not None
    if selecting:
        includes = None if includes is None else [index.glob(glob) for glob in includes]
        excludes = None if excludes is None else [index.glob(glob) for glob in excludes]
    bare = index.bare
    defaults: list[tuple[Slot, str]] = []
    empty_warnings: list[str] = []
    sources: dict[int, TensorSource] = {}
    memo, judge = checks.memo, checks.judge
    for slot, assignment in zip(index.slots, assigned, strict=True):
        kind = slot.kind
        value = slot.parameter if kind == "param" else slot.value()
        # judge's arguments (its memo's key), built here: this loop runs for every tensor
        if value is None:
            key: tuple[Any, ...] = (assignment, kind, None, None, None, None, False)
        else:
            key = (
                assignment,
                kind,
                type(value),
                None if isinstance(value, UninitializedTensorMixin) else value.shape,
                value.dtype,
                value.device,
                value.requires_grad,
            )
        verdict = memo.get(key)
        if verdict is None:
            verdict = memo[key] = judge(*key)
        if verdict.refusal is not None:
            verdict.refusal(slot)
        outcome: Outcome | None = None
        why = ""
        if assignment is None:
            outcome, why = (_UNMATCHED if kind != "none" else None), "no rule matched"
        elif verdict.skip is not None:
            outcome = assignment.outcome("skipped", verdict.skip)
            why = f"skipped: {verdict.skip}"
            # (a meta model's empty parameter gets its layer's reset, which warns itself)
            empty = verdict.skip is _ZERO_ELEMENT and not verdict.on_meta
            if empty and assignment.strategy.warns_if_empty():
                empty_warnings.append(slot.names[0])
        elif selecting and not _selected(bare(slot.all_names), includes, excludes):
            outcome, why = assignment.outcome("excluded"), "excluded by include/exclude"
        if why:
            # a materialized parameter the plan leaves alone would hold garbage: layer default
            if verdict.on_meta:
                defaults.append((slot, why))
            elif outcome is not None:
                rows.append((slot.names, verdict.shape, verdict.dtype, outcome))
            continue
        assert value is not None
        assert assignment is not None
        if isinstance(assignment.strategy, AttrStrategy):
            # a strategy bound to one layer: an assignment of its own, judged once
            assignment = assignment.bound(slot, layers[slot.position])
            verdict = judge(assignment, *key[1:])
        strategy = assignment.strategy
        initialized = assignment.initialized
        try:
            for check in verdict.checks:
                check(slot, value, assignment)
            if strategy.by_name:
                source = sources[slot.position] = checks.locate(
                    slot, value, assignment, bare(slot.names)
                )
                # the report says where each tensor was read from
                initialized = dataclasses.replace(initialized, reason=source.describe())
        except TorchInitError as error:
            raise at_rule(error, assignment.rule) from None
        rows.append((slot.names, verdict.shape, verdict.dtype, initialized))
        if isinstance(strategy, TorchDefault):
            _, _, covered = resets.setdefault(id(slot.module), (slot.module, strategy, []))
            covered.append(slot)
            if checks.meta is not None and checks.keyed is not None:
                checks.meta.keep_twin(slot.module)
        else:
            actions.append((slot, assignment))
    if checks.meta is not None:
        rows += _layer_defaults(defaults, resets, checks.meta, checks.keyed is not None)
        order_of = {slot.names[0]: slot.position for slot in index.slots}
        rows.sort(key=lambda row: order_of[row[0][0]])

    return Plan(
        model=model,
        policy=policy,
        order=order,
        report_rows=rows,
        actions=actions,
        resets=resets,
        unused_rules=[f"rules[{i}] {policy.rules[i].describe()}" for i in unused],
        empty_warnings=empty_warnings,
        sources=sources,
    )


def _complain(error: TorchInitError, strict: bool) -> None:
    """Raise ``error`` under ``strict=True``, else warn with its message."""
    if strict:
        raise error
    warnings.warn(str(error), TorchInitWarning, stacklevel=caller_stacklevel())


def _unused_globs(
    index: ModelIndex, globs: list[NameGlob], path: str, model: str
) -> list[PlanError]:
    """The errors for the ``include=``/``exclude=`` entries that name no tensor of the model."""
    names = [name for slot in index.slots for name in index.bare(slot.all_names)]
    known = set(names)
    errors = []
    for position, written in enumerate(globs):
        glob = index.glob(written)
        found = glob.pattern in known if glob.is_literal else any(map(glob.matches, names))
        if not found:
            problem = did_you_mean(f"matches no parameter of {model}", glob.pattern, names)
            errors.append(PlanError(problem, path=f"{path}[{position}]", got=written.pattern))
    return errors


def _selected(
    names: list[str], includes: list[NameGlob] | None, excludes: list[NameGlob] | None
) -> bool:
    """Whether a tensor of these bare names passes ``include=``/``exclude=``."""
    if includes is not None and not any(g.matches(n) for g in includes for n in names):
        return False
    return not (excludes is not None and any(g.matches(n) for g in excludes for n in names))


def _layer_defaults(
    defaults: list[tuple[Slot, str]], resets: Resets, meta: Materialization, keyed: bool
) -> list[Row]:
    """Give the layer's own default init to the parameters of a meta model no rule sets.

    Materialized tensors hold uninitialized memory: nothing may be left as it is.
    """
    rows: list[Row] = []
    impossible = []
    sharded = []
    for slot, why in defaults:
        if slot.parameter is not None and distributed.is_dtensor(slot.parameter):
            sharded.append(f"{slot.names[0]} ({why})")
            continue
        if reset_method_name(slot.module) is None:
            impossible.append(f"{slot.names[0]} ({type(slot.module).__name__}; {why})")
            continue
        module, strategy, covered = resets.setdefault(
            id(slot.module), (slot.module, _LAYER_DEFAULT, [])
        )
        covered.append(slot)
        if keyed:
            meta.keep_twin(module)
        parameter = slot.parameter
        assert parameter is not None
        outcome = Outcome("initialized", None, f"layer default ({why})", strategy)
        rows.append((slot.names, tuple(parameter.shape), str(parameter.dtype), outcome))
    if sharded:
        raise PlanError(
            f"parameters {sharded} are sharded (DTensor) on the meta device and no rule sets "
            "them; a layer's default init cannot be drawn shard by shard: add rules for them",
            path="device",
        )
    if impossible:
        raise PlanError(
            f"parameters {impossible} are on the meta device, no rule sets them and their "
            "layer has no reset_parameters(); add rules for them",
            path="device",
        )
    return rows
