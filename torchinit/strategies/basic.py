"""Strategies whose arguments alone fix what they draw: constants, uniform and normal draws,
and the structured fills (eye, dirac, orthogonal, sparse, gates)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import ClassVar, cast

import torch
from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.strategies.base import Law, Strategy, intercepted, set_field
from torchinit.strategies.spec import register_strategy

__all__ = [
    "Constant",
    "Dirac",
    "Eye",
    "GateConstant",
    "Normal",
    "Ones",
    "Orthogonal",
    "PaddedNormal",
    "ScaledEye",
    "Sparse",
    "TruncNormal",
    "TruncNormalInverseCDF",
    "Uniform",
    "Zeros",
    "constant_fill",
]


def _rows_divisible(shape: Sequence[int], count: int, name: str) -> str | None:
    """Why dimension 0 of ``shape`` cannot be split in ``count`` equal parts, if it cannot."""
    return None if shape[0] % count == 0 else f"needs dimension 0 divisible by {name}={count}"


def constant_fill(strategy: Strategy) -> float | None:
    """0.0 for :class:`Zeros` and 1.0 for :class:`Ones` (not subclasses, which may fill
    otherwise), whose call comes down to ``tensor.zero_()`` and ``tensor.fill_(1.0)`` when
    nothing intercepts calls on the tensor; else ``None``.

    The policy engine calls those methods itself, rather than the strategy, for the many
    biases and norm weights of a big model.
    """
    if type(strategy) in (Zeros, Ones):
        return cast(_Filled, strategy).value
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
        set_field(self, "val", _validate.number(self.val, f"{self.name}.val"))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not intercepted(tensor):
            return tensor.fill_(self.val)
        return nn.init.constant_(tensor, self.val)

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("constant", (self.val,))


@dataclasses.dataclass(frozen=True)
class _Filled(Strategy):
    """A strategy that fills with one fixed value, :attr:`value`."""

    value: ClassVar[float]

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("constant", (self.value,))


@register_strategy("zeros")
@dataclasses.dataclass(frozen=True)
class Zeros(_Filled):
    """Fill with zeros: ``torch.nn.init.zeros_``.

    Example:
        >>> Zeros()(torch.empty(3)).tolist()
        [0.0, 0.0, 0.0]
    """

    value: ClassVar[float] = 0.0

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not intercepted(tensor):
            return tensor.zero_()
        return nn.init.zeros_(tensor)


@register_strategy("ones")
@dataclasses.dataclass(frozen=True)
class Ones(_Filled):
    """Fill with ones: ``torch.nn.init.ones_``.

    Example:
        >>> Ones()(torch.empty(3)).tolist()
        [1.0, 1.0, 1.0]
    """

    value: ClassVar[float] = 1.0

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not intercepted(tensor):
            return tensor.fill_(1.0)
        return nn.init.ones_(tensor)


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

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return nn.init.eye_(tensor)


@register_strategy("scaled_eye")
@dataclasses.dataclass(frozen=True)
class ScaledEye(Strategy):
    """Fill a 2-D tensor with ``gain`` times the identity matrix: Keras's ``Identity(gain)``.

    ``torch.nn.init.eye_``, then multiplied by ``gain`` (with ``gain=1`` the values equal
    :class:`Eye`'s). A Keras kernel is stored ``(in, out)`` and a torch weight ``(out, in)``;
    the identity of one is the transpose of the other's, so the two layers compute the same.

    .. math:: w_{ij} = \\text{gain} \\cdot \\delta_{ij}

    Args:
        gain: the diagonal's value.

    Example:
        >>> ScaledEye(0.5)(torch.empty(2, 3)).tolist()
        [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]
    """

    gain: float = 1.0

    min_ndim: ClassVar[int] = 2
    max_ndim: ClassVar[int | None] = 2

    def __post_init__(self) -> None:
        set_field(self, "gain", _validate.number(self.gain, f"{self.name}.gain"))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return nn.init.eye_(tensor).mul_(self.gain)


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
        set_field(self, "groups", _validate.integer(self.groups, f"{self.name}.groups", minimum=1))

    def check_shape(self, shape: Sequence[int]) -> str | None:
        return super().check_shape(shape) or _rows_divisible(shape, self.groups, "groups")

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
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
        set_field(self, "a", a)
        set_field(self, "b", b)

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not intercepted(tensor):
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
        set_field(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        set_field(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if not intercepted(tensor):
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
        set_field(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        set_field(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))
        if self.padding_idx is not None:
            _validate.integer(self.padding_idx, f"{self.name}.padding_idx")

    def check_shape(self, shape: Sequence[int]) -> str | None:
        problem = super().check_shape(shape)
        inside = self.padding_idx is None or -shape[0] <= self.padding_idx < shape[0]
        if problem is None and not inside:
            return f"padding_idx={self.padding_idx} is outside dimension 0 of size {shape[0]}"
        return problem

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
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
        set_field(self, "mean", _validate.number(self.mean, f"{self.name}.mean"))
        # torch divides by std when truncating, so 0 is not allowed here (unlike normal)
        set_field(self, "std", _validate.positive(self.std, f"{self.name}.std"))
        a, b = _validate.bounds(self.a, self.b, self.name)
        set_field(self, "a", a)
        set_field(self, "b", b)

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return nn.init.trunc_normal_(
            tensor, self.mean, self.std, self.a, self.b, generator=generator
        )

    def law(self, shape: tuple[int, ...]) -> Law | None:
        return Law("trunc_normal", (self.mean, self.std, self.a, self.b))


# A subclass, not a new class holding a TruncNormal: it is the same law with the same fields,
# validation and law(), so only the sampler (initialize) differs and nothing is written twice.
@register_strategy("trunc_normal_icdf")
@dataclasses.dataclass(frozen=True)
class TruncNormalInverseCDF(TruncNormal):
    """Draw from N(mean, std²) truncated to [a, b] by the inverse CDF, as timm does.

    The same law, fields and checks as :class:`TruncNormal`, drawn by the sampler that
    ``torch.nn.init.trunc_normal_`` used before torch 2.14 (which draws by rejection) and that
    timm's ``timm.layers.trunc_normal_`` and mmengine's ``trunc_normal_`` (hence its
    ``TruncNormalInit``) still use: with :math:`\\Phi` the standard normal CDF, a uniform
    draw between the bounds' CDF values, mapped back through the normal's inverse CDF.
    The operations, in the tensor's dtype, are theirs in their order, so under the same
    generator state the values are **bit-equal** to timm's and mmengine's (and to earlier
    torch releases').

    .. math::
        l = \\Phi\\left(\\tfrac{a - \\text{mean}}{\\text{std}}\\right),\\quad
        u = \\Phi\\left(\\tfrac{b - \\text{mean}}{\\text{std}}\\right),\\quad
        w = \\operatorname{clamp}\\left(\\operatorname{erfinv}(v)\\,\\text{std}\\sqrt{2}
            + \\text{mean},\\ a,\\ b\\right),\\ v \\sim U(2l - 1, 2u - 1)

    Use it to reproduce those libraries; otherwise prefer ``trunc_normal``. Being bit-equal,
    it keeps their sampler's known defect in half precision, which is why torch 2.14 draws by
    rejection instead (pytorch/pytorch#145498, #155588, #174997): in ``bfloat16`` and
    ``float16`` some uniform draws round to -1, ``erfinv`` gives -inf there and the clamp puts
    the value on ``a`` (with ``std=0.02``, about 0.2% of a ``bfloat16`` tensor sits at -2,
    and its std is 4.5 times too large). In ``float32`` and
    ``float64`` no such value was seen in 10⁷ draws at ``std`` 0.02 or 0.002.

    Under keyed seeding (``init_model(..., seed=...)``) the law (:meth:`law`, the same as
    ``trunc_normal``'s) is drawn by torchinit's own sampler, as for ``trunc_normal``: the
    values then follow the same law but are not timm's.

    Args:
        mean: mean of the normal before truncation.
        std: standard deviation before truncation, ``> 0``.
        a: lower cut-off (absolute value).
        b: upper cut-off (absolute value), ``> a``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> w = TruncNormalInverseCDF(std=0.02)(torch.empty(1000), generator=g)
        >>> bool(w.abs().max() <= 0.1), round(w.std().item(), 2)
        (True, 0.02)
    """

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        def normal_cdf(x: float) -> float:
            # timm's expression, not sampling's erfc form: the bounds must round as theirs do
            return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

        # Python floats for the bounds, then in-place tensor ops: each rounding step as timm's
        low = normal_cdf((self.a - self.mean) / self.std)
        high = normal_cdf((self.b - self.mean) / self.std)
        tensor.uniform_(2 * low - 1, 2 * high - 1, generator=generator)
        tensor.erfinv_()
        tensor.mul_(self.std * math.sqrt(2.0))
        tensor.add_(self.mean)
        return tensor.clamp_(min=self.a, max=self.b)


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
        set_field(self, "gain", _validate.positive(self.gain, f"{self.name}.gain"))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
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
        set_field(self, "sparsity", sparsity)
        set_field(self, "std", _validate.non_negative(self.std, f"{self.name}.std"))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if generator is None or tensor.dim() != 2:
            # torch's call: its values, or its ValueError for a tensor that is not 2-D
            return nn.init.sparse_(tensor, self.sparsity, self.std, generator=generator)
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

    Recurrent layers stack their gates along dimension 0: PyTorch's LSTM weights and biases
    are ``(4 * hidden, ...)`` in the gate order i, f, g, o (input, forget, cell, output), so
    the forget gate is ``GateConstant(gates=4, index=1, value=1.0)`` (rows
    ``hidden:2*hidden``); a GRU's are ``(3 * hidden, ...)`` in the order r, z, n (reset,
    update, new). Draws no random numbers.

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
        set_field(self, "gates", gates)
        set_field(self, "index", index)
        set_field(self, "value", _validate.number(self.value, f"{self.name}.value"))
        set_field(self, "fill", _validate.number(self.fill, f"{self.name}.fill"))

    def check_shape(self, shape: Sequence[int]) -> str | None:
        return super().check_shape(shape) or _rows_divisible(shape, self.gates, "gates")

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        rows = tensor.shape[0] // self.gates
        nn.init.constant_(tensor, self.fill)
        tensor[self.index * rows : (self.index + 1) * rows].fill_(self.value)
        return tensor
