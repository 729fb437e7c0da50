"""What keyed init draws on each rank of a sharded weight, per DTensor layout and scheme.

Not a test: run it and read the numbers::

    python bench/layouts_cost.py --rounds 3

Under scheme 2 (the default) a rank draws every keyed chunk (2^20 elements) that holds one of
its elements and keeps those, so its cost is the chunks its shard overlaps, not its shard.
Under scheme 3 (``scheme_version=3``) each element is drawn from its own counter, so a rank
draws exactly its elements, but each costs more on a CPU. For a 4096 x 4096 float32 weight
(16 chunks of 256 rows) and each layout, every rank's local elements and the elements each
scheme draws come from the library's own index arithmetic (``torchinit.distributed.local_indices``,
``torchinit.seeding.Block`` and the sizes of the tasks ``KeyedSeeding.chunk_tasks`` returns, as
``init_model`` uses them), without processes. Then rank 0's draw is timed on one thread (median
over the rounds) under each scheme, next to drawing the whole weight under the same scheme.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.tensor import Shard
from torch.distributed.tensor.placement_types import _StridedShard

import torchinit
from torchinit.distributed import local_indices
from torchinit.seeding import CHUNK_ELEMENTS, Block, KeyedSeeding, Task, run_tasks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_rounds, print_machine

SHAPE = (4096, 4096)
#: name: (mesh shape, placements)
LAYOUTS: dict[str, tuple[tuple[int, ...], list[Any]]] = {
    **{f"Shard(0) on {n}": ((n,), [Shard(0)]) for n in (2, 4, 8)},
    **{f"Shard(1) on {n}": ((n,), [Shard(1)]) for n in (2, 4, 8)},
    "(_StridedShard(0, sf=2), Shard(0)) on 2x2": (
        (2, 2),
        [_StridedShard(0, split_factor=2), Shard(0)],
    ),
    "(Shard(0), Shard(1)) on 2x2": ((2, 2), [Shard(0), Shard(1)]),
}
SCHEMES = (2, 3)
STRATEGY = torchinit.Normal(0.0, 0.02)


def tasks(keyed: KeyedSeeding, block: Block, out: torch.Tensor) -> list[Task]:
    """The tasks that fill ``out`` with ``block``'s elements; each one's cost is the elements
    it draws (a whole chunk under scheme 2, its own elements under scheme 3)."""
    law = STRATEGY.law(SHAPE)
    assert law is not None
    return keyed.chunk_tasks(["w"], STRATEGY, law, SHAPE, out, block=block)


def drawn(keyed: KeyedSeeding, block: Block) -> int:
    """Elements drawn for ``block`` (nothing is drawn: the tasks are not run)."""
    return sum(cost for cost, _ in tasks(keyed, block, torch.empty(block.numel)))


def draw_seconds(keyed: KeyedSeeding, block: Block, rounds: int) -> float:
    out = torch.empty(block.numel)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run_tasks(tasks(keyed, block, out), threads=1)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rounds = parse_rounds(__doc__, 3)
    print_machine(rounds)
    torch.set_num_threads(1)
    keyed = {version: KeyedSeeding(0, nn.Linear(1, 1), version) for version in SCHEMES}
    whole = Block(SHAPE, tuple(torch.arange(n) for n in SHAPE))
    whole_s = {version: draw_seconds(keyed[version], whole, rounds) for version in SCHEMES}
    print(f"{SHAPE[0]} x {SHAPE[1]} float32, scheme 2 in chunks of {CHUNK_ELEMENTS} elements")
    for version in SCHEMES:
        print(
            f"whole weight, scheme {version}: {whole.numel} elements drawn in "
            f"{whole_s[version] * 1e3:.1f} ms (one thread)"
        )
    print()
    header = (
        f"{'layout':44} {'rank':>4} {'local':>10} {'drawn (2)':>10} {'/ local':>8} "
        f"{'drawn (3)':>10} {'/ local':>8}"
    )
    print(header)
    print("-" * len(header))
    summary = []
    for name, (mesh_shape, placements) in LAYOUTS.items():
        ratios: dict[int, list[float]] = {version: [] for version in SCHEMES}
        blocks = []
        for rank in range(math.prod(mesh_shape)):
            coordinate = [int(c) for c in torch.unravel_index(torch.tensor(rank), mesh_shape)]
            block = Block(SHAPE, local_indices(SHAPE, mesh_shape, coordinate, placements))
            blocks.append(block)
            row = f"{name:44} {rank:>4} {block.numel:>10}"
            for version in SCHEMES:
                count = drawn(keyed[version], block)
                ratios[version].append(count / block.numel)
                row += f" {count:>10} {count / block.numel:>7.2f}x"
            print(row)
        seconds = {version: draw_seconds(keyed[version], blocks[0], rounds) for version in SCHEMES}
        summary.append((name, ratios, seconds))
    print()
    print("rank 0's draw, one thread, and its share of drawing the whole weight (same scheme)")
    header = f"{'layout':44}" + "".join(
        f" {f'drawn/local ({v})':>16} {f'rank 0 ({v})':>12} {'/ whole':>8}" for v in SCHEMES
    )
    print(header)
    print("-" * len(header))
    for name, ratios, seconds in summary:
        row = f"{name:44}"
        for version in SCHEMES:
            row += (
                f" {max(ratios[version]):>15.2f}x {seconds[version] * 1e3:>9.1f} ms"
                f" {seconds[version] / whole_s[version]:>8.2f}"
            )
        print(row)


if __name__ == "__main__":
    main()
