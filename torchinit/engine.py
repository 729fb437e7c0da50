"""The policy engine: resolve a policy against a model, validate the whole plan, then apply it.

:func:`plan` and :func:`init_model` share one resolution step. It walks the model in the chosen
order, decides for every tensor which rule and strategy apply (the last matching rule wins),
and checks everything that could go wrong (missing parameter names, lazy or non-floating-point
parameters, shapes a strategy cannot fill, a generator on the wrong device) before the first
tensor is touched: a policy that fails leaves the model unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal, cast

import torch
from torch import nn
from torch.nn.parameter import UninitializedTensorMixin  # type: ignore[attr-defined]
from torch.nn.utils import parametrize

from torchinit import _validate, distributed
from torchinit.config import resolve_policy
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    PlanError,
    TorchInitError,
    TorchInitWarning,
    closest,
)
from torchinit.materialize import Materialization, meta_without_device, prepare, target_device
from torchinit.patterns import NameGlob
from torchinit.policy import ORDERS, Policy, Rule
from torchinit.report import InitReport, Outcome, Row, Status, new_report
from torchinit.seeding import KeyedSeeding, Task, draw_dtype, run_tasks
from torchinit.strategies import (
    AttrStrategy,
    Strategy,
    TorchDefault,
    constant_fill,
    grad_free_call,
    reset_method_name,
)

__all__ = ["init_model", "plan"]

_intercepted = torch.overrides.has_torch_function_variadic

SlotKind = Literal["param", "parametrized", "none"]


@dataclasses.dataclass(eq=False, slots=True)
class _Slot:
    """One initializable tensor: a parameter, a parametrized tensor, or an empty ``None`` slot."""

    module: nn.Module
    local: str
    kind: SlotKind
    names: list[str]
    position: int
    parameter: nn.Parameter | None = None
    # names of the parametrization's original tensors, so include/exclude can use them
    underlying: tuple[str, ...] = ()

    @property
    def all_names(self) -> list[str]:
        return [*self.names, *self.underlying]

    def value(self) -> torch.Tensor | None:
        if self.kind == "param":
            return self.parameter
        if self.kind == "parametrized":
            with torch.no_grad():
                value = getattr(self.module, self.local)
            assert isinstance(value, torch.Tensor)
            return value
        return None


@dataclasses.dataclass(eq=False, slots=True)
class _Assignment:
    """What a rule gives a slot. One object serves every slot that a rule's key picks with the
    same overridden rules (a plan has far fewer of these than tensors); a strategy bound to
    one layer (``FromAttr``) gets an assignment of its own."""

    rule_index: int
    rule: Rule
    key: str  # the rule's key that picked the slot ("weight", "bn3.weight", "init")
    strategy: Strategy
    label: str  # the rule's description, for the report
    overridden: tuple[int, ...] = ()  # earlier rules that matched the slot too, and lost
    # shapes the strategy was checked to fill: slots of one shape are checked once
    fits: set[torch.Size] = dataclasses.field(default_factory=set)
    # a strategy that fills one tensor and reads nothing from the layer (the common case)
    fills_tensor: bool = dataclasses.field(init=False)
    # for zeros and ones, the value: execution fills the tensor itself (see constant_fill)
    fill: float | None = dataclasses.field(init=False)
    # the strategy's call, for execution under no_grad (see grad_free_call)
    call: Callable[..., torch.Tensor] = dataclasses.field(init=False)
    # the report's outcome for the slots it initializes
    initialized: Outcome = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        strategy = self.strategy
        self.fills_tensor = not (strategy.module_level or isinstance(strategy, AttrStrategy))
        self.fill = constant_fill(strategy)
        self.call = grad_free_call(strategy)
        self.initialized = self.outcome("initialized")

    def outcome(self, status: Status, reason: str | None = None) -> Outcome:
        return Outcome(status, self.rule_index, self.label, self.strategy, reason, self.overridden)


def _join(prefix: str, local: str) -> str:
    return f"{prefix}.{local}" if prefix else local


# the only types _is_parametrization_container accepts: one isinstance check rules out the rest
_CONTAINERS = (parametrize.ParametrizationList, nn.ModuleDict)


def _is_parametrization_container(name: str, module: nn.Module) -> bool:
    # torch's own bookkeeping modules for parametrizations are not layers a rule should see
    return isinstance(module, parametrize.ParametrizationList) or (
        name.endswith("parametrizations") and isinstance(module, nn.ModuleDict)
    )


class _ModelIndex:
    """Every layer and tensor slot of a model, with all their names, in traversal order."""

    def __init__(self, model: nn.Module, order: str) -> None:
        # each layer and its names, by the layer's id, in model.modules() order
        self.layers: dict[int, tuple[nn.Module, list[str]]] = {}
        for name, module in model.named_modules(remove_duplicate=False):
            if isinstance(module, _CONTAINERS) and _is_parametrization_container(name, module):
                continue
            known = self.layers.get(id(module))
            if known is None:
                self.layers[id(module)] = (module, [name])
            else:
                known[1].append(name)
        self.modules = (
            list(self.layers.values())
            if order == "modules"
            else [self.layers[key] for key in _post_order(model, self.layers)]
        )
        self.slots: list[_Slot] = []
        # a parameter's slot by the parameter's id (under any of its layers, when it is tied);
        # the other slots (None, parametrized) by their layer's id and local name
        self.by_parameter: dict[int, _Slot] = {}
        self.no_parameter: dict[tuple[int, str], _Slot] = {}
        slots = self.slots
        by_parameter = self.by_parameter
        for module, module_names in self.modules:
            if "parametrizations" in module._modules:
                for local, underlying in _parametrized(module):
                    slot = _Slot(
                        module,
                        local,
                        "parametrized",
                        [_join(prefix, local) for prefix in module_names],
                        len(slots),
                        None,
                        tuple(_join(prefix, u) for prefix in module_names for u in underlying),
                    )
                    slots.append(slot)
                    self.no_parameter[(id(module), local)] = slot
            single = module_names[0] if len(module_names) == 1 else None
            for local, parameter in module._parameters.items():
                if single is not None:
                    full = [f"{single}.{local}" if single else local]
                else:
                    full = [_join(prefix, local) for prefix in module_names]
                if parameter is None:
                    slot = _Slot(module, local, "none", full, len(slots))
                    self.no_parameter[(id(module), local)] = slot
                else:
                    slot = _Slot(module, local, "param", full, len(slots), parameter)
                    shared = by_parameter.setdefault(id(parameter), slot)
                    if shared is not slot:
                        # a tied parameter: one slot, initialized once, known by all its names
                        shared.names.extend(name for name in full if name not in shared.names)
                        continue
                slots.append(slot)

    def slot(self, module: nn.Module, local: str) -> _Slot | None:
        """The slot that ``module``, a layer of the model, calls ``local``."""
        parameter = module._parameters.get(local)
        if parameter is not None:
            return self.by_parameter[id(parameter)]
        return self.no_parameter.get((id(module), local))

    def own_slots(self, module: nn.Module) -> list[tuple[str, _Slot]]:
        """The slots of ``module``, a layer of the model, by local name, in their order."""
        own = [local for local, _ in _parametrized(module)] + list(module._parameters)
        return [(local, slot) for local in own if (slot := self.slot(module, local)) is not None]


def _post_order(model: nn.Module, known: Mapping[int, object]) -> list[int]:
    """Module ids in ``nn.Module.apply`` order (children first), first visit wins."""
    seen: set[int] = set()
    result: list[int] = []
    stack: list[tuple[nn.Module, bool]] = [(model, False)]
    while stack:
        module, expanded = stack.pop()
        if expanded:
            if id(module) not in seen and id(module) in known:
                seen.add(id(module))
                result.append(id(module))
            continue
        stack.append((module, True))
        stack.extend((child, False) for child in reversed(list(module.children())))
    return result


def _parametrizations(module: nn.Module) -> nn.ModuleDict:
    """The ``ModuleDict`` of parametrization lists torch puts on a parametrized module."""
    container = module.parametrizations
    assert isinstance(container, nn.ModuleDict)
    return container


def _parametrization_list(module: nn.Module, local: str) -> parametrize.ParametrizationList:
    plist = _parametrizations(module)[local]
    assert isinstance(plist, parametrize.ParametrizationList)
    return plist


def _parametrized(module: nn.Module) -> list[tuple[str, list[str]]]:
    """The parametrized tensors of ``module``: their names and their original tensors' names."""
    # cheaper than parametrize.is_parametrized, whose failing getattr dominates big models
    if not isinstance(module._modules.get("parametrizations"), nn.ModuleDict):
        return []
    return [
        (
            local,
            [
                f"parametrizations.{local}.{name}"
                for name, _ in plist.named_parameters(recurse=False)
            ],
        )
        for local, plist in _parametrizations(module).items()
    ]


# --------------------------------------------------------------------------- resolution


def _globs(value: Any, path: str) -> list[NameGlob] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise ArgumentTypeError(
            "must be a glob or an iterable of names/globs", path=path, got=value
        )
    globs = []
    for index, item in enumerate(items):
        try:
            globs.append(NameGlob(item))
        except TorchInitError as error:
            raise error.prefixed(f"{path}[{index}]") from None
    return globs


def _assign(
    index: _ModelIndex, policy: Policy, inactive: set[int]
) -> tuple[list[_Assignment | None], dict[int, nn.Module], list[int]]:
    """Which rule gives which strategy to each slot (by slot position); the last rule wins.

    Also returns, for slots given a strategy with ``FromAttr`` arguments, the layer the rule
    matched (to read them from). Rules in ``inactive`` (all of whose optional type names are
    missing) match nothing.
    """
    assigned: list[_Assignment | None] = [None] * len(index.slots)
    layers: dict[int, nn.Module] = {}
    unused: list[int] = []
    for rule_index, rule in enumerate(policy.rules):
        if rule_index in inactive:
            unused.append(rule_index)
            continue
        picked = (
            _match_params(index, rule)
            if rule.is_param_rule
            else _match_layers(index, rule, rule_index)
        )
        if not picked:
            unused.append(rule_index)
        label = rule.describe()
        first: dict[str, _Assignment] = {}  # by key, for slots no earlier rule picked
        later: dict[tuple[str, _Assignment], _Assignment] = {}  # by key and the earlier one
        for slot, key, strategy, layer in picked:
            position = slot.position
            before = assigned[position]
            if before is None:
                assignment = first.get(key)
                if assignment is None:
                    assignment = first[key] = _Assignment(rule_index, rule, key, strategy, label)
            else:
                assignment = later.get((key, before))
                if assignment is None:
                    overridden = (
                        before.overridden
                        if before.rule_index == rule_index
                        else (*before.overridden, before.rule_index)
                    )
                    assignment = _Assignment(rule_index, rule, key, strategy, label, overridden)
                    later[(key, before)] = assignment
            assigned[position] = assignment
            if not assignment.fills_tensor:
                layers[position] = layer
    return assigned, layers, unused


_Picked = tuple[_Slot, str, Strategy, nn.Module]


def _match_params(index: _ModelIndex, rule: Rule) -> list[_Picked]:
    assert rule.init is not None
    return [
        (slot, "init", rule.init, slot.module)
        for slot in index.slots
        if rule.matches_type(slot.module) and rule.matches_param_name(slot.names)
    ]


def _match_layers(index: _ModelIndex, rule: Rule, rule_index: int) -> list[_Picked]:
    # per key: a glob over the layer's own slots, or a name, of the layer's own (no dot) or
    # of a child's slot
    keys = [
        (key, strategy, NameGlob(key) if any(char in key for char in "*?[") else None, "." in key)
        for key, strategy in rule.strategies
    ]
    types = rule.types
    named = rule.name is not None
    by_parameter = index.by_parameter
    picked: list[_Picked] = []
    for module, names in index.modules:
        if (types and not isinstance(module, types)) or (
            named and not rule.matches_module_name(names)
        ):
            continue
        for key, strategy, glob, dotted in keys:
            if glob is not None:
                picked.extend(
                    (slot, key, strategy, module)
                    for local, slot in index.own_slots(module)
                    if glob.matches(local)
                )
                continue
            if dotted:
                slot = _nested_slot(index, module, key)
            else:
                # index.slot, inlined: this runs for every layer a rule matches
                parameter = module._parameters.get(key)
                slot = (
                    by_parameter[id(parameter)]
                    if parameter is not None
                    else index.no_parameter.get((id(module), key))
                )
            if slot is None:
                raise _at_rule(_no_parameter_error(module, names, key, rule_index), rule)
            picked.append((slot, key, strategy, module))
    return picked


def _nested_slot(index: _ModelIndex, module: nn.Module, key: str) -> _Slot | None:
    owner_path, _, local = key.rpartition(".")
    owner = _submodule(module, owner_path)
    return index.slot(owner, local) if owner is not None and id(owner) in index.layers else None


def _no_parameter_error(
    module: nn.Module, names: list[str], key: str, rule_index: int
) -> PlanError:
    available = _parameter_names(module)
    hint = closest(key, available)
    suggestion = f"did you mean {hint!r}? " if hint else ""
    return PlanError(
        f"layer {names[0]!r} ({type(module).__name__}) has no parameter {key!r}; "
        f"{suggestion}its parameters are {_shorten(available)}",
        path=f"rules[{rule_index}].{key}",
    )


def _at_rule(error: TorchInitError, rule: Rule) -> TorchInitError:
    """``error`` with the rule's source location (``policy.yaml:7``) in front, if it has one."""
    return error.located(rule.source) if rule.source else error


def _bind(slot: _Slot, assignment: _Assignment, layer: nn.Module) -> _Assignment:
    """``assignment`` with its strategy's ``FromAttr`` arguments read from ``layer``."""
    strategy = assignment.strategy
    assert isinstance(strategy, AttrStrategy)
    try:
        bound = strategy.bind(layer)
    except TorchInitError as error:
        located = PlanError(
            error.problem,
            where=slot.names[0],
            path=f"rules[{assignment.rule_index}].{assignment.key}.{error.path}",
            **({"got": error.got} if error.has_value else {}),
        )
        raise _at_rule(located, assignment.rule) from None
    return _Assignment(
        assignment.rule_index,
        assignment.rule,
        assignment.key,
        bound,
        assignment.label,
        assignment.overridden,
    )


def _resolve_type_names(policy: Policy, index: _ModelIndex) -> tuple[Policy, set[int]]:
    """Replace the rules' layer class names by classes, from torch.nn and the model itself.

    A short name (``Bottleneck``) must name exactly one class among the model's layer classes
    and their bases; a dotted name (``torchvision.models.resnet.Bottleneck``) is matched
    against their full names. Nothing is imported.
    """
    if not any(rule.type_names for rule in policy.rules):
        return policy, set()
    short: dict[str, set[type[nn.Module]]] = {}
    full: dict[str, type[nn.Module]] = {}
    for module, _ in index.modules:
        for cls in type(module).__mro__:
            if isinstance(cls, type) and issubclass(cls, nn.Module):
                short.setdefault(cls.__name__, set()).add(cls)
                full[f"{cls.__module__}.{cls.__qualname__}"] = cls
    rules = []
    inactive: set[int] = set()
    for rule_index, rule in enumerate(policy.rules):
        resolved = []
        for name in rule.type_names:
            candidates = {full[name]} if name in full else short.get(name, set())
            layer = getattr(nn, name, None)
            if isinstance(layer, type) and issubclass(layer, nn.Module):
                candidates = {layer}
            if not candidates and rule.optional_types:
                continue
            if len(candidates) != 1:
                raise _at_rule(_type_name_error(name, candidates, short, rule_index), rule)
            resolved.append(candidates.pop())
        if rule.type_names and not resolved and not rule.types:
            inactive.add(rule_index)  # every type it names is missing: it matches nothing
            rules.append(rule)
            continue
        rules.append(rule.with_types(tuple(resolved)) if rule.type_names else rule)
    return Policy(rules, name=policy.name, order=policy.order), inactive  # type: ignore[arg-type]


def _type_name_error(
    name: str,
    candidates: set[type[nn.Module]],
    short: Mapping[str, set[type[nn.Module]]],
    rule_index: int,
) -> PlanError:
    path = f"rules[{rule_index}].match.type"
    if candidates:
        names = sorted(f"{c.__module__}.{c.__qualname__}" for c in candidates)
        return PlanError(
            f"names several layer classes of the model; use the full name, one of {names}",
            path=path,
            got=name,
        )
    known = set(short) | {n for n in dir(nn) if isinstance(getattr(nn, n), type)}
    hint = closest(name.rpartition(".")[2], known)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    return PlanError(
        f"no layer class of this name in torch.nn or in the model{suggestion}",
        path=path,
        got=name,
    )


def _parameter_names(module: nn.Module) -> list[str]:
    """The names a layer rule can give for ``module``: its own slots, then its children's."""
    own = [local for local, _ in _parametrized(module)] + list(module._parameters)
    nested = [name for name, _ in module.named_parameters() if "." in name]
    return own + [name for name in nested if ".parametrizations." not in name]


def _shorten(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return str(names)
    return str(names[:limit])[:-1] + f", ... ({len(names) - limit} more)]"


def _submodule(module: nn.Module, path: str) -> nn.Module | None:
    if not path:
        return module
    try:
        return module.get_submodule(path)
    except AttributeError:
        return None


@dataclasses.dataclass
class _Plan:
    model: nn.Module
    policy: Policy
    order: str
    report_rows: list[Row]
    actions: list[tuple[_Slot, _Assignment]]
    resets: dict[int, tuple[nn.Module, TorchDefault, list[_Slot]]]
    unused_rules: list[str]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a policy is planned (and applied).

    Planning allocates a few small objects per tensor; on a model of 10,000 layers the
    collections they set off (full passes over the model's own objects, or, once planning is
    over, a pass over all of them at the next allocation) took longer than the planning
    itself. The plan makes no reference cycles: reference counting frees it when the call
    returns, so the collector only ever meets what the caller keeps (the report). Cycles a
    strategy makes while the plan is applied wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_plan(
    model: nn.Module,
    policy: Policy,
    *,
    generator: torch.Generator | None,
    order: str | None,
    skip_frozen: bool,
    include: Any,
    exclude: Any,
    strict: bool,
    keyed: KeyedSeeding | None = None,
    meta: Materialization | None = None,
) -> _Plan:
    # the model itself was checked by _materialization, which runs first
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(
            "must be a torch.Generator or None", path="generator", got=generator
        )
    order = policy.order if order is None else _validate.choice(order, ORDERS, "order")
    _validate.boolean(skip_frozen, "skip_frozen")
    _validate.boolean(strict, "strict")
    includes = _globs(include, "include")
    excludes = _globs(exclude, "exclude")

    index = _ModelIndex(model, order)
    policy, inactive = _resolve_type_names(policy, index)
    assigned, layers, unused = _assign(index, policy, inactive)
    policy_name = policy.name or "<policy>"
    if not any(assigned):
        message = f"policy {policy_name!r} matches nothing in {type(model).__name__}"
        if strict:
            raise PlanError(message, path="policy")
        warnings.warn(message, TorchInitWarning, stacklevel=4)

    rows: list[Row] = []
    actions: list[tuple[_Slot, _Assignment]] = []
    resets: dict[int, tuple[nn.Module, TorchDefault, list[_Slot]]] = {}
    selecting = includes is not None or excludes is not None
    shapes: dict[torch.Size, tuple[int, ...]] = {}
    dtypes: dict[torch.dtype, str] = {}
    defaults: list[tuple[_Slot, str]] = []
    # DTensor parameters take the general path, whose _check refuses what cannot be sharded
    maybe_dtensor = "torch.distributed.tensor" in sys.modules
    for slot, assignment in zip(index.slots, assigned, strict=True):
        value = slot.parameter if slot.kind == "param" else slot.value()
        if (
            assignment is not None
            and assignment.fills_tensor
            and value is not None
            and slot.kind == "param"
            and not selecting
            and not isinstance(value, UninitializedTensorMixin)
            and not (maybe_dtensor and distributed.is_dtensor(value))
            and not value.is_meta
        ):
            # the common case, in short: what _skip_reason and _check test, with no message
            # built, from the tensor's shape and dtype alone (0 in shape: no elements), and a
            # report row whose shape, dtype and outcome are shared with the slots alike
            shape = value.shape
            dtype = value.dtype
            if (
                0 not in shape
                and dtype.is_floating_point
                and (not skip_frozen or value.requires_grad)
                and shape in assignment.fits
                and (generator is None or generator.device.type == value.device.type)
            ):
                rows.append(
                    (
                        slot.names,
                        shapes.get(shape) or shapes.setdefault(shape, tuple(shape)),
                        dtypes.get(dtype) or dtypes.setdefault(dtype, str(dtype)),
                        assignment.initialized,
                    )
                )
                actions.append((slot, assignment))
                continue
        on_meta = _on_meta(value)
        if meta is None and on_meta:
            raise meta_without_device(slot.names[0])
        # a materialized parameter the plan leaves alone would hold garbage: layer default
        needs_default = on_meta and slot.kind == "param"
        if assignment is None:
            if needs_default:
                defaults.append((slot, "no rule matched"))
            elif slot.kind != "none":
                rows.append(_row(slot, value, _UNMATCHED))
            continue
        reason = _skip_reason(slot, value, skip_frozen)
        if reason is not None:
            if needs_default:
                defaults.append((slot, f"skipped: {reason}"))
            else:
                rows.append(_row(slot, value, assignment.outcome("skipped", reason)))
            continue
        if selecting and not _selected(slot, includes, excludes):
            if needs_default:
                defaults.append((slot, "excluded by include/exclude"))
            else:
                rows.append(_row(slot, value, assignment.outcome("excluded")))
            continue
        assert value is not None
        if isinstance(assignment.strategy, AttrStrategy):
            assignment = _bind(slot, assignment, layers[slot.position])
        try:
            _check(slot, value, assignment, generator, keyed, meta)
        except PlanError as error:
            raise _at_rule(error, assignment.rule) from None
        rows.append(_row(slot, value, assignment.initialized))
        strategy = assignment.strategy
        if isinstance(strategy, TorchDefault):
            _, _, covered = resets.setdefault(id(slot.module), (slot.module, strategy, []))
            covered.append(slot)
            if meta is not None and keyed is not None:
                meta.keep_twin(slot.module)
        else:
            actions.append((slot, assignment))
    if meta is not None:
        rows += _layer_defaults(defaults, resets, meta, keyed is not None)
        order_of = {slot.names[0]: slot.position for slot in index.slots}
        rows.sort(key=lambda row: order_of[row[0][0]])

    return _Plan(
        model=model,
        policy=policy,
        order=order,
        report_rows=rows,
        actions=actions,
        resets=resets,
        unused_rules=[f"rules[{i}] {policy.rules[i].describe()}" for i in unused],
    )


def _row(slot: _Slot, value: torch.Tensor | None, outcome: Outcome) -> Row:
    if value is None or _is_lazy(value):
        return (slot.names, None, None, outcome)
    return (slot.names, tuple(value.shape), str(value.dtype), outcome)


_UNMATCHED = Outcome("unmatched", None, None, None)


_LAYER_DEFAULT = TorchDefault()


def _on_meta(value: torch.Tensor | None) -> bool:
    return value is not None and value.is_meta


def _layer_defaults(
    defaults: list[tuple[_Slot, str]],
    resets: dict[int, tuple[nn.Module, TorchDefault, list[_Slot]]],
    meta: Materialization,
    keyed: bool,
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


def _is_lazy(value: torch.Tensor) -> bool:
    # the mixin, not UninitializedParameter: Parameter's metaclass makes that check slow
    return isinstance(value, UninitializedTensorMixin)


def _skip_reason(slot: _Slot, value: torch.Tensor | None, skip_frozen: bool) -> str | None:
    if slot.kind == "none" or value is None:
        return "is None (e.g. a layer built with bias=False)"
    if _is_lazy(value):
        return None
    if value.numel() == 0:
        return "zero-element tensor (nothing to initialize)"
    if skip_frozen and not value.requires_grad:
        return "frozen (requires_grad=False) and skip_frozen=True"
    return None


def _selected(
    slot: _Slot, includes: list[NameGlob] | None, excludes: list[NameGlob] | None
) -> bool:
    names = slot.all_names
    if includes is not None and not any(g.matches(n) for g in includes for n in names):
        return False
    return not (excludes is not None and any(g.matches(n) for g in excludes for n in names))


def _check(
    slot: _Slot,
    value: torch.Tensor,
    assignment: _Assignment,
    generator: torch.Generator | None,
    keyed: KeyedSeeding | None = None,
    meta: Materialization | None = None,
) -> None:
    """Everything that would make applying ``assignment`` to ``slot`` fail, checked up front."""
    strategy = assignment.strategy
    where = slot.names[0]
    # a meta tensor is checked for the device it will be materialized on
    device = meta.device if meta is not None and value.is_meta else value.device
    if _is_lazy(value):
        raise PlanError(
            "is an uninitialized lazy parameter; run a forward pass with a sample input "
            "before initializing",
            where=where,
            path=_rule_path(assignment),
            got=type(slot.module).__name__,
        )
    if not value.is_floating_point():
        raise PlanError(
            "only floating-point tensors can be initialized",
            where=where,
            path=_rule_path(assignment),
            got=value.dtype,
        )
    if distributed.is_dtensor(value):
        parametrized = slot.kind == "parametrized"
        distributed.check(
            value,
            strategy,
            keyed=keyed is not None,
            parametrized=parametrized,
            where=where,
            path=_rule_path(assignment),
        )
    if strategy.module_level:
        path = _rule_path(assignment)
        if slot.kind == "parametrized":
            raise PlanError(
                f"{strategy.name} resets the layer and cannot set a parametrized tensor; "
                "use a tensor strategy",
                where=where,
                path=path,
            )
        if keyed is not None and device.type != "cpu" and meta is None:
            raise PlanError(
                f"{strategy.name} with seed= needs the layer on the CPU (its reset draws from "
                "the device's global generator); initialize on the CPU, then move the model",
                where=where,
                path=path,
                got=str(device),
            )
        if reset_method_name(slot.module) is None:
            raise PlanError(
                f"{strategy.name}: the layer has no reset_parameters() or _reset_parameters()",
                where=where,
                path=path,
                got=type(slot.module).__name__,
            )
    elif value.shape not in assignment.fits:
        problem = strategy.check_shape(tuple(value.shape))
        if problem is not None:
            raise PlanError(
                problem,
                where=where,
                path=f"{_rule_path(assignment)}.{strategy.name}",
                got=tuple(value.shape),
            )
        assignment.fits.add(value.shape)
    if slot.kind == "parametrized":
        path = _rule_path(assignment)
        plist = _parametrization_list(slot.module, slot.local)
        for parametrization in plist:
            if not hasattr(parametrization, "right_inverse"):
                raise PlanError(
                    f"parametrization {type(parametrization).__name__} has no right_inverse, "
                    "so its original tensor cannot be set from an initial value",
                    where=where,
                    path=path,
                )
    if generator is not None and generator.device.type != device.type:
        raise PlanError(
            f"the generator is on {generator.device} but the tensor is on {device}; "
            "use a generator on the tensor's device",
            where=where,
            path="generator",
            got=str(generator.device),
        )


def _rule_path(assignment: _Assignment) -> str:
    return f"rules[{assignment.rule_index}].{assignment.key}"


# --------------------------------------------------------------------------- execution


def _execute(
    plan: _Plan,
    generator: torch.Generator | None,
    keyed: KeyedSeeding | None,
    meta: Materialization | None = None,
) -> None:
    if meta is not None:
        meta.materialize(plan.model)
        _rebind(plan)
    if keyed is not None:
        _execute_keyed(plan, keyed, meta)
    else:
        _execute_in_order(plan, generator)


def _execute_in_order(plan: _Plan, generator: torch.Generator | None) -> None:
    """Apply the plan in traversal order, drawing from ``generator`` (or torch's global one);
    under ``torch.no_grad()``.

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
    for slot, assignment in plan.actions:
        while resets and resets[0][0] < slot.position:
            module, reset, covered = plan.resets[resets.popleft()[1]]
            _reset(module, reset, covered, generator)
        target = slot.parameter
        fill = assignment.fill
        if target is None:
            _apply(slot, assignment.strategy, generator)  # a parametrized tensor
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
    for _, key in resets:
        module, reset, covered = plan.resets[key]
        _reset(module, reset, covered, generator)


def _add_note(error: Exception, slot: _Slot, strategy: Strategy) -> None:
    error.add_note(
        f"torchinit: while initializing {slot.names[0]!r} with {strategy.describe()}; "
        "tensors earlier in the plan were already set"
    )


def _apply(slot: _Slot, strategy: Strategy, generator: torch.Generator | None) -> None:
    """Fill ``slot`` with ``strategy``, drawing from ``generator`` (or the global one)."""
    try:
        if slot.kind == "param":
            assert slot.parameter is not None
            strategy(slot.parameter, generator=generator)
            return
        current = getattr(slot.module, slot.local)
        _set_parametrized(slot, strategy(torch.empty_like(current), generator=generator))
    except Exception as error:
        _add_note(error, slot, strategy)
        raise


def _set_parametrized(slot: _Slot, initial: torch.Tensor) -> None:
    """Set a parametrized tensor's originals so that the tensor itself equals ``initial``."""
    plist = _parametrization_list(slot.module, slot.local)
    current = getattr(slot.module, slot.local)
    originals: Any = initial.to(device=current.device, dtype=current.dtype)
    for parametrization in reversed(plist):
        originals = cast(Any, parametrization).right_inverse(originals)
    if plist.is_tensor:
        plist.original.copy_(originals)
    else:
        for position, tensor in enumerate(originals):
            getattr(plist, f"original{position}").copy_(tensor)


def _rebind(plan: _Plan) -> None:
    """Point the plan's slots at the parameters materialization put in place of the meta ones."""
    for slot, _ in plan.actions:
        if slot.kind == "param":
            slot.parameter = slot.module._parameters[slot.local]
    for _, _, covered in plan.resets.values():
        for slot in covered:
            if slot.kind == "param":
                slot.parameter = slot.module._parameters[slot.local]


def _execute_keyed(plan: _Plan, keyed: KeyedSeeding, meta: Materialization | None) -> None:
    """Keyed seeding: every tensor from its own generators, chunks filled in parallel.

    The values depend on nothing but (seed, name, strategy), so the order here is free: layer
    resets first (a reset rewrites its whole layer; ``_reset`` restores the tensors it does
    not cover, which are then drawn after it), then the strategies without an elementwise law
    (orthogonal, ...), whole, then all chunks of all the others on ``torch.get_num_threads()``
    threads.
    """
    for module, reset, covered in plan.resets.values():
        names = [name for slot in covered for name in slot.names]
        if meta is not None:
            # drawn on a CPU copy of the layer from a CPU generator: the same values as a
            # reset of the layer on the CPU, whatever the device
            _reset_on_twin(
                module, meta.cpu_twin(module), reset, covered, keyed.generator(names, reset)
            )
        else:
            _reset(module, reset, covered, keyed.generator(names, reset))
    tasks: list[Task] = []
    staged: list[tuple[_Slot, Strategy, torch.Tensor]] = []
    for slot, assignment in plan.actions:
        strategy = assignment.strategy
        value = slot.value()
        assert value is not None
        if distributed.is_dtensor(value):
            tasks += distributed.keyed_tasks(keyed, slot.names, strategy, value)
            continue
        shape = tuple(value.shape)
        law = strategy.law(shape)
        dtype = draw_dtype(value.dtype)
        target = slot.parameter if slot.kind == "param" else None
        if law is None:
            drawn = strategy(
                torch.empty(shape, dtype=dtype), generator=keyed.generator(slot.names, strategy)
            )
            staged.append((slot, strategy, drawn))
        elif target is not None and target.is_contiguous():
            # each task copies its chunk straight into the parameter (on any device)
            tasks += keyed.chunk_tasks(slot.names, strategy, law, shape, target.view(-1))
        else:
            staging = torch.empty(shape, dtype=dtype)
            tasks += keyed.chunk_tasks(slot.names, strategy, law, shape, staging.view(-1))
            staged.append((slot, strategy, staging))
    run_tasks(tasks)
    for slot, used, drawn in staged:
        try:
            if slot.kind == "param":
                assert slot.parameter is not None
                slot.parameter.copy_(drawn)
            else:
                _set_parametrized(slot, drawn)
        except Exception as error:
            _add_note(error, slot, used)
            raise


def _reset(
    module: nn.Module,
    strategy: TorchDefault,
    covered: list[_Slot],
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
    covered: list[_Slot],
    generator: torch.Generator,
) -> None:
    strategy.reset(twin, generator=generator)
    for slot in covered:
        assert slot.parameter is not None
        slot.parameter.copy_(twin._parameters[slot.local])  # type: ignore[arg-type]


def _keyed(
    seed: int | None, generator: torch.Generator | None, model: nn.Module
) -> KeyedSeeding | None:
    if seed is None:
        return None
    if generator is not None:
        raise InvalidArgumentError(
            "give either seed= (keyed seeding) or generator=, not both", path="seed", got=seed
        )
    return KeyedSeeding(seed, model)


def _materialization(model: nn.Module, device: Any) -> Materialization | None:
    """Check ``model`` and ``device=``; for a meta model, how to materialize it."""
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be a torch.nn.Module", path="model", got=type(model).__name__)
    return prepare(model, target_device(device))


def _report(
    plan: _Plan, model: nn.Module, applied: bool, keyed: KeyedSeeding | None = None
) -> InitReport:
    return new_report(
        seeding=keyed.describe() if keyed is not None else None,
        policy=plan.policy.name or "<policy>",
        model=type(model).__name__,
        order=plan.order,
        applied=applied,
        rows=plan.report_rows,
        unused_rules=tuple(plan.unused_rules),
    )


@_gc_paused()
def plan(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy,
    *,
    order: str | None = None,
    skip_frozen: bool = False,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    strict: bool = False,
    seed: int | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> InitReport:
    """Resolve ``policy`` against ``model`` and report what :func:`init_model` would do.

    Touches no tensor and draws no random number. Raises the same errors as
    :func:`init_model` would, before it touched anything.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> report = plan(model, "resnet")
        >>> report["0.weight"].strategy
        KaimingNormal(a=0.0, mode='fan_out', nonlinearity='relu')
    """
    keyed = _keyed(seed, None, model)
    meta = _materialization(model, device)
    built = _build_plan(
        model,
        resolve_policy(policy, options),
        generator=None,
        order=order,
        skip_frozen=skip_frozen,
        include=include,
        exclude=exclude,
        strict=strict,
        keyed=keyed,
        meta=meta,
    )
    return _report(built, model, applied=False, keyed=keyed)


@_gc_paused()
def init_model(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy,
    *,
    generator: torch.Generator | None = None,
    order: str | None = None,
    skip_frozen: bool = False,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    strict: bool = False,
    seed: int | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> InitReport:
    """Initialize ``model``'s parameters in place with a policy or preset.

    The whole plan is resolved and validated first; then each tensor is filled in place under
    ``torch.no_grad()``, in traversal order, at most once. ``Parameter`` objects are never
    replaced, so optimizers and hooks keep working; dtype and device are preserved.

    Args:
        model: the model.
        policy: a preset name (see :func:`torchinit.available_presets`) or a
            :class:`~torchinit.Policy`.
        generator: draw every random number from this generator instead of torch's global
            one (it must be on the tensors' device).
        order: ``"modules"`` (``model.modules()`` pre-order, torchvision's loops) or
            ``"apply"`` (children first, ``model.apply``/Hugging Face); default: the policy's.
        skip_frozen: leave parameters with ``requires_grad=False`` alone.
        include: only initialize tensors whose name matches one of these globs or names
            (e.g. the ``missing_keys`` of ``load_state_dict(strict=False)``).
        exclude: never initialize tensors whose name matches one of these.
        strict: make a policy that matches nothing in the model an error instead of a warning.
        seed: keyed seeding (:mod:`torchinit.seeding`): every tensor's values are a pure
            function of the seed, its name and its strategy, independent of traversal order,
            other parameters, wrappers and device; torch's global generator is not touched.
            Not with ``generator``.
        device: for a model on the meta device, where to materialize it
            (:mod:`torchinit.materialize`): its tensors are allocated there and initialized in
            one pass; parameters no rule sets get their layer's default init, buffers their
            proper values. On any other model it must name the model's device (a no-op).
        **options: options of the preset (e.g. ``zero_init_residual=True`` for ``"resnet"``).

    Returns:
        An :class:`~torchinit.InitReport`: which rule and strategy set each tensor, and what
        nothing matched.

    Example:
        >>> import torch, torchinit
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> report = torchinit.init_model(model, "resnet")
        >>> report.unmatched
        ['0.bias']
    """
    keyed = _keyed(seed, generator, model)
    meta = _materialization(model, device)
    built = _build_plan(
        model,
        resolve_policy(policy, options),
        generator=generator,
        order=order,
        skip_frozen=skip_frozen,
        include=include,
        exclude=exclude,
        strict=strict,
        keyed=keyed,
        meta=meta,
    )
    with torch.no_grad():
        _execute(built, generator, keyed, meta)
    return _report(built, model, applied=True, keyed=keyed)
