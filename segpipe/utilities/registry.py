"""One registry pattern for everything that is chosen by name: loss terms, metrics, report sections.

A :class:`Registry` maps snake_case names to entries; a module registers an entry with the
registry's decorator when it is imported, and the configuration refers to it by name::

    TERMS = Registry("loss term")

    @TERMS.register("betti_matching")
    class BettiMatchingTerm(LossTerm): ...

    TERMS.get("betti_matching")     # the class; an unknown name is a ConfigError listing the names

The same name means the same notion everywhere: the loss term ``betti_matching`` optimises what the
metric ``betti_matching`` counts, and the report section ``betti_matching`` shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from segpipe.errors import ConfigError

Entry = TypeVar("Entry")
#: Registered names: lower-case snake_case.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class Registry(Generic[Entry]):
    """Named entries of one kind, registered by decorators, looked up by name.

    Parameters
    ----------
    kind
        What the entries are (``"loss term"``, ``"metric"``, ``"report section"``), for messages.
    key
        The configuration key that names them (for the fix of an unknown name), if any.
    """

    def __init__(self, kind: str, key: str | None = None) -> None:
        self.kind = kind
        self.key = key
        self._entries: dict[str, Entry] = {}

    def register(self, name: str) -> Callable[[Entry], Entry]:
        """Decorator: register the decorated object under ``name``.

        Raises
        ------
        ValueError
            If ``name`` is not snake_case or is already registered to another object.
        """
        if not NAME_PATTERN.match(name):
            raise ValueError(f"{self.kind} name {name!r} is not snake_case")

        def decorator(entry: Entry) -> Entry:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return decorator

    def get(self, name: str) -> Entry:
        """The entry registered as ``name``.

        Raises
        ------
        ConfigError
            If no entry has that name; the message lists the registered names.
        """
        try:
            return self._entries[name]
        except KeyError:
            where = f" ('{self.key}')" if self.key else ""
            raise ConfigError(
                f"unknown {self.kind} {name!r}{where}", fix=f"use one of: {', '.join(self.names())}"
            ) from None

    def unregister(self, name: str) -> None:
        """Remove the entry ``name`` if there is one (for entries registered only for a while, as in tests)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def items(self) -> Iterator[tuple[str, Entry]]:
        """``(name, entry)`` pairs in registration order."""
        return iter(list(self._entries.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
