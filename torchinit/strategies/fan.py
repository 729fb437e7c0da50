"""The fan-based strategies: :class:`VarianceScaling` and the Xavier, Kaiming, LeCun and fan
variants, each drawn from a law that one formula of the tensor's fans gives."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal, get_args

import torch
from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.fans import (
    FAN_MODES,
    TORCH_NONLINEARITIES,
    FanMode,
    Nonlinearity,
    calculate_fan,
    calculate_fans,
    calculate_gain,
    check_nonlinearity,
    is_empty,
)
from torchinit.strategies.base import Law, Strategy, intercepted, set_field
from torchinit.strategies.spec import register_strategy

__all__ = [
    "DISTRIBUTIONS",
    "DISTRIBUTION_ALIASES",
    "KAIMING_MODES",
    "TRUNCATED_NORMAL_STD",
    "Distribution",
    "FanStrategy",
    "FanTruncNormal",
    "FanUniform",
    "JaxGlorotNormal",
    "JaxHeNormal",
    "KaimingMode",
    "KaimingNormal",
    "KaimingUniform",
    "LecunNormal",
    "LecunUniform",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
]

Distribution = Literal["normal", "truncated_normal", "uniform"]
DISTRIBUTIONS: tuple[str, ...] = get_args(Distribution)
#: Other spellings :class:`VarianceScaling` accepts, and the distribution each one names:
#: Keras calls the plain normal ``untruncated_normal`` (its ``normal`` is the truncated one).
DISTRIBUTION_ALIASES: dict[str, Distribution] = {"untruncated_normal": "normal"}
KaimingMode = Literal["fan_in", "fan_out"]
KAIMING_MODES: tuple[str, ...] = get_args(KaimingMode)

# std of a standard normal truncated to [-2, 2]; dividing by it makes the truncated draw have
# the variance asked for (the constant Keras and JAX use).
TRUNCATED_NORMAL_STD = 0.87962566103423978


def _law_with_std(std: float, distribution: str) -> Law:
    """The law of ``distribution`` with standard deviation ``std``, with the bounds computed as
    ``torch.nn.init`` (uniform) and Keras/JAX (truncated normal) compute them."""
    if distribution == "normal":
        return Law("normal", (0.0, std))
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return Law("uniform", (-bound, bound))
    if distribution == "truncated_normal":
        inner = std / TRUNCATED_NORMAL_STD
        return Law("trunc_normal", (0.0, inner, -2.0 * inner, 2.0 * inner))
    raise AssertionError(f"unreachable: distribution {distribution!r} was validated")


def _variance_std(scale: float, shape: torch.Tensor | Sequence[int], mode: str) -> float:
    """``sqrt(scale / fan)``: the std of variance scaling, and of ``fan_trunc_normal``."""
    return math.sqrt(scale / calculate_fan(shape, mode))


# law kind -> (the tensor method torch.nn.init's function for it comes down to, that function);
# a truncated normal has no tensor method: torch.nn.init's sequence of operations is the draw
_DRAWS: dict[str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]] = {
    "normal": (torch.Tensor.normal_, nn.init.normal_),
    "uniform": (torch.Tensor.uniform_, nn.init.uniform_),
    "trunc_normal": (nn.init.trunc_normal_, nn.init.trunc_normal_),
}


# A fan-based strategy's draw for a shape: (the strategy, a tensor method, its arguments), by
# (id(strategy), shape). A model has few distinct pairs, and hashing a strategy (a dataclass)
# costs more than filling a small tensor. An entry holds its strategy, so that the id stays
# that strategy's own while the entry exists.
_fast_draws: dict[
    tuple[int, torch.Size],
    tuple[FanStrategy, Callable[..., torch.Tensor], tuple[float, ...]],
] = {}
_FAST_DRAWS_KEPT = 1024


class FanStrategy(Strategy):
    """Base of the strategies that draw from a law computed from the tensor's fans.

    A subclass states its law once, in :meth:`law` (with the float operations of the
    ``torch.nn.init`` function it reproduces, in the same order, so that the values are the
    same bit for bit); the call draws from that law. :meth:`torch_initialize` is the call
    through ``torch.nn.init``, for a tensor whose calls may be intercepted, or whose shape torch
    warns about or refuses.
    """

    min_ndim: ClassVar[int] = 2

    def warns_if_empty(self) -> bool:
        # a zero fan would divide by zero: return early, and say so, as torch's kaiming does
        return True

    def law(self, shape: tuple[int, ...]) -> Law:
        raise NotImplementedError(f"{type(self).__name__} does not implement law()")

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # nothing may touch the tensor (its shape included) before the interception check
        shape = None if intercepted(tensor) else tensor.shape
        if shape is None or len(shape) < 2 or 0 in shape:
            return self.torch_initialize(tensor, generator)
        draw = _fast_draws.get((id(self), shape))
        if draw is None:
            if len(_fast_draws) >= _FAST_DRAWS_KEPT:
                _fast_draws.clear()
            law = self.law(shape)
            draw = _fast_draws[id(self), shape] = (self, _DRAWS[law.kind][0], law.params)
        return draw[1](tensor, *draw[2], generator=generator)

    def torch_initialize(
        self, tensor: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Fill through ``torch.nn.init``'s function of the law, after torch's zero-element
        check (see :meth:`warns_if_empty`)."""
        if is_empty(tensor, stacklevel=4):
            return tensor
        law = self.law(tuple(tensor.shape))
        return _DRAWS[law.kind][1](tensor, *law.params, generator=generator)


@register_strategy("variance_scaling")
@dataclasses.dataclass(frozen=True)
class VarianceScaling(FanStrategy):
    """The general fan-based formula that Xavier, Kaiming and LeCun specialise.

    As in Keras and JAX: with ``fan`` chosen by ``mode`` (``fan_avg`` is the arithmetic mean of
    fan_in and fan_out, ``fan_geo_avg`` their geometric mean, as in JAX),

    .. math::
        \\sigma^2 = \\frac{\\text{scale}}{\\text{fan}}

    and the values are drawn from N(0, σ²) (``normal``), from a normal truncated at ±2 of its
    own standard deviations and rescaled so that the result has variance σ²
    (``truncated_normal``), or from U(-√3σ, √3σ) (``uniform``). Keras's spelling of the plain
    normal, ``untruncated_normal``, is accepted and stored as ``normal``, so that the two
    spellings of one law compare equal (Keras reads its own ``normal`` as the *truncated*
    normal: :func:`torchinit.from_keras` translates that).

    ==================================  ===========================================
    strategy                            as variance scaling
    ==================================  ===========================================
    ``xavier_uniform(gain)``            ``(gain², 'fan_avg', 'uniform')``
    ``xavier_normal(gain)``             ``(gain², 'fan_avg', 'normal')``
    ``kaiming_uniform(a, mode, nl)``    ``(calculate_gain(nl, a)², mode, 'uniform')``
    ``kaiming_normal(a, mode, nl)``     ``(calculate_gain(nl, a)², mode, 'normal')``
    ``lecun_normal()``                  ``(1, 'fan_in', 'truncated_normal')``
    ``lecun_uniform()``                 ``(1, 'fan_in', 'uniform')``
    ``jax_glorot_normal()``             ``(1, 'fan_avg', 'truncated_normal')``
    ``jax_he_normal()``                 ``(2, 'fan_in', 'truncated_normal')``
    ==================================  ===========================================

    The Xavier and Kaiming strategies compute their σ as ``torch.nn.init`` does (``gain *
    sqrt(2 / (fan_in + fan_out))``, ``gain / sqrt(fan)``), which can differ from this formula in
    the last bit; the LeCun strategies run this one.

    Args:
        scale: the variance multiplier, ``> 0``.
        mode: ``fan_in``, ``fan_out``, ``fan_avg`` or ``fan_geo_avg``.
        distribution: ``normal``, ``truncated_normal`` or ``uniform`` (or Keras's
            ``untruncated_normal``, stored as ``normal``).

    Example:
        >>> vs = VarianceScaling(2.0, "fan_in", "normal")
        >>> vs.std((256, 128))
        0.125
        >>> VarianceScaling(1.0, "fan_geo_avg", "untruncated_normal")
        VarianceScaling(scale=1.0, mode='fan_geo_avg', distribution='normal')
    """

    scale: float = 1.0
    mode: FanMode = "fan_in"
    distribution: Distribution | Literal["untruncated_normal"] = "truncated_normal"

    def __post_init__(self) -> None:
        set_field(self, "scale", _validate.positive(self.scale, f"{self.name}.scale"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")
        spellings = (*DISTRIBUTIONS, *DISTRIBUTION_ALIASES)
        _validate.choice(self.distribution, spellings, f"{self.name}.distribution")
        set_field(
            self, "distribution", DISTRIBUTION_ALIASES.get(self.distribution, self.distribution)
        )

    def std(self, shape: torch.Tensor | Sequence[int]) -> float:
        """The standard deviation of the values this strategy draws for ``shape``."""
        return _variance_std(self.scale, shape, self.mode)

    def law(self, shape: tuple[int, ...]) -> Law:
        return _law_with_std(self.std(shape), self.distribution)


@dataclasses.dataclass(frozen=True)
class _Xavier(FanStrategy):
    """Xavier's σ, ``gain * sqrt(2 / (fan_in + fan_out))``, as ``torch.nn.init`` computes it."""

    gain: float = 1.0

    distribution: ClassVar[Distribution]
    #: the torch.nn.init function the strategy reproduces
    torch_function: ClassVar[Callable[..., torch.Tensor]]

    def __post_init__(self) -> None:
        set_field(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))

    def warns_if_empty(self) -> bool:
        # torch's xavier functions fill a zero-element tensor with nothing, silently
        return False

    def torch_initialize(
        self, tensor: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        return type(self).torch_function(tensor, self.gain, generator=generator)

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain**2, "fan_avg", self.distribution)

    def law(self, shape: tuple[int, ...]) -> Law:
        fan_in, fan_out = calculate_fans(shape)
        std = self.gain * math.sqrt(2.0 / float(fan_in + fan_out))
        return _law_with_std(std, self.distribution)


@register_strategy("xavier_uniform")
@dataclasses.dataclass(frozen=True)
class XavierUniform(_Xavier):
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

    distribution: ClassVar[Distribution] = "uniform"
    torch_function = staticmethod(nn.init.xavier_uniform_)


@register_strategy("xavier_normal")
@dataclasses.dataclass(frozen=True)
class XavierNormal(_Xavier):
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

    distribution: ClassVar[Distribution] = "normal"
    torch_function = staticmethod(nn.init.xavier_normal_)


@dataclasses.dataclass(frozen=True)
class _Kaiming(FanStrategy):
    """Kaiming's σ, ``calculate_gain(nonlinearity, a) / sqrt(fan)``, as ``torch.nn.init``
    computes it."""

    a: float = 0.0
    mode: KaimingMode = "fan_in"
    nonlinearity: Nonlinearity = "leaky_relu"

    distribution: ClassVar[Distribution]
    #: the torch.nn.init function the strategy reproduces
    torch_function: ClassVar[Callable[..., torch.Tensor]]

    def __post_init__(self) -> None:
        # torch raises ValueError for a slope or a nonlinearity of the wrong type
        a = _validate.non_negative(self.a, f"{self.name}.a", wrong_type=InvalidArgumentError)
        set_field(self, "a", a)
        _validate.choice(self.mode, KAIMING_MODES, f"{self.name}.mode")
        check_nonlinearity(self.nonlinearity, f"{self.name}.nonlinearity")

    def gain(self) -> float:
        """The gain: ``calculate_gain(nonlinearity, a)``; ``a`` is a slope, so it reaches
        ``leaky_relu`` only (torch's names ignore it; ``elu``'s alpha is not a slope)."""
        slope = self.a if self.nonlinearity == "leaky_relu" else None
        return calculate_gain(self.nonlinearity, slope)

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain() ** 2, self.mode, self.distribution)

    def law(self, shape: tuple[int, ...]) -> Law:
        std = self.gain() / math.sqrt(calculate_fan(shape, self.mode))
        return _law_with_std(std, self.distribution)

    def torch_initialize(
        self, tensor: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        if self.nonlinearity not in TORCH_NONLINEARITIES:  # a gain torch does not know
            return super().torch_initialize(tensor, generator)
        function = type(self).torch_function
        return function(tensor, self.a, self.mode, self.nonlinearity, generator=generator)


@register_strategy("kaiming_uniform")
@dataclasses.dataclass(frozen=True)
class KaimingUniform(_Kaiming):
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

    distribution: ClassVar[Distribution] = "uniform"
    torch_function = staticmethod(nn.init.kaiming_uniform_)


@register_strategy("kaiming_normal")
@dataclasses.dataclass(frozen=True)
class KaimingNormal(_Kaiming):
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

    distribution: ClassVar[Distribution] = "normal"
    torch_function = staticmethod(nn.init.kaiming_normal_)


@register_strategy("fan_uniform")
@dataclasses.dataclass(frozen=True)
class FanUniform(FanStrategy):
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

    def __post_init__(self) -> None:
        set_field(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")

    def as_variance_scaling(self) -> VarianceScaling:
        """The equivalent :class:`VarianceScaling` (equal up to floating-point rounding)."""
        return VarianceScaling(self.gain**2 / 3.0, self.mode, "uniform")

    def law(self, shape: tuple[int, ...]) -> Law:
        bound = self.gain / math.sqrt(calculate_fan(shape, self.mode))
        return Law("uniform", (-bound, bound))


@register_strategy("fan_trunc_normal")
@dataclasses.dataclass(frozen=True)
class FanTruncNormal(FanStrategy):
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

    def __post_init__(self) -> None:
        set_field(self, "scale", _validate.positive(self.scale, f"{self.name}.scale"))
        _validate.choice(self.mode, FAN_MODES, f"{self.name}.mode")
        a, b = _validate.bounds(self.a, self.b, self.name)
        set_field(self, "a", a)
        set_field(self, "b", b)

    def law(self, shape: tuple[int, ...]) -> Law:
        std = _variance_std(self.scale, shape, self.mode)
        return Law("trunc_normal", (0.0, std, self.a, self.b))


@dataclasses.dataclass(frozen=True)
class _Specialisation(FanStrategy):
    """A variance scaling with every parameter fixed: :attr:`variance_scaling`."""

    variance_scaling: ClassVar[VarianceScaling]

    def as_variance_scaling(self) -> VarianceScaling:
        """The :class:`VarianceScaling` this strategy runs."""
        return self.variance_scaling

    def law(self, shape: tuple[int, ...]) -> Law:
        return self.variance_scaling.law(shape)


@register_strategy("lecun_normal")
@dataclasses.dataclass(frozen=True)
class LecunNormal(_Specialisation):
    """LeCun normal, as in JAX and Keras: truncated normal with variance ``1 / fan_in``.

    LeCun et al., "Efficient BackProp" (1998); Klambauer et al., "Self-Normalizing Neural
    Networks" (2017) use it with SELU. ``VarianceScaling(1.0, 'fan_in', 'truncated_normal')``.

    Example:
        >>> LecunNormal().as_variance_scaling()
        VarianceScaling(scale=1.0, mode='fan_in', distribution='truncated_normal')
    """

    variance_scaling: ClassVar[VarianceScaling] = VarianceScaling(1.0, "fan_in", "truncated_normal")


@register_strategy("lecun_uniform")
@dataclasses.dataclass(frozen=True)
class LecunUniform(_Specialisation):
    """LeCun uniform: U(-b, b) with ``b = sqrt(3 / fan_in)``.

    LeCun et al., "Efficient BackProp" (1998). ``VarianceScaling(1.0, 'fan_in', 'uniform')``.

    Example:
        >>> LecunUniform().as_variance_scaling()
        VarianceScaling(scale=1.0, mode='fan_in', distribution='uniform')
    """

    variance_scaling: ClassVar[VarianceScaling] = VarianceScaling(1.0, "fan_in", "uniform")


@register_strategy("jax_glorot_normal")
@dataclasses.dataclass(frozen=True)
class JaxGlorotNormal(_Specialisation):
    """Glorot normal as JAX and Keras define it: a *truncated* normal with variance
    ``2 / (fan_in + fan_out)``.

    Glorot & Bengio (2010). ``jax.nn.initializers.glorot_normal`` (and its alias
    ``xavier_normal``) and ``keras.initializers.GlorotNormal`` draw from a normal truncated at
    ±2 of its own standard deviations, rescaled by 1 / .87962566103423978 so that the result
    has the variance asked for: ``VarianceScaling(1.0, 'fan_avg', 'truncated_normal')``. Not
    :class:`XavierNormal` (``torch.nn.init.xavier_normal_``), which draws the plain normal of
    the same variance: same name, different law (see the dialects guide).

    .. math:: w \\sim \\mathcal{N}(0, s^2) \\mid |w| \\le 2s, \\quad
              s = \\frac{1}{.8796\\ldots} \\sqrt{\\frac{2}{\\text{fan\\_in} + \\text{fan\\_out}}}

    Example:
        >>> JaxGlorotNormal().as_variance_scaling()
        VarianceScaling(scale=1.0, mode='fan_avg', distribution='truncated_normal')
        >>> w = JaxGlorotNormal()(torch.empty(100, 300), generator=torch.Generator().manual_seed(0))
        >>> bool(w.abs().max() <= 2 * (2 / 400) ** 0.5 / TRUNCATED_NORMAL_STD)
        True
    """

    variance_scaling: ClassVar[VarianceScaling] = VarianceScaling(
        1.0, "fan_avg", "truncated_normal"
    )


@register_strategy("jax_he_normal")
@dataclasses.dataclass(frozen=True)
class JaxHeNormal(_Specialisation):
    """He normal as JAX and Keras define it: a *truncated* normal with variance ``2 / fan_in``.

    He et al., "Delving deep into rectifiers" (2015). ``jax.nn.initializers.he_normal`` (and
    its alias ``kaiming_normal``) and ``keras.initializers.HeNormal`` draw from a normal
    truncated at ±2 of its own standard deviations, rescaled by 1 / .87962566103423978:
    ``VarianceScaling(2.0, 'fan_in', 'truncated_normal')``. Not :class:`KaimingNormal`
    (``torch.nn.init.kaiming_normal_``), which draws the plain normal of the same variance.

    .. math:: w \\sim \\mathcal{N}(0, s^2) \\mid |w| \\le 2s, \\quad
              s = \\frac{1}{.8796\\ldots} \\sqrt{\\frac{2}{\\text{fan\\_in}}}

    Example:
        >>> JaxHeNormal().as_variance_scaling()
        VarianceScaling(scale=2.0, mode='fan_in', distribution='truncated_normal')
        >>> w = JaxHeNormal()(torch.empty(256, 512), generator=torch.Generator().manual_seed(0))
        >>> round(float(w.std()) * (512 / 2) ** 0.5, 1)
        1.0
    """

    variance_scaling: ClassVar[VarianceScaling] = VarianceScaling(2.0, "fan_in", "truncated_normal")
