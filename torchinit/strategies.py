"""Initialization strategies: small immutable values that fill one tensor in place.

Every ``torch.nn.init`` function has a strategy class here, registered under the function's name
without the trailing underscore (``kaiming_normal``). Named strategies call ``torch.nn.init``
itself, so they draw exactly the random numbers ``torch.nn.init`` draws, in the same order, from
the same generator: a policy made of them reproduces a hand-written loop bit for bit.

:class:`VarianceScaling` is the one general formula (Keras/JAX's ``variance_scaling``); the
Xavier, Kaiming and LeCun strategies are specialisations of it, and ``as_variance_scaling()``
says which of its parameters each one fixes.

Every strategy validates its arguments when it is built, so a bad value fails before any tensor
is touched, with a message such as
``kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] (got 'fanin')``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, cast, get_args

import torch
from torch import nn

from torchinit import _validate
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, UnknownNameError
from torchinit.fans import (
    FAN_MODES,
    NONLINEARITIES,
    FanMode,
    Nonlinearity,
    calculate_fan,
    calculate_fans,
    calculate_gain,
)
from torchinit.registry import Registry

__all__ = [
    "STRATEGIES",
    "AttrStrategy",
    "Constant",
    "Dirac",
    "Eye",
    "FanTruncNormal",
    "FanUniform",
    "FromAttr",
    "GateConstant",
    "KaimingNormal",
    "KaimingUniform",
    "Law",
    "LecunNormal",
    "LecunUniform",
    "Normal",
    "Ones",
    "Orthogonal",
    "PaddedNormal",
    "Sparse",
    "Strategy",
    "TorchDefault",
    "TruncNormal",
    "Uniform",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
    "Zeros",
    "get_strategy",
    "register_strategy",
    "to_strategy",
]

Distribution = Literal["normal", "truncated_normal", "uniform"]
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
KaimingMode = Literal["fan_in", "fan_out"]
KAIMING_MODES: tuple[str, ...] = get_args(KaimingMode)

# std of a standard normal truncated to [-2, 2]; dividing by it makes the truncated draw have
# the variance asked for (the constant Keras and JAX use).
TRUNCATED_NORMAL_STD = 0.87962566103423978

LawKind = Literal["constant", "uniform", "normal", "trunc_normal"]


@dataclasses.dataclass(frozen=True)
class Law:
    """The distribution a strategy draws every element of a tensor from, independently.

    Keyed seeding (:mod:`torchinit.seeding`) fills a tensor chunk by chunk from its strategy's
    law, in parallel, and a rank of a sharded tensor fills only its own part. Strategies whose
    elements are not independent (orthogonal, sparse, eye, dirac, ...) have no law and are drawn
    whole.

    Attributes:
        kind: ``constant``, ``uniform``, ``normal`` or ``trunc_normal``.
        params: ``(value,)``, ``(low, high)``, ``(mean, std)`` or ``(mean, std, a, b)`` (a and
            b absolute, as in ``torch.nn.init.trunc_normal_``).
        zero_row: a row (index into dimension 0, non-negative) set to zero after drawing, such
            as an embedding's padding row; ``None`` for none.

    Example:
        >>> Normal(0.0, 0.02).law((4, 3))
        Law(kind='normal', params=(0.0, 0.02), zero_row=None)
    """

    kind: LawKind
    params: tuple[float, ...]
    zero_row: int | None = None


class Strategy:
    """Base class of initialization strategies.

    A strategy is an immutable value (subclasses are frozen dataclasses) holding its arguments
    and nothing else. Calling it fills a tensor in place and returns it, like
    ``torch.nn.init``'s functions::

        strategy(tensor, generator=None) -> tensor

    Subclasses set ``min_ndim``/``max_ndim`` (or override :meth:`check_shape`) so that a policy
    can refuse a tensor it cannot fill before touching any tensor.
    """

    name: ClassVar[str] = ""
    min_ndim: ClassVar[int] = 0
    max_ndim: ClassVar[int | None] = None
    #: Strategies that reset a whole layer rather than fill one tensor (see TorchDefault).
    module_level: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not hasattr(call, "_torchinit_unwrapped"):
            # Like torch.nn.init's functions, a strategy may be called on a Parameter that
            # requires grad: every subclass's __call__ runs under no_grad.
            cls.__call__ = _no_grad(call)  # type: ignore[method-assign]

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def check_shape(self, shape: Sequence[int]) -> str | None:
        """Return why a tensor of ``shape`` cannot be filled, or ``None`` if it can."""
        ndim = len(shape)
        if self.min_ndim <= ndim and (self.max_ndim is None or ndim <= self.max_ndim):
            return None
        if self.max_ndim is None:
            plural = "" if self.min_ndim == 1 else "s"
            return f"needs a tensor with at least {self.min_ndim} dimension{plural}"
        if self.max_ndim == self.min_ndim:
            return f"needs a tensor with exactly {self.min_ndim} dimensions"
        return f"needs a tensor with {self.min_ndim} to {self.max_ndim} dimensions"

    def law(self, shape: tuple[int, ...]) -> Law | None:
        """The elementwise law of the values drawn for a tensor of ``shape``, or ``None``.

        ``None`` (the default) means the elements are not drawn independently of each other;
        keyed seeding then draws the tensor whole with :meth:`__call__`.
        """
        return None

    def arguments(self) -> dict[str, Any]:
        """The strategy's arguments by name, in declaration order."""
        if not hasattr(self, "__dataclass_fields__"):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(cast(Any, self))}

    def to_spec(self) -> str | dict[str, dict[str, Any]]:
        """The strategy as plain data: ``"zeros"`` or ``{"normal": {"mean": 0.0, "std": 0.01}}``."""
        args = self.arguments()
        return {self.name: args} if args else self.name

    def describe(self) -> str:
        """A short readable form, e.g. ``kaiming_normal(mode='fan_out', nonlinearity='relu')``."""
        args = ", ".join(f"{key}={value!r}" for key, value in self.arguments().items())
        return f"{self.name}({args})"


def _no_grad(call: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``call`` run under ``torch.no_grad()``, entered only when gradients are on.

    The policy engine calls a strategy per tensor with gradients already off; entering the
    context manager anyway cost more than filling a small tensor.
    """

    @functools.wraps(call)
    def wrapped(*args: Any, **kwargs: Any) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return call(*args, **kwargs)
        with torch.no_grad():
            return call(*args, **kwargs)

    wrapped._torchinit_unwrapped = call  # type: ignore[attr-defined]
    return wrapped


def grad_free_call(strategy: Strategy) -> Callable[..., torch.Tensor]:
    """``type(strategy).__call__`` without the wrapper that enters ``torch.no_grad()``.

    For the policy engine, which applies a plan under ``torch.no_grad()`` already: there the
    wrapper would only check that, once per tensor. Called as ``call(strategy, tensor,
    generator=...)``.
    """
    call = type(strategy).__call__
    return cast(Callable[..., torch.Tensor], getattr(call, "_torchinit_unwrapped", call))


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
        ...     def __call__(self, tensor, *, generator=None):
        ...         return torch.nn.init.constant_(tensor, 0.5)
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
    arguments = {key: _from_attr_spec(value, f"{name}.{key}") for key, value in arguments.items()}
    if any(isinstance(value, FromAttr) for value in arguments.values()):
        return AttrStrategy.create(cls, name, arguments)
    return _construct(cls, name, arguments)


def _construct(cls: type[Strategy], name: str, arguments: Mapping[str, Any]) -> Strategy:
    signature = inspect.signature(cls)
    accepted = list(signature.parameters)
    for key in arguments:
        if not isinstance(key, str):
            raise ArgumentTypeError("argument names must be strings", path=name, got=key)
        if key not in signature.parameters:
            hint = _validate.closest_hint(key, accepted)
            raise UnknownNameError(
                f"unknown argument;{hint} {name} takes {accepted}",
                path=f"{name}.{key}",
                got=arguments[key],
            )
    for key, parameter in signature.parameters.items():
        if parameter.default is inspect.Parameter.empty and key not in arguments:
            raise ArgumentTypeError("missing required argument", path=f"{name}.{key}")
    return cls(**arguments)


def to_strategy(spec: Any, path: str = "") -> Strategy:
    """Turn a strategy or its plain-data form into a strategy.

    Accepts a :class:`Strategy`, a name (``"zeros"``), or a one-key mapping from name to
    arguments (``{"normal": {"std": 0.01}}``). Errors carry ``path`` in front of their key path.

    Example:
        >>> to_strategy({"normal": {"std": 0.01}})
        Normal(mean=0.0, std=0.01)
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
    except (ArgumentTypeError, InvalidArgumentError, UnknownNameError) as error:
        raise (error.prefixed(path) if path else error) from None
    raise ArgumentTypeError(
        "must be a Strategy, a strategy name, or a one-key mapping {name: {arguments}}",
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
    # plain-data form of FromAttr: a mapping with an "attr" key (no strategy takes a mapping)
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
        signature = inspect.signature(strategy)
        for key, value in arguments.items():
            if key not in signature.parameters:
                hint = _validate.closest_hint(key, list(signature.parameters))
                raise UnknownNameError(
                    f"unknown argument;{hint} {name} takes {list(signature.parameters)}",
                    path=f"{name}.{key}",
                    got=value,
                )
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

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise ArgumentTypeError(
            "reads arguments from a layer; use it in a policy rule (or call bind(layer))",
            path=self.target,
        )


def is_empty(tensor: torch.Tensor, *, stacklevel: int) -> bool:
    """Whether ``tensor`` has no elements; if so, warn as ``torch.nn.init`` does.

    For strategies that compute a fan before drawing (a zero fan would divide by zero), so
    they return early like torch's fan-based functions. ``stacklevel`` counts from the caller
    of this function, as in ``warnings.warn``.
    """
    if tensor.numel() != 0:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=stacklevel + 1)
    return True


def _rows_divisible(shape: Sequence[int], count: int, name: str) -> str | None:
    """Why dimension 0 of ``shape`` cannot be split in ``count`` equal parts, if it cannot."""
    return None if shape[0] % count == 0 else f"needs dimension 0 divisible by {name}={count}"


def _float(strategy: Strategy, field: str, value: float) -> None:
    # frozen dataclasses may only normalise their fields through object.__setattr__
    object.__setattr__(strategy, field, value)


# Fast paths. torch.nn.init's functions are thin Python over one tensor method (fill_,
# normal_, uniform_), and that Python (checks, fans, gains, a no_grad block) costs more than
# filling a small tensor. Where nothing can intercept the call (no __torch_function__ on the
# tensor's type, no TorchFunctionMode; checked before the tensor is touched at all), the
# strategies below call the method directly with the very same arguments, so that the values
# and the random numbers drawn are the same bit for bit; otherwise, and for the cases
# torch.nn.init warns about or refuses, they call torch.nn.init.
_intercepted = torch.overrides.has_torch_function_variadic


def _fast_fan_shape(tensor: torch.Tensor) -> torch.Size | None:
    """``tensor``'s shape if a fan-based strategy may take its fast path: nothing intercepts
    calls on the tensor, and torch.nn.init fills that shape without a word (at least 2
    dimensions, none of size 0); else ``None``."""
    if _intercepted(tensor):
        return None
    shape = tensor.shape
    return shape if len(shape) >= 2 and 0 not in shape else None


@functools.lru_cache(maxsize=1024)
def _kaiming_std(a: float, mode: str, nonlinearity: str, shape: torch.Size) -> float:
    """``std`` as ``torch.nn.init.kaiming_normal_``/``kaiming_uniform_`` compute it."""
    fan_in, fan_out = calculate_fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1024)
def _xavier_std(gain: float, shape: torch.Size) -> float:
    """``std`` as ``torch.nn.init.xavier_normal_``/``xavier_uniform_`` compute it."""
    fan_in, fan_out = calculate_fans(shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def constant_fill(strategy: Strategy) -> float | None:
    """0.0 for :class:`Zeros` and 1.0 for :class:`Ones` (not subclasses, which may fill
    otherwise), whose call comes down to ``tensor.zero_()`` and ``tensor.fill_(1.0)`` when
    nothing intercepts calls on the tensor; else ``None``.

    The policy engine calls those methods itself, rather than the strategy, for the many
    biases and norm weights of a big model.
    """
    kind = type(strategy)
    if kind is Zeros:
        return 0.0
    if kind is Ones:
        return 1.0
    return None


# --------------------------------------------------------------------------- constants


@register_strategy("constant")
@dataclasses.dataclass(frozen=True)
class Constant(Strategy):
    """Fill with a constant: ``torch.nn.init.constant_``.

    .. math:: w = \\text{val}

    Args:
        val: the value.

    Example:
        >>> Constant(0.63)(torch.empty(2, 3)).unique().tolist()
        [0.6299999952316284]
    """

    val: float

    def __post_init__(self) -> None:
        _float(self, "val", _validate.number(self.val, f"{self.name}.val"))

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not _intercepted(tensor):
            return tensor.fill_(self.val)
        return nn.init.constant_(tensor, self.val)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("constant", (self.val,))


@register_strategy("zeros")
@dataclasses.dataclass(frozen=True)
class Zeros(Strategy):
    """Fill with zeros: ``torch.nn.init.zeros_``.

    Example:
        >>> Zeros()(torch.empty(3)).tolist()
        [0.0, 0.0, 0.0]
    """

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not _intercepted(tensor):
            return tensor.zero_()
        return nn.init.zeros_(tensor)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("constant", (0.0,))


@register_strategy("ones")
@dataclasses.dataclass(frozen=True)
class Ones(Strategy):
    """Fill with ones: ``torch.nn.init.ones_``.

    Example:
        >>> Ones()(torch.empty(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not _intercepted(tensor):
            return tensor.fill_(1.0)
        return nn.init.ones_(tensor)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("constant", (1.0,))


@register_strategy("eye")
@dataclasses.dataclass(frozen=True)
class Eye(Strategy):
    """Fill a 2-D tensor with the identity matrix: ``torch.nn.init.eye_``.

    Preserves the identity of the inputs in Linear layers, as many inputs as possible.

    Example:
        >>> Eye()(torch.empty(2, 3)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    min_ndim: ClassVar[int] = 2
    max_ndim: ClassVar[int | None] = 2

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return nn.init.eye_(tensor)


@register_strategy("dirac")
@dataclasses.dataclass(frozen=True)
class Dirac(Strategy):
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta: ``torch.nn.init.dirac_``.

    The convolution then passes its input channels through unchanged (per group).

    Args:
        groups: number of groups; the weight's first dimension must be divisible by it.

    Example:
        >>> float(Dirac()(torch.empty(3, 16, 5, 5)).sum())
        3.0
    """

    groups: int = 1

    min_ndim: ClassVar[int] = 3
    max_ndim: ClassVar[int | None] = 5

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "groups", _validate.integer(self.groups, f"{self.name}.groups", minimum=1)
        )

    def check_shape(self, shape: Sequence[int]) -> str | None:
        return super().check_shape(shape) or _rows_divisible(shape, self.groups, "groups")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return nn.init.dirac_(tensor, self.groups)


# --------------------------------------------------------------------------- plain random


@register_strategy("uniform")
@dataclasses.dataclass(frozen=True)
class Uniform(Strategy):
    """Draw from the uniform distribution U(a, b): ``torch.nn.init.uniform_``.

    .. math:: w \\sim \\mathcal{U}(a, b)

    Args:
        a: lower bound.
        b: upper bound, ``>= a``.

    Example:
        >>> w = Uniform(-0.1, 0.1)(torch.empty(1000), generator=torch.Generator().manual_seed(0))
        >>> bool(w.abs().max() <= 0.1)
        True
    """

    a: float = 0.0
    b: float = 1.0

    def __post_init__(self) -> None:
        a, b = _validate.bounds(self.a, self.b, self.name, strict=False)
        _float(self, "a", a)
        _float(self, "b", b)

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not _intercepted(tensor):
            return tensor.uniform_(self.a, self.b, generator=generator)
        return nn.init.uniform_(tensor, self.a, self.b, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("uniform", (self.a, self.b))


@register_strategy("normal")
@dataclasses.dataclass(frozen=True)
class Normal(Strategy):
    """Draw from the normal distribution N(mean, std²): ``torch.nn.init.normal_``.

    .. math:: w \\sim \\mathcal{N}(\\text{mean}, \\text{std}^2)

    Args:
        mean: the mean.
        std: the standard deviation, ``>= 0``.

    Example:
        >>> w = Normal(0.0, 0.01)(torch.empty(100_000), generator=torch.Generator().manual_seed(0))
        >>> round(float(w.std()), 3)
        0.01
    """

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        _float(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        _float(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if not _intercepted(tensor):
            return tensor.normal_(self.mean, self.std, generator=generator)
        return nn.init.normal_(tensor, self.mean, self.std, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("normal", (self.mean, self.std))


@register_strategy("padded_normal")
@dataclasses.dataclass(frozen=True)
class PaddedNormal(Strategy):
    """N(mean, std²) with one row set to zero: an embedding's padding row.

    What Hugging Face's ``_init_weights`` does to ``nn.Embedding``: ``normal_`` over the whole
    table, then row ``padding_idx`` zeroed (it draws the same random numbers as ``normal``).
    Read the row from the layer with ``FromAttr("padding_idx", optional=True)``: an embedding
    without padding has ``padding_idx=None`` and gets a plain normal.

    Args:
        mean: the mean.
        std: the standard deviation, ``>= 0``.
        padding_idx: the row to zero, or ``None``.

    Example:
        >>> w = PaddedNormal(std=0.02, padding_idx=0)(torch.empty(4, 3))
        >>> w[0].tolist()
        [0.0, 0.0, 0.0]
    """

    mean: float = 0.0
    std: float = 1.0
    padding_idx: int | None = None

    min_ndim: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _float(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        _float(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))
        if self.padding_idx is not None:
            _validate.integer(self.padding_idx, f"{self.name}.padding_idx")

    def check_shape(self, shape: Sequence[int]) -> str | None:
        problem = super().check_shape(shape)
        inside = self.padding_idx is None or -shape[0] <= self.padding_idx < shape[0]
        if problem is None and not inside:
            return f"padding_idx={self.padding_idx} is outside dimension 0 of size {shape[0]}"
        return problem

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        nn.init.normal_(tensor, self.mean, self.std, generator=generator)
        if self.padding_idx is not None:
            tensor[self.padding_idx].zero_()
        return tensor

    def law(self, shape: tuple[int, ...]) -> Law | None:
        row = None if self.padding_idx is None else self.padding_idx % shape[0]
        return Law("normal", (self.mean, self.std), zero_row=row)


@register_strategy("trunc_normal")
@dataclasses.dataclass(frozen=True)
class TruncNormal(Strategy):
    """Draw from N(mean, std²) truncated to [a, b]: ``torch.nn.init.trunc_normal_``.

    As in torch, ``a`` and ``b`` are **absolute values**, not multiples of ``std``: with the
    defaults ``a=-2, b=2`` and ``std=0.02`` nothing is truncated in practice. To truncate at
    two standard deviations, pass ``a=-2 * std, b=2 * std``.

    .. math:: w \\sim \\mathcal{N}(\\text{mean}, \\text{std}^2) \\mid a \\le w \\le b

    Args:
        mean: mean of the normal before truncation.
        std: standard deviation before truncation, ``> 0``.
        a: lower cut-off (absolute value).
        b: upper cut-off (absolute value), ``> a``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = TruncNormal(std=1.0, a=-0.5, b=0.5)(torch.empty(1000), generator=g)
        >>> bool(w.abs().max() <= 0.5)
        True
    """

    mean: float = 0.0
    std: float = 1.0
    a: float = -2.0
    b: float = 2.0

    def __post_init__(self) -> None:
        _float(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        # torch divides by std when truncating, so 0 is not allowed here (unlike normal)
        _float(self, "std", _validate.positive(self.std, f"{self.name}.std"))
        a, b = _validate.bounds(self.a, self.b, self.name)
        _float(self, "a", a)
        _float(self, "b", b)

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return nn.init.trunc_normal_(
            tensor, self.mean, self.std, self.a, self.b, generator=generator
        )

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("trunc_normal", (self.mean, self.std, self.a, self.b))


@register_strategy("orthogonal")
@dataclasses.dataclass(frozen=True)
class Orthogonal(Strategy):
    """Fill with a (semi-)orthogonal matrix scaled by ``gain``: ``torch.nn.init.orthogonal_``.

    Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks" (2013). Dimensions after the first are flattened.

    .. math:: W^\\top W = \\text{gain}^2 I \\ \\text{(or } W W^\\top\\text{, whichever is smaller)}

    Args:
        gain: scaling factor, ``> 0``.

    Example:
        >>> w = Orthogonal()(torch.empty(3, 5), generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(w @ w.T, torch.eye(3), atol=1e-5)
        True
    """

    gain: float = 1.0

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return nn.init.orthogonal_(tensor, self.gain, generator=generator)


@register_strategy("sparse")
@dataclasses.dataclass(frozen=True)
class Sparse(Strategy):
    """Fill a 2-D tensor sparsely: ``torch.nn.init.sparse_``.

    Martens, "Deep learning via Hessian-free optimization" (2010). In each column a fraction
    ``sparsity`` of the entries is zero; the others are drawn from N(0, std²).

    With a ``generator``, the zero pattern is drawn from it too (``torch.nn.init.sparse_``
    draws it from the global generator even when given one); without, the values equal
    torch's.

    Args:
        sparsity: fraction of zeros per column, in [0, 1).
        std: standard deviation of the non-zero entries, ``>= 0``.

    Example:
        >>> w = Sparse(0.5)(torch.empty(4, 3), generator=torch.Generator().manual_seed(0))
        >>> (w == 0).sum(dim=0).tolist()
        [2, 2, 2]
    """

    sparsity: float
    std: float = 0.01

    min_ndim: ClassVar[int] = 2
    max_ndim: ClassVar[int | None] = 2

    def __post_init__(self) -> None:
        sparsity = _validate.number(self.sparsity, f"{self.name}.sparsity")
        if not 0.0 <= sparsity < 1.0:
            raise InvalidArgumentError(
                "must be in [0, 1)", path=f"{self.name}.sparsity", got=self.sparsity
            )
        _float(self, "sparsity", sparsity)
        _float(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if generator is None:
            return nn.init.sparse_(tensor, self.sparsity, self.std)
        # torch's sparse_ draws its zero pattern with randperm from the global generator even
        # when given one; draw it from ``generator`` too, in the same order as torch does.
        rows, cols = tensor.shape
        num_zeros = math.ceil(self.sparsity * rows)
        tensor.normal_(0.0, self.std, generator=generator)
        for column in range(cols):
            rows_to_zero = torch.randperm(rows, generator=generator, device=generator.device)
            tensor[rows_to_zero[:num_zeros].to(tensor.device), column] = 0
        return tensor


@register_strategy("gate_constant")
@dataclasses.dataclass(frozen=True)
class GateConstant(Strategy):
    """Fill a gate-stacked tensor with ``fill``, and the rows of one gate with ``value``.

    Recurrent layers stack their gates along dimension 0: PyTorch's LSTM biases are
    ``(4 * hidden,)`` in the gate order input, forget, cell, output, so the forget gate is
    ``GateConstant(gates=4, index=1, value=1.0)`` (rows ``hidden:2*hidden``). Draws no random
    numbers.

    Args:
        gates: how many gates are stacked; dimension 0 must be divisible by it.
        index: which gate (0-based) gets ``value``, ``0 <= index < gates``.
        value: the value of that gate's rows.
        fill: the value of every other row.

    Example:
        >>> GateConstant(gates=4, index=1, value=1.0)(torch.empty(8)).tolist()
        [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """

    gates: int
    index: int
    value: float
    fill: float = 0.0

    min_ndim: ClassVar[int] = 1

    def __post_init__(self) -> None:
        gates = _validate.integer(self.gates, f"{self.name}.gates", minimum=1)
        index = _validate.integer(self.index, f"{self.name}.index", minimum=0)
        if index >= gates:
            raise InvalidArgumentError(
                f"must be < gates={gates}", path=f"{self.name}.index", got=self.index
            )
        object.__setattr__(self, "gates", gates)
        object.__setattr__(self, "index", index)
        _float(self, "value", _validate.number(self.value, f"{self.name}.value"))
        _float(self, "fill", _validate.number(self.fill, f"{self.name}.fill"))

    def check_shape(self, shape: Sequence[int]) -> str | None:
        return super().check_shape(shape) or _rows_divisible(shape, self.gates, "gates")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        rows = tensor.shape[0] // self.gates
        nn.init.constant_(tensor, self.fill)
        tensor[self.index * rows : (self.index + 1) * rows].fill_(self.value)
        return tensor


# --------------------------------------------------------------------------- variance scaling


@register_strategy("variance_scaling")
@dataclasses.dataclass(frozen=True)
class VarianceScaling(Strategy):
    """The general fan-based formula that Xavier, Kaiming and LeCun specialise.

    As in Keras and JAX: with ``fan`` chosen by ``mode`` (``fan_avg`` is the mean of fan_in and
    fan_out),

    .. math::
        \\sigma^2 = \\frac{\\text{scale}}{\\text{fan}}

    and the values are drawn from N(0, σ²) (``normal``), from a normal truncated at ±2 of its
    own standard deviations and rescaled so that the result has variance σ²
    (``truncated_normal``), or from U(-√3σ, √3σ) (``uniform``).

    ==================================  ===========================================
    strategy                            as variance scaling
    ==================================  ===========================================
    ``xavier_uniform(gain)``            ``(gain², 'fan_avg', 'uniform')``
    ``xavier_normal(gain)``             ``(gain², 'fan_avg', 'normal')``
    ``kaiming_uniform(a, mode, nl)``    ``(calculate_gain(nl, a)², mode, 'uniform')``
    ``kaiming_normal(a, mode, nl)``     ``(calculate_gain(nl, a)², mode, 'normal')``
    ``lecun_normal()``                  ``(1, 'fan_in', 'truncated_normal')``
    ``lecun_uniform()``                 ``(1, 'fan_in', 'uniform')``
    ==================================  ===========================================

    Args:
        scale: the variance multiplier, ``> 0``.
        mode: ``fan_in``, ``fan_out`` or ``fan_avg``.
        distribution: ``normal``, ``truncated_normal`` or ``uniform``.

    Example:
        >>> vs = VarianceScaling(2.0, "fan_in", "normal")
        >>> vs.std((256, 128))
        0.125
    """

    scale: float = 1.0
    mode: FanMode = "fan_in"
    distribution: Distribution = "truncated_normal"

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "scale", _validate.positive(self.scale, f"{self.name}.scale"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")
        _validate.choice(self.distribution, DISTRIBUTIONS, f"{self.name}.distribution")

    def std(self, shape: torch.Tensor | Sequence[int]) -> float:
        """The standard deviation of the values this strategy draws for ``shape``."""
        return math.sqrt(self.scale / calculate_fan(shape, self.mode))

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if is_empty(tensor, stacklevel=3):
            return tensor
        std = self.std(tensor)
        if self.distribution == "normal":
            return nn.init.normal_(tensor, 0.0, std, generator=generator)
        if self.distribution == "truncated_normal":
            inner = std / TRUNCATED_NORMAL_STD
            return nn.init.trunc_normal_(
                tensor, 0.0, inner, -2.0 * inner, 2.0 * inner, generator=generator
            )
        if self.distribution == "uniform":
            bound = math.sqrt(3.0) * std
            return nn.init.uniform_(tensor, -bound, bound, generator=generator)
        raise AssertionError(f"unreachable: distribution {self.distribution!r} was validated")

    def law(self, shape: tuple[int, ...]) -> Law | None:
        std = self.std(shape)
        if self.distribution == "normal":
            return Law("normal", (0.0, std))
        if self.distribution == "truncated_normal":
            inner = std / TRUNCATED_NORMAL_STD
            return Law("trunc_normal", (0.0, inner, -2.0 * inner, 2.0 * inner))
        bound = math.sqrt(3.0) * std
        return Law("uniform", (-bound, bound))


@register_strategy("xavier_uniform")
@dataclasses.dataclass(frozen=True)
class XavierUniform(Strategy):
    """Glorot/Xavier uniform: ``torch.nn.init.xavier_uniform_``.

    Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural
    networks" (2010). Variance scaling with scale ``gain²``, mode ``fan_avg``, ``uniform``:

    .. math:: w \\sim \\mathcal{U}(-b, b), \\quad
              b = \\text{gain} \\sqrt{\\frac{6}{\\text{fan\\_in} + \\text{fan\\_out}}}

    Args:
        gain: scaling factor, ``> 0`` (see :func:`torchinit.calculate_gain`).

    Example:
        >>> w = XavierUniform()(torch.empty(4, 6), generator=torch.Generator().manual_seed(0))
        >>> bool(w.abs().max() <= (6 / 10) ** 0.5)
        True
    """

    gain: float = 1.0

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain**2, "fan_avg", "uniform")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        shape = _fast_fan_shape(tensor)
        if shape is not None:
            bound = math.sqrt(3.0) * _xavier_std(self.gain, shape)
            return tensor.uniform_(-bound, bound, generator=generator)
        return nn.init.xavier_uniform_(tensor, self.gain, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        bound = math.sqrt(3.0) * _xavier_std(self.gain, torch.Size(shape))
        return Law("uniform", (-bound, bound))


@register_strategy("xavier_normal")
@dataclasses.dataclass(frozen=True)
class XavierNormal(Strategy):
    """Glorot/Xavier normal: ``torch.nn.init.xavier_normal_``.

    Glorot & Bengio (2010). Variance scaling with scale ``gain²``, mode ``fan_avg``, ``normal``:

    .. math:: w \\sim \\mathcal{N}(0, \\sigma^2), \\quad
              \\sigma = \\text{gain} \\sqrt{\\frac{2}{\\text{fan\\_in} + \\text{fan\\_out}}}

    Args:
        gain: scaling factor, ``> 0``.

    Example:
        >>> XavierNormal(gain=2.0).as_variance_scaling()
        VarianceScaling(scale=4.0, mode='fan_avg', distribution='normal')
    """

    gain: float = 1.0

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain**2, "fan_avg", "normal")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        shape = _fast_fan_shape(tensor)
        if shape is not None:
            return tensor.normal_(0.0, _xavier_std(self.gain, shape), generator=generator)
        return nn.init.xavier_normal_(tensor, self.gain, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("normal", (0.0, _xavier_std(self.gain, torch.Size(shape))))


def _check_kaiming(strategy: KaimingUniform | KaimingNormal) -> None:
    _float(strategy, "a", _validate.non_negative(strategy.a, f"{strategy.name}.a"))
    _validate.choice(strategy.mode, KAIMING_MODES, f"{strategy.name}.mode")
    _validate.choice(strategy.nonlinearity, NONLINEARITIES, f"{strategy.name}.nonlinearity")


def _kaiming_scale(strategy: KaimingUniform | KaimingNormal) -> float:
    return calculate_gain(strategy.nonlinearity, strategy.a) ** 2


@register_strategy("kaiming_uniform")
@dataclasses.dataclass(frozen=True)
class KaimingUniform(Strategy):
    """He/Kaiming uniform: ``torch.nn.init.kaiming_uniform_``.

    He et al., "Delving deep into rectifiers" (2015). Variance scaling with scale
    ``calculate_gain(nonlinearity, a)²``, the given mode, ``uniform``:

    .. math:: w \\sim \\mathcal{U}(-b, b), \\quad b = \\text{gain} \\sqrt{\\frac{3}{\\text{fan}}}

    Args:
        a: negative slope of the rectifier after this layer (``leaky_relu`` only), ``>= 0``.
        mode: ``fan_in`` keeps the forward variance, ``fan_out`` the backward variance.
        nonlinearity: a name accepted by :func:`torchinit.calculate_gain`.

    Example:
        >>> KaimingUniform(mode="fan_out", nonlinearity="relu").as_variance_scaling().scale
        2.0000000000000004
    """

    a: float = 0.0
    mode: KaimingMode = "fan_in"
    nonlinearity: Nonlinearity = "leaky_relu"

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _check_kaiming(self)

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(_kaiming_scale(self), self.mode, "uniform")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        shape = _fast_fan_shape(tensor)
        if shape is not None:
            std = _kaiming_std(self.a, self.mode, self.nonlinearity, shape)
            bound = math.sqrt(3.0) * std
            return tensor.uniform_(-bound, bound, generator=generator)
        return nn.init.kaiming_uniform_(
            tensor,
            self.a,
            self.mode,
            self.nonlinearity,
            generator=generator,
        )

    def law(self, shape: tuple[int, ...]) -> Law | None:
        bound = math.sqrt(3.0) * _kaiming_std(
            self.a, self.mode, self.nonlinearity, torch.Size(shape)
        )
        return Law("uniform", (-bound, bound))


@register_strategy("kaiming_normal")
@dataclasses.dataclass(frozen=True)
class KaimingNormal(Strategy):
    """He/Kaiming normal: ``torch.nn.init.kaiming_normal_``.

    He et al., "Delving deep into rectifiers" (2015). Variance scaling with scale
    ``calculate_gain(nonlinearity, a)²``, the given mode, ``normal``:

    .. math::
        w \\sim \\mathcal{N}(0, \\sigma^2), \\quad \\sigma = \\text{gain} / \\sqrt{\\text{fan}}

    Args:
        a: negative slope of the rectifier after this layer (``leaky_relu`` only), ``>= 0``.
        mode: ``fan_in`` keeps the forward variance, ``fan_out`` the backward variance.
        nonlinearity: a name accepted by :func:`torchinit.calculate_gain`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> kaiming = KaimingNormal(mode="fan_out", nonlinearity="relu")
        >>> w = kaiming(torch.empty(64, 64, 3, 3), generator=g)
        >>> round(float(w.std()) * (64 * 9 / 2) ** 0.5, 1)
        1.0
    """

    a: float = 0.0
    mode: KaimingMode = "fan_in"
    nonlinearity: Nonlinearity = "leaky_relu"

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _check_kaiming(self)

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(_kaiming_scale(self), self.mode, "normal")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        shape = _fast_fan_shape(tensor)
        if shape is not None:
            std = _kaiming_std(self.a, self.mode, self.nonlinearity, shape)
            return tensor.normal_(0, std, generator=generator)
        return nn.init.kaiming_normal_(
            tensor,
            self.a,
            self.mode,
            self.nonlinearity,
            generator=generator,
        )

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law(
            "normal", (0.0, _kaiming_std(self.a, self.mode, self.nonlinearity, torch.Size(shape)))
        )


@register_strategy("fan_uniform")
@dataclasses.dataclass(frozen=True)
class FanUniform(Strategy):
    """Uniform with bounds ``±gain / sqrt(fan)``.

    PyTorch's own layer defaults use this form for biases (``gain=1``, ``fan_in``), and
    torchvision's EfficientNet for its classifier (``gain=1``, ``fan_out``). Variance scaling
    with scale ``gain² / 3`` and ``uniform``; computed as ``gain / math.sqrt(fan)`` so that it
    reproduces those hand-written bounds bit for bit.

    .. math:: w \\sim \\mathcal{U}(-b, b), \\quad b = \\text{gain} / \\sqrt{\\text{fan}}

    Args:
        gain: bound multiplier, ``> 0``.
        mode: ``fan_in``, ``fan_out`` or ``fan_avg``.

    Example:
        >>> w = FanUniform(mode="fan_out")(torch.empty(100, 20), generator=torch.Generator())
        >>> bool(w.abs().max() <= 0.1)
        True
    """

    gain: float = 1.0
    mode: FanMode = "fan_in"

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain**2 / 3.0, self.mode, "uniform")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if is_empty(tensor, stacklevel=3):
            return tensor
        bound = self.gain / math.sqrt(calculate_fan(tensor, self.mode))
        return nn.init.uniform_(tensor, -bound, bound, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        bound = self.gain / math.sqrt(calculate_fan(shape, self.mode))
        return Law("uniform", (-bound, bound))


@register_strategy("fan_trunc_normal")
@dataclasses.dataclass(frozen=True)
class FanTruncNormal(Strategy):
    """N(0, scale / fan) truncated to ``[a, b]``, with torch's absolute bounds.

    What torchvision's ViT draws for its patch embedding and pre-logits layer:
    ``trunc_normal_(w, std=math.sqrt(1 / fan_in))``. Unlike ``variance_scaling``'s
    ``truncated_normal`` (cut at ±2 of its own standard deviations and rescaled), the bounds
    here are absolute values, as in :class:`TruncNormal`, and the std is not rescaled.

    .. math:: w \\sim \\mathcal{N}(0, \\text{scale}/\\text{fan}) \\mid a \\le w \\le b

    Args:
        scale: the variance multiplier, ``> 0``.
        mode: ``fan_in``, ``fan_out`` or ``fan_avg``.
        a: lower cut-off (absolute value).
        b: upper cut-off (absolute value), ``> a``.

    Example:
        >>> strategy = FanTruncNormal()
        >>> w = strategy(torch.empty(64, 3, 16, 16), generator=torch.Generator().manual_seed(0))
        >>> round(float(w.std()) * (3 * 16 * 16) ** 0.5, 1)
        1.0
    """

    scale: float = 1.0
    mode: FanMode = "fan_in"
    a: float = -2.0
    b: float = 2.0

    min_ndim: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _float(self, "scale", _validate.positive(self.scale, f"{self.name}.scale"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")
        a, b = _validate.bounds(self.a, self.b, self.name)
        _float(self, "a", a)
        _float(self, "b", b)

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        if is_empty(tensor, stacklevel=3):
            return tensor
        std = math.sqrt(self.scale / calculate_fan(tensor, self.mode))
        return nn.init.trunc_normal_(tensor, 0.0, std, self.a, self.b, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        std = math.sqrt(self.scale / calculate_fan(shape, self.mode))
        return Law("trunc_normal", (0.0, std, self.a, self.b))


@register_strategy("lecun_normal")
@dataclasses.dataclass(frozen=True)
class LecunNormal(Strategy):
    """LeCun normal, as in JAX and Keras: truncated normal with variance ``1 / fan_in``.

    LeCun et al., "Efficient BackProp" (1998); Klambauer et al., "Self-Normalizing Neural
    Networks" (2017) use it with SELU. ``VarianceScaling(1.0, 'fan_in', 'truncated_normal')``.

    Example:
        >>> LecunNormal().as_variance_scaling()
        VarianceScaling(scale=1.0, mode='fan_in', distribution='truncated_normal')
    """

    min_ndim: ClassVar[int] = 2

    def as_variance_scaling(self) -> VarianceScaling:
        """The :class:`VarianceScaling` this strategy runs."""
        return VarianceScaling(1.0, "fan_in", "truncated_normal")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.as_variance_scaling()(tensor, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return self.as_variance_scaling().law(shape)


@register_strategy("lecun_uniform")
@dataclasses.dataclass(frozen=True)
class LecunUniform(Strategy):
    """LeCun uniform: U(-b, b) with ``b = sqrt(3 / fan_in)``.

    LeCun et al., "Efficient BackProp" (1998). ``VarianceScaling(1.0, 'fan_in', 'uniform')``.

    Example:
        >>> LecunUniform().as_variance_scaling()
        VarianceScaling(scale=1.0, mode='fan_in', distribution='uniform')
    """

    min_ndim: ClassVar[int] = 2

    def as_variance_scaling(self) -> VarianceScaling:
        """The :class:`VarianceScaling` this strategy runs."""
        return VarianceScaling(1.0, "fan_in", "uniform")

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return self.as_variance_scaling()(tensor, generator=generator)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return self.as_variance_scaling().law(shape)


# --------------------------------------------------------------------------- layer defaults


def reset_method_name(module: nn.Module) -> str | None:
    """The name of ``module``'s own reset method (``reset_parameters`` or ``_reset_parameters``)."""
    for name in ("reset_parameters", "_reset_parameters"):
        if callable(getattr(module, name, None)):
            return name
    return None


@contextlib.contextmanager
def drawing_from(generator: torch.Generator | None) -> Iterator[None]:
    """Make code that uses torch's default generator draw from ``generator`` instead.

    Layer reset methods take no generator; this swaps the state of the default generator of
    ``generator``'s device for the duration, then hands the advanced state back to
    ``generator`` and restores the default generator.
    """
    if generator is None:
        yield
        return
    device = generator.device
    if device.type == "cpu":
        default = torch.default_generator
    elif device.type == "cuda":
        default = torch.cuda.default_generators[device.index or 0]
    else:
        raise InvalidArgumentError(
            "generators are supported on cpu and cuda", path="generator", got=str(device)
        )
    saved = default.get_state()
    default.set_state(generator.get_state())
    try:
        yield
    finally:
        generator.set_state(default.get_state())
        default.set_state(saved)


@register_strategy("torch_default")
@dataclasses.dataclass(frozen=True)
class TorchDefault(Strategy):
    """The layer's own default init: its ``reset_parameters()`` (``_reset_parameters()``).

    This strategy works on a whole layer, not one tensor: a policy that gives it to any
    parameter of a layer calls that layer's reset method once, where the layer comes in the
    traversal order, before the layer's other parameters are set. The reset method sets every
    parameter of the layer (and, for normalization layers, resets running statistics); the
    policy engine restores the parameters that the call is not meant to change, so the random
    numbers drawn for those are wasted, exactly as a hand-written call would waste them.

    With a ``generator``, the reset draws from it (its state is swapped into torch's default
    generator for the duration of the call).

    Example:
        >>> import torchinit
        >>> layer = torch.nn.Linear(4, 2)
        >>> rule = torchinit.Rule(torch.nn.Linear, weight="torch_default", bias="torch_default")
        >>> report = torchinit.init_model(layer, torchinit.Policy([rule]))
        >>> report["weight"].strategy
        TorchDefault()
    """

    module_level: ClassVar[bool] = True

    def reset(self, module: nn.Module, *, generator: torch.Generator | None = None) -> None:
        """Call ``module``'s own reset method, drawing from ``generator`` if given."""
        method = reset_method_name(module)
        if method is None:
            raise InvalidArgumentError(
                "has no reset_parameters() or _reset_parameters() method",
                path=f"{self.name}",
                got=type(module).__name__,
            )
        with drawing_from(generator):
            getattr(module, method)()

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise ArgumentTypeError(
            "resets a whole layer and cannot fill a lone tensor; use it in a policy rule",
            path=self.name,
        )
