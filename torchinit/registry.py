"""Name -> class registries for strategies and name -> factory registries for presets.

Both registries refuse to register a name twice unless ``overwrite=True`` and suggest the closest
name when a lookup misses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from torchinit.errors import RegistryError, UnknownNameError, did_you_mean

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T], Mapping[str, T]):
    """An ordered name -> entry mapping that refuses silent re-registration.

    Args:
        kind: what the entries are (``"strategy"``, ``"preset"``), used in error messages.
        identifiers: whether names must be Python identifiers (names users type); otherwise
            any non-empty string (``"torch.nn.modules.batchnorm.BatchNorm2d"``).
    """

    def __init__(self, kind: str, *, identifiers: bool = True) -> None:
        self.kind = kind
        self.identifiers = identifiers
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T, *, overwrite: bool = False) -> None:
        """Register ``entry`` under ``name``; an existing name needs ``overwrite=True``."""
        if self.identifiers and not (isinstance(name, str) and name.isidentifier()):
            raise RegistryError(
                f"{self.kind} names must be Python identifiers", path="name", got=name
            )
        if not (isinstance(name, str) and name):
            raise RegistryError(
                f"{self.kind} names must be non-empty strings", path="name", got=name
            )
        if name in self._entries and not overwrite:
            raise RegistryError(
                f"a {self.kind} named {name!r} is already registered; "
                "pass overwrite=True to replace it",
                path="name",
                got=name,
            )
        self._entries[name] = entry

    def decorator(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Return a decorator that registers what it decorates under ``name``."""

        def register(entry: T) -> T:
            self.add(name, entry, overwrite=overwrite)
            return entry

        return register

    def lookup(self, name: object, path: str) -> T:
        """Return the entry for ``name`` or raise :class:`UnknownNameError` with a suggestion."""
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(
                did_you_mean(
                    f"unknown {self.kind}",
                    name,
                    self._entries,
                    f"available: {sorted(self._entries)}",
                ),
                path=path,
                got=name,
            )
        return self._entries[name]

    def remove(self, name: str) -> None:
        """Forget ``name`` (for tests and plugins that unregister themselves)."""
        self._entries.pop(name, None)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
