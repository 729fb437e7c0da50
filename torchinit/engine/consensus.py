"""The seed check: the ranks of a sharded model agree on (policy, seed, scheme) before writing.

Keyed init of DTensor parameters (:mod:`torchinit.distributed`) exchanges nothing: each rank
writes its own shard from the seed, the tensor's name and its strategy. A rank called with
another seed, another policy or preset option, or another torchinit version would silently
write shards that do not belong to the same tensor. So when :func:`~torchinit.init_model`
meets a model holding DTensor parameters, every rank of their device mesh takes part in one
small collective (an ``all_gather`` of about a hundred bytes per rank, over each dimension of
the mesh in turn) carrying:

* whether the rank's planning failed: a rank whose policy cannot be applied still takes part,
  so the other ranks fail with a message naming it instead of waiting for it forever;
* the seed;
* the scheme: :data:`~torchinit.seeding.SCHEME`, the version in use (``scheme_version``) and
  torchinit's version;
* the plan's digest: a SHA-256 of every tensor's keyed name, shape, dtype, status and strategy
  spec (what :meth:`~torchinit.InitReport` lists), so a different policy, preset option or
  set of ``include``/``exclude`` is caught.

On any difference every rank raises the same :class:`~torchinit.PlanError` naming what differs
and on which ranks, before any tensor is touched. The collective waits at most
``seed_check_timeout`` seconds (300 by default). A model without DTensor parameters makes no
collective at all: ``init_model`` on one rank of a job is never blocked (and without an
initialized process group the model is not even searched for DTensors).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

import torch
from torch import nn

from torchinit import distributed
from torchinit.engine.planning import Plan
from torchinit.errors import PlanError
from torchinit.seeding import SCHEME, VERSION, KeyedSeeding

__all__ = ["DEFAULT_TIMEOUT", "checked"]

#: Seconds the seed check waits for every rank of the mesh by default.
DEFAULT_TIMEOUT = 300.0

_WHERE = "seed check"
_SAME = (
    "every rank must call init_model with the same policy, options, seed and torchinit "
    "version; nothing was initialized"
)
# the record one rank sends: rank, failed, has seed, seed, plan digest, scheme text
_RANK, _FLAGS, _SEED, _DIGEST, _SCHEME_TEXT = 4, 2, 8, 32, 64
_RECORD = _RANK + _FLAGS + _SEED + _DIGEST + _SCHEME_TEXT

T = TypeVar("T")


def checked(
    model: Any, prepare: Callable[[], tuple[Plan, KeyedSeeding | None, T]], timeout: float
) -> tuple[Plan, KeyedSeeding | None, T]:
    """Run ``prepare`` (the planning of ``init_model``) and, if ``model`` holds DTensor
    parameters, the seed check across the ranks of their mesh.

    Args:
        model: the model passed to ``init_model``.
        prepare: plans the call; what it returns (or raises) is passed on.
        timeout: seconds to wait for the other ranks.

    Raises:
        PlanError: the ranks disagree, another rank's planning failed, or not every rank
            answered within ``timeout``. A rank whose own planning fails raises its own error
            (after taking part in the check).

    Example:
        >>> model = torch.nn.Linear(2, 2)  # no DTensor: prepare runs, nothing is exchanged
        >>> checked(model, lambda: ("plan", None, None), 300.0)
        ('plan', None, None)
    """
    mesh = _mesh(model)
    if mesh is None:
        return prepare()
    try:
        prepared = prepare()
    except Exception:
        # the others wait for this rank: it answers, then raises its own error (theirs
        # names it); whatever the check says is less useful than the planning error
        with contextlib.suppress(PlanError):
            _agree(mesh, _record(None, None), timeout)
        raise
    built, keyed, _ = prepared
    _agree(mesh, _record(built, keyed), timeout)
    return prepared


def _mesh(model: Any) -> Any:
    """The device mesh spanning the most ranks among ``model``'s DTensor parameters; None
    when it has none, or no process group is initialized, or this rank is outside the mesh
    (it holds nothing to check)."""
    # a DTensor needs a process group: without one (most calls) the model is not walked
    initialized = torch.distributed.is_available() and torch.distributed.is_initialized()
    if not initialized or not isinstance(model, nn.Module):
        return None
    meshes = [cast(Any, p).device_mesh for p in model.parameters() if distributed.is_dtensor(p)]
    if not meshes:
        return None
    mesh = max(meshes, key=lambda mesh: mesh.size())  # the first of the largest
    return mesh if mesh.get_coordinate() is not None else None


def plan_digest(built: Plan, keyed: KeyedSeeding | None) -> bytes:
    """SHA-256 of every tensor's keyed name, shape, dtype, status and strategy spec, sorted
    by name (the traversal order does not change keyed values)."""
    entries: list[tuple[str, list[Any]]] = []
    for names, shape, dtype, outcome in built.report_rows:
        name = keyed.key_name(names) if keyed is not None else min(names)
        spec = outcome.strategy.to_spec() if outcome.strategy is not None else None
        entries.append((name, [name, shape, dtype, outcome.status, spec]))
    entries.sort(key=lambda entry: entry[0])
    text = json.dumps(
        [entry for _, entry in entries], sort_keys=True, separators=(",", ":"), default=repr
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


def _scheme_text(keyed: KeyedSeeding | None) -> str:
    from torchinit import __version__  # the package imports the engine

    version = keyed.version if keyed is not None else VERSION
    return f"{SCHEME} v{version}, torchinit {__version__}"


def _record(built: Plan | None, keyed: KeyedSeeding | None) -> torch.Tensor:
    """This rank's record (``built`` is None: its planning failed)."""
    rank = torch.distributed.get_rank()
    failed = built is None
    seed = keyed.seed if keyed is not None else 0
    digest = bytes(_DIGEST) if built is None else plan_digest(built, keyed)
    scheme = _scheme_text(keyed).encode("utf-8")[:_SCHEME_TEXT].ljust(_SCHEME_TEXT, b"\0")
    data = (
        rank.to_bytes(_RANK, "little")
        + bytes([failed, keyed is not None])
        + seed.to_bytes(_SEED, "little")
        + digest
        + scheme
    )
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def _agree(mesh: Any, record: torch.Tensor, timeout: float) -> None:
    """Gather every rank's record and raise :class:`PlanError` unless they all agree."""
    records = _gather(mesh, record, timeout)
    decoded = [_decode(records[i : i + _RECORD]) for i in range(0, len(records), _RECORD)]
    decoded.sort(key=lambda fields: fields["rank"])
    failed = [fields["rank"] for fields in decoded if fields["failed"]]
    if failed:
        raise PlanError(
            f"planning failed on {_ranks(failed)} (the error there says why); nothing was "
            "initialized",
            where=_WHERE,
        )
    differing = [key for key in ("scheme", "seed", "policy") if len({f[key] for f in decoded}) > 1]
    if differing:
        first, *others = differing
        also = f" ({' and '.join(others)} too)" if others else ""
        by_value: dict[Any, list[int]] = {}
        for fields in decoded:
            by_value.setdefault(fields[first], []).append(fields["rank"])
        raise PlanError(
            f"differs across ranks{also}: {_SAME}",
            where=_WHERE,
            path=first,
            got={_ranks(ranks): value for value, ranks in by_value.items()},
        )


def _gather(mesh: Any, record: torch.Tensor, timeout: float) -> torch.Tensor:
    """Every record of the mesh, concatenated in any order: gathered over each of its
    dimensions in turn (each step carries what the previous ones gathered), so one group
    per dimension is all that is used, and every rank ends with every record."""
    wait = datetime.timedelta(seconds=timeout)
    gathered = record
    for dim in range(mesh.ndim):
        group = mesh.get_group(dim)
        parts = [torch.empty_like(gathered) for _ in range(mesh.size(dim))]
        try:
            work = torch.distributed.all_gather(parts, gathered, group=group, async_op=True)
            work.wait(timeout=wait)
        except RuntimeError as error:
            raise PlanError(
                "not every rank of the device mesh answered within the timeout (does every "
                "rank call init_model on this model?); nothing was initialized",
                where=_WHERE,
                path="seed_check_timeout",
                got=timeout,
            ) from error
        gathered = torch.cat(parts)
    return gathered


def _decode(record: torch.Tensor) -> dict[str, Any]:
    data = bytes(record.tolist())
    at = _RANK + _FLAGS
    seed = int.from_bytes(data[at : at + _SEED], "little") if data[_RANK + 1] else None
    at += _SEED
    return {
        "rank": int.from_bytes(data[:_RANK], "little"),
        "failed": bool(data[_RANK]),
        "seed": seed,
        "policy": data[at : at + _DIGEST].hex()[:12],
        "scheme": data[at + _DIGEST :].rstrip(b"\0").decode("utf-8", "replace"),
    }


def _ranks(ranks: list[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"
