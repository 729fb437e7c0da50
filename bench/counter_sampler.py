"""torchinit.counter.normal (eager Philox4x32-10 + polynomial Box–Muller) vs Tensor.normal_.

Both run in the same process on one CPU thread, alternating; the figure that matters is the
ratio (counter's time over ``normal_``'s). Also reported: uniform, and the Philox words alone;
with ``--compile``, a ``torch.compile``d normal (one block at a time), checked first to give the
eager bits.

    python bench/counter_sampler.py [--numel N] [--rounds R] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from bench.common import print_machine
from torchinit import counter

KEY = 0x0123456789ABCDEF


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _compiled_normal(numel: int) -> Callable[[], torch.Tensor]:
    # the private per-block draw: one fixed shape, so one compile (a shorter last block adds one)
    words = counter._check_key(KEY, "bench")
    block = torch.compile(
        lambda index: counter._normal_at(words, index, 0, 0, torch.float32), dynamic=False
    )

    def draw() -> torch.Tensor:
        return torch.cat([block(part) for part in torch.arange(numel).split(counter.BLOCK)])

    start = time.perf_counter()
    if not torch.equal(draw(), counter.normal(KEY, 0, numel)):
        raise SystemExit("the compiled normal does not give the eager bits")
    print(f"compiled, eager bits checked, in {time.perf_counter() - start:.1f} s")
    return draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=2**22)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="add a torch.compile'd normal")
    args = parser.parse_args()
    torch.set_num_threads(1)
    numel = args.numel

    tensor = torch.empty(numel)
    words = torch.zeros(numel, 4, dtype=torch.int64)
    cases: dict[str, Callable[[], object]] = {
        "Tensor.normal_ (float32)": tensor.normal_,
        "Tensor.uniform_ (float32)": tensor.uniform_,
        "counter.philox4x32 (words only)": lambda: counter.philox4x32((1, 2), words),
        "counter.uniform (float32)": lambda: counter.uniform(KEY, 0, numel),
        "counter.normal (float32)": lambda: counter.normal(KEY, 0, numel),
    }
    if args.compile:
        cases["counter.normal (float32, compiled)"] = _compiled_normal(numel)
    for fn in cases.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, fn in cases.items():
            times[name].append(_seconds(fn))

    print_machine(args.rounds)
    print(f"numel = {numel:,}")
    base = statistics.median(times["Tensor.normal_ (float32)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        rate = numel / median / 1e6
        print(f"{name:36s} {median * 1e3:9.1f} ms  {rate:8.1f} M/s  {median / base:6.2f}x normal_")


if __name__ == "__main__":
    main()
