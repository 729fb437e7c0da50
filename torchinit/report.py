"""What a policy did (or, from :func:`torchinit.plan`, would do) to each tensor of a model."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from torchinit import _validate
from torchinit._table import MIN_WIDTH, Record, summarise, table_lines, wrap
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
        reason: why a matched tensor was skipped; for a tensor read from a checkpoint
            (:class:`~torchinit.Checkpoint`), where: ``key 'fc.weight' of 'r50.safetensors'``.
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
_Record = Record


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
            width = max(_validate.integer(width, "width", minimum=1), MIN_WIDTH)
        by_status = self._by_status()
        lines = table_lines(by_status["initialized"], width)
        summary, notes = self._summary(by_status), self._notes(by_status)
        if width is None:
            return "\n".join([summary, *lines, *notes])
        wrapped = [part for note in notes for part in wrap(note, width)]
        return "\n".join([*wrap(summary, width), *lines, *wrapped])

    def _notes(self, by_status: dict[Status, list[_Record]]) -> list[str]:
        """The lines after the table: skipped (by reason), excluded, unmatched, unused rules,
        options read from the model."""
        skipped: dict[str | None, list[str]] = {}
        for names, _, _, outcome in by_status["skipped"]:
            skipped.setdefault(outcome.reason, []).append(names[0])
        notes = [f"skipped: {summarise(names)}: {reason}" for reason, names in skipped.items()]
        if by_status["excluded"]:
            excluded = [record[0][0] for record in by_status["excluded"]]
            notes.append(f"excluded by include/exclude: {summarise(excluded)}")
        if by_status["unmatched"]:
            unmatched = [record[0][0] for record in by_status["unmatched"]]
            notes.append(f"unmatched (left as they were): {summarise(unmatched)}")
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
