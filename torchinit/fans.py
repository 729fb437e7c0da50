"""Fan computation and gains: the two numbers every variance-scaling strategy is built from.

``calculate_fans`` and ``calculate_gain`` give the same values as ``torch.nn.init`` (which keeps
its fan function private), and validate their input with torchinit's errors. ``is_empty`` is the
zero-element check that ``torch.nn.init``'s fan-based functions make before computing a fan.

Fans read a weight as ``(out, in, *kernel)``: ``fan_in = size(1) * prod(kernel)`` and
``fan_out = size(0) * prod(kernel)``, as torch does. A transposed convolution stores its weight
as ``(in_channels, out_channels / groups, *kernel)``, so its ``fan_in`` counts output channels
and its ``fan_out`` input channels; use ``mode="fan_out"`` to scale by the channels that feed
each output. Stride and groups enter neither fan::

    >>> calculate_fans(torch.nn.ConvTranspose2d(16, 32, 3).weight)  # weight (16, 32, 3, 3)
    (288, 144)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import torch

from torchinit import _validate
from torchinit.errors import ArgumentTypeError, InvalidArgumentError
from torchinit.gains import activation_gain, named_gain

__all__ = [
    "FAN_MODES",
    "NONLINEARITIES",
    "TORCH_NONLINEARITIES",
    "FanMode",
    "Nonlinearity",
    "TorchNonlinearity",
    "calculate_fan",
    "calculate_fans",
    "calculate_gain",
    "check_negative_slope",
    "check_nonlinearity",
    "is_empty",
    "warn_zero_element",
]

FanMode = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
FAN_MODES: tuple[str, ...] = get_args(FanMode)

TorchNonlinearity = Literal[
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
#: The names ``torch.nn.init.calculate_gain`` knows; they keep torch's values.
TORCH_NONLINEARITIES: tuple[str, ...] = get_args(TorchNonlinearity)
Nonlinearity = Literal[
    TorchNonlinearity,
    "gelu",
    "gelu_tanh",
    "quick_gelu",
    "silu",
    "swish",
    "mish",
    "elu",
    "celu",
    "softplus",
    "hardswish",
    "hardsigmoid",
    "relu6",
    "hardtanh",
    "softsign",
]
#: Every name :func:`calculate_gain` knows: torch's, then :data:`torchinit.gains.ACTIVATIONS`.
NONLINEARITIES: tuple[str, ...] = get_args(Nonlinearity)


def _shape_of(tensor_or_shape: torch.Tensor | Sequence[int]) -> tuple[int, ...]:
    if isinstance(tensor_or_shape, torch.Tensor):
        return tuple(tensor_or_shape.shape)
    if not isinstance(tensor_or_shape, Sequence) or not all(
        isinstance(size, int) and not isinstance(size, bool) for size in tensor_or_shape
    ):
        raise ArgumentTypeError(
            "must be a tensor or a sequence of ints", path="shape", got=tensor_or_shape
        )
    return tuple(tensor_or_shape)


def calculate_fans(tensor_or_shape: torch.Tensor | Sequence[int]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight, as ``torch.nn.init`` computes them.

    For a weight of shape ``(out, in, *kernel)``, with ``r = prod(kernel)`` the receptive field:

    .. math::
        \\text{fan\\_in} = \\text{in} \\cdot r, \\qquad \\text{fan\\_out} = \\text{out} \\cdot r

    Args:
        tensor_or_shape: a tensor or a shape with at least 2 dimensions.

    Raises:
        InvalidArgumentError: fewer than 2 dimensions (fans are undefined).

    Example:
        >>> calculate_fans((64, 3, 7, 7))
        (147, 3136)
    """
    shape = _shape_of(tensor_or_shape)
    if len(shape) < 2:
        raise InvalidArgumentError(
            "fans need a tensor with at least 2 dimensions", path="shape", got=shape
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_fan(tensor_or_shape: torch.Tensor | Sequence[int], mode: str) -> float:
    """Return the fan named by ``mode``: ``fan_in``, ``fan_out``, ``fan_avg`` (their
    arithmetic mean) or ``fan_geo_avg`` (their geometric mean, as JAX's ``variance_scaling``).

    .. math::
        \\text{fan\\_avg} = \\frac{\\text{fan\\_in} + \\text{fan\\_out}}{2}, \\qquad
        \\text{fan\\_geo\\_avg} = \\sqrt{\\text{fan\\_in} \\cdot \\text{fan\\_out}}

    Example:
        >>> calculate_fan((10, 20), "fan_avg")
        15.0
        >>> calculate_fan((10, 40), "fan_geo_avg")
        20.0
    """
    _validate.choice(mode, FAN_MODES, "mode")
    fan_in, fan_out = calculate_fans(tensor_or_shape)
    if mode == "fan_in":
        return float(fan_in)
    if mode == "fan_out":
        return float(fan_out)
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2.0
    if mode == "fan_geo_avg":
        return math.sqrt(fan_in * fan_out)
    raise AssertionError(f"unreachable: mode {mode!r} was validated")


def calculate_gain(
    nonlinearity: str | Callable[[torch.Tensor], torch.Tensor], param: float | None = None
) -> float:
    """Return the recommended gain for a nonlinearity: torch's values for torch's names, and
    for any other activation the gain that keeps unit pre-activation variance a fixed point.

    For an activation φ after a layer drawn with variance ``gain² / fan_in``, the criterion is
    (see :mod:`torchinit.gains`)

    .. math::
        \\text{gain}(\\varphi) = 1 / \\sqrt{\\mathbb{E}_{z \\sim \\mathcal{N}(0, 1)}[\\varphi(z)^2]}

    computed by quadrature, for the names below and for any callable
    (``calculate_gain(nn.GELU())``, a lambda). ReLU's √2 is this criterion; torch's
    ``sigmoid`` (1), ``tanh`` (5/3) and ``selu`` (3/4) were chosen otherwise, and are kept so
    that torch's names give torch's values (the criterion gives 1.846, 1.593 and 1.0: see
    ``docs/guide/gains.md``).

    =================  ==================================================
    nonlinearity       gain
    =================  ==================================================
    linear / conv*     1 (torch)
    sigmoid            1 (torch)
    tanh               5/3 (torch)
    relu               sqrt(2) (torch)
    leaky_relu         sqrt(2 / (1 + negative_slope^2)), slope 0.01 default (torch)
    selu               3/4 (torch)
    gelu               1.533530 (``nn.GELU()``, erf form)
    gelu_tanh          1.533581 (``nn.GELU(approximate='tanh')``)
    quick_gelu         1.539459 (``x * sigmoid(1.702 x)``, CLIP's)
    silu / swish       1.676532
    mish               1.486848
    elu / celu         1.245198 (alpha = ``param``, 1 default)
    softplus           1.041867 (beta = ``param``, 1 default)
    hardswish          1.736657
    hardsigmoid        1.897840
    relu6              1.414214
    hardtanh           1.392036
    softsign           2.337533
    =================  ==================================================

    Args:
        nonlinearity: one of :data:`NONLINEARITIES`, or an elementwise callable (computed on
            each call: about a millisecond).
        param: the negative slope for ``leaky_relu``, ``alpha`` for ``elu``/``celu``, ``beta``
            for ``softplus``; ignored otherwise.

    Example:
        >>> round(calculate_gain("relu"), 6)
        1.414214
        >>> round(calculate_gain("gelu"), 6)
        1.53353
        >>> round(calculate_gain(lambda x: torch.relu(x) - 0.5), 4)
        1.6878
    """
    if callable(nonlinearity):
        return activation_gain(nonlinearity)
    check_nonlinearity(nonlinearity, "nonlinearity")
    if param is not None:
        check_negative_slope(param, "param")
    if nonlinearity in TORCH_NONLINEARITIES:
        return float(torch.nn.init.calculate_gain(nonlinearity, param))  # type: ignore[arg-type]
    return named_gain(nonlinearity, param)


def check_nonlinearity(value: Any, path: str) -> str:
    """Check that ``value`` names a nonlinearity, suggesting the closest name for a typo;
    anything else is a ``ValueError``, as in ``torch.nn.init.calculate_gain`` (a non-string
    too)."""
    return _validate.choice(
        value, NONLINEARITIES, path, wrong_type=InvalidArgumentError, suggest=True
    )


def check_negative_slope(value: Any, path: str) -> float:
    """Check that ``value`` is a number (``bool`` is not); anything else is a ``ValueError``,
    as in ``torch.nn.init.calculate_gain`` (``negative_slope True not a valid number``)."""
    return _validate.number(value, path, wrong_type=InvalidArgumentError)


def warn_zero_element(*, stacklevel: int) -> None:
    """Warn as ``torch.nn.init.kaiming_uniform_``/``kaiming_normal_`` do on a zero-element
    tensor: the same message and category (``UserWarning``). ``stacklevel`` counts from the
    caller of this function, as in ``warnings.warn``."""
    warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=stacklevel + 1)


def is_empty(tensor: torch.Tensor, *, stacklevel: int) -> bool:
    """Whether ``tensor`` has no elements; if so, warn as ``torch.nn.init`` does.

    For strategies that compute a fan before drawing (a zero fan would divide by zero), so
    they return early like torch's fan-based functions. ``stacklevel`` counts from the caller
    of this function, as in ``warnings.warn``.
    """
    if tensor.numel() != 0:
        return False
    warn_zero_element(stacklevel=stacklevel + 1)
    return True
