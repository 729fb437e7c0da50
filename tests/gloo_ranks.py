"""What the multi-process tests share: a free loopback port, a gloo process group that
every rank leaves together, and running a worker on two spawned ranks that each save their
results to ``rank{r}.pt``."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def gloo_group(rank: int, world: int, port: int) -> Iterator[None]:
    """The default process group over loopback for one rank, left by all ranks together.

    The barrier brings every rank to the teardown at once: a rank that destroys its group
    while a peer is still between collectives closes the peer's gloo connections under it,
    which can abort the peer. It is skipped when the body raised, so that a failing rank
    reports its error instead of waiting in a barrier its peer never joins.
    """
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)  # up to four ranks on two cores
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def spawn(worker: Callable[..., None], world: int, *args: Any) -> None:
    """Run ``worker(rank, *args)`` on ``world`` spawned processes; raise if one fails."""
    torch.multiprocessing.start_processes(
        _exit_when_done, args=(worker, *args), nprocs=world, start_method="spawn"
    )


def _exit_when_done(rank: int, worker: Callable[..., None], *args: Any) -> None:
    worker(rank, *args)
    # Once a rank's results are saved and its group destroyed, nothing it has left to do
    # matters, and interpreter shutdown is where it can still die: gloo's threads may hold
    # the last references to tensors whose release needs the interpreter being torn down
    # (SIGABRT, "terminate called without an active exception": seen once in CI on a loaded
    # two-core machine). A worker that raised never gets here: spawn reports its error.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def two_rank_results(worker: Callable[..., None], out: Path) -> list[dict[str, Any]]:
    """Run ``worker(rank, port, out)`` on two spawned processes; each rank's saved results."""
    spawn(worker, 2, free_port(), str(out))
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(2)]
