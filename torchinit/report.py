"""What a policy did (or, from :func:`torchinit.plan`, would do) to each tensor of a model."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

from torchinit import _validate
from torchinit.strategies import Strategy

__all__ = ["InitReport", "ReportEntry", "Status"]

Status = Literal["initialized", "unmatched", "skipped", "excluded"]


@dataclasses.dataclass(frozen=True)
class ReportEntry:
    """One tensor of the model and what happened to it.

    Attributes:
        name: full dotted name (the first name, when the tensor is reachable under several).
        shape: the tensor's shape (``None`` for an empty ``None`` slot such as a missing bias).
        dtype: the tensor's dtype, e.g. ``"torch.float32"``.
        status: ``initialized``; ``unmatched`` (no rule gave it a strategy, kept as it was);
            ``skipped`` (a rule matched but it was left alone, see ``reason``); ``excluded``
            (a rule matched but ``include``/``exclude`` left it out).
        rule: index of the rule that decided it, or ``None``.
        rule_label: that rule's description.
        strategy: the strategy that was (or would be) applied.
        reason: why a matched tensor was skipped.
        aliases: the tensor's other names (tied weights, shared layers).
        overridden: indices of earlier rules that matched the tensor too and were overridden
            by ``rule`` (the last matching rule wins).
    """

    name: str
    shape: tuple[int, ...] | None
    dtype: str | None
    status: Status
    rule: int | None = None
    rule_label: str | None = None
    strategy: Strategy | None = None
    reason: str | None = None
    aliases: tuple[str, ...] = ()
    overridden: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return {
            "name": self.name,
            "shape": list(self.shape) if self.shape is not None else None,
            "dtype": self.dtype,
            "status": self.status,
            "rule": self.rule,
            "rule_label": self.rule_label,
            "strategy": self.strategy.to_spec() if self.strategy is not None else None,
            "reason": self.reason,
            "aliases": list(self.aliases),
            "overridden": list(self.overridden),
        }


def new_entry(
    name: str,
    shape: tuple[int, ...] | None,
    dtype: str | None,
    status: Status,
    rule: int | None,
    rule_label: str | None,
    strategy: Strategy | None,
    reason: str | None,
    aliases: tuple[str, ...],
    overridden: tuple[int, ...],
) -> ReportEntry:
    """``ReportEntry(...)`` with every field given, for the engine, which builds one per tensor.

    The frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; on a
    model of 10,000 layers that was a tenth of the planning time. Giving the instance its
    ``__dict__`` at once makes the same value (fields, equality, hash, repr) in a third of it.
    """
    entry = object.__new__(ReportEntry)
    object.__setattr__(
        entry,
        "__dict__",
        {
            "name": name,
            "shape": shape,
            "dtype": dtype,
            "status": status,
            "rule": rule,
            "rule_label": rule_label,
            "strategy": strategy,
            "reason": reason,
            "aliases": aliases,
            "overridden": overridden,
        },
    )
    return entry


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule did to a tensor: a report entry less the tensor's names, shape and dtype.

    The engine makes one per rule and key, shared by all the tensors the rule treated alike.
    """

    status: Status
    rule: int | None
    rule_label: str | None
    strategy: Strategy | None
    reason: str | None = None
    overridden: tuple[int, ...] = ()


# a report entry as the engine records it: the tensor's names (the first one, then its aliases),
# shape, dtype and outcome
Row = tuple[Sequence[str], tuple[int, ...] | None, str | None, Outcome]
# a tensor as the table reads it: a row, or an entry in its place (an entry is an outcome too)
_Record = tuple[Sequence[str], tuple[int, ...] | None, str | None, "Outcome | ReportEntry"]


def _expand(row: Row) -> ReportEntry:
    names, shape, dtype, outcome = row
    return new_entry(
        names[0],
        shape,
        dtype,
        outcome.status,
        outcome.rule,
        outcome.rule_label,
        outcome.strategy,
        outcome.reason,
        tuple(names[1:]),
        outcome.overridden,
    )


class _EntriesFromRows:
    """``InitReport.entries`` of a report made by :func:`new_report`: built from its rows when
    first read, then kept in the instance (which hides this descriptor from later reads).

    A report of a model of 10,000 layers is 20,000 entries; most callers never read them, and
    making and freeing them was a fifth of ``init_model``'s time on such a model. A report made
    by ``InitReport(...)`` has its entries already, and never reaches this.
    """

    def __get__(self, report: InitReport | None, owner: type) -> tuple[ReportEntry, ...]:
        if report is None:
            # read on the class, as dataclasses does to find a field's default: there is none
            raise AttributeError("entries")
        state = vars(report)
        rows = state.get("_rows")
        entries: tuple[ReportEntry, ...]
        if rows is None:
            entries = state["entries"]  # built meanwhile, by another thread
            return entries
        entries = tuple(map(_expand, rows))
        state["entries"] = entries
        state.pop("_rows", None)
        return entries


@dataclasses.dataclass(frozen=True)
class InitReport:
    """One entry per tensor slot of the model, in traversal order.

    ``str(report)`` is a readable table; :meth:`to_dict` is JSON-ready.

    Attributes:
        policy: the policy's name.
        model: the model's class name.
        order: the traversal order used.
        applied: ``True`` from :func:`~torchinit.init_model`, ``False`` from
            :func:`~torchinit.plan` (nothing was touched).
        entries: the entries.
        unused_rules: descriptions (``rules[i] ...``) of the rules that matched no tensor.
        seeding: with ``seed=``, the keyed-seeding scheme, its version and the seed.
        options: the preset's options, each as ``(value, source)``: the source is
            ``"given"``, ``"default"`` or the model attribute it was read from
            (``"model.config.n_layer"``); empty for a policy no preset built.
    """

    policy: str
    model: str
    order: str
    applied: bool
    # a required field all the same: the descriptor gives dataclasses no default
    entries: tuple[ReportEntry, ...] = _EntriesFromRows()  # type: ignore[assignment]
    unused_rules: tuple[str, ...] = ()
    seeding: dict[str, Any] | None = None
    # not hashed: a value may be a list (a preset's globs)
    options: dict[str, tuple[Any, str]] = dataclasses.field(default_factory=dict, hash=False)

    def __getstate__(self) -> dict[str, Any]:
        # pickled and copied with its entries, never with the engine's rows (see new_report)
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def __iter__(self) -> Iterator[ReportEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, name: str) -> ReportEntry:
        """The entry of the tensor called ``name`` (any of its names)."""
        for entry in self.entries:
            if entry.name == name or name in entry.aliases:
                return entry
        raise KeyError(name)

    def _with(self, status: Status) -> list[ReportEntry]:
        return [entry for entry in self.entries if entry.status == status]

    @property
    def initialized(self) -> list[ReportEntry]:
        """Entries that a rule initialized."""
        return self._with("initialized")

    @property
    def unmatched(self) -> list[str]:
        """Names of the tensors no rule matched (left as they were)."""
        return [entry.name for entry in self._with("unmatched")]

    @property
    def skipped(self) -> list[ReportEntry]:
        """Entries a rule matched but that were left alone (``None``, empty, frozen)."""
        return self._with("skipped")

    @property
    def excluded(self) -> list[str]:
        """Names that a rule matched but ``include``/``exclude`` left out."""
        return [entry.name for entry in self._with("excluded")]

    def summary(self) -> str:
        """One line: what was (or would be) done."""
        return self._summary(self._by_status())

    def _summary(self, by_status: dict[Status, list[_Record]]) -> str:
        count = len(by_status["initialized"])
        noun = "tensor" if count == 1 else "tensors"
        verb = "initialized" if self.applied else "to initialize"
        how = f"order={self.order}"
        if self.seeding is not None:
            how += (
                f", {self.seeding['scheme']} v{self.seeding['version']} seed={self.seeding['seed']}"
            )
        return (
            f"torchinit: policy {self.policy!r} on {self.model} ({how}): "
            f"{count} {noun} {verb}, {len(by_status['unmatched'])} unmatched, "
            f"{len(by_status['skipped'])} skipped, {len(by_status['excluded'])} excluded"
        )

    def _by_status(self) -> dict[Status, list[_Record]]:
        """The tensors of each status, in traversal order. Read from the engine's rows when the
        entries were not built: printing a report of 100,000 tensors need not build them."""
        by_status: dict[Status, list[_Record]] = {
            "initialized": [],
            "unmatched": [],
            "skipped": [],
            "excluded": [],
        }
        rows = vars(self).get("_rows")
        if rows is not None:
            for row in rows:
                by_status[row[3].status].append(row)
        else:
            for entry in self.entries:
                names = (entry.name, *entry.aliases)
                by_status[entry.status].append((names, entry.shape, entry.dtype, entry))
        return by_status

    def __str__(self) -> str:
        return self.format_table()

    def format_table(self, width: int | None = None) -> str:
        """The report as text: the summary, a table of the initialized tensors, then the rest.

        The table has one row per initialized tensor: its name (and other names, for tied
        tensors), shape, the rule that set it and the strategy with its arguments. Skipped
        tensors follow, one line per reason, then the excluded and unmatched ones and the rules
        that matched nothing. A list of more than 8 names is summarised: its count, its first 5
        names and ``… N more`` (the full lists are :attr:`unmatched`, :attr:`excluded`, ...).
        ``str(report)`` is ``report.format_table()``.

        Args:
            width: fit every line in this many columns (at least 40), as for a terminal. The
                columns are narrowed step by step: a strategy drops the arguments left at their
                defaults, a rule becomes ``#0 conv``, a shape ``512x256x3x3``, a long dotted name
                keeps its ends (``layer4…ownsample.0.weight``), and a strategy still too wide
                wraps onto continuation lines between its arguments; only in the narrowest
                tables is an argument, or a name, cut with ``…``. The notes wrap too. ``None``:
                nothing is shortened or wrapped.

        Example:
            >>> import torch, torchinit
            >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))
            >>> print(torchinit.plan(model, "resnet").format_table(width=60))
            torchinit: policy 'resnet' on Sequential (order=modules): 1
                tensor to initialize, 1 unmatched, 0 skipped, 0 excluded
            name      shape    rule     strategy
            0.weight  8x3x3x3  #0 conv  kaiming_normal(mode='fan_out',
                                        nonlinearity='relu')
            unmatched (left as they were): 0.bias
            matched nothing: rules[1] norm
        """
        if width is not None:
            width = max(_validate.integer(width, "width", minimum=1), _MIN_WIDTH)
        by_status = self._by_status()
        initialized = by_status["initialized"]
        cells = _CellMaker()
        columns = [
            _NameColumn([record[0] for record in initialized]),
            _Column("shape", [cells.shape(record[1]) for record in initialized]),
            _Column("rule", [cells.rule(record[3]) for record in initialized]),
            _Column("strategy", [cells.strategy(record[3].strategy) for record in initialized]),
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
        lines = [
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
        summary, notes = self._summary(by_status), self._notes(by_status)
        if width is None:
            return "\n".join([summary, *lines, *notes])
        wrapped = [part for note in notes for part in _wrap(note, width)]
        return "\n".join([*_wrap(summary, width), *lines, *wrapped])

    def _notes(self, by_status: dict[Status, list[_Record]]) -> list[str]:
        """The lines after the table: skipped (by reason), excluded, unmatched, unused rules,
        options read from the model."""
        skipped: dict[str | None, list[str]] = {}
        for names, _, _, outcome in by_status["skipped"]:
            skipped.setdefault(outcome.reason, []).append(names[0])
        notes = [f"skipped: {_names(names)}: {reason}" for reason, names in skipped.items()]
        if by_status["excluded"]:
            excluded = [record[0][0] for record in by_status["excluded"]]
            notes.append(f"excluded by include/exclude: {_names(excluded)}")
        if by_status["unmatched"]:
            unmatched = [record[0][0] for record in by_status["unmatched"]]
            notes.append(f"unmatched (left as they were): {_names(unmatched)}")
        notes.extend(f"matched nothing: {rule}" for rule in self.unused_rules)
        # where the preset's options that describe the model came from (defaults go unsaid)
        read = [
            f"{name}={value!r} ({source})"
            for name, (value, source) in self.options.items()
            if source.startswith("model")
        ]
        if read:
            notes.append(f"options read from the model: {', '.join(read)}")
        return notes

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "policy": self.policy,
            "model": self.model,
            "order": self.order,
            "applied": self.applied,
            "entries": [entry.to_dict() for entry in self.entries],
            "unmatched": self.unmatched,
            "unused_rules": list(self.unused_rules),
            "seeding": self.seeding,
            "options": {
                name: {"value": _json_ready(value), "source": source}
                for name, (value, source) in self.options.items()
            },
        }


def _json_ready(value: Any) -> Any:
    """``value`` with tuples as lists, as ``json.loads(json.dumps(value))`` would give it."""
    if isinstance(value, (tuple, list)):
        return [_json_ready(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    return value


def new_report(
    *,
    policy: str,
    model: str,
    order: str,
    applied: bool,
    rows: Sequence[Row],
    unused_rules: tuple[str, ...],
    seeding: dict[str, Any] | None,
    options: dict[str, tuple[Any, str]],
) -> InitReport:
    """An :class:`InitReport` whose entries are built from ``rows`` when first read.

    The same value as ``InitReport(..., entries=tuple(map(_expand, rows)), ...)`` (fields,
    equality, repr), for the engine, which makes one row per tensor.
    """
    report = object.__new__(InitReport)
    object.__setattr__(
        report,
        "__dict__",
        {
            "policy": policy,
            "model": model,
            "order": order,
            "applied": applied,
            "_rows": rows,
            "unused_rules": unused_rules,
            "seeding": seeding,
            "options": options,
        },
    )
    return report


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else str(tuple(shape))


_GAP = "  "
_ELLIPSIS = "…"
_MIN_WIDTH = 40
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
            *(n[0] if len(n) == 1 else f"{n[0]} (= {_names(n[1:], 'names')})" for n in names),
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


def _names(names: Sequence[str], noun: str = "tensors") -> str:
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


def _wrap(line: str, width: int) -> list[str]:
    """``line`` wrapped to ``width`` columns, its continuation lines indented."""
    return textwrap.wrap(
        line, width, subsequent_indent="    ", break_long_words=True, break_on_hyphens=False
    )
