"""A small named registry: what drywallqa looks up by name registers itself in one (datasets, models, encoders,
losses, runtimes, ...; all of them, with their modules, are listed in docs/training.md, "Code layout"). Other packages
add to them as plugins (:mod:`drywallqa.utils.plugins`), imported the first time a registry is asked for a name it does
not hold or for its list."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .plugins import failed_plugins_said, load_plugins

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name that is none of those known (a runtime, a shipped model, a dataset's split): a ``KeyError``, as a
    mapping's lookup raises, whose message reads as written (a plain ``KeyError`` shows its message in quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class Registry(Generic[T]):
    """``name -> item``, with clear errors for unknown and duplicate names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}  # old name -> current name (still accepted, not listed)

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def alias(self, old: str, name: str) -> None:
        """Accept ``old`` (e.g. a spelling of an earlier release, still in saved files) for ``name``."""
        self._aliases[old] = name

    def decorator(self, name: str) -> Callable[[T], T]:
        return lambda item: self.add(name, item)

    def get(self, name: str) -> T:
        if name not in self:  # (plugins imported)
            raise UnknownNameError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}"
                                   f"{failed_plugins_said()}")
        return self._items[self._aliases.get(name, name)]

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def names(self) -> list[str]:
        load_plugins()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """``(name, item)`` pairs in the order they were registered."""
        load_plugins()
        return list(self._items.items())

    def __contains__(self, name: str) -> bool:
        if self._aliases.get(name, name) in self._items:
            return True
        load_plugins()  # once per process: a plugin may register it
        return self._aliases.get(name, name) in self._items
