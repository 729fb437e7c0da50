"""
Gains for GELU and SiLU stacks
==============================

``torch.nn.init.calculate_gain`` knows ReLU's gain (√2) but not GELU's or SiLU's, so deep GELU
or SiLU networks are often initialized with ReLU's. :func:`torchinit.calculate_gain` gives every
activation the gain of one criterion (unit pre-activation variance stays a fixed point:
``1 / sqrt(E[φ(z)²])``, ``z ~ N(0, 1)``; see ``docs/guide/gains.md``). This script builds
30 × (Linear(512, 512), activation) stacks, draws the weights with Kaiming normal (fan_in) for
each gain, and prints the std of the pre-activations after layers 1, 10, 20 and 30 on a batch
of 256 unit-normal inputs.

* With ReLU's gain, smaller than GELU's or SiLU's, the variance shrinks by the squared ratio of
  the gains at every layer: gone after 30 layers.
* With the activation's own gain it stays near 1 for 10-20 layers, then drifts. Unlike ReLU,
  GELU and SiLU are not homogeneous (``φ(cx) ≠ cφ(x)``), and unit variance is an *unstable*
  fixed point of their variance map ``q -> gain² E[φ(√q z)²]``: its slope at 1 (printed, by
  quadrature) is above 1, so the small deviations a finite width makes grow by that factor per
  layer. Normalization layers (or residual branches) reset them; a plain deep stack needs them
  or a data-dependent fit such as :func:`torchinit.lsuv`.

Run from the repository root::

    python examples/activation_gains.py
"""

from __future__ import annotations

import math

import torch
from torch import nn

import torchinit
from torchinit.gains import second_moment

WIDTH, DEPTH, BATCH = 512, 30, 256
SHOWN = (1, 10, 20, 30)


def pre_activation_stds(activation: nn.Module, nonlinearity: str) -> list[float]:
    """The std after each of the stack's Linear layers."""
    generator = torch.Generator().manual_seed(0)
    strategy = torchinit.KaimingNormal(nonlinearity=nonlinearity)
    x = torch.randn(BATCH, WIDTH, generator=generator)
    layer = nn.Linear(WIDTH, WIDTH, bias=False).requires_grad_(False)
    stds = []
    for _ in range(DEPTH):
        strategy(layer.weight, generator=generator)
        x = layer(activation(x))
        stds.append(float(x.std()))
    return stds


def slope_at_unit_variance(activation: nn.Module, nonlinearity: str) -> float:
    """d/dq of ``gain² E[φ(√q z)²]`` at q = 1: how a deviation from unit variance grows."""
    gain = torchinit.calculate_gain(nonlinearity)

    def variance_map(q: float) -> float:
        return gain**2 * second_moment(lambda z: activation(math.sqrt(q) * z))

    step = 1e-4
    return (variance_map(1 + step) - variance_map(1 - step)) / (2 * step)


def main() -> None:
    header = "".join(f"{f'layer {depth}':>10s}" for depth in SHOWN)
    print(f"{'activation':12s}{'gain':24s}{'slope':>8s}{header}")
    for name, activation in (("gelu", nn.GELU()), ("silu", nn.SiLU())):
        for gain in (name, "relu"):
            stds = pre_activation_stds(activation, gain)
            value = torchinit.calculate_gain(gain)
            cells = "".join(f"{stds[depth - 1]:10.3f}" for depth in SHOWN)
            slope = slope_at_unit_variance(activation, gain)
            print(f"{name:12s}{f'{gain} ({value:.4f})':24s}{slope:8.3f}{cells}")


if __name__ == "__main__":
    main()
