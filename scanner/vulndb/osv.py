"""OSV entries of the Go vulnerability database, as frozen values (schema 1.3.x, Go ecosystem)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

# The Go database writes the zero time into `modified` of its source files; the deploy step
# stamps the real time. Such a value says nothing about when the entry last changed.
ZERO_TIME = "0001-01-01T00:00:00Z"

STDLIB = "stdlib"
TOOLCHAIN = "toolchain"


class EventKind(enum.Enum):
    """The SEMVER range events the Go database uses (`limit` is not used by Go)."""

    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"


@dataclass(frozen=True, slots=True)
class Event:
    """One range event; `version` is a Go version with its "v" ("" for `introduced: "0"`)."""

    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class Package:
    """A vulnerable package (import path) and the symbols in it; no symbols means all of them."""

    path: str
    symbols: tuple[str, ...] = ()
    goos: tuple[str, ...] = ()
    goarch: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Affected:
    """The part of an entry about one module: its ranges and vulnerable packages.

    No ranges means every version is affected; no packages means every package of the module.
    """

    module: str
    ranges: tuple[tuple[Event, ...], ...]
    packages: tuple[Package, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    modified: str
    published: str
    summary: str
    details: str = ""
    aliases: tuple[str, ...] = ()
    withdrawn: str = ""
    affected: tuple[Affected, ...] = ()
    url: str = ""

    @property
    def last_change(self) -> str:
        """The newest of modified/published/withdrawn (RFC 3339 UTC strings sort as times)."""
        return max(t for t in (self.modified, self.published, self.withdrawn, ZERO_TIME) if t)


def go_version(osv_version: str) -> str:
    """OSV's Go ecosystem writes versions without the "v": "1.2.3" is v1.2.3, "0" is the start."""
    if osv_version in ("", "0"):
        return ""
    return osv_version if osv_version.startswith("v") else "v" + osv_version


def _strs(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{key} must be a list of strings", path=where)
    return tuple(value)


def _str(data: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise InputError(f"the OSV entry has no {key!r}", path=where)
        return ""
    if not isinstance(value, str):
        raise InputError(f"{key!r} must be a string", path=where)
    return value


def _events(raw: Any, where: str) -> tuple[Event, ...]:
    if not isinstance(raw, list):
        raise InputError("range events must be a list", path=where)
    events = []
    for ev in raw:
        if not isinstance(ev, dict) or len(ev) != 1:
            raise InputError(f"a range event must have exactly one key, got {ev!r}", path=where)
        ((key, value),) = ev.items()
        try:
            kind = EventKind(key)
        except ValueError:
            raise InputError(f"unsupported range event {key!r}", path=where) from None
        if not isinstance(value, str):
            raise InputError(f"range event {key!r} must be a string", path=where)
        events.append(Event(kind, go_version(value)))
    return tuple(events)


def _affected(raw: Any, where: str) -> Affected:
    if not isinstance(raw, dict):
        raise InputError("each 'affected' item must be an object", path=where)
    package = raw.get("package") or {}
    module = package.get("name") if isinstance(package, dict) else None
    if not isinstance(module, str) or not module:
        raise InputError("an 'affected' item has no package name", path=where)
    ranges = []
    for r in raw.get("ranges") or ():
        # Only SEMVER ranges carry Go versions; ECOSYSTEM ranges are informational in Go's db.
        if isinstance(r, dict) and r.get("type") == "SEMVER":
            ranges.append(_events(r.get("events"), where))
    packages = []
    specific = raw.get("ecosystem_specific") or {}
    for imp in specific.get("imports") or () if isinstance(specific, dict) else ():
        if not isinstance(imp, dict) or not isinstance(imp.get("path"), str):
            raise InputError("an 'imports' item has no path", path=where)
        packages.append(
            Package(
                imp["path"],
                _strs(imp.get("symbols"), where, "symbols"),
                _strs(imp.get("goos"), where, "goos"),
                _strs(imp.get("goarch"), where, "goarch"),
            )
        )
    return Affected(module, tuple(ranges), tuple(packages))


def parse_entry(data: Any, where: str = "<osv>") -> Entry:
    """An Entry from a decoded OSV document; `where` (file or URL) goes into error messages."""
    if not isinstance(data, dict):
        raise InputError("an OSV entry must be a JSON object", path=where)
    affected = data.get("affected") or []
    if not isinstance(affected, list):
        raise InputError("'affected' must be a list", path=where)
    specific = data.get("database_specific")
    url = specific.get("url", "") if isinstance(specific, dict) else ""
    return Entry(
        id=_str(data, "id", where, required=True),
        modified=_str(data, "modified", where, required=True),
        published=_str(data, "published", where),
        summary=_str(data, "summary", where),
        details=_str(data, "details", where),
        # Some published entries repeat an alias; keep each once, in order.
        aliases=tuple(dict.fromkeys(_strs(data.get("aliases"), where, "aliases"))),
        withdrawn=_str(data, "withdrawn", where),
        affected=tuple(_affected(a, where) for a in affected),
        url=url if isinstance(url, str) else "",
    )
