"""Globs on full dotted names (``layer1.0.conv1.weight``).

* ``*`` matches any run of characters within one dotted component (never a dot);
* ``?`` matches one character within a component, ``[abc]`` one of a set, as in ``fnmatch``;
* ``**`` as a whole component matches zero or more whole components (so ``**`` alone matches
  every name, the root module's empty name included);
* matching is case-sensitive and always against the whole name.

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
from dataclasses import dataclass, field

from torchinit.errors import ArgumentTypeError, InvalidArgumentError

__all__ = ["NameGlob"]

_ANY_COMPONENTS = r"(?:[^.]+\.)*"


def _component_regex(component: str, pattern: str) -> str:
    if "**" in component:
        raise InvalidArgumentError(
            "'**' must stand alone between dots (e.g. 'a.**.b')", got=pattern
        )
    if component == "":
        raise InvalidArgumentError("empty component between dots", got=pattern)
    out = []
    i = 0
    while i < len(component):
        char = component[i]
        if char == "*":
            out.append(r"[^.]*")
        elif char == "?":
            out.append(r"[^.]")
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
            # a negated set never matches the dot between components
            out.append(f"[^.{body}]" if negate else f"[{body}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


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
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str):
            raise ArgumentTypeError("must be a string glob", got=self.pattern)
        if self.pattern == "":
            raise InvalidArgumentError("must not be empty", got=self.pattern)
        pieces = [
            _ANY_COMPONENTS
            if component == "**"
            else _component_regex(component, self.pattern) + r"\."
            for component in self.pattern.split(".")
        ]
        # Names are matched with a trailing dot so that every component, the last included,
        # ends in one; this lets '**' stand for zero or more whole components anywhere.
        try:
            regex = re.compile("".join(pieces))
        except re.error:
            raise InvalidArgumentError("invalid character set", got=self.pattern) from None
        object.__setattr__(self, "_regex", regex)

    def matches(self, name: str) -> bool:
        """Whether ``name`` matches the whole glob.

        The root module's name is ``""`` (zero components): only ``**`` matches it.
        """
        if name == "":
            return all(component == "**" for component in self.pattern.split("."))
        return self._regex.fullmatch(name + ".") is not None

    @property
    def is_literal(self) -> bool:
        """Whether the pattern has no wildcard (it names exactly one name)."""
        return not any(char in self.pattern for char in "*?[")
