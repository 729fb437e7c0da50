"""How much slower is ``torchinit.init_model`` than the hand-written loop it replaces?

Not a test: run it and read the numbers::

    python bench/engine_overhead.py --rounds 7

Two models:

* torchvision's ``resnet50`` (weights=None): torchvision's own init loop (copied from
  ``torchvision/models/resnet.py``) versus ``torchinit.init_model(model, "resnet")``. Here the
  time goes into drawing 23M normal numbers, and the target is a ratio of at most 1.05;
* 10,000 small modules (``nn.Sequential`` of 5,000 x ``(Linear(8, 8), LayerNorm(8))``): a hand
  loop versus the equivalent ``torchinit.Policy``. Here the tensors are tiny and the time is
  the engine's per-module bookkeeping (target: a ratio of at most 1.2; mmengine's
  ``initialize`` measures 1.82 here).

Both sides run on the same model, alternately, each round under the same
``torch.manual_seed``; each side's median over the rounds is reported. The two sides are
also checked to produce bit-identical tensors. ``plan`` is ``torchinit.plan`` alone (resolve and
validate, no tensor touched). ``init_model`` runs with ``rollback=False``: the engine's own
overhead; what the default rollback adds is measured by ``bench/rollback_cost.py``.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import torchinit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_rounds, print_machine, torchvision_resnet_loop


def many_small_modules(pairs: int = 5_000) -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(pairs):
        layers += [nn.Linear(8, 8), nn.LayerNorm(8)]
    return nn.Sequential(*layers)


def hand_loop_small(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


SMALL_POLICY = torchinit.Policy(
    [
        torchinit.Rule(
            nn.Linear, weight=torchinit.KaimingNormal(nonlinearity="relu"), bias="zeros"
        ),
        torchinit.Rule(nn.LayerNorm, weight="ones", bias="zeros"),
    ],
    name="small",
)


ModelFn = Callable[[nn.Module], object]


def _timed(fn: ModelFn, model: nn.Module, seed: int) -> float:
    gc.collect()
    torch.manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        fn(model)
    return time.perf_counter() - start


def _snapshot(model: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def compare(
    title: str,
    model: nn.Module,
    baseline: ModelFn,
    candidate: ModelFn,
    planner: ModelFn,
    rounds: int,
) -> float:
    # warm-up, and a check that both sides fill the model identically
    torch.manual_seed(0)
    with torch.no_grad():
        baseline(model)
    expected = _snapshot(model)
    torch.manual_seed(0)
    candidate(model)
    identical = all(torch.equal(a, b) for a, b in zip(expected, _snapshot(model), strict=True))
    del expected
    planner(model)

    base_times, cand_times, plan_times = [], [], []
    for round_ in range(rounds):
        seed = 1000 + round_
        # alternate which side goes first, so drifts (caches, clocks) hit both alike
        if round_ % 2 == 0:
            base_times.append(_timed(baseline, model, seed))
            cand_times.append(_timed(candidate, model, seed))
        else:
            cand_times.append(_timed(candidate, model, seed))
            base_times.append(_timed(baseline, model, seed))
        plan_times.append(_timed(planner, model, seed))

    base = statistics.median(base_times) * 1e3
    cand = statistics.median(cand_times) * 1e3
    planned = statistics.median(plan_times) * 1e3
    ratio = cand / base
    print(f"{title}")
    print(f"  bit-identical results:  {identical}")
    print(f"  hand loop (median):     {base:9.2f} ms   (min {min(base_times) * 1e3:.2f})")
    print(f"  torchinit (median):     {cand:9.2f} ms   (min {min(cand_times) * 1e3:.2f})")
    print(f"  torchinit.plan only:    {planned:9.2f} ms")
    print(f"  so applying the plan:   {cand - planned:9.2f} ms   (torchinit - plan, medians)")
    print(f"  ratio torchinit/loop:   {ratio:9.3f}")
    return ratio


def main() -> None:
    rounds = parse_rounds(__doc__ or "", default=7)
    import torchvision  # imported here: torchinit itself never imports it

    print_machine(rounds, f", torchvision {torchvision.__version__}")

    ratio = compare(
        "resnet50: torchvision's init loop vs init_model(model, 'resnet')",
        torchvision.models.resnet50(weights=None),
        torchvision_resnet_loop,
        lambda model: torchinit.init_model(model, "resnet", rollback=False),
        lambda model: torchinit.plan(model, "resnet"),
        rounds,
    )
    print(f"  target <= 1.05:         {'met' if ratio <= 1.05 else 'NOT met'}")
    print()
    gc.collect()

    ratio = compare(
        "5,000 x (Linear(8, 8), LayerNorm(8)) = 10,000 modules: hand loop vs Policy",
        many_small_modules(),
        hand_loop_small,
        lambda model: torchinit.init_model(model, SMALL_POLICY, rollback=False),
        lambda model: torchinit.plan(model, SMALL_POLICY),
        rounds,
    )
    print(f"  target <= 1.2:          {'met' if ratio <= 1.2 else 'NOT met'}")


if __name__ == "__main__":
    main()
