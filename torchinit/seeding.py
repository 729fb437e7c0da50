"""Keyed seeding: each tensor's values are a pure function of (seed, its name, its strategy).

``init_model(model, policy, seed=N)`` draws every tensor from generators of its own, seeded from
a SHA-256 digest of the scheme name and version, ``N``, the tensor's full dotted name and the
strategy with its arguments (its ``to_spec()``). Two versions of the scheme exist;
``scheme_version=`` picks one, and ``seed=N`` alone means version 2.

Version 2 (the default):

* A strategy whose elements are independent draws (constant, uniform, normal, truncated normal
  and everything built from them: Xavier, Kaiming, LeCun, variance scaling; see
  :meth:`~torchinit.Strategy.law`) fills the tensor's row-major flat view in chunks of
  :data:`CHUNK_ELEMENTS` elements; chunk ``k`` is drawn by its own CPU generator seeded from
  ``sha256(json([scheme, version, N, name, spec, k]))``. Normal and uniform values come from
  ``Tensor.normal_``/``uniform_``, truncated normals from :func:`torchinit.trunc_normal_` (the
  fast sampler). Values are drawn in float32 (float64 for float64 tensors) and then cast.
* Any other strategy (orthogonal, sparse, eye, ...) and a layer's own reset (``torch_default``)
  draws the whole tensor from one generator seeded from ``json([scheme, version, N, name,
  spec])``.

Version 3 (``scheme_version=3``, counter-based):

* A strategy with a law fills element ``i`` of the row-major flat view with
  :func:`torchinit.counter.draw` of the law at ``i``, under the 64-bit key made of the first
  8 bytes (little-endian) of ``sha256(json([scheme, 3, N, name, spec]))``: Philox4x32-10 of
  the counter ``(i mod 2**32, i // 2**32, 0, attempt)``, turned into the law's value in
  float64 with exact operations only, then rounded to float32 (float64 tensors keep it) and
  cast. It is computed on the tensor's own device, and a shard computes exactly its own
  elements.
* Any other strategy and a layer's reset: as in version 2, with 3 in the digest.

So the values do not depend on:

* the traversal order or on which other parameters the model has (nothing is shared
  between tensors);
* the number of threads: chunks (version 2) or ranges of elements (version 3) are filled in
  parallel on ``torch.get_num_threads()`` threads, each from its own generator or counters;
* wrappers that prefix names: the prefixes of ``DistributedDataParallel``/``DataParallel``
  (``module.``) and ``torch.compile`` (``_orig_mod.``) on the model passed in are removed
  from the key; a tied parameter is keyed by the smallest of its names;
* the device: version 2 draws on the CPU and copies to the tensor's device; version 3 computes
  on the device with operations that round the same way on every device; either way a CUDA
  model gets the same values bit for bit as a CPU one;
* sharding: a rank holding any shard of a tensor (a DTensor placed by ``Shard``,
  ``_StridedShard`` or ``Replicate`` on any mesh: a :class:`Block`) gets exactly the values of
  the same elements of the unsharded tensor. Under version 2 it draws the chunks its elements
  fall in; under version 3, only its elements.

Keyed init never touches torch's global random state. The report records the scheme and its
version; ``tests/test_seeding.py`` pins golden values of both versions so that no release
changes them silently. The digest includes the strategy's spec, so a release that changed a
strategy's default arguments would change its keyed values too: such a change needs a new
version. Without ``seed`` nothing changes: the global generator (or ``generator=``) is used,
and the presets stay bit-exact with the libraries they reproduce.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, cast, get_args

import torch
from torch import nn

from torchinit import _validate, counter
from torchinit._wrappers import bare_name, unwrap
from torchinit.errors import InvalidArgumentError
from torchinit.sampling import trunc_normal_
from torchinit.strategies import Law, LawKind, Strategy

__all__ = [
    "CHUNK_ELEMENTS",
    "COUNTER_TASK_ELEMENTS",
    "SCHEME",
    "VERSION",
    "VERSIONS",
    "Block",
    "KeyedSeeding",
    "run_tasks",
]

#: The scheme's name, hashed into every key and recorded in reports.
SCHEME = "torchinit-keyed"
#: The default version of the scheme (what ``seed=N`` alone means), bumped by any change to
#: the values a seed gives.
VERSION = 2
#: The versions ``scheme_version=`` selects: 2 (chunks of torch's CPU generators) and 3
#: (counter-based: :mod:`torchinit.counter`).
VERSIONS = (2, 3)
#: Elements per task of scheme 3 on a CPU (tasks run in parallel; values do not depend on it).
COUNTER_TASK_ELEMENTS = 1 << 18
# ... and on an accelerator: about 1 GiB of the sampler's float64 and int64 temporaries
ACCELERATOR_TASK_ELEMENTS = 1 << 24
#: Elements per keyed chunk; part of the scheme, so changing it changes the values.
CHUNK_ELEMENTS = 1 << 20
_MAX_SEED = 2**64 - 1
# Below this many drawn elements a task costs less than handing it to another thread.
_WORTH_A_THREAD = 1 << 14

#: A unit of keyed work: its cost (elements drawn) and the function doing it.
Task = tuple[int, Callable[[], None]]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _digest64(text: str) -> int:
    """The first 8 bytes (little-endian) of sha256(text)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _seeded(text: str) -> torch.Generator:
    """A CPU generator seeded from :func:`_digest64` of ``text``."""
    return torch.Generator(device="cpu").manual_seed(_digest64(text))


def draw_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype keyed values are drawn in for a tensor of ``dtype`` (then cast to it)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _draw(law: Law, out: torch.Tensor, generator: torch.Generator | None) -> None:
    kind, params = law.kind, law.params
    if kind == "constant":
        out.fill_(params[0])
    elif kind == "uniform":
        out.uniform_(params[0], params[1], generator=generator)
    elif kind == "normal":
        out.normal_(params[0], params[1], generator=generator)
    elif kind == "trunc_normal":
        trunc_normal_(out, *params, generator=generator)
    else:
        raise ValueError(f"Law kind {kind} not supported, please use one of {get_args(LawKind)}")


_buffers = threading.local()


def _scratch(size: int, dtype: torch.dtype) -> torch.Tensor:
    """A per-thread chunk buffer, reused: allocating fresh chunks costs page faults."""
    key = f"b{dtype}"
    buffer = getattr(_buffers, key, None)
    if buffer is None or buffer.numel() < size:
        buffer = torch.empty(max(size, CHUNK_ELEMENTS), dtype=dtype)
        setattr(_buffers, key, buffer)
    return cast(torch.Tensor, buffer[:size])


@dataclasses.dataclass(frozen=True, eq=False)
class Block:
    """The elements of a tensor that one shard holds: every combination of the global indices
    ``indices[d]`` along each dim ``d`` (strictly increasing), in row-major order.

    Any DTensor shard is one (its placements act on each dim on its own), so local element
    ``(i0, ..., in)`` is global element ``(indices[0][i0], ..., indices[n][in])``. As the
    indices increase, the shard's row-major elements are in the global row-major order too:
    the local elements inside one keyed chunk are a contiguous range of the local flat view.

    Args:
        shape: the global tensor's shape.
        indices: per dim, the global indices held (int64 tensors).

    Example:
        >>> block = Block((4, 6), (torch.arange(4), torch.tensor([3, 4, 5])))
        >>> block.flat(torch.tensor([0, 1, 3]))
        tensor([3, 4, 9])
        >>> block.chunks(8)  # chunk 1 holds elements 8 to 15: local 3 to 6 are 9, 10, 11, 15
        [(0, 0, 3), (1, 3, 7), (2, 7, 12)]
    """

    shape: tuple[int, ...]
    indices: tuple[torch.Tensor, ...]

    @property
    def numel(self) -> int:
        """How many elements the shard holds."""
        return math.prod(len(held) for held in self.indices)

    def _strides(self) -> list[int]:
        return [math.prod(self.shape[d + 1 :]) for d in range(len(self.shape))]

    def flat(self, positions: torch.Tensor) -> torch.Tensor:
        """The global flat indices of the local elements at flat ``positions``."""
        rest = positions.clone()
        flat = torch.zeros_like(positions)
        for held, stride in zip(self.indices[::-1], self._strides()[::-1], strict=True):
            flat += held[rest % len(held)] * stride
            rest //= len(held)
        return flat

    def run_start(self, first: int, stop: int) -> int | None:
        """The global flat index of local element ``first`` when local elements
        ``[first, stop)`` are consecutive in the global flat view, else ``None``."""
        ends = self.flat(torch.tensor([first, stop - 1]))
        return int(ends[0]) if int(ends[1] - ends[0]) == stop - first - 1 else None

    def span(self, first: int, stop: int) -> torch.Tensor:
        """The global flat indices of local elements ``[first, stop)``, as :meth:`flat`."""
        if not self.indices:
            return self.flat(torch.arange(first, stop))
        # line by line along the last dim: an add per element instead of a div and mod per dim
        last = self.indices[-1]
        size = len(last)
        lines = torch.arange(first // size, (stop - 1) // size + 1) * size
        starts = self.flat(lines) - last[0]
        grid = (starts[:, None] + last[None, :]).view(-1)
        return grid[first - int(lines[0]) : stop - int(lines[0])]

    def below(self, flat: torch.Tensor) -> torch.Tensor:
        """How many of the shard's elements have a global flat index below each of ``flat``."""
        count = torch.zeros_like(flat)
        # still on the path of a held element: every dim so far hit a held index exactly
        exact = torch.ones_like(flat, dtype=torch.bool)
        rest = flat
        after = self.numel
        for held, stride in zip(self.indices, self._strides(), strict=True):
            after //= len(held)
            index, rest = rest // stride, rest % stride
            before = torch.searchsorted(held, index)
            count += torch.where(exact, before * after, 0)
            found = held[before.clamp(max=len(held) - 1)] == index
            exact &= (before < len(held)) & found
        # a scalar: its one element (flat index 0) is below any positive index
        return count + (exact & (rest > 0))

    def chunks(self, size: int) -> list[tuple[int, int, int]]:
        """``(k, first, stop)`` for each chunk ``k`` of ``size`` elements of the global flat
        view that holds some of the shard's elements: local elements ``[first, stop)``."""
        numel = math.prod(self.shape)
        if self.numel == 0:
            return []
        bounds = torch.arange(0, numel + size, size).clamp(max=numel)
        counts = self.below(bounds).tolist()
        return [
            (k, counts[k], counts[k + 1])
            for k in range(len(counts) - 1)
            if counts[k + 1] > counts[k]
        ]


class KeyedSeeding:
    """The per-tensor generators of one ``init_model(..., seed=N)`` call.

    Args:
        seed: the seed, an integer in ``[0, 2**64)``.
        model: the model passed to ``init_model`` (wrappers included).
        version: the scheme's version, one of :data:`VERSIONS` (default :data:`VERSION`).

    Example:
        >>> keyed = KeyedSeeding(0, torch.nn.Linear(2, 2))
        >>> keyed.key_name(["weight"])
        'weight'
    """

    def __init__(self, seed: Any, model: nn.Module, version: Any = None) -> None:
        self.seed = _validate.integer(seed, "seed", minimum=0)
        if self.seed > _MAX_SEED:
            raise InvalidArgumentError("must be < 2**64", path="seed", got=seed)
        if version is None:
            version = VERSION
        elif isinstance(version, bool) or version not in VERSIONS:
            raise InvalidArgumentError(
                f"must be one of {list(VERSIONS)}", path="scheme_version", got=version
            )
        self.version: int = version
        self.prefix = unwrap(model)[1]
        self._head = f"[{_json(SCHEME)},{self.version},{self.seed},"
        self._specs: dict[int, tuple[Strategy, str]] = {}

    def key_name(self, names: Sequence[str]) -> str:
        """The name a tensor is keyed by: without wrapper prefixes, the smallest if tied."""
        return min(bare_name(name, self.prefix) for name in names)

    def _prefix(self, names: Sequence[str], strategy: Strategy) -> str:
        """``json([scheme, version, seed, name, spec])`` without its closing bracket.

        JSON of a list is its items' JSON joined by commas, so appending ``",k]"`` gives
        exactly ``json([..., k])``; the spec's JSON is computed once per strategy.
        """
        known = self._specs.get(id(strategy))
        if known is None or known[0] is not strategy:
            known = self._specs[id(strategy)] = (strategy, _json(strategy.to_spec()))
        return f"{self._head}{_json(self.key_name(names))},{known[1]}"

    def generator(self, names: Sequence[str], strategy: Strategy) -> torch.Generator:
        """The CPU generator a tensor without a law (or a layer reset) is drawn whole from."""
        return _seeded(self._prefix(names, strategy) + "]")

    def counter_key(self, names: Sequence[str], strategy: Strategy) -> int:
        """Scheme 3: the 64-bit Philox key of a tensor with a law (the digest
        :meth:`generator` is seeded with)."""
        return _digest64(self._prefix(names, strategy) + "]")

    def chunk_tasks(
        self,
        names: Sequence[str],
        strategy: Strategy,
        law: Law,
        shape: Sequence[int],
        out: torch.Tensor,
        start: int = 0,
        *,
        block: Block | None = None,
    ) -> list[Task]:
        """Tasks that fill ``out`` with elements ``[start, start + out.numel())`` of the
        tensor's keyed values, or with the elements of ``block``.

        ``out`` is a contiguous 1-D tensor on any device, of the tensor's dtype or of its
        :func:`draw_dtype` (the values are drawn in ``draw_dtype(out.dtype)``, then cast); the
        rows of a shard hold a contiguous range of the flat view, any other shard is a
        :class:`Block` (``start`` is then 0). Each task draws one whole chunk the elements
        overlap and keeps those. The tasks are independent and may run in any order, on any
        thread.
        """
        numel = math.prod(shape)
        stop = start + out.numel()
        if not 0 <= start <= stop <= numel:
            raise ValueError(f"range [{start}, {stop}) is outside a tensor of {numel} elements")
        if block is not None and (start or out.numel() != block.numel):
            raise ValueError(f"a block of {block.numel} elements needs start 0 and as many")
        if self.version == 3:
            return self._counter_tasks(names, strategy, law, shape, out, start, block)
        if block is None:
            # (k, first, last): chunk k holds local elements [first, last)
            size = CHUNK_ELEMENTS
            chunks = range(start // size, (stop - 1) // size + 1) if stop > start else range(0)
            ranges = [
                (k, max(k * size, start) - start, min((k + 1) * size, stop) - start) for k in chunks
            ]
        else:
            ranges = block.chunks(CHUNK_ELEMENTS)
        row = _zero_row(law, shape)
        prefix = self._prefix(names, strategy)
        dtype = draw_dtype(out.dtype)
        direct = out.device.type == "cpu" and out.dtype == dtype

        def task(index: int, first: int, last: int) -> None:
            low = index * CHUNK_ELEMENTS
            high = min(low + CHUNK_ELEMENTS, numel)
            generator = None if law.kind == "constant" else _seeded(f"{prefix},{index}]")
            # where the local elements are in the chunk: a run from an offset on, or scattered
            if block is None:
                picks: int | torch.Tensor = start + first - low
            else:
                run = block.run_start(first, last)
                picks = block.span(first, last) - low if run is None else run - low
            # grad mode is per thread: the engine's no_grad does not reach the pool's threads
            with torch.no_grad():
                target = out[first:last]
                whole = direct and isinstance(picks, int) and last - first == high - low
                drawn = target if whole else _scratch(high - low, dtype)
                _draw(law, drawn, generator)
                if row is not None and row[0] < high and row[1] > low:
                    drawn[max(row[0], low) - low : min(row[1], high) - low].zero_()
                if not whole:
                    if isinstance(picks, int):
                        target.copy_(drawn[picks : picks + last - first])
                    elif direct:
                        torch.index_select(drawn, 0, picks, out=target)
                    else:
                        target.copy_(drawn[picks])

        # a constant costs a fill, not a draw: it goes to the cheap end of the queue
        weight = 0 if law.kind == "constant" else 1
        return [
            (weight * (min((index + 1) * CHUNK_ELEMENTS, numel) - index * CHUNK_ELEMENTS),
             functools.partial(task, index, first, last))
            for index, first, last in ranges
        ]  # fmt: skip

    def _counter_tasks(
        self,
        names: Sequence[str],
        strategy: Strategy,
        law: Law,
        shape: Sequence[int],
        out: torch.Tensor,
        start: int,
        block: Block | None,
    ) -> list[Task]:
        """Scheme 3's :meth:`chunk_tasks`: each element drawn from its own counter on
        ``out``'s device (:func:`torchinit.counter.draw`), nothing more than ``out`` holds."""
        key = self.counter_key(names, strategy)
        row = _zero_row(law, shape)
        dtype = draw_dtype(out.dtype)
        local = out.numel()
        # on a CPU, tasks for the threads; an accelerator is parallel inside each op, and its
        # tasks only bound the memory the sampler's temporaries take
        piece = COUNTER_TASK_ELEMENTS if out.device.type == "cpu" else ACCELERATOR_TASK_ELEMENTS

        def task(first: int, last: int) -> None:
            index = _global_index(start, block, first, last, out.device)
            values = counter.draw(law.kind, law.params, key, index)
            if row is not None:
                values = torch.where((index >= row[0]) & (index < row[1]), 0.0, values)
            # grad mode is per thread: the engine's no_grad does not reach the pool's threads
            with torch.no_grad():
                out[first:last].copy_(values.to(dtype))

        weight = 0 if law.kind == "constant" else 1
        return [
            (weight * (min(first + piece, local) - first),
             functools.partial(task, first, min(first + piece, local)))
            for first in range(0, local, piece)
        ]  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """What the report records: ``{"scheme": ..., "version": ..., "seed": ...}``."""
        return {"scheme": SCHEME, "version": self.version, "seed": self.seed}


def _zero_row(law: Law, shape: Sequence[int]) -> tuple[int, int] | None:
    """The flat range of the law's zero row (an embedding's padding row), if any."""
    if law.zero_row is None:
        return None
    row_size = math.prod(shape) // shape[0]
    return law.zero_row * row_size, (law.zero_row + 1) * row_size


def _global_index(
    start: int, block: Block | None, first: int, last: int, device: torch.device
) -> torch.Tensor:
    """The global flat indices of local elements ``[first, last)``, on ``device``: a range
    made there when they are contiguous (rows of a shard), else computed on the CPU."""
    run = start + first if block is None else block.run_start(first, last)
    if run is None:
        return cast(Block, block).span(first, last).to(device)
    return torch.arange(run, run + last - first, device=device)


def run_tasks(tasks: Sequence[Task], threads: int | None = None) -> None:
    """Run independent tasks on ``threads`` threads (default ``torch.get_num_threads()``).

    Torch releases the GIL inside its kernels, so chunks of random numbers are drawn in
    parallel; the results do not depend on the number of threads. The costliest tasks start
    first (longest-processing-time order keeps the threads evenly loaded), the calling thread
    works too, first on the tasks too cheap to be worth a hand-over.
    """
    threads = torch.get_num_threads() if threads is None else threads
    ordered = sorted(tasks, key=lambda task: -task[0])
    big = [run for cost, run in ordered if cost >= _WORTH_A_THREAD]
    small = [run for cost, run in ordered if cost < _WORTH_A_THREAD]
    if threads <= 1 or len(big) <= 1:
        for run in big + small:
            run()
        return
    queue = iter(big)
    lock = threading.Lock()
    failed = threading.Event()

    def worker() -> None:
        while not failed.is_set():
            with lock:
                run = next(queue, None)
            if run is None:
                return
            try:
                run()
            except BaseException:
                failed.set()  # the others stop taking tasks
                raise

    helpers = [_pool(threads - 1).submit(worker) for _ in range(min(threads, len(big)) - 1)]
    try:
        for run in small:
            run()
        worker()
    except BaseException:
        failed.set()
        raise
    finally:
        # nothing may still be writing into the model when this returns or raises
        wait(helpers)
    for future in helpers:
        future.result()


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(size: int) -> ThreadPoolExecutor:
    """A thread pool of ``size`` kept for later calls: starting threads costs more than a
    small model's draws. One per process (a forked child gets its own: its parent's threads
    do not exist in it) and size."""
    key = (os.getpid(), size)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(size, thread_name_prefix="torchinit")
        return pool
