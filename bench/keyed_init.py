"""Keyed, parallel ``init_model(..., seed=N)`` versus the plain ``torch.nn.init`` loop.

Not a test: run it and read the numbers::

    python bench/keyed_init.py --rounds 5

Two models, each initialized by

* the plain loop: ``for m in model.modules(): if isinstance(...)`` with the ``torch.nn.init``
  calls of the scheme, drawing from torch's global generator (one thread: torch's CPU
  generator is serial);
* ``torchinit.init_model(model, preset, seed=0)``: keyed seeding, chunks drawn in parallel
  on ``torch.get_num_threads()`` threads (truncated normals by the fast sampler).

Models: a nanoGPT-style GPT-2 small (124M parameters, preset ``nanogpt``) and torchvision's
ResNet-50 (25.6M, preset ``resnet``; needs torchvision). Both sides run alternately on the
same model; each side's median is reported, and the ratio loop / torchinit (target >= 1.8 on
2 cores). ``init_model`` without ``seed`` (the same draws as the loop) is shown for reference,
and so is the ceiling: the same weights' bare ``normal_`` draws in chunks on the same threads.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn

import torchinit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GPT, parse_rounds, print_machine, torchvision_resnet_loop


def gpt_loop(model: nn.Module, n_layer: int = 12) -> None:
    """nanoGPT's ``_init_weights`` and its scaled ``c_proj`` init, as one loop."""
    proj_std = 0.02 / math.sqrt(2 * n_layer)
    for name, m in model.named_modules():
        if m is model.lm_head:
            continue  # tied to wte: drawn once, as torchinit does (nanoGPT itself draws it twice)
        if isinstance(m, nn.Linear):
            std = proj_std if name.endswith("c_proj") else 0.02
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


Fn = Callable[[nn.Module], object]


def parallel_ceiling(model: nn.Module, types: tuple[type[nn.Module], ...]) -> Fn:
    """The bare draws, no torchinit: the weights of ``types`` cut into 2**20-element chunks,
    ``normal_`` on ``torch.get_num_threads()`` threads with generators made in advance. What
    any parallel keyed scheme on this machine can at best reach."""
    weights = {id(m.weight): m.weight for m in model.modules() if isinstance(m, types)}
    chunks = [
        flat[i : i + 2**20]
        for weight in weights.values()  # a tied weight once
        for flat in [weight.detach().view(-1)]
        for i in range(0, flat.numel(), 2**20)
    ]
    generators = [torch.Generator().manual_seed(i) for i in range(len(chunks))]
    pool = ThreadPoolExecutor(torch.get_num_threads())

    def draw(index: int) -> None:
        chunks[index].normal_(0.0, 0.02, generator=generators[index])

    return lambda _: list(pool.map(draw, range(len(chunks))))


def _timed(fn: Fn, model: nn.Module) -> float:
    gc.collect()
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.no_grad():
        fn(model)
    return time.perf_counter() - start


def compare(title: str, model: nn.Module, sides: dict[str, Fn], rounds: int) -> dict[str, float]:
    for fn in sides.values():  # warm-up
        _timed(fn, model)
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(rounds):
        # rotate which side goes first, so drifts (caches, clocks) hit all alike
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(_timed(sides[name], model))
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    params = sum(p.numel() for p in model.parameters())
    print(f"{title} ({params / 1e6:.1f}M parameters)")
    for name, ms in medians.items():
        print(f"  {name:34s} {ms:9.1f} ms   (min {min(times[name]) * 1e3:.1f})")
    return medians


def _speedups(medians: dict[str, float], keyed: str) -> None:
    loop = medians["plain torch.nn.init loop"]
    ratio = loop / medians[keyed]
    ceiling = loop / medians["bare parallel normal_ [ceiling]"]
    verdict = "met" if ratio >= 1.8 else "NOT met"
    print(f"  speed-up loop / keyed:             {ratio:9.2f}x  (target >= 1.8: {verdict})")
    print(f"  speed-up loop / bare draws:        {ceiling:9.2f}x  (the ceiling here)")


def main() -> None:
    rounds = parse_rounds(__doc__ or "", default=5)
    print_machine(rounds)

    gpt = GPT()
    medians = compare(
        "GPT-2 small (nanoGPT layout)",
        gpt,
        {
            "plain torch.nn.init loop": gpt_loop,
            "init_model(nanogpt, seed=0)": lambda m: torchinit.init_model(m, "nanogpt", seed=0),
            "init_model(nanogpt) [global RNG]": lambda m: torchinit.init_model(m, "nanogpt"),
            "bare parallel normal_ [ceiling]": parallel_ceiling(gpt, (nn.Linear, nn.Embedding)),
        },
        rounds,
    )
    _speedups(medians, "init_model(nanogpt, seed=0)")
    print()
    del gpt
    gc.collect()

    try:
        import torchvision
    except ImportError:
        print("resnet50: skipped (torchvision is not installed)")
        return
    resnet = torchvision.models.resnet50(weights=None)
    medians = compare(
        "resnet50 (torchvision)",
        resnet,
        {
            "plain torch.nn.init loop": torchvision_resnet_loop,
            "init_model(resnet, seed=0)": lambda m: torchinit.init_model(m, "resnet", seed=0),
            "init_model(resnet) [global RNG]": lambda m: torchinit.init_model(m, "resnet"),
            "bare parallel normal_ [ceiling]": parallel_ceiling(resnet, (nn.Conv2d,)),
        },
        rounds,
    )
    _speedups(medians, "init_model(resnet, seed=0)")


if __name__ == "__main__":
    main()
