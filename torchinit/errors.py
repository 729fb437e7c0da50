"""The exceptions torchinit raises, and the one message template they share.

Every error is a :class:`TorchInitError` and also the builtin a caller would naturally catch
(``ValueError``, ``TypeError`` or ``KeyError``). Messages follow one template::

    <where>: <key path>: <problem> (got <value>)

for example ``rules[2].weight.kaiming_normal.mode: must be one of ['fan_in', 'fan_out']
(got 'fanin')``. ``where`` names the context (a file and line for YAML, a model parameter for
planning errors) and is left out when the key path says enough.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
from collections.abc import Iterable
from typing import Any

__all__ = [
    "ArgumentTypeError",
    "InvalidArgumentError",
    "MissingDependencyError",
    "OutOfRangeError",
    "PlanError",
    "PolicyFileError",
    "RegistryError",
    "TorchInitError",
    "TorchInitWarning",
    "UnknownNameError",
    "closest",
]

_NOTHING: Any = object()
_MAX_GOT = 200  # longer values are elided in the middle


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (for "did you mean" hints), or ``None``."""
    # case-insensitive, so that "VGG" finds "vgg"
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[matches[0]] if matches else None


def did_you_mean(problem: str, name: object, candidates: Iterable[str], then: str = "") -> str:
    """The one message for an unknown name: ``problem``, then ``did you mean 'x'?`` when a
    candidate is close to ``name``, then ``then`` (what is available).

    Example:
        >>> did_you_mean("unknown key", "wieght", ["weight", "bias"], "allowed: ['weight', 'bias']")
        "unknown key; did you mean 'weight'? allowed: ['weight', 'bias']"
        >>> did_you_mean("unknown key", "zzz", ["weight", "bias"], "allowed: ['weight', 'bias']")
        "unknown key; allowed: ['weight', 'bias']"
    """
    hint = closest(name, candidates) if isinstance(name, str) else None
    parts = [problem]
    if hint is not None:
        parts.append(f"; did you mean {hint!r}?")
    if then:
        parts.append(f" {then}" if hint is not None else f"; {then}")
    return "".join(parts)


def key_path(path: str, key: str) -> str:
    """The key path of ``key`` under ``path``; an empty key shows as ``''``, not as nothing.

    Example:
        >>> key_path("rules[0].match", "type"), key_path("", "rules"), key_path("normal", "")
        ('rules[0].match.type', 'rules', "normal.''")
    """
    key = key or "''"
    return f"{path}.{key}" if path else key


class TorchInitError(Exception):
    """Base class of every error torchinit raises.

    Args:
        problem: what is wrong, phrased so that it can follow the key path.
        path: the key path of the offending value, e.g. ``rules[2].weight.normal.std``.
        got: the offending value; shown with ``repr`` at the end of the message.
        where: the context, e.g. ``policy.yaml:7`` or a parameter name.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str = "",
        got: Any = _NOTHING,
        where: str = "",
    ) -> None:
        self.problem = problem
        self.path = path
        self.got = got
        self.where = where
        super().__init__(self._format())

    def _format(self) -> str:
        head = ": ".join(part for part in (self.where, self.path, self.problem) if part)
        if self.got is _NOTHING:
            return head
        try:
            got = repr(self.got)
        except ValueError:  # an int past Python's int-to-str digit limit (sys.int_info)
            got = f"<{type(self.got).__name__} too large to print>"
        if len(got) > _MAX_GOT:
            got = got[: _MAX_GOT - 5] + " ... " + got[-5:]
        return f"{head} (got {got})"

    @property
    def has_value(self) -> bool:
        """Whether the error carries the offending value."""
        return self.got is not _NOTHING

    def prefixed(self, prefix: str) -> TorchInitError:
        """Return a copy of this error whose key path starts with ``prefix``.

        Used to put an error raised deep inside (a strategy's argument check) into the user's
        context (``rules[2].weight``).
        """
        path = f"{prefix}.{self.path}" if self.path else prefix
        return type(self)(self.problem, path=path, got=self.got, where=self.where)

    def located(self, where: str) -> TorchInitError:
        """Return a copy of this error with ``where`` put in front (e.g. ``file.yaml:7``)."""
        joined = f"{where}: {self.where}" if self.where else where
        return type(self)(self.problem, path=self.path, got=self.got, where=joined)

    def __str__(self) -> str:
        # KeyError would otherwise quote the whole message; every subclass prints plain text.
        return self._format()

    def __reduce__(self) -> tuple[Any, ...]:
        # the "no value" marker is identity-based, so a copy must not carry it as a value
        got = (self.got,) if self.has_value else ()
        return (_rebuild, (type(self), self.problem, self.path, self.where, *got))


def _rebuild(
    cls: type[TorchInitError], problem: str, path: str, where: str, *got: Any
) -> TorchInitError:
    if got:
        return cls(problem, path=path, got=got[0], where=where)
    return cls(problem, path=path, where=where)


class InvalidArgumentError(TorchInitError, ValueError):
    """An argument or option has the right type but a value that is not allowed."""


class OutOfRangeError(InvalidArgumentError, RuntimeError):
    """A number outside its range: a negative std, bounds with ``b < a``.

    Also a ``RuntimeError``, which is what torch raises for the same values
    (``torch.nn.init.normal_(t, std=-1)``: ``normal expects std >= 0.0``), so code written
    against ``torch.nn.init`` catches it as before.
    """


class ArgumentTypeError(TorchInitError, TypeError):
    """An argument or option has the wrong type."""


class UnknownNameError(TorchInitError, KeyError):
    """A strategy, preset, option or argument name that does not exist."""


class RegistryError(TorchInitError, ValueError):
    """Registering a strategy or preset under a name that is taken, or an invalid entry."""


class PolicyFileError(TorchInitError, ValueError):
    """A policy file that cannot be read: missing, invalid YAML, an unsafe tag, a duplicate key."""


class PlanError(TorchInitError, ValueError):
    """A policy cannot be applied to a model: raised before any tensor is touched."""


# ImportError's ``path`` is a module's file (``str | None``); here it is the key path, a ``str``
class MissingDependencyError(TorchInitError, ImportError):  # type: ignore[misc]
    """A feature needs an optional package that is not installed; the message names the extra
    to install (``plot needs matplotlib: pip install torchinit[plot]``)."""

    def __init__(self, problem: str, **context: Any) -> None:
        super().__init__(problem, **context)
        # ImportError.__init__ sets its own ``path`` (a module's file) to None; keep ours
        self.path = context.get("path", "")


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` in the calling function that points at the
    first frame outside torchinit (and ``contextlib``'s wrappers): the user's line, however
    deep inside torchinit the warning is raised."""
    frame = sys._getframe(1)
    level = 1
    wrappers = os.path.abspath(contextlib.__file__)
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE) or frame.f_code.co_filename == wrappers
    ):
        frame = frame.f_back
        level += 1
    return level


class TorchInitWarning(UserWarning):
    """Warnings torchinit emits (for example, a policy that matches nothing in a model)."""
