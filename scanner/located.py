"""Values that remember where they came from.

The loader turns every YAML/JSON document into plain Python containers that
also carry source positions, so that every finding can point at the exact key
that caused it.  ``LMap`` and ``LList`` behave exactly like ``dict`` and
``list`` (checks can use ordinary indexing), and additionally know their own
location and the location of each value they hold.  Scalars stay plain Python
values; their position is kept by the container that holds them.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Loc(NamedTuple):
    """A position in a scanned file: repo-relative POSIX path, 1-based line and column.

    A named tuple, not a dataclass: the loader creates one per value of every file
    (millions on large trees), and ``tuple.__new__`` is three times cheaper than a
    frozen dataclass's constructor.  Ordering is (path, line, column)."""

    path: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class LMap(dict):
    """A mapping with its own location and the location of each key and value."""

    __slots__ = ("key_locs", "loc", "value_locs")

    def __init__(self, loc: Loc) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[Any, Loc] = {}
        self.value_locs: dict[Any, Loc] = {}

    def loc_of(self, key: Any) -> Loc:
        """Where the value of ``key`` starts; the mapping itself if the key is absent."""
        return self.value_locs.get(key, self.loc)

    def key_loc(self, key: Any) -> Loc:
        """Where ``key`` itself is written; the mapping itself if absent."""
        return self.key_locs.get(key, self.loc)


class LList(list):
    """A sequence with its own location and the location of each item."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, loc: Loc) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[Loc] = []

    def loc_of(self, index: int) -> Loc:
        if 0 <= index < len(self.item_locs):
            return self.item_locs[index]
        return self.loc


def loc_of(container: Any, key: Any, fallback: Loc) -> Loc:
    """Location of ``container[key]`` when the container is located, else ``fallback``."""
    if isinstance(container, (LMap, LList)):
        if isinstance(container, LMap) and key in container.value_locs:
            return container.value_locs[key]
        if isinstance(container, LList) and isinstance(key, int):
            return container.loc_of(key)
        return container.loc
    return fallback
