"""What does a hostile policy file cost before it is refused?

Not a test: run it and read the numbers::

    python bench/yaml_limits.py --rounds 3

Every hostile shape below is 1 MiB of YAML text or less (the byte bound), built to be as
costly as possible for PyYAML: dense flow and block sequences, deep nesting, many keys, an
alias bomb, long scalars and comments. Each is refused by one of the bounds of
``torchinit.config`` (``_MAX_BYTES``, ``_MAX_NODES``, ``_MAX_DEPTH``) or, for the scalars and
comments, read and refused by the schema. The baseline is the costliest file that is accepted:
a policy of ``_MAX_NODES`` nodes (rules naming layers one by one), measured in the same run.
The target: no hostile file costs more than the baseline (ratio <= 1) or two seconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torchinit
from torchinit.config import _MAX_BYTES, _MAX_NODES
from torchinit.errors import TorchInitError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse_rounds, print_machine

_RULE = "  - match: {{name: 'blocks.{index}.attn'}}\n    weight: {{normal: {{std: 0.02}}}}\n"
# nodes per rule: a map of two keys (match, weight), their values and theirs
_RULE_NODES = 11


def _accepted() -> str:
    """The largest policy the bounds accept: rules up to ``_MAX_NODES`` nodes."""
    rules = (_MAX_NODES - 3) // _RULE_NODES
    return "rules:\n" + "".join(_RULE.format(index=i) for i in range(rules))


def _alias_bomb() -> str:
    lines = ["rules:", "  - match: {type: Linear}", "    weight: zeros", "    label:"]
    lines.append("      - &l0 [" + ", ".join(["lol"] * 9) + "]")
    for level in range(1, 10):
        lines.append(f"      - &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _fill(head: str, unit: str, tail: str = "") -> str:
    """``head``, then ``unit`` repeated up to the byte bound, then ``tail``."""
    return head + unit * ((_MAX_BYTES - len(head) - len(tail)) // len(unit)) + tail


HOSTILE: dict[str, Callable[[], str]] = {
    "flow sequence of ints": lambda: _fill("rules: [", "0,", "]\n"),
    "block sequence": lambda: _fill("rules:\n", "- 0\n"),
    "mapping of many keys": lambda: "".join(f"k{i}: 0\n" for i in range(_MAX_BYTES // 10)),
    "nested flow": lambda: _fill("rules: ", "["),
    "nested block": lambda: "rules:\n" + "".join(" " * i + "- \n" for i in range(1000)),
    "alias bomb": _alias_bomb,
    "one quoted scalar": lambda: _fill("name: '", "x", "'\n"),
    "one plain scalar": lambda: _fill("name: ", "x", "\n"),
    "comments": lambda: _fill("", "# " + "x" * 77 + "\n"),
}


def _cost(text: str) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        torchinit.Policy.from_yaml(text)
        outcome = "accepted"
    except TorchInitError as error:
        outcome = str(error).split(": ", 1)[-1][:48]
    return time.perf_counter() - start, outcome


def main() -> None:
    rounds = parse_rounds(__doc__ or "", default=3)
    print_machine(rounds)
    texts = {"largest accepted policy (baseline)": _accepted()}
    texts.update({title: make() for title, make in HOSTILE.items()})
    times: dict[str, list[float]] = {title: [] for title in texts}
    outcomes: dict[str, str] = {}
    for round_ in range(rounds):
        order = list(texts) if round_ % 2 == 0 else list(reversed(texts))
        for title in order:
            seconds, outcomes[title] = _cost(texts[title])
            times[title].append(seconds)
    baseline = statistics.median(times["largest accepted policy (baseline)"])
    worst = 0.0
    for title, measured in times.items():
        median = statistics.median(measured)
        worst = max(worst, median)
        print(
            f"  {title:36s} {len(texts[title]):9,d} B {median:7.3f} s  "
            f"ratio {median / baseline:5.2f}  {outcomes[title]}"
        )
    met = worst <= max(baseline, 2.0)
    print(f"  target <= baseline or 2 s:           {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
