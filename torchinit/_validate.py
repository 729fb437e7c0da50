"""Argument checks shared by strategies, rules, policies and presets.

Each check raises a :mod:`torchinit.errors` exception built on the common template; ``path`` is
the key path of the value being checked (``kaiming_normal.mode``).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from typing import Any

from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    OutOfRangeError,
    TorchInitError,
    did_you_mean,
)

_MAX_INTEGER = int(sys.float_info.max)
_WITHIN = f"must be within ±{sys.float_info.max:.3g} (the float range)"


def number(value: Any, path: str, *, wrong_type: type[TorchInitError] = ArgumentTypeError) -> float:
    """Check that ``value`` is a finite real number (``bool`` is refused) and return it.

    ``wrong_type`` is the error for a value that is no number: :class:`InvalidArgumentError`
    where ``torch.nn.init`` raises ``ValueError`` for it (a negative slope).
    """
    # numbers.Real admits NumPy scalars too; bool is an int but never a meaningful number here
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong_type("must be a number", path=path, got=value)
    try:
        result = float(value)
    except OverflowError:  # an int beyond the largest float (about 1.8e308)
        raise InvalidArgumentError(_WITHIN, path=path, got=value) from None
    if not math.isfinite(result):
        raise InvalidArgumentError("must be finite", path=path, got=value)
    return result


def non_negative(
    value: Any, path: str, *, wrong_type: type[TorchInitError] = ArgumentTypeError
) -> float:
    """Check that ``value`` is a finite number ``>= 0`` (``wrong_type``: as :func:`number`)."""
    result = number(value, path, wrong_type=wrong_type)
    if result < 0:
        raise OutOfRangeError("must be >= 0", path=path, got=value)
    return result


def positive(value: Any, path: str) -> float:
    """Check that ``value`` is a finite number ``> 0``."""
    result = number(value, path)
    if result <= 0:
        raise InvalidArgumentError("must be > 0", path=path, got=value)
    return result


def integer(value: Any, path: str, *, minimum: int | None = None) -> int:
    """Check that ``value`` is an ``int`` (not ``bool``), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError("must be an integer", path=path, got=value)
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"must be >= {minimum}", path=path, got=value)
    result = int(value)
    if abs(result) > _MAX_INTEGER:
        # counts and sizes enter float arithmetic (a std / sqrt(2 * n_layer)): past the
        # largest float it would overflow there, far from the option that caused it
        raise InvalidArgumentError(_WITHIN, path=path, got=value)
    return result


def globs(value: Any, path: str, *, what: str) -> tuple[str, ...]:
    """Check that ``value`` is a list (or tuple) of non-empty glob strings naming ``what``.

    One string is refused, not read as a list of its characters.
    """
    if not isinstance(value, (list, tuple)) or not all(isinstance(g, str) and g for g in value):
        raise ArgumentTypeError(f"must be a list of globs naming {what}", path=path, got=value)
    return tuple(value)


def boolean(value: Any, path: str) -> bool:
    """Check that ``value`` is a ``bool``."""
    if not isinstance(value, bool):
        raise ArgumentTypeError("must be true or false", path=path, got=value)
    return value


def string(value: Any, path: str) -> str:
    """Check that ``value`` is a ``str``."""
    if not isinstance(value, str):
        raise ArgumentTypeError("must be a string", path=path, got=value)
    return value


_AS_GIVEN: Any = object()


def choice(
    value: Any,
    options: Sequence[str],
    path: str,
    *,
    wrong_type: type[TorchInitError] = ArgumentTypeError,
    suggest: bool = False,
    shown: Any = _AS_GIVEN,
) -> str:
    """Check that ``value`` is one of ``options`` (the message lists them).

    ``wrong_type`` is the error for a value that is no string: :class:`InvalidArgumentError`
    where ``torch.nn.init`` raises ``ValueError`` for it (a nonlinearity). ``suggest`` adds
    the closest option for a typo (``did you mean 'fan_in'?``); ``shown`` is the value the
    message shows, when ``value`` was normalised from what the user wrote (lower-cased).
    """
    if isinstance(value, str) and value in options:
        return value
    problem = f"must be one of {list(options)}"
    if suggest:
        problem = did_you_mean(problem, value, options)
    error = InvalidArgumentError if isinstance(value, str) else wrong_type
    raise error(problem, path=path, got=value if shown is _AS_GIVEN else shown)


def bounds(a: Any, b: Any, path: str, *, strict: bool = True) -> tuple[float, float]:
    """Check that ``a`` and ``b`` are numbers with ``b > a`` (``b >= a`` unless ``strict``).

    ``path`` is the key path of the pair's owner; the values are checked as ``path.a`` and
    ``path.b``.
    """
    low = number(a, f"{path}.a")
    high = number(b, f"{path}.b")
    if high < low or (strict and high == low):
        relation = ">" if strict else ">="
        raise OutOfRangeError(f"must be {relation} a={low}", path=f"{path}.b", got=b)
    return low, high
