"""What a policy did (or, from :func:`torchinit.plan`, would do) to each tensor of a model."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

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
    """

    policy: str
    model: str
    order: str
    applied: bool
    entries: tuple[ReportEntry, ...]
    unused_rules: tuple[str, ...] = ()

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
        return (
            f"torchinit: policy {self.policy!r} on {self.model} (order={self.order}): "
            f"{count} {noun} {verb}, {len(self.unmatched)} unmatched, "
            f"{len(self.skipped)} skipped, {len(self.excluded)} excluded"
        )

    def __str__(self) -> str:
        rows = [("name", "shape", "rule", "strategy")]
        for entry in self.entries:
            if entry.status != "initialized":
                continue
            name = entry.name + (f" (= {', '.join(entry.aliases)})" if entry.aliases else "")
            rule = f"rules[{entry.rule}] {entry.rule_label}"
            if entry.overridden:
                rule += " (over " + ", ".join(f"rules[{i}]" for i in entry.overridden) + ")"
            strategy = entry.strategy.describe() if entry.strategy is not None else ""
            rows.append((name, _shape(entry.shape), rule, strategy))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [self.summary()]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[3]]
            lines.append("  ".join(cells).rstrip())
        for entry in self.skipped:
            lines.append(f"skipped: {entry.name}: {entry.reason}")
        if self.excluded:
            lines.append(f"excluded by include/exclude: {', '.join(self.excluded)}")
        if self.unmatched:
            lines.append(f"unmatched (left as they were): {', '.join(self.unmatched)}")
        for rule in self.unused_rules:
            lines.append(f"matched nothing: {rule}")
        return "\n".join(lines)

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
        }


def _shape(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else str(tuple(shape))
