"""Match a build list (and the Go version) against the vulnerability index."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import semver
from ..gowork import go_release
from ..module import ModuleVersion, canonical_version
from .index import VulnIndex
from .osv import STDLIB, TOOLCHAIN, Affected, Entry, Event, EventKind, Package

_GO_VERSION = re.compile(r"^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?$")


def go_semver(go_version: str) -> str:
    """A Go release as semver: go1.22.3 -> v1.22.3, 1.21 -> v1.21.0, go1.22rc1 -> v1.22.0-rc.1.

    "" when it is not a Go version. Before Go 1.21 "go1.20" named the release v1.20.0 too.
    """
    m = _GO_VERSION.match(go_version.strip())
    if not m:
        return ""
    major, minor, patch, pre, pre_n = m.groups()
    v = f"v{major}.{minor or 0}.{patch or 0}"
    return f"{v}-{pre}.{pre_n}" if pre else v


def _event_cmp(a: Event, b: Event) -> int:
    if a.version == "" or b.version == "":
        return (a.version != "") - (b.version != "")  # the start ("0") sorts first
    return semver.compare(a.version, b.version)


@functools.lru_cache(maxsize=16384)
def _ordered(events: tuple[Event, ...]) -> tuple[Event, ...]:
    return tuple(sorted(events, key=functools.cmp_to_key(_event_cmp)))


def affects(ranges: Sequence[Sequence[Event]], version: str) -> bool:
    """Whether `version` lies in any of the SEMVER ranges (no ranges: every version does).

    Each range is walked in version order, as the OSV specification describes: `introduced`
    at or below the version opens it, `fixed` at or below closes it, `last_affected` below
    closes it. Pseudo-versions and `+incompatible` compare as Go semver does (build metadata
    ignored), so v2.0.1+incompatible is inside [2.0.0+incompatible, 2.0.2+incompatible).
    """
    if not ranges:
        return True
    for events in ranges:
        ordered = _ordered(tuple(events))
        inside = False
        for ev in ordered:
            if ev.kind is EventKind.INTRODUCED:
                if ev.version == "" or semver.compare(version, ev.version) >= 0:
                    inside = True
            elif ev.kind is EventKind.FIXED:
                if semver.compare(version, ev.version) >= 0:
                    inside = False
            elif semver.compare(version, ev.version) > 0:  # last_affected
                inside = False
        if inside:
            return True
    return False


def fixed_version(blocks: Sequence[Affected], version: str) -> str:
    """The lowest `fixed` above `version` that no block of the entry still affects, or "".

    An entry can name a module in several blocks (per package, per release line); an upgrade
    that leaves one range but lands in another is no fix.
    """
    candidates = {
        ev.version
        for block in blocks
        for events in block.ranges
        for ev in events
        if ev.kind is EventKind.FIXED and semver.compare(ev.version, version) > 0
    }
    for candidate in semver.sort_versions(candidates):
        if not any(affects(block.ranges, candidate) for block in blocks):
            return candidate
    return ""


def _merge_packages(blocks: Iterable[Affected]) -> tuple[Package, ...]:
    merged: dict[str, Package] = {}
    whole: set[str] = set()  # packages some block lists without symbols: all symbols
    for block in blocks:
        for p in block.packages:
            if not p.symbols:
                whole.add(p.path)
            old = merged.get(p.path)
            if old is None:
                merged[p.path] = p
            else:
                symbols = tuple(dict.fromkeys((*old.symbols, *p.symbols)))
                merged[p.path] = Package(p.path, symbols, old.goos, old.goarch)
    return tuple(
        Package(path, (), p.goos, p.goarch) if path in whole else p for path, p in merged.items()
    )


@dataclass(frozen=True, slots=True)
class VulnMatch:
    """One entry affecting one module version of the build list.

    `module` is "stdlib" or "toolchain" for the Go version; `fixed` is the version to upgrade
    to ("" when there is no fix); `packages` are the vulnerable packages and symbols.
    """

    id: str
    aliases: tuple[str, ...]
    summary: str
    module: str
    version: str
    fixed: str
    packages: tuple[Package, ...]
    url: str = ""

    @property
    def module_version(self) -> ModuleVersion:
        return ModuleVersion(self.module, self.version)


def _match_entry(
    entry: Entry, blocks: Sequence[Affected], module: str, version: str
) -> VulnMatch | None:
    inside = [b for b in blocks if affects(b.ranges, version)]
    if not inside:
        return None
    # A block without packages means the whole module; it wins over any package list.
    packages = () if any(not b.packages for b in inside) else _merge_packages(inside)
    return VulnMatch(
        id=entry.id,
        aliases=entry.aliases,
        summary=entry.summary,
        module=module,
        version=version,
        fixed=fixed_version(blocks, version),
        packages=packages,
        url=entry.url,
    )


def _match_module(index: VulnIndex, module: str, version: str) -> list[VulnMatch]:
    by_entry: dict[str, tuple[Entry, list[Affected]]] = {}
    for entry, affected in index.for_module(module):
        by_entry.setdefault(entry.id, (entry, []))[1].append(affected)
    out = []
    for entry, blocks in by_entry.values():
        m = _match_entry(entry, blocks, module, version)
        if m is not None:
            out.append(m)
    return out


def match_modules(
    index: VulnIndex,
    modules: Iterable[ModuleVersion],
    *,
    go_version: str = "",
    toolchain: str = "",
) -> list[VulnMatch]:
    """Every live entry affecting a module of the build list, sorted by module, version and id.

    Pass the module that is actually built (the replacement, when a require is replaced by
    another module version); modules without a version (the main module, directory
    replacements) cannot be judged and are skipped. `go_version`/`toolchain` are go.mod's
    `go` and `toolchain` values ("1.22.3", "go1.22.3"): the standard library is judged at the
    release they build with, the newer of the two (scanner.gowork.go_release).
    """
    judged: set[ModuleVersion] = set()
    for mv in modules:
        if mv.version:
            judged.add(ModuleVersion(mv.path, canonical_version(mv.version) or mv.version))
    go = go_semver(go_release(go_version, toolchain))
    if go:
        judged.update((ModuleVersion(STDLIB, go), ModuleVersion(TOOLCHAIN, go)))
    out = [m for mv in judged for m in _match_module(index, mv.path, mv.version)]
    out.sort(key=lambda m: (m.module, m.version, m.id))
    return out
