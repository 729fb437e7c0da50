"""What the multi-process tests share: a free loopback port, and running a worker on two
spawned ranks that each save their results to ``rank{r}.pt``."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def two_rank_results(worker: Callable[..., None], out: Path) -> list[dict[str, Any]]:
    """Run ``worker(rank, port, out)`` on two spawned processes; each rank's saved results."""
    torch.multiprocessing.start_processes(
        worker, args=(free_port(), str(out)), nprocs=2, start_method="spawn"
    )
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(2)]
