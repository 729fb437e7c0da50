"""
Kaiming keeps a deep ReLU stack's signal; Xavier and the default lose it
========================================================================

He et al., "Delving deep into rectifiers" (2015), section 2.2, measured: a plain 30-layer ReLU
MLP of width 512 (no normalization, no residuals), fed a batch of 256 standard-normal inputs,
diagnosed (:func:`torchinit.diagnose`, through :func:`torchinit.compare_policies`) under four
inits:

* PyTorch's default ``nn.Linear`` init (the ``torch_default`` preset: ``kaiming_uniform(a=√5)``,
  a weight std of ``1/sqrt(3 fan_in)``, and uniform biases): each layer keeps a third of the
  variance, and only the biases keep a forward signal alive, while the gradient vanishes;
* Xavier (Glorot & Bengio 2010): scaled for linear layers, it halves the variance at every
  ReLU, 2⁻¹⁵ after 30 layers, forward and backward alike;
* Kaiming (``fan_in``, the ReLU gain √2): the variance stays, forward and backward;
* LSUV (Mishkin & Matas 2016, :func:`torchinit.lsuv` with its orthonormal pre-init): each
  layer rescaled, in forward order, to unit output std on the batch.

The table is the std of each layer's output (its ReLU's) and of the gradient arriving there;
without ``loss=``, the gradient arriving at the last output has std 1. Everything is seeded
(keyed init, ``seed=0``; the inputs' generator), so the figures are the same on every run.

Run from the repository root; ``--plot FILE.png`` also draws both as a log-scale plot, one line
per init (needs matplotlib: ``pip install "torchinit[plot]"``)::

    python examples/he_init_depth.py --plot he_init_depth.png
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util

import torch
from torch import nn

import torchinit

WIDTH, DEPTH, BATCH = 512, 30, 256
SHOWN = (1, 5, 10, 15, 20, 25, 30)  # the depths the table prints


def build() -> nn.Sequential:
    return nn.Sequential(*[nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.ReLU()) for _ in range(DEPTH)])


def linear_policy(weight: torchinit.Strategy, name: str) -> torchinit.Policy:
    return torchinit.Policy([torchinit.Rule(nn.Linear, weight=weight, bias="zeros")], name=name)


POLICIES = {
    "default": "torch_default",
    "xavier": linear_policy(torchinit.XavierNormal(), "xavier"),
    "kaiming": linear_policy(torchinit.KaimingNormal(nonlinearity="relu"), "kaiming"),
}


def lsuv_diagnosis(inputs: torch.Tensor) -> torchinit.Diagnosis:
    """LSUV is a stage after a policy, not a policy: build, pre-initialize, rescale, diagnose."""
    model = build()
    torchinit.init_model(model, "torch_default", seed=0)  # replaced by the orthonormal pre-init
    torchinit.lsuv(model, inputs, orthogonal=True, generator=torch.Generator().manual_seed(0))
    return torchinit.diagnose(model, inputs)


def compare() -> torchinit.Comparison:
    """Every init's diagnosis, kept to a row per depth: a layer's output is its ReLU's."""
    inputs = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(0))
    comparison = torchinit.compare_policies(build, POLICIES, inputs, seed=0)
    diagnoses = {**comparison.diagnoses, "lsuv": lsuv_diagnosis(inputs)}
    return torchinit.Comparison(
        {
            label: dataclasses.replace(
                diagnosis, layers=tuple(row for row in diagnosis.layers if row.type == "ReLU")
            )
            for label, diagnosis in diagnoses.items()
        }
    )


def print_table(comparison: torchinit.Comparison) -> None:
    header = "".join(f"{label:>11s}" for label in comparison.diagnoses)
    for title, field in (("output std", "out_std"), ("gradient std", "grad_std")):
        print(f"{title} by depth")
        print(f"{'depth':>5s}{header}")
        for depth in SHOWN:
            cells = "".join(
                f"{getattr(diagnosis.layers[depth - 1], field):11.3g}"
                for diagnosis in comparison.diagnoses.values()
            )
            print(f"{depth:5d}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description="He et al. 2015: init vs depth, measured")
    parser.add_argument("--plot", metavar="FILE.png", help="also write the plot there")
    args = parser.parse_args()
    comparison = compare()
    print_table(comparison)
    if args.plot is None:
        print("add --plot FILE.png for the plot of every layer's output and gradient std")
    elif importlib.util.find_spec("matplotlib") is None:
        print('the plot needs matplotlib: pip install "torchinit[plot]"')
    else:
        comparison.plot(args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
