"""The text table of :class:`~torchinit.report.InitReport` (``format_table``): cells made once
per distinct value, columns narrowed step by step to a terminal's width, long name lists
summarised."""

from __future__ import annotations

import inspect
import textwrap
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from torchinit.strategies import Strategy

if TYPE_CHECKING:
    from torchinit.report import Outcome, ReportEntry

__all__: list[str] = []

# a tensor as the table reads it: its names (the first one, then its aliases), shape, dtype, and
# what was done to it (an Outcome, or a ReportEntry in its place: an entry is an outcome too)
Record = tuple[Sequence[str], "tuple[int, ...] | None", "str | None", "Outcome | ReportEntry"]


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else str(tuple(shape))


_GAP = "  "
_ELLIPSIS = "…"
MIN_WIDTH = 40
# a list of names longer than _LISTED is written as its count, its first _HEAD names and
# "… N more": a model of 10,000 frozen layers would otherwise print one line of 300,000 characters
_LISTED = 8
_HEAD = 5
# How a table too wide for the terminal is narrowed: step by step, each column down to a width
# ("compact": the width of its cells' compact forms; "unbroken": the narrowest width that
# wraps them without cutting anything) until the table fits. Columns: 0 name, 1 shape, 2 rule,
# 3 strategy (which in the end takes whatever the others leave). A strategy wraps before a
# name is cut below 24 characters (past that, the name no longer tells the blocks apart), and
# is cut itself before.
_NARROWING: tuple[tuple[int, int | Literal["compact", "unbroken"]], ...] = (
    (3, "compact"),  # kaiming_normal(mode='fan_out', nonlinearity='relu')
    (2, "compact"),  # #0 conv
    (1, "compact"),  # 512x256x3x3
    (0, 24),  # layer4…downsample.0.weight
    (3, "unbroken"),  # kaiming_normal(mode='fan_out', + nonlinearity='relu')
    (3, 12),  # kaiming_nor…
    (0, 16),
    (2, 6),
    (1, 6),
)


def table_lines(records: Sequence[Record], width: int | None) -> list[str]:
    """The table's lines, one or more per record: name, shape, rule and strategy, narrowed to
    ``width`` columns (see ``_NARROWING``) or, with ``None``, as they are."""
    cells = _CellMaker()
    columns = [
        _NameColumn([record[0] for record in records]),
        _Column("shape", [cells.shape(record[1]) for record in records]),
        _Column("rule", [cells.rule(record[3]) for record in records]),
        _Column("strategy", [cells.strategy(record[3].strategy) for record in records]),
    ]
    widths = [max(map(len, column.texts)) for column in columns]
    if width is None or sum(widths) + len(_GAP) * 3 <= width:
        texts = [column.texts for column in columns]
    else:
        available = width - len(_GAP) * 3
        narrowed = _narrow(columns, widths, available)
        # the strategy, last, takes whatever the other columns leave
        texts = [column.fit(narrowed[index]) for index, column in enumerate(columns[:3])]
        texts.append(columns[3].fit(available - sum(max(map(len, t)) for t in texts)))
    widths = [max(map(len, column)) for column in texts[:3]]
    continued = "\n" + " " * (sum(widths) + len(_GAP) * 3)
    return [
        _GAP.join(
            [
                name.ljust(widths[0]),
                shape.ljust(widths[1]),
                rule.ljust(widths[2]),
                strategy.replace("\n", continued),
            ]
        ).rstrip()
        for name, shape, rule, strategy in zip(*texts, strict=True)
    ]


class _Cell(NamedTuple):
    """A table cell: its text, and how it reads in a narrowed column.

    In a narrowed column every cell is shortened (so that the column reads alike): to
    ``compact`` when that fits, else by ``shorten`` (default: ``compact`` cut with ``…``).
    ``unbroken`` is the narrowest width ``shorten`` keeps all of ``compact`` in (on several
    lines, for a strategy).
    """

    text: str
    compact: str
    unbroken: int
    shorten: Callable[[int], str] | None = None

    def fit(self, width: int) -> str:
        """The cell in at most ``width`` columns (lines joined by ``\\n``), narrowed."""
        if len(self.compact) <= width:
            return self.compact
        return self.shorten(width) if self.shorten is not None else _cut(self.compact, width)


def _plain(text: str, compact: str) -> _Cell:
    return _Cell(text, compact, len(compact))


class _Column:
    """A column of the table: its header and a cell per row, the rows sharing cells."""

    def __init__(self, header: str, cells: Sequence[_Cell]) -> None:
        self.header = header
        self.cells = cells
        self.texts = [header, *(cell.text for cell in cells)]

    def floor(self, kind: Literal["compact", "unbroken"]) -> int:
        """The width of the column's compact cells, or the narrowest that cuts none."""
        if kind == "compact":
            return max([len(self.header), *(len(cell.compact) for cell in self.cells)])
        return max([len(self.header), *(cell.unbroken for cell in self.cells)])

    def fit(self, width: int) -> list[str]:
        """The column's texts: as they are when they all fit ``width``, else all narrowed."""
        if max(map(len, self.texts)) <= width:
            return self.texts
        fitted: dict[int, str] = {}  # by identity, as rows share cells (see _CellMaker)
        texts = [_cut(self.header, width)]
        for cell in self.cells:
            text = fitted.get(id(cell))
            if text is None:
                text = fitted[id(cell)] = cell.fit(width)
            texts.append(text)
        return texts


class _NameColumn(_Column):
    """The names column: a tensor's name, then its other names (tied tensors). No two rows
    share a name, and its cells are made only when the column is narrowed."""

    def __init__(self, names: Sequence[Sequence[str]]) -> None:
        self.header = "name"
        self.names = names
        self.texts = [
            "name",
            *(n[0] if len(n) == 1 else f"{n[0]} (= {summarise(n[1:], 'names')})" for n in names),
        ]

    def _compacts(self) -> Iterator[str]:
        return (n[0] if len(n) == 1 else f"{n[0]} (= {_ELLIPSIS})" for n in self.names)

    def floor(self, kind: Literal["compact", "unbroken"]) -> int:
        return max([len(self.header), *map(len, self._compacts())])

    def fit(self, width: int) -> list[str]:
        if max(map(len, self.texts)) <= width:
            return self.texts
        return [
            _cut(self.header, width),
            *(
                compact if len(compact) <= width else _elide_dotted(names[0], width)
                for names, compact in zip(self.names, self._compacts(), strict=True)
            ),
        ]


class _CellMaker:
    """The shape, rule and strategy cells of the table, made once per table for each distinct
    value and shared by the rows that show it: on a model of 100,000 tensors, describing each
    row's strategy anew cost ten times the planning."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[int, ...] | None, _Cell] = {}
        self._rules: dict[tuple[int | None, str | None, tuple[int, ...]], _Cell] = {}
        # by identity: the rows of one rule share its strategy, and the entries keep it alive
        self._strategies: dict[int, _Cell] = {}

    def shape(self, shape: tuple[int, ...] | None) -> _Cell:
        cell = self._shapes.get(shape)
        if cell is None:
            text = _shape(shape)
            compact = "x".join(map(str, shape)) if shape else text
            cell = self._shapes[shape] = _plain(text, compact)
        return cell

    def rule(self, outcome: Outcome | ReportEntry) -> _Cell:
        key = (outcome.rule, outcome.rule_label, outcome.overridden)
        cell = self._rules.get(key)
        if cell is None:
            cell = self._rules[key] = _rule_cell(*key)
        return cell

    def strategy(self, strategy: Strategy | None) -> _Cell:
        cell = self._strategies.get(id(strategy))
        if cell is None:
            cell = self._strategies[id(strategy)] = _strategy_cell(strategy)
        return cell


def _rule_cell(rule: int | None, label: str | None, overridden: tuple[int, ...]) -> _Cell:
    # a rule-less initialized entry is a layer default given to a tensor materialized from meta
    if rule is None:
        text = short = label or ""
    else:
        text, short = f"rules[{rule}] {label}", f"#{rule} {label}"
    if overridden:
        text += " (over " + ", ".join(f"rules[{i}]" for i in overridden) + ")"
    return _plain(text, short)


def _strategy_cell(strategy: Strategy | None) -> _Cell:
    if strategy is None:
        return _plain("", "")
    text = strategy.describe()
    if type(strategy).describe is Strategy.describe:
        name, args = strategy.name, _changed_arguments(strategy)
    else:
        # a strategy that describes itself reads as it says; broken between its arguments
        # when that reads as a call
        name, paren, inner = text.partition("(")
        if not paren or not inner.endswith(")"):
            return _plain(text, text)
        args = inner[:-1].split(", ") if inner != ")" else []
    compact = f"{name}({', '.join(args)})"
    if not args:
        return _plain(text, compact)
    pieces = [f"{name}(", *(f"{arg}," for arg in args[:-1]), f"{args[-1]})"]

    def shorten(width: int) -> str:
        if width >= unbroken:
            return "\n".join(_wrap_call(pieces, width))
        # too narrow to wrap: one line, with as many of the arguments as fit
        for kept in range(len(args) - 1, -1, -1):
            cut = f"{name}({', '.join([*args[:kept], _ELLIPSIS])})"
            if len(cut) <= width:
                return cut
        return _cut(cut, width)

    unbroken = max(map(len, pieces))
    return _Cell(text, compact, unbroken, shorten)


def _narrow(columns: Sequence[_Column], widths: Sequence[int], available: int) -> list[int]:
    """Column widths that add up to ``available`` if they can (see ``_NARROWING``)."""
    narrowed = list(widths)
    for index, floor in _NARROWING:
        excess = sum(narrowed) - available
        if excess <= 0:
            break
        if isinstance(floor, str):
            floor = columns[index].floor(floor)
        narrowed[index] = max(min(narrowed[index], floor), narrowed[index] - excess)
    return narrowed


def summarise(names: Sequence[str], noun: str = "tensors") -> str:
    """``names`` joined by commas; more than ``_LISTED`` of them, summarised (the count, the
    first ``_HEAD`` and ``… N more``)."""
    if len(names) <= _LISTED:
        return ", ".join(names)
    first = ", ".join(names[:_HEAD])
    return f"{len(names)} {noun}: {first}, {_ELLIPSIS} {len(names) - _HEAD} more"


def _cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when something was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + _ELLIPSIS


def _elide_dotted(name: str, width: int) -> str:
    """A dotted name in ``width`` characters: its first part, ``…`` and as much of its end as
    fits (``layer2…wnsample.0.weight``), or only its end when the first part is too long."""
    if len(name) <= width:
        return name
    first = name.split(".", 1)[0]
    head = first if len(first) <= (width - 1) // 2 else ""
    return head + _ELLIPSIS + name[len(name) - max(width - len(head) - 1, 0) :]


# a strategy class -> its constructor's arguments that have defaults, and these
_DEFAULTS: weakref.WeakKeyDictionary[type[Strategy], dict[str, Any]] = weakref.WeakKeyDictionary()


def _defaults(strategy_type: type[Strategy]) -> dict[str, Any]:
    """The arguments of ``strategy_type``'s constructor that have defaults, and these (read
    once per class: reading a signature costs more than the rest of a row)."""
    defaults = _DEFAULTS.get(strategy_type)
    if defaults is None:
        parameters = inspect.signature(strategy_type).parameters.values()
        defaults = _DEFAULTS[strategy_type] = {
            p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty
        }
    return defaults


def _changed_arguments(strategy: Strategy) -> list[str]:
    """The strategy's arguments not left at their defaults, as ``key=value``."""
    defaults = _defaults(type(strategy))
    return [
        f"{key}={value!r}"
        for key, value in strategy.arguments().items()
        if key not in defaults or defaults[key] != value
    ]


def _wrap_call(pieces: Sequence[str], width: int) -> list[str]:
    """A call's pieces (``['name(', 'a=1,', 'b=2)']``, none wider than ``width``) on lines of
    at most ``width`` characters, as many on each line as fit."""
    lines = [pieces[0]]
    for index, piece in enumerate(pieces[1:]):
        joined = lines[-1] + (" " if index else "") + piece
        if len(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
    return lines


def wrap(line: str, width: int) -> list[str]:
    """``line`` wrapped to ``width`` columns, its continuation lines indented."""
    return textwrap.wrap(
        line, width, subsequent_indent="    ", break_long_words=True, break_on_hyphens=False
    )
