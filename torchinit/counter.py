"""A counter-based sampler: element ``i`` of a tensor is a pure function of (key, ``i``).

The generator is **Philox4x32-10** (Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
as easy as 1, 2, 3", SC 2011), chosen over Threefry because it needs only 32-bit multiplies,
xors and adds, has published Known Answer Tests (Random123's ``kat_vectors``) and is the
generator CUDA's and JAX's counter-based samplers use. It maps a 128-bit **counter** (four 32-bit
words) and a 64-bit **key** (two words) to four 32-bit words. Here element ``i`` of a draw uses
the counter ``(i mod 2**32, i // 2**32, stream, attempt)``: any subset of a tensor's elements can
be drawn directly, and drawing ``[start, stop)`` gives the slice of drawing ``[0, n)``.

The same bits on every device, by construction: torch's transcendental functions are not
(``torch.sqrt`` on the CPU is off by one ulp for some float32 values, CUDA divides by a Python
scalar through its reciprocal, fused ops differ from their parts, signed int64 overflow is
undefined). So the samplers use only:

* int64 tensors holding uint32 values, with add, sub and mul that never exceed ``2**63`` (the
  32x32 -> 64-bit multiply is split in 16-bit halves), bitwise and/or/xor and shifts;
* float ``add``, ``sub`` and ``mul``, ``div`` of two tensors, comparisons and ``where``;
* exact casts (integers below ``2**24`` to float32 and ``2**53`` to float64), the one rounding
  cast from float64 to the output dtype, and bit reinterpretation (``view(dtype)``), which also
  gives the exponent and mantissa (``frexp``/``ldexp``) exactly;
* the log, sqrt and sin/cos of Box–Muller as fixed polynomials (and Newton steps) after exact
  range reduction, in float64.

Scheme 3 of keyed seeding (:mod:`torchinit.seeding`, ``init_model(..., seed=N,
scheme_version=3)``) fills every tensor with a law through :func:`draw`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeAlias

import torch

from torchinit import _validate
from torchinit.errors import InvalidArgumentError, OutOfRangeError

__all__ = ["draw", "normal", "philox4x32", "trunc_normal", "uniform"]

#: A 32-bit word: an int64 tensor of uint32 values, or a Python int for a constant word.
Word: TypeAlias = "torch.Tensor | int"

_MASK32 = 0xFFFFFFFF
_MASK16 = 0xFFFF
# Philox4x32's multipliers and Weyl key increments (Salmon et al. 2011, table 2)
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9
PHILOX_W1 = 0xBB67AE85
PHILOX_ROUNDS = 10

# log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 3 - 2 sqrt(2): 2 s sum_k s**(2k) / (2k + 1);
# s**2 <= 0.0295, so 12 terms leave less than 1e-18 of relative error.
LOG_COEFFICIENTS = tuple(1.0 / (2 * k + 1) for k in range(12))
# ln 2 in two parts (fdlibm's): the high part has trailing zero bits, so e * LN2_HI is exact
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
# sin and cos on [0, pi/4): Taylor terms up to phi**17 and phi**18 (remainder below 1e-17)
SIN_COEFFICIENTS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(9))
COS_COEFFICIENTS = tuple((-1) ** k / math.factorial(2 * k) for k in range(10))
QUARTER_PI = 0.7853981633974483
HALF_SQRT2 = 0.7071067811865476
# cos and sin of the octant starts o * pi / 4, o = 0..7
OCTANT_COS = (1.0, HALF_SQRT2, 0.0, -HALF_SQRT2, -1.0, -HALF_SQRT2, 0.0, HALF_SQRT2)
OCTANT_SIN = (0.0, HALF_SQRT2, 1.0, HALF_SQRT2, 0.0, -HALF_SQRT2, -1.0, -HALF_SQRT2)
# sqrt(m) on [0.5, 2): a linear start within 13%, then Newton steps square the error each time
# (13% -> 8e-3 -> 4e-5 -> 6e-10 -> 2e-19)
SQRT_START = (0.4, 0.6)
SQRT_NEWTON_STEPS = 4
# float64 exponent field
_EXPONENT_BIAS = 1023
_MANTISSA_BITS = 52
_MANTISSA_MASK = (1 << _MANTISSA_BITS) - 1

# rejection leaves an element undrawn with probability (1 - p)**MAX_ATTEMPTS: for p = 0.15,
# below 1e-70
MAX_ATTEMPTS = 1024
# elements drawn at a time on a CPU and on an accelerator (the values do not depend on it)
BLOCK = 2**15
ACCELERATOR_BLOCK = 2**22
_DTYPES = (torch.float32, torch.float64)


def _mulhilo(multiplier: int, word: Word) -> tuple[Word, Word]:
    # multiplier * word reaches 2**64; word * a 16-bit half of the multiplier stays below 2**48
    low_product = word * (multiplier & _MASK16)
    high_product = word * (multiplier >> 16)
    # multiplier * word = high_product * 2**16 + low_product (the in-place ops reuse the
    # products' memory: each allocation costs as much as an op here)
    high = low_product >> 16
    high += high_product
    high >>= 16
    low = high_product
    low &= _MASK16
    low <<= 16
    low += low_product
    low &= _MASK32
    return high, low


def _philox(key: tuple[Word, Word], c0: Word, c1: Word, c2: Word, c3: Word) -> list[Word]:
    """Philox4x32-10 on words that are tensors or Python ints (a constant counter word costs
    no tensor op until a round mixes it with a tensor)."""
    k0, k1 = key
    for round_index in range(PHILOX_ROUNDS):
        if round_index:
            k0 = (k0 + PHILOX_W0) & _MASK32
            k1 = (k1 + PHILOX_W1) & _MASK32
        high0, low0 = _mulhilo(PHILOX_M0, c0)
        high1, low1 = _mulhilo(PHILOX_M1, c2)
        c0, c1, c2, c3 = _xor(_xor(high1, c1), k0), low1, _xor(_xor(high0, c3), k1), low0
    return [c0, c1, c2, c3]


def _xor(word: Word, other: Word) -> Word:
    # in place into a tensor the round made itself (never into a counter word passed in)
    if isinstance(word, torch.Tensor):
        word ^= other
        return word
    return other ^ word


def _key_words(key: tuple[int, int] | torch.Tensor) -> tuple[Word, Word]:
    if isinstance(key, torch.Tensor):
        return key[..., 0].to(torch.int64), key[..., 1].to(torch.int64)
    return key[0] & _MASK32, key[1] & _MASK32


def philox4x32(key: tuple[int, int] | torch.Tensor, counter: torch.Tensor) -> torch.Tensor:
    """Philox4x32-10 of ``counter`` under ``key``, as int64 tensors holding uint32 words.

    Args:
        key: two 32-bit words, as a tuple or a tensor of shape ``(..., 2)``.
        counter: an int64 tensor of shape ``(..., 4)`` with values in ``[0, 2**32)``.

    Returns:
        An int64 tensor of the counter's shape: the four output words of each counter.

    Example:
        >>> words = philox4x32((0, 0), torch.zeros(4, dtype=torch.int64))
        >>> [f"{int(w):08x}" for w in words]
        ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    words = counter.to(torch.int64).unbind(-1)
    out = _philox(_key_words(key), *words)
    return torch.stack([_as_tensor(word, words[0]) for word in out], dim=-1)


def _as_tensor(word: Word, like: torch.Tensor) -> torch.Tensor:
    return word if isinstance(word, torch.Tensor) else torch.full_like(like, word)


def _check_key(key: int, where: str) -> tuple[int, int]:
    value = _validate.integer(key, f"{where}.key", minimum=0)
    if value >= 1 << 64:
        raise OutOfRangeError("must be < 2**64", path=f"{where}.key", got=key)
    return value & _MASK32, value >> 32


def _check_dtype(dtype: torch.dtype, where: str) -> None:
    if dtype not in _DTYPES:
        raise InvalidArgumentError("must be torch.float32 or torch.float64", path=where, got=dtype)


def _words(
    key: tuple[int, int], index: torch.Tensor, stream: int, attempt: int
) -> list[torch.Tensor]:
    words = _philox(key, index & _MASK32, index >> 32, stream, attempt)
    return [_as_tensor(word, index) for word in words]


def _bits53(high_word: torch.Tensor, low_word: torch.Tensor) -> torch.Tensor:
    # 27 high bits of one word and 26 of the other: an integer below 2**53
    return ((high_word >> 5) << 26) + (low_word >> 6)


def _index(start: int, stop: int, device: torch.device | str | None, where: str) -> torch.Tensor:
    first = _validate.integer(start, f"{where}.start", minimum=0)
    last = _validate.integer(stop, f"{where}.stop", minimum=first)
    return torch.arange(first, last, dtype=torch.int64, device=device)


def frexp(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mantissa in ``[0.5, 1)`` and the exponent of positive normal float64 ``x``, read
    from its bits.

    Example:
        >>> m, e = frexp(torch.tensor([12.0], dtype=torch.float64))
        >>> m.item(), e.item()
        (0.75, 4)
    """
    bits = x.view(torch.int64)
    exponent = (bits >> _MANTISSA_BITS) - (_EXPONENT_BIAS - 1)
    mantissa = ((bits & _MANTISSA_MASK) | ((_EXPONENT_BIAS - 1) << _MANTISSA_BITS)).view(
        torch.float64
    )
    return mantissa, exponent


def pow2(exponent: torch.Tensor) -> torch.Tensor:
    """``2.0 ** exponent`` in float64, built from its bits (exponents in ``[-1022, 1023]``).

    Example:
        >>> pow2(torch.tensor([-2, 3])).tolist()
        [0.25, 8.0]
    """
    return ((exponent + _EXPONENT_BIAS) << _MANTISSA_BITS).view(torch.float64)


def _horner(coefficients: tuple[float, ...], x: torch.Tensor) -> torch.Tensor:
    result = x * coefficients[-1]
    result += coefficients[-2]
    for coefficient in reversed(coefficients[:-2]):
        result *= x
        result += coefficient
    return result


def log(x: torch.Tensor) -> torch.Tensor:
    """The natural log of positive normal float64 ``x`` by a fixed polynomial.

    Example:
        >>> round(log(torch.tensor([math.e], dtype=torch.float64)).item(), 12)
        1.0
    """
    mantissa, exponent = frexp(x)
    # move the mantissa into [sqrt(1/2), sqrt(2)) so that |s| <= 0.1716
    small = mantissa < HALF_SQRT2
    mantissa = torch.where(small, mantissa * 2.0, mantissa)
    exponent = torch.where(small, exponent - 1, exponent)
    f = mantissa - 1.0
    s = f / (f + 2.0)
    log_mantissa = s * _horner(LOG_COEFFICIENTS, s * s) * 2.0
    e = exponent.to(torch.float64)
    return e * LN2_HI + (e * LN2_LO + log_mantissa)


def sqrt(x: torch.Tensor) -> torch.Tensor:
    """The square root of non-negative finite float64 ``x`` (zero and normal numbers) by Newton
    steps after exact range reduction.

    Example:
        >>> sqrt(torch.tensor([0.0, 2.25, 1e10], dtype=torch.float64)).tolist()
        [0.0, 1.5, 100000.0]
    """
    positive = x > 0.0
    mantissa, exponent = frexp(torch.where(positive, x, 1.0))
    # an even exponent halves exactly; the mantissa then lies in [0.5, 2)
    odd = (exponent & 1) == 1
    mantissa = torch.where(odd, mantissa * 2.0, mantissa)
    exponent = torch.where(odd, exponent - 1, exponent)
    root = mantissa * SQRT_START[1] + SQRT_START[0]
    for _ in range(SQRT_NEWTON_STEPS):
        root = (root + mantissa / root) * 0.5
    return torch.where(positive, root * pow2(exponent >> 1), 0.0)


def cos_turns(bits: torch.Tensor, fraction_bits: int) -> torch.Tensor:
    """``cos(2 pi k / 2**fraction_bits)`` for integers ``0 <= k < 2**fraction_bits`` (``bits``),
    reduced to an octant exactly by the integer's top three bits.

    Example:
        >>> cos_turns(torch.tensor([0, 2, 4]), 3).tolist()
        [1.0, 0.0, -1.0]
    """
    octant = bits >> (fraction_bits - 3)
    within = (bits & ((1 << (fraction_bits - 3)) - 1)).to(torch.float64)
    phi = within * (2.0 ** (3 - fraction_bits)) * QUARTER_PI
    phi2 = phi * phi
    sin_phi = phi * _horner(SIN_COEFFICIENTS, phi2)
    cos_phi = _horner(COS_COEFFICIENTS, phi2)
    octant_cos = torch.tensor(OCTANT_COS, dtype=torch.float64, device=bits.device)[octant]
    octant_sin = torch.tensor(OCTANT_SIN, dtype=torch.float64, device=bits.device)[octant]
    return octant_cos * cos_phi - octant_sin * sin_phi


def _blocked(draw: Callable[[torch.Tensor], torch.Tensor], index: torch.Tensor) -> torch.Tensor:
    # on a CPU each of the ~300 elementwise ops then works on tensors that stay in cache; an
    # accelerator wants large launches instead
    size = BLOCK if index.device.type == "cpu" else ACCELERATOR_BLOCK
    if index.numel() <= size:
        return draw(index)
    return torch.cat([draw(part) for part in torch.split(index, size)])


def _uniform_at(
    key: tuple[int, int], index: torch.Tensor, dtype: torch.dtype, stream: int, attempt: int
) -> torch.Tensor:
    def draw(part: torch.Tensor) -> torch.Tensor:
        w0, w1, _, _ = _words(key, part, stream, attempt)
        if dtype == torch.float32:
            return (w0 >> 8).to(torch.float32) * 2.0**-24
        return _bits53(w0, w1).to(torch.float64) * 2.0**-53

    return _blocked(draw, index)


def _normal_at(
    key: tuple[int, int], index: torch.Tensor, stream: int, attempt: int, dtype: torch.dtype
) -> torch.Tensor:
    def draw(part: torch.Tensor) -> torch.Tensor:
        w0, w1, w2, w3 = _words(key, part, stream, attempt)
        # radius from u in (0, 1] (never log(0)), angle from 53 more bits
        u = (_bits53(w0, w1) + 1).to(torch.float64) * 2.0**-53
        radius = sqrt(log(u) * -2.0)
        return (radius * cos_turns(_bits53(w2, w3), 53)).to(dtype)

    return _blocked(draw, index)


def uniform(
    key: int,
    start: int,
    stop: int,
    dtype: torch.dtype = torch.float32,
    *,
    stream: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Uniform values in ``[0, 1)`` for the flat indices ``[start, stop)`` under a 64-bit key.

    float32 values are the top 24 bits of the first word over ``2**24``; float64 values 53 bits
    of the first two over ``2**53``.

    Args:
        key: an integer in ``[0, 2**64)``.
        start: the first flat index.
        stop: one past the last flat index.
        dtype: ``torch.float32`` or ``torch.float64``.
        stream: the counter's third word, to draw independent streams under one key.
        device: where to compute.

    Example:
        >>> torch.equal(uniform(7, 0, 10)[3:6], uniform(7, 3, 6))
        True
    """
    _check_dtype(dtype, "uniform.dtype")
    return _uniform_at(
        _check_key(key, "uniform"), _index(start, stop, device, "uniform"), dtype, stream, 0
    )


def normal(
    key: int,
    start: int,
    stop: int,
    dtype: torch.dtype = torch.float32,
    *,
    stream: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Standard normal values for the flat indices ``[start, stop)`` by Box–Muller, in float64
    with polynomial log, sqrt and cos, then cast to ``dtype``.

    Args:
        key: an integer in ``[0, 2**64)``.
        start: the first flat index.
        stop: one past the last flat index.
        dtype: ``torch.float32`` or ``torch.float64``.
        stream: the counter's third word, to draw independent streams under one key.
        device: where to compute.

    Example:
        >>> torch.equal(normal(7, 0, 10)[3:6], normal(7, 3, 6))
        True
    """
    _check_dtype(dtype, "normal.dtype")
    return _normal_at(
        _check_key(key, "normal"), _index(start, stop, device, "normal"), stream, 0, dtype
    )


def trunc_normal(
    key: int,
    start: int,
    stop: int,
    a: float = -2.0,
    b: float = 2.0,
    dtype: torch.dtype = torch.float32,
    *,
    stream: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Standard normal values truncated to ``[a, b]`` for the flat indices ``[start, stop)``.

    Each element is redrawn with the attempt number in its counter until its float64 value
    lands in ``[a, b]``, so its value depends on its index only; then it is cast to ``dtype``
    (rounding is monotone: the cast value lies in ``[a, b]`` rounded).

    Args:
        key: an integer in ``[0, 2**64)``.
        start: the first flat index.
        stop: one past the last flat index.
        a: the lower bound, in standard deviations.
        b: the upper bound, ``b > a``.
        dtype: ``torch.float32`` or ``torch.float64``.
        stream: the counter's third word, to draw independent streams under one key.
        device: where to compute.

    Raises:
        InvalidArgumentError: some element was still outside ``[a, b]`` after
            ``MAX_ATTEMPTS`` attempts (``[a, b]`` holds too little of the normal's mass).

    Example:
        >>> values = trunc_normal(7, 0, 1000, -1.0, 1.0)
        >>> bool(values.abs().max() <= 1.0)
        True
    """
    words = _check_key(key, "trunc_normal")
    low, high = _validate.bounds(a, b, "trunc_normal")
    _check_dtype(dtype, "trunc_normal.dtype")
    index = _index(start, stop, device, "trunc_normal")
    return _trunc_normal_at(words, index, (0.0, 1.0, low, high), stream).to(dtype)


def _trunc_normal_at(
    key: tuple[int, int], index: torch.Tensor, params: tuple[float, ...], stream: int
) -> torch.Tensor:
    mean, std, low, high = params
    result = torch.empty(index.shape, dtype=torch.float64, device=index.device)
    pending = index
    position = torch.arange(index.numel(), device=index.device)
    for attempt in range(MAX_ATTEMPTS):
        values = _normal_at(key, pending, stream, attempt, torch.float64)
        values *= std
        values += mean
        accepted = (values >= low) & (values <= high)
        result[position[accepted]] = values[accepted]
        rejected = ~accepted
        pending, position = pending[rejected], position[rejected]
        if pending.numel() == 0:
            return result
    raise InvalidArgumentError(
        f"{pending.numel()} elements outside [a, b] after {MAX_ATTEMPTS} attempts; "
        "the interval holds too little of the normal's mass",
        path="trunc_normal",
        got=(low, high),
    )


def draw(
    kind: str, params: tuple[float, ...], key: int, index: torch.Tensor, *, stream: int = 0
) -> torch.Tensor:
    """float64 values of a law at the flat indices ``index`` (any int64 tensor, on any
    device, computed there): what scheme 3 of keyed seeding fills a tensor with.

    The laws are those of :class:`torchinit.strategies.Law`, each value computed in float64
    from the element's own counter and rounded once, where the caller casts it:

    * ``constant`` ``(value,)``: ``value``;
    * ``uniform`` ``(low, high)``: ``u * (high - low) + low``, ``u`` the 53-bit uniform;
    * ``normal`` ``(mean, std)``: ``z * std + mean``, ``z`` the Box–Muller normal;
    * ``trunc_normal`` ``(mean, std, a, b)``: ``z * std + mean`` redrawn (attempt number in
      the counter) until it lies in ``[a, b]`` (absolute bounds).

    Args:
        kind: the law's kind.
        params: its parameters.
        key: an integer in ``[0, 2**64)``.
        index: the flat indices, in ``[0, 2**64)``.
        stream: the counter's third word.

    Example:
        >>> index = torch.tensor([5, 2, 9])
        >>> values = draw("uniform", (-1.0, 1.0), 7, index)
        >>> torch.equal(values[1:2], draw("uniform", (-1.0, 1.0), 7, torch.tensor([2])))
        True
    """
    words = _check_key(key, "draw")
    if kind == "constant":
        return torch.full(index.shape, params[0], dtype=torch.float64, device=index.device)
    if kind == "uniform":
        low, high = params
        values = _uniform_at(words, index, torch.float64, stream, 0)
        values *= high - low
        values += low
        return values
    if kind == "normal":
        mean, std = params
        values = _normal_at(words, index, stream, 0, torch.float64)
        values *= std
        values += mean
        return values
    if kind == "trunc_normal":
        return _trunc_normal_at(words, index, params, stream)
    raise InvalidArgumentError(
        "must be one of ['constant', 'normal', 'trunc_normal', 'uniform']",
        path="draw.kind",
        got=kind,
    )
