"""Strategies from names and plain data: the registry, specs, and arguments read from a layer."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from torchinit import _validate
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    UnknownNameError,
    did_you_mean,
    key_path,
)
from torchinit.registry import Registry
from torchinit.strategies.base import Strategy
from torchinit.strategies.function import FunctionStrategy

__all__ = [
    "STRATEGIES",
    "AttrStrategy",
    "FromAttr",
    "get_strategy",
    "register_strategy",
    "to_strategy",
]

#: The registered strategies, mapping each name that policies and YAML files use to its class.
STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def register_strategy(name: str, *, overwrite: bool = False) -> Any:
    """Register a :class:`Strategy` subclass under ``name`` (a class decorator).

    Registered strategies can be named in policies (``weight="my_init"``), built with
    :func:`get_strategy` and used from YAML.

    Args:
        name: the name; a Python identifier. Registering a taken name is an error unless
            ``overwrite=True``.
        overwrite: replace an existing registration.

    Example:
        >>> import dataclasses
        >>> @register_strategy("half", overwrite=True)
        ... @dataclasses.dataclass(frozen=True)
        ... class Half(Strategy):
        ...     def initialize(self, tensor, generator):
        ...         return tensor.fill_(0.5)
        >>> get_strategy("half")(torch.empty(2)).tolist()
        [0.5, 0.5]
        >>> STRATEGIES.remove("half")
    """

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ArgumentTypeError(
                "must be a subclass of torchinit.Strategy", path=f"strategy {name!r}", got=cls
            )
        STRATEGIES.add(name, cls, overwrite=overwrite)
        if not cls.__dict__.get("name"):
            # a class registered again under another name keeps its first name (an alias)
            cls.name = name
        return cls

    return decorate


def get_strategy(name: str, /, **arguments: Any) -> Strategy:
    """Build a registered strategy by name.

    Args:
        name: a registered name (see ``torchinit.STRATEGIES``); a typo gets a suggestion.
        **arguments: the strategy's arguments.

    Example:
        >>> get_strategy("kaiming_normal", mode="fan_out", nonlinearity="relu")
        KaimingNormal(a=0.0, mode='fan_out', nonlinearity='relu')
    """
    return _build(STRATEGIES.lookup(name, ""), name, arguments)


def _build(cls: type[Strategy], name: str, arguments: Mapping[str, Any]) -> Strategy:
    arguments = {
        key: value if key in cls.mapping_arguments else _from_attr_spec(value, f"{name}.{key}")
        for key, value in arguments.items()
    }
    if any(isinstance(value, FromAttr) for value in arguments.values()):
        return AttrStrategy.create(cls, name, arguments)
    return _construct(cls, name, arguments)


def _check_argument_names(cls: type[Strategy], name: str, arguments: Mapping[str, Any]) -> None:
    accepted = list(inspect.signature(cls).parameters)
    for key in arguments:
        if not isinstance(key, str):
            raise ArgumentTypeError("argument names must be strings", path=name, got=key)
        if key not in accepted:
            raise UnknownNameError(
                did_you_mean("unknown argument", key, accepted, f"{name} takes {accepted}"),
                path=key_path(name, key),
                got=arguments[key],
            )


def _construct(cls: type[Strategy], name: str, arguments: Mapping[str, Any]) -> Strategy:
    _check_argument_names(cls, name, arguments)
    for key, parameter in inspect.signature(cls).parameters.items():
        if parameter.default is inspect.Parameter.empty and key not in arguments:
            raise ArgumentTypeError("missing required argument", path=f"{name}.{key}")
    return cls(**arguments)


def to_strategy(spec: Any, path: str = "") -> Strategy:
    """Turn a strategy or its plain-data form into a strategy.

    Accepts a :class:`Strategy`, a name (``"zeros"``), a one-key mapping from name to
    arguments (``{"normal": {"std": 0.01}}``), or a function filling a tensor in place
    (``torch.nn.init.zeros_``, a ``functools.partial``, a lambda), which becomes a
    :class:`FunctionStrategy`. Errors carry ``path`` in front of their key path.

    Example:
        >>> to_strategy({"normal": {"std": 0.01}})
        Normal(mean=0.0, std=0.01)
        >>> to_strategy(torch.nn.init.zeros_).describe()
        'torch.nn.init.zeros_'
    """
    try:
        if isinstance(spec, Strategy):
            return spec
        if isinstance(spec, str):
            return get_strategy(spec)
        if isinstance(spec, Mapping) and len(spec) == 1:
            ((name, arguments),) = spec.items()
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, Mapping):
                cls = STRATEGIES.lookup(name, "")
                raise ArgumentTypeError(
                    "arguments must be a mapping of name to value", path=cls.name, got=arguments
                )
            return _build(STRATEGIES.lookup(name, ""), name, arguments)
        if isinstance(spec, type) and issubclass(spec, Strategy):
            raise ArgumentTypeError(
                f"is a strategy class, not a strategy; build one: {spec.__name__}()", got=spec
            )
        if callable(spec) and not isinstance(spec, type):
            return FunctionStrategy(spec)
    except (ArgumentTypeError, InvalidArgumentError, UnknownNameError) as error:
        raise (error.prefixed(path) if path else error) from None
    raise ArgumentTypeError(
        "must be a Strategy, a strategy name, a one-key mapping {name: {arguments}} or a "
        "function of a tensor",
        path=path,
        got=spec,
    )


@dataclasses.dataclass(frozen=True)
class FromAttr:
    """A strategy argument read from an attribute of the layer a rule matched.

    The value is read when the policy is applied, from the layer the rule matched (for a
    parameter rule, the layer that owns the parameter), so one rule can give each layer its
    own argument, as torchvision's Inception reads each layer's ``stddev``. In YAML:
    ``std: {attr: stddev, default: 0.1}``.

    Args:
        attr: the attribute's name.
        default: the value for layers without the attribute; ``None`` makes it required.
        optional: pass ``None`` on when the layer's attribute is ``None`` or missing (and no
            default is given), for arguments where ``None`` means "none", such as
            ``padded_normal``'s ``padding_idx`` read from an ``nn.Embedding``.

    Example:
        >>> strategy = to_strategy({"trunc_normal": {"std": FromAttr("stddev", 0.1)}})
        >>> strategy.describe()
        "trunc_normal(std=attr('stddev', default=0.1))"
        >>> layer = torch.nn.Linear(2, 2)
        >>> layer.stddev = 0.01
        >>> strategy.bind(layer)
        TruncNormal(mean=0.0, std=0.01, a=-2.0, b=2.0)
    """

    attr: str
    default: Any = None
    optional: bool = False

    def __post_init__(self) -> None:
        _validate.boolean(self.optional, "optional")
        if not isinstance(self.attr, str) or not self.attr.isidentifier():
            raise ArgumentTypeError("must be an attribute name", path="attr", got=self.attr)

    def to_spec(self) -> dict[str, Any]:
        """The plain-data form: ``{"attr": "stddev", "default": 0.1}``."""
        spec: dict[str, Any] = {"attr": self.attr}
        if self.default is not None:
            spec["default"] = self.default
        if self.optional:
            spec["optional"] = True
        return spec

    def __str__(self) -> str:
        default = f", default={self.default!r}" if self.default is not None else ""
        optional = ", optional=True" if self.optional else ""
        return f"attr({self.attr!r}{default}{optional})"


def _from_attr_spec(value: Any, path: str) -> Any:
    # plain-data form of FromAttr: a mapping with an "attr" key (the strategies that take a
    # mapping name those arguments in mapping_arguments)
    if not isinstance(value, Mapping):
        return value
    unknown = sorted(set(value) - {"attr", "default", "optional"})
    if "attr" not in value or unknown:
        raise ArgumentTypeError(
            "a mapping argument must be {attr: <name>, default: <value>, optional: <bool>} "
            "(a value read from the layer)",
            path=path,
            got=dict(value),
        )
    try:
        return FromAttr(value["attr"], value.get("default"), value.get("optional", False))
    except ArgumentTypeError as error:
        raise error.prefixed(path) from None


@dataclasses.dataclass(frozen=True)
class AttrStrategy(Strategy):
    """A strategy some of whose arguments are read from the matched layer (:class:`FromAttr`).

    Built by :func:`to_strategy`/:func:`get_strategy` when an argument is a ``FromAttr``; the
    policy engine calls :meth:`bind` for each layer before anything is touched.
    """

    target: str
    args: tuple[tuple[str, Any], ...]

    @classmethod
    def create(
        cls, strategy: type[Strategy], name: str, arguments: Mapping[str, Any]
    ) -> AttrStrategy:
        """Check the argument names (and values, with defaults standing in) and build one."""
        _check_argument_names(strategy, name, arguments)
        stand_ins = {
            key: value.default if isinstance(value, FromAttr) else value
            for key, value in arguments.items()
        }
        required_without_default = any(
            isinstance(value, FromAttr) and value.default is None and not value.optional
            for value in arguments.values()
        )
        if not required_without_default:
            _construct(strategy, name, stand_ins)
        return cls(name, tuple(arguments.items()))

    def bind(self, module: nn.Module) -> Strategy:
        """The strategy with each :class:`FromAttr` replaced by ``module``'s attribute."""
        values = {}
        for key, value in self.args:
            if isinstance(value, FromAttr):
                found = getattr(module, value.attr, None)
                if found is None:
                    found = value.default
                if found is None and not value.optional:
                    state = "is None" if hasattr(module, value.attr) else "is missing"
                    raise InvalidArgumentError(
                        f"the layer's ({type(module).__name__}) attribute {value.attr!r} "
                        f"{state} and no default is given",
                        path=f"{self.target}.{key}",
                    )
                value = found
            values[key] = value
        return _construct(STRATEGIES.lookup(self.target, ""), self.target, values)

    def arguments(self) -> dict[str, Any]:
        return dict(self.args)

    def to_spec(self) -> dict[str, dict[str, Any]]:
        return {
            self.target: {
                key: value.to_spec() if isinstance(value, FromAttr) else value
                for key, value in self.args
            }
        }

    def describe(self) -> str:
        args = ", ".join(
            f"{key}={value}" if isinstance(value, FromAttr) else f"{key}={value!r}"
            for key, value in self.args
        )
        return f"{self.target}({args})"

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise ArgumentTypeError(
            "reads arguments from a layer; use it in a policy rule (or call bind(layer))",
            path=self.target,
        )
