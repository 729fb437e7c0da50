"""Keyed, parallel ``init_model(..., seed=N)`` (schemes 2 and 3) versus the plain
``torch.nn.init`` loop.

Not a test: run it and read the numbers::

    python bench/keyed_init.py [--rounds 5] [--counter-rounds 1] [--no-compile]

Two models, each initialized by

* the plain loop: ``for m in model.modules(): if isinstance(...)`` with the ``torch.nn.init``
  calls of the scheme, drawing from torch's global generator (one thread: torch's CPU
  generator is serial);
* ``torchinit.init_model(model, preset, seed=0)``: keyed seeding, scheme 2, chunks drawn in
  parallel on ``torch.get_num_threads()`` threads (truncated normals by the fast sampler);
* ``init_model(..., seed=0, scheme_version=3)``: scheme 3, each element from its own Philox
  counter (:mod:`torchinit.counter`), eager, in tasks on the same threads;
* the same, compiled: the per-block samplers ``counter._uniform_at`` and
  ``counter._normal_at`` ``torch.compile``d (``dynamic=False``) for one block shape (the
  last block of a task padded to it) and patched into :mod:`torchinit.counter` for the run;
  the library itself stays eager. First the compiled run must give the eager run's
  parameters bit for bit (else the benchmark exits with status 1); the compile time is
  printed apart.

Models: a nanoGPT-style GPT-2 small (124M parameters, preset ``nanogpt``) and torchvision's
ResNet-50 (25.6M, preset ``resnet``; needs torchvision). The sides run alternately on the
same model; each side's median is reported with its time over the loop's (measured in the same
run), and the ratio loop / scheme 2 (target >= 1.8 on 2 cores). ``init_model`` without
``seed`` (the same draws as the loop) is shown for reference, and so is the ceiling: the same
weights' bare ``normal_`` draws in chunks on the same threads. Scheme 3 takes tens of seconds
per GPT-2 run on a CPU: it runs only the first ``--counter-rounds`` rounds (its check run is
its warm-up).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn

import torchinit
from torchinit import counter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GPT, print_machine, torchvision_resnet_loop


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


LOOP = "plain torch.nn.init loop"
CEILING = "bare parallel normal_ [ceiling]"


def compare(
    title: str,
    model: nn.Module,
    sides: dict[str, Fn],
    rounds: int,
    slow: dict[str, Fn] | None = None,
    slow_rounds: int = 0,
) -> dict[str, float]:
    """Median milliseconds of each side, and each over the loop's; the ``slow`` sides (warmed
    up by the caller) take part in the first ``slow_rounds`` rounds only."""
    slow = slow or {}
    for fn in sides.values():  # warm-up
        _timed(fn, model)
    times: dict[str, list[float]] = {name: [] for name in [*sides, *slow]}
    for round_ in range(max(rounds, slow_rounds)):
        playing = [name for name in sides if round_ < rounds]
        playing += [name for name in slow if round_ < slow_rounds]
        # rotate which side goes first, so drifts (caches, clocks) hit all alike
        shift = round_ % len(playing)
        for name in playing[shift:] + playing[:shift]:
            times[name].append(_timed({**sides, **slow}[name], model))
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items() if values}
    params = sum(p.numel() for p in model.parameters())
    print(f"{title} ({params / 1e6:.1f}M parameters)")
    for name, ms in medians.items():
        count = len(times[name])
        rounds_run = f"{count} round{'s' if count > 1 else ''}" if name in slow else ""
        print(
            f"  {name:58s} {ms:9.1f} ms  (min {min(times[name]) * 1e3:9.1f})"
            f"  {ms / medians[LOOP]:6.2f}x loop  {rounds_run}"
        )
    return medians


def _speedups(medians: dict[str, float], keyed: str) -> None:
    loop = medians[LOOP]
    ratio = loop / medians[keyed]
    ceiling = loop / medians[CEILING]
    verdict = "met" if ratio >= 1.8 else "NOT met"
    print(f"  {'speed-up loop / keyed (scheme 2):':58s} {ratio:9.2f}x  (target >= 1.8: {verdict})")
    print(f"  {'speed-up loop / bare draws:':58s} {ceiling:9.2f}x  (the ceiling here)")


# --------------------------------------------------------------------------- scheme 3 compiled


class CompiledCounter:
    """``counter._uniform_at`` and ``counter._normal_at`` computed by ``torch.compile``d
    per-block functions of one shape (``counter.BLOCK`` elements), patched in by
    :meth:`patched`.

    The key words and the attempt number are passed as 0-d tensors, not Python ints (which
    torch.compile would bake into the graph: one compile per tensor's key); the last block of
    each call is padded to the block shape with index 0 and cut back, which leaves the values
    as they are (each element depends on its own index only).
    """

    def __init__(self) -> None:
        self.uniform_block = torch.compile(self._uniform_block, dynamic=False)
        self.normal_block = torch.compile(self._normal_block, dynamic=False)
        self.eager_uniform_at = counter._uniform_at
        self.eager_normal_at = counter._normal_at

    def _uniform_block(
        self, k0: torch.Tensor, k1: torch.Tensor, index: torch.Tensor, dtype: torch.dtype,
        stream: int, attempt: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        return self.eager_uniform_at((k0, k1), index, dtype, stream, attempt)  # type: ignore[arg-type]

    def _normal_block(
        self, k0: torch.Tensor, k1: torch.Tensor, index: torch.Tensor, dtype: torch.dtype,
        stream: int, attempt: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        return self.eager_normal_at((k0, k1), index, stream, attempt, dtype)  # type: ignore[arg-type]

    @staticmethod
    def _blocks(
        block: Callable[..., torch.Tensor], key: tuple[int, int], index: torch.Tensor,
        dtype: torch.dtype, stream: int, attempt: int,
    ) -> torch.Tensor:  # fmt: skip
        k0, k1 = (torch.tensor(word, dtype=torch.int64) for word in key)
        attempt_tensor = torch.tensor(attempt, dtype=torch.int64)
        parts = []
        for part in index.split(counter.BLOCK):
            count = part.numel()
            if count < counter.BLOCK:
                part = torch.cat([part, part.new_zeros(counter.BLOCK - count)])
            # grad mode is part of the compiled graph's guards, and the engine's thread runs in
            # no_grad while the pool's do not: one mode for all, one compile
            with torch.no_grad():
                parts.append(block(k0, k1, part, dtype, stream, attempt_tensor)[:count])
        if not parts:
            return torch.empty(0, dtype=dtype)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def uniform_at(
        self, key: tuple[int, int], index: torch.Tensor, dtype: torch.dtype, stream: int,
        attempt: int,
    ) -> torch.Tensor:  # fmt: skip
        return self._blocks(self.uniform_block, key, index, dtype, stream, attempt)

    def normal_at(
        self, key: tuple[int, int], index: torch.Tensor, stream: int, attempt: int,
        dtype: torch.dtype,
    ) -> torch.Tensor:  # fmt: skip
        return self._blocks(self.normal_block, key, index, dtype, stream, attempt)

    def compile(self) -> float:
        """Compile both block functions for what scheme 3 draws (float64, stream 0); the
        seconds it took."""
        index = torch.arange(counter.BLOCK)
        start = time.perf_counter()
        self.uniform_at((1, 2), index, torch.float64, 0, 0)
        self.normal_at((1, 2), index, 0, 0, torch.float64)
        return time.perf_counter() - start

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """Scheme 3 through the compiled blocks while inside; a recompile (a shape or constant
        not seen by :meth:`compile`) is an error, not a silent extra compile."""
        counter._uniform_at, counter._normal_at = self.uniform_at, self.normal_at
        try:
            with torch._dynamo.config.patch(error_on_recompile=True):
                yield
        finally:
            counter._uniform_at, counter._normal_at = self.eager_uniform_at, self.eager_normal_at


def scheme3_sides(model: nn.Module, preset: str, compiled: CompiledCounter | None) -> dict[str, Fn]:
    """Scheme 3 eager and (with ``compiled``) compiled, each run once: the compiled run must
    give the eager run's parameters bit for bit (else exit 1). The runs warm both up."""
    name = f"init_model({preset}, seed=0, scheme_version=3)"

    def eager(m: nn.Module) -> object:
        return torchinit.init_model(m, preset, seed=0, scheme_version=3)

    start = time.perf_counter()
    with torch.no_grad():
        eager(model)
    print(f"  scheme 3 eager check run:   {time.perf_counter() - start:6.1f} s")
    sides: dict[str, Fn] = {name: eager}
    if compiled is None:
        return sides
    expected = {key: tensor.clone() for key, tensor in model.state_dict().items()}
    with torch.no_grad():
        # other values in the same tensors: a compiled run that wrote nothing would not pass
        torchinit.init_model(model, preset, seed=1)

    def compiled_run(m: nn.Module) -> object:
        with compiled.patched():
            return torchinit.init_model(m, preset, seed=0, scheme_version=3)

    start = time.perf_counter()
    with torch.no_grad():
        compiled_run(model)
    print(f"  scheme 3 compiled check run: {time.perf_counter() - start:6.1f} s")
    differ = [k for k, t in model.state_dict().items() if not torch.equal(t, expected[k])]
    if differ:
        print(f"  the compiled scheme 3 differs from the eager one in: {', '.join(differ)}")
        raise SystemExit(1)
    print(f"  scheme 3 compiled = eager, bit for bit, in all {len(expected)} tensors")
    sides[name + " [compiled]"] = compiled_run
    return sides


# --------------------------------------------------------------------------- main


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    parser.add_argument(
        "--counter-rounds",
        type=int,
        default=1,
        help="timed rounds of scheme 3, eager and compiled (the first rounds; default 1: a "
        "GPT-2 run takes about a minute on 2 cores)",
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="leave out scheme 3 compiled (no compiler)"
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.counter_rounds < 1:
        parser.error("--rounds and --counter-rounds must be >= 1")
    return args


def main() -> None:
    args = parse_arguments()
    print_machine(args.rounds)
    print(f"scheme 3 rounds = {args.counter_rounds}")
    compiled = None
    if not args.no_compile:
        compiled = CompiledCounter()
        seconds = compiled.compile()
        print(f"scheme 3 compiled: torch.compile of the two block samplers took {seconds:.1f} s")
    print()

    gpt = GPT()
    print("GPT-2 small (nanoGPT layout)")
    slow = scheme3_sides(gpt, "nanogpt", compiled)
    medians = compare(
        "GPT-2 small (nanoGPT layout)",
        gpt,
        {
            LOOP: gpt_loop,
            "init_model(nanogpt, seed=0)": lambda m: torchinit.init_model(m, "nanogpt", seed=0),
            "init_model(nanogpt) [global RNG]": lambda m: torchinit.init_model(m, "nanogpt"),
            CEILING: parallel_ceiling(gpt, (nn.Linear, nn.Embedding)),
        },
        args.rounds,
        slow,
        args.counter_rounds,
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
    print("resnet50 (torchvision)")
    slow = scheme3_sides(resnet, "resnet", compiled)
    medians = compare(
        "resnet50 (torchvision)",
        resnet,
        {
            LOOP: torchvision_resnet_loop,
            "init_model(resnet, seed=0)": lambda m: torchinit.init_model(m, "resnet", seed=0),
            "init_model(resnet) [global RNG]": lambda m: torchinit.init_model(m, "resnet"),
            CEILING: parallel_ceiling(resnet, (nn.Conv2d,)),
        },
        args.rounds,
        slow,
        args.counter_rounds,
    )
    _speedups(medians, "init_model(resnet, seed=0)")


if __name__ == "__main__":
    main()
