"""Gains for any activation, by one criterion: keep unit pre-activation variance a fixed point.

A layer ``y = W x`` whose inputs are ``x = φ(z)`` of the previous layer's outputs ``z``, with
``W`` drawn with mean 0 and variance ``gain² / fan_in``, has

.. math:: \\operatorname{Var}(y) = \\text{gain}^2 \\, \\mathbb{E}[\\varphi(z)^2]

(the second moment, not the variance, of the activation: ``W`` has mean 0). So with ``z`` of
unit variance, the gain that gives ``y`` unit variance again, layer after layer, is

.. math::
    \\text{gain}(\\varphi) = 1 / \\sqrt{\\mathbb{E}_{z \\sim \\mathcal{N}(0, 1)}[\\varphi(z)^2]}

which is √2 for ReLU (He et al., "Delving deep into rectifiers", 2015; the mean-field view of
Poole et al., 2016, and Schoenholz et al., 2017, "Deep information propagation"). The
expectation is computed in float64 by composite Gauss–Legendre quadrature on [-12, 12] (the
normal density beyond is below 1e-31), with panel edges on every multiple of 1/32 so that the
kinks of the piecewise activations (0, ±1, ±3, 6) fall on edges: the integrand is smooth on
every panel and the result exact to about 1e-13 (``tests/test_gains.py`` checks it against
``scipy.integrate.quad``).

:func:`torchinit.calculate_gain` uses :func:`activation_gain` for the names torch does not
know (``gelu``, ``silu``, ...) and for any callable; torch's own names keep torch's values.

Example:
    >>> round(activation_gain(torch.relu), 6)
    1.414214
    >>> round(activation_gain(torch.nn.GELU()), 4)
    1.5335
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch.nn import functional

from torchinit.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["ACTIVATIONS", "activation_gain", "second_moment"]

# the integration range, panels per unit length and Gauss-Legendre points per panel
_RANGE = 12.0
_PANELS_PER_UNIT = 32
_POINTS = 8


def _alpha(param: float | None) -> float:
    return 1.0 if param is None else param


#: The activations :func:`torchinit.calculate_gain` knows beyond torch's names, as
#: ``φ(x, param)``: ``param`` is ``alpha`` of elu/celu and ``beta`` of softplus (default 1),
#: ignored by the others.
ACTIVATIONS: dict[str, Callable[[torch.Tensor, float | None], torch.Tensor]] = {
    "gelu": lambda x, _: functional.gelu(x),
    "gelu_tanh": lambda x, _: functional.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x, _: x * torch.sigmoid(1.702 * x),
    "silu": lambda x, _: functional.silu(x),
    "swish": lambda x, _: functional.silu(x),
    "mish": lambda x, _: functional.mish(x),
    "elu": lambda x, alpha: functional.elu(x, _alpha(alpha)),
    "celu": lambda x, alpha: functional.celu(x, _alpha(alpha)),
    "softplus": lambda x, beta: functional.softplus(x, _alpha(beta)),
    "hardswish": lambda x, _: functional.hardswish(x),
    "hardsigmoid": lambda x, _: functional.hardsigmoid(x),
    "relu6": lambda x, _: functional.relu6(x),
    "hardtanh": lambda x, _: functional.hardtanh(x),
    "softsign": lambda x, _: functional.softsign(x),
}


@functools.cache
def _nodes() -> tuple[torch.Tensor, torch.Tensor]:
    """Quadrature points on [-_RANGE, _RANGE] and their weights times the normal density."""
    # Golub-Welsch: the Gauss-Legendre points are the eigenvalues of the Jacobi matrix of the
    # Legendre polynomials, the weights twice the squared first components of its eigenvectors
    k = torch.arange(1, _POINTS, dtype=torch.float64)
    off = k / torch.sqrt(4 * k * k - 1)
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    points, vectors = torch.linalg.eigh(jacobi)
    weights = 2 * vectors[0] ** 2
    panels = int(2 * _RANGE * _PANELS_PER_UNIT)
    half = 1.0 / (2 * _PANELS_PER_UNIT)
    centres = -_RANGE + half * (2 * torch.arange(panels, dtype=torch.float64) + 1)
    z = (centres[:, None] + half * points[None, :]).reshape(-1)
    density = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return z, (half * weights).repeat(panels) * density


def second_moment(function: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """``E[φ(z)²]`` for ``z ~ N(0, 1)``, by quadrature (see the module docstring).

    Args:
        function: ``φ``, called once on a float64 tensor of quadrature points (a float32 one
            if it refuses float64, e.g. a module with float32 parameters); elementwise.

    Example:
        >>> round(second_moment(torch.relu), 12)
        0.5
    """
    z, weights = _nodes()
    values = _evaluate(function, z)
    integrand = values * values * weights
    moment = float(integrand.sum())
    if not math.isfinite(moment) or moment <= 0:
        raise InvalidArgumentError(
            "E[f(z)^2] for z ~ N(0, 1) must be finite and positive",
            path="nonlinearity",
            got=moment,
        )
    # what the ends of the range hold: a function growing as fast as the density falls
    # (exp(z^2 / 4), ...) has no finite second moment, and the range cut it off
    if float(integrand[0] + integrand[-1]) > 1e-12 * moment:
        raise InvalidArgumentError(
            "grows too fast: E[f(z)^2] for z ~ N(0, 1) is not finite",
            path="nonlinearity",
            got=_name(function),
        )
    return moment


def _evaluate(function: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    failure: Exception | None = None
    for dtype in (torch.float64, torch.float32):
        try:
            with torch.no_grad():
                values = function(z.to(dtype))
        except (RuntimeError, TypeError) as error:  # a dtype the function cannot take
            failure = error
            continue
        if not isinstance(values, torch.Tensor) or values.shape != z.shape:
            raise ArgumentTypeError(
                "must map a 1-D tensor to a tensor of the same shape (an elementwise activation)",
                path="nonlinearity",
                got=_name(function),
            )
        return values.to(torch.float64)
    raise ArgumentTypeError(
        f"cannot be evaluated on a float64 or float32 tensor: {failure}",
        path="nonlinearity",
        got=_name(function),
    )


def _name(function: object) -> str:
    return getattr(function, "__qualname__", None) or type(function).__name__


def activation_gain(function: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """The gain that keeps unit pre-activation variance a fixed point for activation ``φ``:
    ``1 / sqrt(E[φ(z)²])``, ``z ~ N(0, 1)``.

    Args:
        function: ``φ``: any elementwise function of a tensor (``torch.relu``, an
            ``nn.Module`` such as ``nn.GELU()``, a lambda).

    Example:
        >>> round(activation_gain(torch.nn.SiLU()), 4)
        1.6765
    """
    return 1.0 / math.sqrt(second_moment(function))


@functools.cache
def named_gain(name: str, param: float | None) -> float:
    """:func:`activation_gain` of the activation ``ACTIVATIONS[name]`` with ``param``, cached."""
    activation = ACTIVATIONS[name]
    return activation_gain(lambda x: activation(x, param))
