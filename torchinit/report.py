"""What a policy did (or, from :func:`torchinit.plan`, would do) to each tensor of a model."""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

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
        count = len(self.initialized)
        noun = "tensor" if count == 1 else "tensors"
        verb = "initialized" if self.applied else "to initialize"
        how = f"order={self.order}"
        if self.seeding is not None:
            how += (
                f", {self.seeding['scheme']} v{self.seeding['version']} seed={self.seeding['seed']}"
            )
        return (
            f"torchinit: policy {self.policy!r} on {self.model} ({how}): "
            f"{count} {noun} {verb}, {len(self.unmatched)} unmatched, "
            f"{len(self.skipped)} skipped, {len(self.excluded)} excluded"
        )

    def __str__(self) -> str:
        return self.format_table()

    def format_table(self, width: int | None = None) -> str:
        """The report as text: the summary, a table of the initialized tensors, then the rest.

        The table has one row per initialized tensor: its name (and other names, for tied
        tensors), shape, the rule that set it and the strategy with its arguments. Skipped,
        excluded and unmatched tensors and the rules that matched nothing follow, one line
        each. ``str(report)`` is ``report.format_table()``.

        Args:
            width: fit every line in this many columns (at least 40), as for a terminal: the
                columns are narrowed and long cells shortened (a dotted name keeps its ends,
                ``layer4…ownsample.0.weight``; a rule becomes ``#0 conv``; a shape
                ``512x256x3x3``; a strategy drops the arguments left at their defaults, then
                the arguments that do not fit, ``kaiming_normal(mode='fan_out', …)``; anything
                else is cut with ``…``), and the other lines wrap. ``None``: nothing is
                shortened.

        Example:
            >>> import torch, torchinit
            >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3))
            >>> print(torchinit.plan(model, "resnet").format_table(width=60))
            torchinit: policy 'resnet' on Sequential (order=modules): 1
                tensor to initialize, 1 unmatched, 0 skipped, 0 excluded
            name      shape         rule           strategy
            0.weight  (8, 3, 3, 3)  rules[0] conv  kaiming_normal(…)
            unmatched (left as they were): 0.bias
            matched nothing: rules[1] norm
        """
        if width is not None:
            width = max(_validate.integer(width, "width", minimum=1), _MIN_WIDTH)
        table = [tuple(_Cell(text) for text in ("name", "shape", "rule", "strategy"))]
        table.extend(_cells(entry) for entry in self.initialized)
        widths = [max(len(row[column].text) for row in table) for column in range(4)]
        if width is None or sum(widths) + len(_GAP) * 3 <= width:
            rows = [[cell.text for cell in row] for row in table]
        else:
            available = width - len(_GAP) * 3
            narrowed = _narrow(table, widths, available)
            # the strategy, last, takes whatever the other columns leave
            columns = [_fit(table, column, narrowed[column]) for column in range(3)]
            rest = available - sum(max(map(len, cells)) for cells in columns)
            columns.append(_fit(table, 3, rest))
            rows = [list(row) for row in zip(*columns, strict=True)]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [
            _GAP.join(
                [*(row[column].ljust(widths[column]) for column in range(3)), row[3]]
            ).rstrip()
            for row in rows
        ]
        notes = [f"skipped: {entry.name}: {entry.reason}" for entry in self.skipped]
        if self.excluded:
            notes.append(f"excluded by include/exclude: {', '.join(self.excluded)}")
        if self.unmatched:
            notes.append(f"unmatched (left as they were): {', '.join(self.unmatched)}")
        notes.extend(f"matched nothing: {rule}" for rule in self.unused_rules)
        if width is None:
            return "\n".join([self.summary(), *lines, *notes])
        wrapped = [part for note in notes for part in _wrap(note, width)]
        return "\n".join([*_wrap(self.summary(), width), *lines, *wrapped])

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
# How a table too wide for the terminal is narrowed: step by step, each column down to a width
# (None: the width of its cells' compact forms) until the table fits. Columns: 0 name,
# 1 shape, 2 rule, 3 strategy (which in the end takes whatever the others leave).
_NARROWING: tuple[tuple[int, int | None], ...] = (
    (3, 18),  # kaiming_normal(…)
    (2, None),  # #0 conv
    (1, None),  # 512x256x3x3
    (0, 24),  # layer4…downsample.0.weight
    (3, 12),
    (0, 16),
    (2, 6),
    (1, 6),
)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """A table cell: its text, and how to shorten it when its column is narrowed.

    In a narrowed column every cell is shortened (so that the column reads alike): to
    ``compact`` when that fits, else by ``shorten`` (default: ``compact`` cut with ``…``).
    """

    text: str
    compact: str = ""
    shorten: Callable[[int], str] | None = None

    def fit(self, width: int) -> str:
        """The cell in at most ``width`` characters, in its narrowed form."""
        compact = self.compact or self.text
        if len(compact) <= width:
            return compact
        return self.shorten(width) if self.shorten is not None else _cut(compact, width)


def _fit(table: Sequence[Sequence[_Cell]], column: int, width: int) -> list[str]:
    """The cells of ``column``: as they are when they all fit ``width``, else all shortened."""
    cells = [row[column] for row in table]
    if all(len(cell.text) <= width for cell in cells):
        return [cell.text for cell in cells]
    return [cell.fit(width) for cell in cells]


def _cells(entry: ReportEntry) -> tuple[_Cell, _Cell, _Cell, _Cell]:
    """The cells of an initialized entry's row: name, shape, rule and strategy."""
    name = entry.name + (f" (= {', '.join(entry.aliases)})" if entry.aliases else "")
    # a rule-less initialized entry is a layer default given to a tensor materialized from meta
    rule = f"rules[{entry.rule}] {entry.rule_label}" if entry.rule is not None else ""
    short_rule = f"#{entry.rule} {entry.rule_label}" if entry.rule is not None else ""
    if entry.rule is None:
        rule = short_rule = entry.rule_label or ""
    if entry.overridden:
        rule += " (over " + ", ".join(f"rules[{i}]" for i in entry.overridden) + ")"
    strategy = entry.strategy
    shape = entry.shape
    return (
        _Cell(
            name,
            f"{entry.name} (= {_ELLIPSIS})" if entry.aliases else entry.name,
            lambda width: _elide_dotted(entry.name, width),
        ),
        _Cell(_shape(shape), "x".join(map(str, shape)) if shape else _shape(shape)),
        _Cell(rule, short_rule),
        _Cell(
            strategy.describe() if strategy is not None else "",
            _shorten_strategy(strategy, 10**9) if strategy is not None else "",
            lambda width: _shorten_strategy(strategy, width) if strategy is not None else "",
        ),
    )


def _narrow(table: Sequence[Sequence[_Cell]], widths: Sequence[int], available: int) -> list[int]:
    """Column widths that add up to ``available`` if they can (see ``_NARROWING``)."""
    narrowed = list(widths)
    for column, floor in _NARROWING:
        excess = sum(narrowed) - available
        if excess <= 0:
            break
        if floor is None:
            floor = max(len(row[column].compact or row[column].text) for row in table)
        narrowed[column] = max(min(narrowed[column], floor), narrowed[column] - excess)
    return narrowed


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


def _shorten_strategy(strategy: Strategy, width: int) -> str:
    """The strategy in ``width`` characters: without the arguments left at their defaults,
    then with as many of the others as fit (``kaiming_normal(mode='fan_out', …)``), then cut.
    """
    if type(strategy).describe is not Strategy.describe:
        return _cut(strategy.describe(), width)  # a strategy that describes itself, as it says
    signature = inspect.signature(type(strategy)).parameters
    args = [
        f"{key}={value!r}"
        for key, value in strategy.arguments().items()
        if key not in signature
        or signature[key].default is inspect.Parameter.empty
        or signature[key].default != value
    ]
    for kept in range(len(args), -1, -1):
        elided = [_ELLIPSIS] if kept < len(args) else []
        text = f"{strategy.name}({', '.join([*args[:kept], *elided])})"
        if len(text) <= width:
            return text
    return _cut(text, width)


def _wrap(line: str, width: int) -> list[str]:
    """``line`` wrapped to ``width`` columns, its continuation lines indented."""
    return textwrap.wrap(
        line, width, subsequent_indent="    ", break_long_words=True, break_on_hyphens=False
    )
