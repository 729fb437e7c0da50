"""Rules and policies: what to initialize, and with which strategy.

A :class:`Policy` is an ordered list of :class:`Rule`\\ s. A rule picks tensors in one of two ways:

* **module rules** match layers by type (``isinstance``, so subclasses match too; a tuple of
  types is allowed) and/or by a glob on the layer's full dotted name, and give a strategy per
  parameter name: ``Rule(nn.Conv2d, weight=KaimingNormal(), bias=Zeros())``. A parameter name
  may be a dotted path into a child (``Rule(Bottleneck, params={"bn3.weight": Zeros()})``) or a
  glob over the layer's own parameters (``Rule(nn.LSTM, params={"weight_hh_*": Orthogonal()})``).
* **parameter rules** match parameters by a glob on their full dotted name, optionally only
  inside layers of some types: ``Rule(param="**.bias", init=Zeros())``.

Either kind may also match layers by **class name**, as mmengine's ``layer=`` does
(``class_names=("Conv2d",)``): a layer matches when the name of its class, or of one of its
class's direct bases, is one of the names; nothing is resolved and ``isinstance`` is not used,
so a class two levels below ``nn.Conv2d`` does not match ``"Conv2d"`` while any class called
``Conv2d`` does (see :mod:`torchinit.dialects.mmengine`).

Precedence: when several rules give a strategy to the same parameter, **the last rule wins**
(like later lines of a config overriding earlier ones), so a general rule comes first and the
exceptions after it. Each parameter is initialized at most once per call: the overridden
strategies draw no random numbers.

Name globs are described in :mod:`torchinit.patterns`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast, get_args

from torch import nn

from torchinit import _validate
from torchinit._wrappers import bare_glob
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, TorchInitError
from torchinit.families import Family, family_names
from torchinit.patterns import NameGlob
from torchinit.strategies import Strategy, to_strategy

__all__ = ["ORDERS", "Order", "Policy", "Rule"]

Order = Literal["modules", "apply"]
ORDERS: tuple[str, ...] = get_args(Order)


def _types(value: Any) -> tuple[type[nn.Module], ...]:
    if value is None:
        return ()
    # a family (torchinit.families) is a tuple of classes, and may sit in a tuple of types
    items = value if isinstance(value, tuple) else (value,)
    candidates = tuple(
        cls for item in items for cls in (item if isinstance(item, Family) else (item,))
    )
    for candidate in candidates:
        if not (isinstance(candidate, type) and issubclass(candidate, nn.Module)):
            raise ArgumentTypeError(
                "must be an nn.Module subclass or a tuple of them "
                "(pass the class itself, e.g. nn.Conv2d, not its name)",
                path="types",
                got=value,
            )
    if not candidates:
        raise InvalidArgumentError("must name at least one type", path="types", got=value)
    return candidates


def _glob(value: Any, path: str) -> NameGlob | None:
    if value is None:
        return None
    try:
        return NameGlob(value)
    except TorchInitError as error:
        raise error.prefixed(path) from None


@dataclasses.dataclass(frozen=True)
class _RuleFields:
    """What a :class:`Rule` holds, in checked and normalized form (``Rule.__init__`` builds it)."""

    types: tuple[type[nn.Module], ...]
    name: str | None
    param: str | None
    init: Strategy | None
    params: tuple[tuple[str, Strategy], ...]
    label: str | None
    type_names: tuple[str, ...]
    optional: bool
    class_names: tuple[str, ...]
    source: str | None = dataclasses.field(repr=False, compare=False)


class Rule(_RuleFields):
    """One rule of a policy: which tensors it matches and the strategy each gets.

    Args:
        types: layer class(es) to match with ``isinstance`` (subclasses match too), or a
            family of them (:mod:`torchinit.families`: ``families.Conv``), or a tuple of both.
        name: glob on the layer's full dotted name (``"layer*.0.conv1"``, ``"**.head"``).
        param: glob on the parameter's full dotted name (``"**.bias"``); makes this a
            parameter rule, which takes ``init`` instead of per-parameter strategies.
        init: the strategy of a parameter rule.
        params: strategies by parameter name, for names that are not valid keywords.
        label: a short name shown in reports instead of the rule's description.
        type_names: layer classes by name (``"Conv2d"``, ``"mypkg.blocks.Bottleneck"``),
            resolved when the policy is applied against ``torch.nn`` and the classes of the
            model (never by importing anything); YAML policies use this.
        class_names: match layers whose class, or one of whose class's direct bases, has one
            of these names (mmengine's ``layer=`` semantics: no ``isinstance``, no resolving);
            with ``types``/``type_names`` a layer must match both.
        optional: the rule may match nothing in a model. By default a rule that matches
            nothing while other rules do is a :class:`~torchinit.TorchInitWarning` (an error
            with ``strict=True``), and a type name that names no class of the model is an
            error; an optional rule is silent about both (a type name the model lacks is
            skipped). Every rule of a preset is optional: presets cover layers a given model
            may not have (Hugging Face's ``Conv1D``, ``GroupNorm`` in a ResNet).
        source: where the rule was written (``policy.yaml:7``), put in front of its errors.
        **strategies: strategies by parameter name (``weight=...``, ``bias=...``,
            ``in_proj_weight=...``). A strategy may be a :class:`~torchinit.Strategy`, a
            registered name (``"zeros"``) or ``{name: {arguments}}``.

    Example:
        >>> from torch import nn
        >>> from torchinit import KaimingNormal
        >>> rule = Rule(nn.Conv2d, weight=KaimingNormal(mode="fan_out"), bias="zeros")
        >>> rule.describe()
        'Conv2d'
    """

    def __init__(
        self,
        types: type[nn.Module] | tuple[type[nn.Module], ...] | None = None,
        *,
        name: str | None = None,
        param: str | None = None,
        init: Any = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        label: str | None = None,
        type_names: Sequence[str] = (),
        optional: bool = False,
        source: str | None = None,
        class_names: Sequence[str] = (),
        **strategies: Any,
    ) -> None:
        for key, value in (("type_names", type_names), ("class_names", class_names)):
            if isinstance(value, str) or not all(isinstance(n, str) and n for n in value):
                raise ArgumentTypeError("must be a list of layer class names", path=key, got=value)
        checked_types = _types(types)
        _validate.boolean(optional, "optional")
        name_glob = _glob(name, "name")
        _glob(param, "param")
        if label is not None:
            _validate.string(label, "label")

        by_name: dict[str, Any] = {}
        if params is not None:
            # a tuple of (name, strategy) pairs is the form a Rule holds (dataclasses.replace)
            pairs = isinstance(params, tuple) and all(
                isinstance(pair, tuple) and len(pair) == 2 for pair in params
            )
            if not (isinstance(params, Mapping) or pairs):
                raise ArgumentTypeError(
                    "must be a mapping of parameter name to strategy", path="params", got=params
                )
            by_name.update(params)
        by_name.update(strategies)

        resolved: list[tuple[str, Strategy]] = []
        if param is None:
            if init is not None:
                raise InvalidArgumentError(
                    "is for parameter rules (with param=...); a layer rule names its "
                    "parameters, e.g. weight=...",
                    path="init",
                    got=init,
                )
            if not checked_types and not type_names and not class_names and name is None:
                raise InvalidArgumentError(
                    "a rule must match something: give types, name=... or param=...; "
                    "to match every layer use name='**'",
                    path="match",
                )
            if not by_name:
                raise InvalidArgumentError(
                    "a layer rule must give a strategy for at least one parameter, "
                    "e.g. weight=... or bias=...",
                    path="strategies",
                )
            if name_glob is not None and name_glob.pattern == "":
                raise InvalidArgumentError("must not be empty", path="name", got=name)
            for key, spec in by_name.items():
                _check_param_key(key)
                resolved.append((key, to_strategy(spec, key)))
        else:
            if name is not None:
                raise InvalidArgumentError(
                    "a parameter rule matches full parameter names; put the layer part in "
                    "the glob (e.g. param='layer1.**.bias') instead of name=...",
                    path="name",
                    got=name,
                )
            if by_name:
                raise InvalidArgumentError(
                    "a parameter rule takes one strategy as init=..., not per-parameter strategies",
                    path=next(iter(by_name)),
                    got=by_name[next(iter(by_name))],
                )
            if init is None:
                raise InvalidArgumentError(
                    "a parameter rule needs a strategy: init=...", path="init"
                )
            init = to_strategy(init, "init")
        super().__init__(
            types=checked_types,
            name=name,
            param=param,
            init=init,
            params=tuple(resolved),
            label=label,
            type_names=tuple(type_names),
            optional=optional,
            source=source,
            class_names=tuple(class_names),
        )

    @property
    def strategies(self) -> tuple[tuple[str, Strategy], ...]:
        """The strategies of a layer rule, by parameter name (``params``)."""
        return self.params

    @functools.cached_property
    def _name_glob(self) -> NameGlob | None:
        return _glob(self.name, "name")

    @functools.cached_property
    def _param_glob(self) -> NameGlob | None:
        return _glob(self.param, "param")

    def with_types(self, types: tuple[type[nn.Module], ...]) -> Rule:
        """This rule with ``type_names`` replaced by the classes they name."""
        return dataclasses.replace(self, types=(*self.types, *types), type_names=())

    def as_optional(self) -> Rule:
        """This rule, allowed to match nothing (``optional=True``)."""
        if self.optional:
            return self
        # no types is stored as (), which the constructor refuses; it takes None
        return dataclasses.replace(self, types=cast(Any, self.types or None), optional=True)

    @property
    def is_param_rule(self) -> bool:
        """Whether this rule matches parameters by name (``param=``) rather than layers."""
        return self.param is not None

    def matches_type(self, module: nn.Module) -> bool:
        """Whether ``module`` is an instance of one of the rule's types and has one of its
        class names (each check passes when the rule gives none)."""
        return (not self.types or isinstance(module, self.types)) and (
            not self.class_names or self.matches_class_name(module)
        )

    def matches_class_name(self, module: nn.Module) -> bool:
        """Whether the class of ``module`` or one of its class's direct bases has one of the
        rule's ``class_names`` (mmengine's ``layer`` matching)."""
        cls = type(module)
        return any(
            name in self.class_names
            for name in (cls.__name__, *(b.__name__ for b in cls.__bases__))
        )

    def matches_module_name(self, names: Sequence[str], prefix: str = "") -> bool:
        """Whether any of a layer's full names matches the rule's ``name`` glob.

        ``names`` are bare (without the ``prefix`` of wrappers such as ``torch.compile``'s
        ``_orig_mod.``); a glob written with ``prefix`` is matched without it.
        """
        glob = self._name_glob
        if glob is None:
            return True
        if prefix:
            glob = bare_glob(glob, prefix)
        return any(glob.matches(name) for name in names)

    def matches_param_name(self, names: Sequence[str], prefix: str = "") -> bool:
        """Whether any of a parameter's full names matches the rule's ``param`` glob (bare
        names and ``prefix`` as for :meth:`matches_module_name`)."""
        glob = self._param_glob
        if glob is None:
            return False
        if prefix:
            glob = bare_glob(glob, prefix)
        return any(glob.matches(name) for name in names)

    def describe(self) -> str:
        """The rule's label, or a short description of what it matches."""
        if self.label is not None:
            return self.label
        parts = []
        if self.types or self.type_names:
            parts.append("|".join([*family_names(self.types), *self.type_names]))
        if self.class_names:
            parts.append(f"class_name={'|'.join(self.class_names)}")
        if self.name is not None:
            parts.append(f"name={self.name!r}")
        if self.param is not None:
            parts.append(f"param={self.param!r}")
        return " ".join(parts)


def _check_param_key(key: Any) -> None:
    if not isinstance(key, str) or key == "":
        raise ArgumentTypeError("parameter names must be non-empty strings", got=key)
    glob = NameGlob(key) if any(char in key for char in "*?[") else None
    if glob is not None and "." in key:
        raise InvalidArgumentError(
            "a parameter-name glob matches the layer's own parameters and cannot contain "
            "dots; use a parameter rule (param='**.x*') for dotted globs",
            path=key,
        )


@dataclasses.dataclass(frozen=True, init=False)
class Policy:
    """An ordered list of rules, applied by :func:`torchinit.init_model`.

    Args:
        rules: the rules, in order; for the same parameter the last matching rule wins.
        name: a name shown in reports.
        order: the traversal order that decides which random numbers each tensor gets:
            ``"modules"`` (``model.modules()``, pre-order, as torchvision's init loops) or
            ``"apply"`` (``model.apply(fn)``, children first, as Hugging Face).
        options: for a policy a preset built (:func:`torchinit.get_preset`), each option's
            value and where it came from: ``{"n_layer": (2, "model.config.n_layer")}``, the
            source being ``"given"``, ``"default"`` or the model attribute read. Not part of
            the policy's value: two policies with the same rules are equal.

    Example:
        >>> from torch import nn
        >>> from torchinit import KaimingNormal, Normal
        >>> policy = Policy([
        ...     Rule(nn.Conv2d, weight=KaimingNormal(mode="fan_out"), bias="zeros"),
        ...     Rule((nn.BatchNorm2d, nn.GroupNorm), weight="ones", bias="zeros"),
        ...     Rule(nn.Linear, weight=Normal(0.0, 0.01), bias="zeros"),
        ... ], name="vgg-like")
        >>> len(policy.rules)
        3
    """

    rules: tuple[Rule, ...]
    name: str | None
    order: Order
    options: Mapping[str, tuple[Any, str]] = dataclasses.field(compare=False, repr=False)

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        name: str | None = None,
        order: Order = "modules",
        options: Mapping[str, tuple[Any, str]] | None = None,
    ) -> None:
        if isinstance(rules, (str, bytes, Rule)) or not isinstance(rules, Sequence):
            raise ArgumentTypeError("must be a list of Rule", path="rules", got=rules)
        if not rules:
            raise InvalidArgumentError("must contain at least one rule", path="rules", got=[])
        for index, rule in enumerate(rules):
            if not isinstance(rule, Rule):
                raise ArgumentTypeError("must be a Rule", path=f"rules[{index}]", got=rule)
        if name is not None:
            _validate.string(name, "name")
        _validate.choice(order, ORDERS, "order")
        if options is not None and not isinstance(options, Mapping):
            raise ArgumentTypeError(
                "must be a mapping of option to (value, source)", path="options", got=options
            )
        object.__setattr__(self, "rules", tuple(rules))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "options", dict(options or {}))

    @classmethod
    def from_yaml(
        cls,
        source: str | os.PathLike[str],
        *,
        options: Mapping[str, Any] | None = None,
        model: nn.Module | None = None,
    ) -> Policy:
        """Load a policy from a YAML file (a path) or YAML text; see :mod:`torchinit.config`.

        ``options`` and ``model`` are for a file that ``extends:`` a preset
        (:func:`torchinit.config.load_policy`).

        Example:
            >>> policy = Policy.from_yaml('''
            ... rules:
            ...   - match: {type: Linear}
            ...     weight: {normal: {std: 0.02}}
            ...     bias: zeros
            ... ''')
            >>> policy.rules[0].strategies[0]
            ('weight', Normal(mean=0.0, std=0.02))
        """
        from torchinit.config import load_policy

        return load_policy(source, options=options, model=model)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from plain data in the YAML schema (see :mod:`torchinit.config`).

        ``data`` may be an OmegaConf ``DictConfig`` (a Hydra config node): it is read as plain
        data with its interpolations resolved (:func:`torchinit.config.plain_data`).

        Example:
            >>> rule = {"match": {"type": "Linear"}, "bias": "zeros"}
            >>> policy = Policy.from_dict({"rules": [rule]})
            >>> policy.rules[0].strategies
            (('bias', Zeros()),)
        """
        from torchinit.config import policy_from_dict

        return policy_from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data in the YAML schema; ``Policy.from_dict`` reads it back."""
        from torchinit.config import policy_to_dict

        return policy_to_dict(self)

    def to_yaml(self) -> str:
        """The policy as YAML text; ``Policy.from_yaml`` reads it back to an equal policy."""
        from torchinit.config import policy_to_yaml

        return policy_to_yaml(self)

    def then(self, *rules: Rule) -> Policy:
        """A new policy with ``rules`` appended (so they take precedence)."""
        rules_after = [*self.rules, *rules]
        return Policy(rules_after, name=self.name, order=self.order, options=self.options)
