"""What keyed init draws on each rank of a sharded weight, per DTensor layout.

Not a test: run it and read the numbers::

    python bench/layouts_cost.py --rounds 3

A rank draws every keyed chunk (2^20 elements) that holds one of its elements and keeps those,
so its cost is the chunks its shard overlaps, not its shard. For a 4096 x 4096 float32 weight
(16 chunks of 256 rows) and each layout, every rank's local elements, the elements it draws and
their ratio come from the library's own index arithmetic (``torchinit.distributed.local_indices``
and ``torchinit.seeding.Block.chunks``, as ``init_model`` uses them), without processes. Then
one rank's draw is timed on one thread (median over the rounds) next to drawing the whole
weight.
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
from torchinit.seeding import CHUNK_ELEMENTS, Block, KeyedSeeding, run_tasks

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


def cost(block: Block) -> int:
    """Elements drawn: the sizes of the chunks the block overlaps."""
    numel = math.prod(block.shape)
    return sum(
        min((k + 1) * CHUNK_ELEMENTS, numel) - k * CHUNK_ELEMENTS
        for k, _, _ in block.chunks(CHUNK_ELEMENTS)
    )


def draw_seconds(keyed: KeyedSeeding, block: Block, rounds: int) -> float:
    strategy = torchinit.Normal(0.0, 0.02)
    law = strategy.law(SHAPE)
    assert law is not None
    out = torch.empty(block.numel)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run_tasks(keyed.chunk_tasks(["w"], strategy, law, SHAPE, out, block=block), threads=1)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rounds = parse_rounds(__doc__, 3)
    print_machine(rounds)
    torch.set_num_threads(1)
    keyed = KeyedSeeding(0, nn.Linear(1, 1))
    whole = Block(SHAPE, tuple(torch.arange(n) for n in SHAPE))
    whole_s = draw_seconds(keyed, whole, rounds)
    print(f"{SHAPE[0]} x {SHAPE[1]} float32, chunks of {CHUNK_ELEMENTS} elements")
    print(f"whole weight: {whole.numel} elements drawn in {whole_s * 1e3:.1f} ms (one thread)\n")
    header = f"{'layout':44} {'rank':>4} {'local':>10} {'drawn':>10} {'drawn/local':>11}"
    print(header)
    print("-" * len(header))
    summary = []
    for name, (mesh_shape, placements) in LAYOUTS.items():
        ratios = []
        blocks = []
        for rank in range(math.prod(mesh_shape)):
            coordinate = [int(c) for c in torch.unravel_index(torch.tensor(rank), mesh_shape)]
            block = Block(SHAPE, local_indices(SHAPE, mesh_shape, coordinate, placements))
            drawn = cost(block)
            ratios.append(drawn / block.numel)
            blocks.append(block)
            print(
                f"{name:44} {rank:>4} {block.numel:>10} {drawn:>10} {drawn / block.numel:>10.2f}x"
            )
        seconds = draw_seconds(keyed, blocks[0], rounds)
        summary.append((name, max(ratios), seconds))
    print()
    print(f"{'layout':44} {'max drawn/local':>15} {'rank 0 draw':>12} {'/ whole':>8}")
    for name, ratio, seconds in summary:
        print(f"{name:44} {ratio:>14.2f}x {seconds * 1e3:>9.1f} ms {seconds / whole_s:>7.2f}")


if __name__ == "__main__":
    main()
