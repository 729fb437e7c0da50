"""torchinit.trunc_normal_ vs torch.nn.init.trunc_normal_ on a 64M-element tensor.

Both run in the same process, alternating, under the same thread count; the figure that
matters is the ratio (target: torchinit at least 5x faster on the CPU).

    python bench/trunc_normal.py [--numel N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import torchinit


def _time(fn, tensor: torch.Tensor) -> float:
    start = time.perf_counter()
    fn(tensor)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numel", type=int, default=64 * 2**20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    tensor = torch.empty(args.numel)
    cases = {
        "torch.nn.init.trunc_normal_(std=0.02)": lambda t: torch.nn.init.trunc_normal_(t, std=0.02),
        "torchinit.trunc_normal_(std=0.02)": lambda t: torchinit.trunc_normal_(t, std=0.02),
        "torch.nn.init.trunc_normal_(a=-2, b=2)": lambda t: torch.nn.init.trunc_normal_(t),
        "torchinit.trunc_normal_(a=-2, b=2)": lambda t: torchinit.trunc_normal_(t),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn(tensor[:1024])
    for _ in range(args.rounds):
        for name, fn in cases.items():
            times[name].append(_time(fn, tensor))

    print(
        f"torch {torch.__version__}; os.cpu_count() = {os.cpu_count()}, "
        f"torch.get_num_threads() = {torch.get_num_threads()}"
    )
    print(
        f"{args.numel:,} float32 elements ({args.numel * 4 / 2**20:.0f} MiB), "
        f"median of {args.rounds} alternating rounds"
    )
    gbps = {name: args.numel * 4 / statistics.median(t) / 1e9 for name, t in times.items()}
    for name, t in times.items():
        print(f"  {name:42s} {statistics.median(t) * 1000:9.1f} ms  {gbps[name]:6.3f} GB/s")
    for label, ours, theirs in (
        (
            "std=0.02, bounds at 100 std (torch takes a plain-normal path)",
            "torchinit.trunc_normal_(std=0.02)",
            "torch.nn.init.trunc_normal_(std=0.02)",
        ),
        (
            "std=1, a=-2, b=2 (real truncation, 4.6% redrawn)",
            "torchinit.trunc_normal_(a=-2, b=2)",
            "torch.nn.init.trunc_normal_(a=-2, b=2)",
        ),
    ):
        ratio = statistics.median(times[theirs]) / statistics.median(times[ours])
        print(f"speed-up, {label}: {ratio:.2f}x")
    print("target: >= 5x where the interval really truncates")


if __name__ == "__main__":
    main()
