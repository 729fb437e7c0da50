"""How much does printing a report cost, next to planning it?

Not a test: run it and read the numbers::

    python bench/report_rendering.py --rounds 5

The model: ``nn.Sequential`` of 25,000 x ``(Linear(8, 8), LayerNorm(8))``, 100,000 tensors,
with the policy of ``bench/engine_overhead.py``. The baseline is ``torchinit.plan`` on it (the
report is what it makes); then ``str(report)`` (the full table), ``report.format_table(80)`` (a
terminal: every strategy wraps) and ``str(report)`` of a report whose entries were read first
(as one built by ``InitReport(...)`` or unpickled). The target: printing costs at most what
planning does (ratio <= 1). Each side's median over the rounds is reported.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from torch import nn

import torchinit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_rounds, print_machine
from engine_overhead import SMALL_POLICY, many_small_modules


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    rounds = parse_rounds(__doc__ or "", default=5)
    print_machine(rounds)
    model: nn.Module = many_small_modules(25_000)
    report = torchinit.plan(model, SMALL_POLICY)
    with_entries = torchinit.plan(model, SMALL_POLICY)
    with_entries.entries  # noqa: B018 (read, so that the table is made from the entries)
    sides: dict[str, Callable[[], object]] = {
        "torchinit.plan (baseline)": lambda: torchinit.plan(model, SMALL_POLICY),
        "str(report)": lambda: str(report),
        "report.format_table(80)": lambda: report.format_table(80),
        "str(report), entries read": lambda: str(with_entries),
    }
    for fn in sides.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {title: [] for title in sides}
    for round_ in range(rounds):
        # alternate the order, so that drifts (caches, clocks) hit all sides alike
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for title in order:
            times[title].append(_timed(sides[title]))

    print(f"{len(report):,} tensors, {len(str(report).splitlines()):,} lines in str(report)")
    baseline = statistics.median(times["torchinit.plan (baseline)"])
    for title, measured in times.items():
        median = statistics.median(measured)
        print(f"  {title:28s} {median * 1e3:9.1f} ms   ratio to plan {median / baseline:6.3f}")
    worst = max(statistics.median(measured) for measured in times.values()) / baseline
    print(f"  target <= 1.0:               {'met' if worst <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
