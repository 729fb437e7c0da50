"""Matching: which rule gives which strategy to each slot of the model index."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping

import torch
from torch import nn

from torchinit import families
from torchinit._wrappers import bare_name
from torchinit.engine.index import ModelIndex, Slot, own_names
from torchinit.errors import PlanError, TorchInitError, closest, did_you_mean
from torchinit.patterns import NameGlob
from torchinit.policy import Policy, Rule
from torchinit.report import Outcome, Status
from torchinit.strategies import AttrStrategy, Strategy, constant_fill, grad_free_call


@dataclasses.dataclass(eq=False, slots=True)
class Assignment:
    """What a rule gives a slot. One object serves every slot that a rule's key picks with the
    same overridden rules (a plan has far fewer of these than tensors); a strategy bound to
    one layer (``FromAttr``) gets an assignment of its own."""

    rule_index: int
    rule: Rule
    key: str  # the rule's key that picked the slot ("weight", "bn3.weight", "init")
    strategy: Strategy
    label: str  # the rule's description, for the report
    overridden: tuple[int, ...] = ()  # earlier rules that matched the slot too, and lost
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

    @property
    def path(self) -> str:
        """The rule's key path, for errors: ``rules[2].weight``."""
        return f"rules[{self.rule_index}].{self.key}"

    def outcome(self, status: Status, reason: str | None = None) -> Outcome:
        return Outcome(status, self.rule_index, self.label, self.strategy, reason, self.overridden)

    def bound(self, slot: Slot, layer: nn.Module) -> Assignment:
        """This assignment with its strategy's ``FromAttr`` arguments read from ``layer``."""
        strategy = self.strategy
        assert isinstance(strategy, AttrStrategy)
        try:
            bound = strategy.bind(layer)
        except TorchInitError as error:
            located = PlanError(
                error.problem,
                where=slot.names[0],
                path=f"{self.path}.{error.path}",
                **({"got": error.got} if error.has_value else {}),
            )
            raise at_rule(located, self.rule) from None
        return Assignment(self.rule_index, self.rule, self.key, bound, self.label, self.overridden)


def at_rule(error: TorchInitError, rule: Rule) -> TorchInitError:
    """``error`` with the rule's source location (``policy.yaml:7``) in front, if it has one."""
    return error.located(rule.source) if rule.source else error


def assign(
    index: ModelIndex, policy: Policy, inactive: set[int]
) -> tuple[list[Assignment | None], dict[int, nn.Module], list[int]]:
    """Which rule gives which strategy to each slot (by slot position); the last rule wins.

    Also returns, for slots given a strategy with ``FromAttr`` arguments, the layer the rule
    matched (to read them from). Rules in ``inactive`` (all of whose optional type names are
    missing) match nothing.
    """
    assigned: list[Assignment | None] = [None] * len(index.slots)
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
        first: dict[str, Assignment] = {}  # by key, for slots no earlier rule picked
        later: dict[tuple[str, Assignment], Assignment] = {}  # by key and the earlier one
        for slot, key, strategy, layer in picked:
            position = slot.position
            before = assigned[position]
            if before is None:
                assignment = first.get(key)
                if assignment is None:
                    assignment = first[key] = Assignment(rule_index, rule, key, strategy, label)
            else:
                assignment = later.get((key, before))
                if assignment is None:
                    overridden = (
                        before.overridden
                        if before.rule_index == rule_index
                        else (*before.overridden, before.rule_index)
                    )
                    assignment = Assignment(rule_index, rule, key, strategy, label, overridden)
                    later[(key, before)] = assignment
            assigned[position] = assignment
            if not assignment.fills_tensor:
                layers[position] = layer
    return assigned, layers, unused


_Picked = tuple[Slot, str, Strategy, nn.Module]


def _match_params(index: ModelIndex, rule: Rule) -> list[_Picked]:
    assert rule.init is not None
    bare, prefix = index.bare, index.prefix
    return [
        (slot, "init", rule.init, slot.module)
        for slot in index.slots
        if rule.matches_type(slot.module) and rule.matches_param_name(bare(slot.names), prefix)
    ]


def _match_layers(index: ModelIndex, rule: Rule, rule_index: int) -> list[_Picked]:
    # per key: a glob over the layer's own slots, or a name, of the layer's own (no dot) or
    # of a child's slot
    keys = [
        (key, strategy, NameGlob(key) if any(char in key for char in "*?[") else None, "." in key)
        for key, strategy in rule.strategies
    ]
    named = rule.name is not None
    by_parameter = index.by_parameter
    bare, prefix = index.bare, index.prefix
    picked: list[_Picked] = []
    for module, names in index.modules:
        if not rule.matches_type(module) or (
            named and not rule.matches_module_name(bare(names), prefix)
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
                raise at_rule(_no_parameter_error(module, names, key, rule_index), rule)
            picked.append((slot, key, strategy, module))
    return picked


def unused_rule_error(index: ModelIndex, policy: Policy, rule_index: int, model: str) -> PlanError:
    """Why rule ``rule_index`` matches nothing in the model (named ``model``), with the
    closest names the model has: of its layers for a ``name`` glob, of its parameters for a
    ``param`` glob, of its layer classes for a type rule, of a layer's own parameters for
    parameter-name globs that pick none in the layers the rule matches."""
    rule = policy.rules[rule_index]
    path = f"rules[{rule_index}]"
    named = f"rule {rule.label!r} " if rule.label is not None else ""
    bare, prefix = index.bare, index.prefix
    if rule.param is not None:
        names = [name for slot in index.slots for name in bare(slot.all_names)]
        return PlanError(
            did_you_mean(
                f"{named}matches no parameter of {model}", bare_name(rule.param, prefix), names
            ),
            path=f"{path}.match.param",
            got=rule.param,
        )
    layers = [
        (module, names)
        for module, names in index.modules
        if rule.matches_type(module) and rule.matches_module_name(bare(names), prefix)
    ]
    if layers:
        # the layers are there: the rule's keys are globs (a missing name is an error) and
        # pick none of their parameters
        key = rule.strategies[0][0]
        own = sorted({local for module, _ in layers for local in own_names(module)})
        return PlanError(
            did_you_mean(
                f"{named}matches layers of {model} (e.g. {layers[0][1][0]!r}) but none of "
                "their parameters",
                key,
                own,
                f"their parameters are {_shorten(own)}",
            ),
            path=f"{path}.{key}",
            got=key,
        )
    if rule.name is not None:
        names = [name for _, names in index.modules for name in bare(names) if name]
        return PlanError(
            did_you_mean(
                f"{named}matches no layer of {model}", bare_name(rule.name, prefix), names
            ),
            path=f"{path}.match.name",
            got=rule.name,
        )
    wanted = [cls.__name__ for cls in rule.types] + list(rule.type_names) + list(rule.class_names)
    present = sorted({type(module).__name__ for module, _ in index.modules})
    return PlanError(
        did_you_mean(
            f"{named}matches no layer of {model}",
            wanted[0],
            present,
            f"its layer classes are {_shorten(present)}",
        ),
        path=f"{path}.match.{'type' if rule.types or rule.type_names else 'class_name'}",
        got=wanted[0] if len(wanted) == 1 else wanted,
    )


def _nested_slot(index: ModelIndex, module: nn.Module, key: str) -> Slot | None:
    owner_path, _, local = key.rpartition(".")
    owner = _submodule(module, owner_path)
    return index.slot(owner, local) if owner is not None and id(owner) in index.layers else None


def _submodule(module: nn.Module, path: str) -> nn.Module | None:
    if not path:
        return module
    try:
        return module.get_submodule(path)
    except AttributeError:
        return None


def _no_parameter_error(
    module: nn.Module, names: list[str], key: str, rule_index: int
) -> PlanError:
    available = _parameter_names(module)
    return PlanError(
        did_you_mean(
            f"layer {names[0]!r} ({type(module).__name__}) has no parameter {key!r}",
            key,
            available,
            f"its parameters are {_shorten(available)}",
        ),
        path=f"rules[{rule_index}].{key}",
    )


def _parameter_names(module: nn.Module) -> list[str]:
    """The names a layer rule can give for ``module``: its own slots, then its children's."""
    nested = [name for name, _ in module.named_parameters() if "." in name]
    return own_names(module) + [name for name in nested if ".parametrizations." not in name]


def _shorten(names: list[str], limit: int = 12) -> str:
    if len(names) <= limit:
        return str(names)
    return str(names[:limit])[:-1] + f", ... ({len(names) - limit} more)]"


@functools.cache
def layer_type_names() -> tuple[str, ...]:
    """The layer type names a policy may use whatever the model: torch.nn's public layer
    classes and the families (:mod:`torchinit.families`).

    Example:
        >>> [name in layer_type_names() for name in ("Conv2d", "Conv", "_ConvNd")]
        [True, True, False]
    """
    layers = (
        name
        for name, value in sorted(vars(nn).items())
        if not name.startswith("_") and isinstance(value, type) and issubclass(value, nn.Module)
    )
    return (*layers, *families.FAMILIES)


def resolve_type_names(policy: Policy, index: ModelIndex) -> tuple[Policy, set[int]]:
    """Replace the rules' layer class names by classes, from torch.nn, the families and the
    model itself.

    A ``torch.nn`` name comes first, then a family (``Conv``, see :mod:`torchinit.families`),
    then the model's layer classes and their bases, where a short name (``Bottleneck``) must
    name exactly one class; a dotted name (``torchvision.models.resnet.Bottleneck``) is matched
    against their full names, and ``torchinit.families.Conv`` always names the family. A short
    name of both a family and a class of the model is an error. Nothing is imported. Also
    returns the rules that match nothing because every (optional) type they name is missing.
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
        resolved: list[type[nn.Module]] = []
        for name in rule.type_names:
            family = _family(name, short, rule_index, rule)
            if family is not None:
                resolved.extend(family)
                continue
            # a copy: the pop below must not empty the set another rule naming it reads
            candidates = {full[name]} if name in full else set(short.get(name, ()))
            if not candidates and rule.optional:
                continue
            if len(candidates) != 1:
                raise at_rule(_type_name_error(name, candidates, short, rule_index), rule)
            resolved.append(candidates.pop())
        if rule.type_names and not resolved and not rule.types:
            inactive.add(rule_index)  # every type it names is missing: it matches nothing
            rules.append(rule)
            continue
        rules.append(rule.with_types(tuple(resolved)) if rule.type_names else rule)
    return Policy(rules, name=policy.name, order=policy.order, options=policy.options), inactive


_FAMILY_PREFIX = f"{families.__name__}."


def _family(
    name: str, short: Mapping[str, set[type[nn.Module]]], rule_index: int, rule: Rule
) -> tuple[type[nn.Module], ...] | None:
    """The classes a type name means before the model's own: a ``torch.nn`` class or a family
    (``None`` if neither; an error if a family's short name also names a class of the model)."""
    # vars, not getattr: a module's __getattr__ may import code
    layer = vars(nn).get(name)
    if isinstance(layer, type) and issubclass(layer, nn.Module):
        return (layer,)
    family = families.family_named(name)
    if family is None:
        return None
    if name in short:  # a short name only: the model's class names have no dots
        classes = sorted(f"{c.__module__}.{c.__qualname__}" for c in short[name])
        error = PlanError(
            f"names the family {_FAMILY_PREFIX}{name} and a layer class of the model; write "
            f"{_FAMILY_PREFIX}{name} for the family, or the class's full name, one of {classes}",
            path=f"rules[{rule_index}].match.type",
            got=name,
        )
        raise at_rule(error, rule)
    return family


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
    known = set(short) | set(layer_type_names())
    # a private base (_ConvNd, _BatchNorm) is suggested only when no public name is close
    public = [n for n in known if not n.startswith("_")]
    short_name = name.rpartition(".")[2]
    hint_from = public if closest(short_name, public) is not None else known
    return PlanError(
        did_you_mean(
            "no layer class of this name in torch.nn or in the model", short_name, hint_from
        ),
        path=path,
        got=name,
    )
