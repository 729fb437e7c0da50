"""Globs on full dotted names (``layer1.0.conv1.weight``).

* ``*`` matches any run of characters within one dotted component (never a dot);
* ``?`` matches one character within a component, ``[abc]`` one of a set, as in ``fnmatch``;
* ``**`` as a whole component matches zero or more whole components (so ``**`` alone matches
  every name, the root module's empty name included);
* matching is case-sensitive and always against the whole name;
* matching takes time at most proportional to the name's length times the glob's, whatever
  the glob (no backtracking: ``**.**.**.**.x`` and ``*a*a*a*a*b`` cost no more than they look).

=====================  ==========================================  ======================
pattern                matches                                     does not match
=====================  ==========================================  ======================
``fc``                 ``fc``                                      ``fc2``, ``head.fc``
``layer*.0.conv1``     ``layer1.0.conv1``, ``layer4.0.conv1``      ``layer1.0.conv10``
``**.bias``            ``bias``, ``fc.bias``, ``a.b.c.bias``       ``fc.bias_k``
``layer4.**``          ``layer4``, ``layer4.1.bn2.weight``         ``layer40.conv``
``**.bn*.weight``      ``layer1.0.bn3.weight``                     ``layer1.0.bn3.bias``
=====================  ==========================================  ======================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from torchinit.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["NameGlob"]


_Piece = TypeVar("_Piece")
_Subject = TypeVar("_Subject")


def _fits_between_stars(
    pieces: Sequence[_Piece],
    sizes: Sequence[int],
    subject: _Subject,
    length: int,
    fits: Callable[[_Piece, _Subject, int], object],
) -> bool:
    """Whether ``pieces`` of fixed ``sizes``, with a star between each two, match the whole
    ``subject`` (of ``length`` items); ``fits(piece, subject, start)`` is truthy when ``piece``
    matches the items from ``start`` on.

    Used twice: on the characters of a component (pieces: runs of one-character tokens; stars:
    ``*``) and on the components of a name (pieces: runs of components; stars: ``**``).

    Taking the leftmost fit of each middle piece is never worse than a later one: the star after
    it absorbs whatever a later fit would have skipped. So one forward pass decides, with at most
    ``length + len(pieces)`` calls to ``fits``, where a backtracking regex retries every split
    (exponential in the number of stars).
    """
    if len(pieces) == 1:
        return sizes[0] == length and bool(fits(pieces[0], subject, 0))
    tail_start = length - sizes[-1]
    if sizes[0] > tail_start or not fits(pieces[0], subject, 0):
        return False
    position = sizes[0]
    for piece, size in zip(pieces[1:-1], sizes[1:-1], strict=True):
        while position + size <= tail_start and not fits(piece, subject, position):
            position += 1
        if position + size > tail_start:
            return False
        position += size
    return bool(fits(pieces[-1], subject, tail_start))


@dataclass(frozen=True)
class _Component:
    """One component of a glob other than ``**``: its runs of one-character tokens between
    ``*``, each compiled to a regex without quantifiers (which cannot backtrack)."""

    pieces: tuple[re.Pattern[str], ...]
    sizes: tuple[int, ...]

    def matches(self, text: str) -> bool:
        return _fits_between_stars(self.pieces, self.sizes, text, len(text), re.Pattern.match)


def _run_fits(run: tuple[_Component, ...], parts: list[str], start: int) -> bool:
    return all(component.matches(parts[start + offset]) for offset, component in enumerate(run))


def _compile_component(component: str, pattern: str) -> _Component:
    if "**" in component:
        raise InvalidArgumentError(
            "'**' must stand alone between dots (e.g. 'a.**.b')", got=pattern
        )
    if component == "":
        raise InvalidArgumentError("empty component between dots", got=pattern)
    pieces: list[list[str]] = [[]]
    i = 0
    while i < len(component):
        char = component[i]
        if char == "*":
            pieces.append([])
        elif char == "?":
            pieces[-1].append(r"[^.]")
        elif char == "[":
            start = i + 1
            negate = component.startswith("!", start)
            if negate:
                start += 1
            # as in fnmatch, a ']' right after '[' or '[!' is a literal member of the set
            end = component.find("]", start + 1 if component.startswith("]", start) else start)
            if end == -1:
                raise InvalidArgumentError("unclosed '['", got=pattern)
            body = "".join("\\" + c if c in "\\^[]" else c for c in component[start:end])
            pieces[-1].append(f"[^.{body}]" if negate else f"[{body}]")
            i = end
        else:
            pieces[-1].append(re.escape(char))
        i += 1
    try:
        compiled = tuple(re.compile("".join(tokens)) for tokens in pieces)
    except re.error:
        raise InvalidArgumentError("invalid character set", got=pattern) from None
    return _Component(compiled, tuple(len(tokens) for tokens in pieces))


@dataclass(frozen=True)
class NameGlob:
    """A compiled glob over full dotted names.

    Args:
        pattern: the glob (see the module docstring for the syntax).

    Example:
        >>> NameGlob("**.bias").matches("layer1.0.conv1.bias")
        True
        >>> NameGlob("layer*.conv").matches("layer1.0.conv")
        False
    """

    pattern: str
    # the runs of components between '**'
    _runs: tuple[tuple[_Component, ...], ...] = field(init=False, repr=False, compare=False)
    _run_sizes: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise ArgumentTypeError("must be a string glob", got=self.pattern)
        if self.pattern == "":
            raise InvalidArgumentError("must not be empty", got=self.pattern)
        runs: list[list[_Component]] = [[]]
        for component in self.pattern.split("."):
            if component == "**":
                runs.append([])
            else:
                runs[-1].append(_compile_component(component, self.pattern))
        object.__setattr__(self, "_runs", tuple(tuple(run) for run in runs))
        object.__setattr__(self, "_run_sizes", tuple(len(run) for run in runs))

    def matches(self, name: str) -> bool:
        """Whether ``name`` matches the whole glob.

        The root module's name is ``""`` (zero components): only ``**`` matches it.
        """
        parts = name.split(".") if name else []
        return _fits_between_stars(self._runs, self._run_sizes, parts, len(parts), _run_fits)

    @property
    def is_literal(self) -> bool:
        """Whether the pattern has no wildcard (it names exactly one name)."""
        return not any(char in self.pattern for char in "*?[")
