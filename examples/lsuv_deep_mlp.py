"""
LSUV makes a plain deep network train
=====================================

Mishkin & Matas, "All you need is a good init" (2016), on a small scale: a plain 20-layer ReLU
MLP (no normalization, no residuals) learns a teacher's labels with SGD for 300 steps, from
four inits:

* ``N(0, 0.01)`` for every weight (AlexNet-era): the signal shrinks ~10x per layer, so nothing
  reaches the loss, and the loss stays at the entropy of the labels;
* Xavier (Glorot & Bengio 2010): scaled for linear layers, it halves the variance at every
  ReLU, and after 20 layers the signal is too weak to learn from in 300 steps;
* Kaiming (He et al. 2015): the ReLU gain keeps the variance, and the net trains;
* LSUV from the ``N(0, 0.01)`` init: each layer's weight rescaled, in forward order, until its
  output has unit std on one batch of real inputs (:func:`torchinit.lsuv`).

Everything is seeded: keyed init (``seed=``), the teacher, the data and the batches.
``torch.set_flush_denormal(True)`` is scoped to the script's training: the collapsed signals of
the first two inits are denormal floats, which the CPU computes 10-100x slower.

Run from the repository root::

    python examples/lsuv_deep_mlp.py
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

import torchinit

WIDTH, DEPTH, CLASSES, STEPS = 64, 20, 10, 300


@contextlib.contextmanager
def flush_denormal() -> Iterator[None]:
    """Denormal floats flushed to zero, for the duration only: it changes the arithmetic of
    the whole process."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def student() -> nn.Sequential:
    layers: list[nn.Module] = []
    for index in range(DEPTH):
        layers += [nn.Linear(32 if index == 0 else WIDTH, WIDTH), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, CLASSES))


def linear_policy(weight: torchinit.Strategy) -> torchinit.Policy:
    return torchinit.Policy([torchinit.Rule(nn.Linear, weight=weight, bias="zeros")])


INITS = {
    "N(0, 0.01)": linear_policy(torchinit.Normal(std=0.01)),
    "Xavier": linear_policy(torchinit.XavierNormal()),
    "Kaiming": linear_policy(torchinit.KaimingNormal(nonlinearity="relu")),
    "LSUV": linear_policy(torchinit.Normal(std=0.01)),  # then rescaled by torchinit.lsuv
}


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    teacher = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, CLASSES))
    for parameter in teacher.parameters():
        torchinit.Normal(std=0.5)(parameter, generator=generator)
    inputs = torch.randn(4096, 32, generator=generator)
    with torch.no_grad():
        labels = teacher(inputs).argmax(1)
    print(f"{'init':12s}{'output std at init':>20s}{'loss at init':>14s}{'after 300 steps':>17s}")
    with flush_denormal():
        for name, policy in INITS.items():
            model = student()
            torchinit.init_model(model, policy, seed=1)
            if name == "LSUV":
                torchinit.lsuv(model, inputs[:256])
            with torch.no_grad():
                output_std = float(model[:-1](inputs).std())
                start = float(nn.functional.cross_entropy(model(inputs), labels))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            batches = torch.Generator().manual_seed(2)
            for _ in range(STEPS):
                batch = torch.randint(0, len(inputs), (128,), generator=batches)
                loss = nn.functional.cross_entropy(model(inputs[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                end = float(nn.functional.cross_entropy(model(inputs), labels))
            print(f"{name:12s}{output_std:20.3g}{start:14.3f}{end:17.3f}")


if __name__ == "__main__":
    main()
