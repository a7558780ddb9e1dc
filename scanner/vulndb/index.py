"""The in-memory vulnerability index: module path -> the live entries that name it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .osv import Affected, Entry


@dataclass(frozen=True, slots=True)
class VulnIndex:
    """Entries by id and by module path; withdrawn entries are left out of `by_module`.

    `modified` is the database's `index/db.json` time; `from_cache` says the source could not be
    asked (offline) and the cached copy was used as it was.
    """

    url: str
    modified: str
    entries: Mapping[str, Entry]
    by_module: Mapping[str, tuple[tuple[Entry, Affected], ...]] = field(repr=False)
    from_cache: bool = False

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[Entry],
        *,
        url: str = "",
        modified: str = "",
        from_cache: bool = False,
    ) -> VulnIndex:
        by_id: dict[str, Entry] = {}
        by_module: dict[str, list[tuple[Entry, Affected]]] = {}
        for entry in sorted(entries, key=lambda e: e.id):
            by_id[entry.id] = entry
            if entry.withdrawn:
                continue
            for affected in entry.affected:
                by_module.setdefault(affected.module, []).append((entry, affected))
        return cls(
            url=url,
            modified=modified,
            entries=by_id,
            by_module={m: tuple(v) for m, v in by_module.items()},
            from_cache=from_cache,
        )

    def for_module(self, path: str) -> tuple[tuple[Entry, Affected], ...]:
        return self.by_module.get(path, ())
