"""What ``init_model``'s rollback (on by default) costs, and how fast it restores.

Not a test: run it and read the numbers::

    python bench/rollback_cost.py --rounds 5

On torchvision's ``resnet50`` (weights=None, 25.6M parameters) and on a 12-layer MLP of width
2048 (50M parameters, where nearly all the time is drawing): ``init_model(model, policy)``
(rollback: every tensor to be written is copied first) against ``rollback=False``, alternately,
each side's median over the rounds; their ratio is the price of all-or-nothing. Then the same
policy with a last rule that raises on the last tensor: the time from the call to the error,
less the ``rollback=False`` run, is about what restoring costs (copying every tensor back).
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import torchinit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_rounds, print_machine


class FailedError(RuntimeError):
    pass


def _fail(tensor: torch.Tensor) -> None:
    raise FailedError("the last tensor fails")


def _timed(model: nn.Module, policy: Any, **kwargs: Any) -> float:
    gc.collect()
    start = time.perf_counter()
    with contextlib.suppress(FailedError):
        torchinit.init_model(model, policy, **kwargs)
    return time.perf_counter() - start


def measure(title: str, model: nn.Module, policy: torchinit.Policy, rounds: int) -> None:
    last = [name for name, p in model.named_parameters() if p.ndim > 1][-1]
    failing = torchinit.Policy([*policy.rules, torchinit.Rule(param=last, init=_fail)])
    nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
    nbytes += sum(b.numel() * b.element_size() for b in model.buffers())
    _timed(model, policy)  # warm-up
    plain, rolled, failed = [], [], []
    for round_ in range(rounds):
        pair = [(plain, {"rollback": False}), (rolled, {})]
        for times, kwargs in pair if round_ % 2 == 0 else reversed(pair):
            times.append(_timed(model, policy, **kwargs))
        failed.append(_timed(model, failing))
    off, on, fail = (statistics.median(t) * 1e3 for t in (plain, rolled, failed))
    print(title)
    print(f"  tensors that may be written: {nbytes / 2**20:8.1f} MiB (copied once with rollback)")
    print(f"  rollback=False (median):     {off:8.2f} ms")
    print(f"  rollback=True  (median):     {on:8.2f} ms")
    print(f"  ratio on/off:                {on / off:8.3f}")
    print(
        f"  copy:                        {(on - off):8.2f} ms "
        f"({nbytes / 2**30 / max(on - off, 1e-6) * 1e3:.1f} GiB/s)"
    )
    print(
        f"  a failure on the last tensor: {fail:7.2f} ms, so restoring about "
        f"{max(fail - on, 0.0):.2f} ms"
    )
    print()


def main() -> None:
    rounds = parse_rounds(__doc__ or "", default=5)
    import torchvision  # imported here: torchinit itself never imports it

    print_machine(rounds, f", torchvision {torchvision.__version__}")
    resnet = torchvision.models.resnet50(weights=None)
    measure("resnet50, preset 'resnet'", resnet, torchinit.get_preset("resnet"), rounds)
    del resnet
    mlp = nn.Sequential(*(nn.Linear(2048, 2048) for _ in range(12)))
    policy = torchinit.Policy(
        [torchinit.Rule(nn.Linear, weight=torchinit.KaimingNormal(), bias="zeros")]
    )
    measure("12 x Linear(2048, 2048), Kaiming normal", mlp, policy, rounds)


if __name__ == "__main__":
    main()
