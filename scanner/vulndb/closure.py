"""The packages a build compiles: the import closure of the main module's non-test packages.

From every non-test package of the main module, imports are followed through the dependency
packages the build reads (vendor/, or each build-list module's code: a directory replacement,
the module cache, a module zip). Each package is read and parsed once. Every .go file of a
package counts, whatever its build constraints, so the closure holds at least what any build
compiles: a package outside it is not in the binary. A package whose code is not at hand is
recorded with the reason, and then nothing outside the closure is proved absent.

The standard library's own imports are not followed (its source is not read).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .. import source
from ..errors import GoProxyScanError
from ..module import escape_path, escape_version
from ..modulestxt import VendorList
from .callers import PackageDefs, package_defs
from .reach import MainUses, Site, type_and_method_facts, type_and_method_query

_Import = tuple[str, Site]
_Call = tuple[str, str, Site]
_Method = tuple[str, Site]


class CodeUnavailable(LookupError):
    """A package's code is not at hand; the message says which and why."""


@dataclass(frozen=True, slots=True)
class PackageCode:
    """A package's non-test .go files as (shown path, bytes); `module` is "path@version"."""

    module: str
    files: tuple[tuple[str, bytes], ...]


class PackageSource(Protocol):
    """Where the build reads a dependency package from.

    `read(import_path)` returns its non-test .go files (every build constraint) or raises
    CodeUnavailable saying why it cannot; `where` names the source for messages.
    """

    where: str

    def read(self, import_path: str) -> PackageCode: ...


def is_std(import_path: str) -> bool:
    """The standard library (and cgo's "C"): no dot in the first path element."""
    return "." not in import_path.split("/", 1)[0]


def _dir_files(directory: Path, shown: str) -> tuple[tuple[str, bytes], ...]:
    try:
        names = sorted(n for n in os.listdir(directory) if source.go_file(n, tests=False))
    except OSError:
        return ()
    return tuple(
        (f"{shown}/{n}", (directory / n).read_bytes()) for n in names if (directory / n).is_file()
    )


class VendorSource:
    """vendor/, as vendor/modules.txt lists it: the only code a vendored build reads."""

    def __init__(self, vendor: Path, listing: VendorList, shown: str = "vendor") -> None:
        self.vendor = vendor
        self.listing = listing
        self.shown = shown
        self.where = shown

    def read(self, import_path: str) -> PackageCode:
        module = self.listing.module_for_package(import_path)
        if module is None:
            raise CodeUnavailable(f"{import_path} is not listed in {self.shown}/modules.txt")
        files = _dir_files(self.vendor / import_path, f"{self.shown}/{import_path}")
        if not files:
            raise CodeUnavailable(f"{self.shown}/{import_path} holds no .go file")
        return PackageCode(f"{module.path}@{module.version}", files)


@dataclass(frozen=True, slots=True)
class ModuleCode:
    """A build-list module: `path` is the one imports name, `code_path`@`code_version` the
    module whose code is built (a replacement's), `directory` a directory replacement's."""

    path: str
    version: str
    code_path: str = ""
    code_version: str = ""
    directory: Path | None = None


class ModuleSourceTree:
    """Build-list modules' code: a directory replacement, the module cache's extracted copy,
    else the module zip from `fetch_zip(path, version)` (module cache download dir, GOPROXY).
    """

    def __init__(
        self,
        modules: Iterable[ModuleCode],
        *,
        modcache: Path | None = None,
        fetch_zip: Callable[[str, str], bytes] | None = None,
        where: str = "the module cache",
    ) -> None:
        self.modules = {m.path: m for m in modules}
        self.modcache = modcache
        self.fetch_zip = fetch_zip
        self.where = where
        self._zips: dict[str, dict[str, list[tuple[str, bytes]]] | str] = {}

    def _owner(self, import_path: str) -> ModuleCode | None:
        candidate = import_path
        while candidate:
            if candidate in self.modules:
                return self.modules[candidate]
            candidate = candidate.rpartition("/")[0]
        return None

    def read(self, import_path: str) -> PackageCode:
        m = self._owner(import_path)
        if m is None:
            raise CodeUnavailable(f"no module of the build list provides {import_path}")
        sub = import_path[len(m.path) :].lstrip("/")
        code_path, code_version = m.code_path or m.path, m.code_version or m.version
        key = f"{code_path}@{code_version}" if code_version else code_path
        if m.directory is not None:
            files = _dir_files(m.directory / sub, f"{m.directory.as_posix()}/{sub}".rstrip("/"))
            if not files:
                raise CodeUnavailable(f"{m.directory / sub} holds no .go file")
            return PackageCode(key, files)
        if self.modcache is not None:
            root = self.modcache / f"{escape_path(code_path)}@{escape_version(code_version)}"
            if root.is_dir():
                files = _dir_files(root / sub, f"{key}/{sub}".rstrip("/"))
                if not files:
                    raise CodeUnavailable(f"{key} has no package {import_path}")
                return PackageCode(key, files)
        by_dir = self._zip(code_path, code_version)
        if isinstance(by_dir, str):
            raise CodeUnavailable(by_dir)
        found = by_dir.get(sub)
        if not found:
            raise CodeUnavailable(f"{key} has no package {import_path}")
        return PackageCode(key, tuple((f"{key}/{rel}", data) for rel, data in found))

    def _zip(self, path: str, version: str) -> dict[str, list[tuple[str, bytes]]] | str:
        key = f"{path}@{version}"
        if key not in self._zips:
            self._zips[key] = self._read_zip(path, version)
        return self._zips[key]

    def _read_zip(self, path: str, version: str) -> dict[str, list[tuple[str, bytes]]] | str:
        from ..modzip import MAX_ZIP_FILE, read_zip_files

        key = f"{path}@{version}"
        if self.fetch_zip is None:
            return f"the code of {key} is not in {self.where}"
        try:
            files = read_zip_files(
                self.fetch_zip(path, version),
                path,
                version,
                select=lambda rel: source.go_file(rel.rpartition("/")[2], tests=False),
                max_size=MAX_ZIP_FILE,  # a skipped file would hide its imports
            )
        except GoProxyScanError as e:
            return f"the code of {key} could not be read ({e.message})"
        by_dir: dict[str, list[tuple[str, bytes]]] = {}
        for rel, data in sorted(files.items()):
            by_dir.setdefault(rel.rpartition("/")[0], []).append((rel, data))
        return by_dir


@dataclass(frozen=True, slots=True)
class Closure:
    """What the build compiles, as far as its code was at hand.

    `packages`: non-standard packages read (import path -> "module@version", the main
    module's own included); `std`: standard-library packages they import; `missing`: imports
    whose code was not at hand, with the reason; `uses`: every import, `pkg.Name` reference
    and method call of those packages (sites in shown paths); `dot_imported`: packages some
    file imports with `.`; `defs`: the declarations of the packages asked for in `detailed`.
    """

    packages: Mapping[str, str]
    std: frozenset[str]
    missing: Mapping[str, str]
    uses: MainUses
    main_uses: MainUses  # the same for the main module's packages only (scanner.vulndb.reach)
    dot_imported: frozenset[str] = frozenset()
    defs: Mapping[str, PackageDefs] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)  # code module path -> import path

    @property
    def complete(self) -> bool:
        return not self.missing


def main_packages(main_dir: Path, main_path: str) -> dict[str, PackageCode]:
    """The main module's non-test packages (source.module_go_files), by import path."""
    out: dict[str, list[tuple[str, bytes]]] = {}
    for file in source.module_go_files(main_dir, tests=False):
        rel = file.relative_to(main_dir).as_posix()
        directory = rel.rpartition("/")[0]
        path = f"{main_path}/{directory}" if directory else main_path
        out.setdefault(path, []).append((rel, file.read_bytes()))
    return {p: PackageCode(main_path, tuple(files)) for p, files in out.items()}


def build_closure(
    main: Mapping[str, PackageCode],
    code: PackageSource | None,
    *,
    detailed: Collection[str] = (),
    renamed: Mapping[str, str] | None = None,
) -> Closure:
    """The closure from the `main` packages through `code` (None: no dependency code at hand).

    `detailed`: import paths whose declarations to keep (the vulnerable packages).
    """
    query = type_and_method_query()
    facts: dict[bool, tuple[list[_Import], list[_Call], list[_Method]]] = {
        True: ([], [], []),  # the main module's
        False: ([], [], []),  # the dependencies'
    }
    packages: dict[str, str] = {}
    missing: dict[str, str] = {}
    std: set[str] = set()
    dot: set[str] = set()
    defs: dict[str, PackageDefs] = {}
    pending = list(main.items())
    queued = set(main)
    main_modules = {p.module for p in main.values()}
    while pending:
        path, package = pending.pop()
        packages[path] = package.module
        imports, calls, methods = facts[path in main]
        parsed = [source.parse_file(shown, data) for shown, data in package.files]
        if path in detailed:
            defs[path] = package_defs(parsed)
        wanted: set[str] = set()
        for file in parsed:
            for imp in file.imports:
                imports.append((imp.path, Site(file.path, imp.line, imp.column)))
                if imp.name == ".":
                    dot.add(imp.path)
                wanted.add(imp.path)
            for import_path, symbol, line, column in source.calls(file):
                calls.append((import_path, symbol, Site(file.path, line, column)))
            calls.extend(type_and_method_facts(file, file.path, query, methods))
        for imported in sorted(wanted):
            if imported in queued or imported in missing:
                continue
            if is_std(imported):
                std.add(imported)
                continue
            if any(imported == m or imported.startswith(m + "/") for m in main_modules):
                continue  # the main module's own: every package of it is read already
            try:
                if code is None:
                    raise CodeUnavailable("the dependencies' code was not analysed")
                pending.append((imported, code.read(imported)))
                queued.add(imported)
            except CodeUnavailable as e:
                missing[imported] = str(e)
    return Closure(
        packages=dict(sorted(packages.items())),
        std=frozenset(std),
        missing=dict(sorted(missing.items())),
        uses=MainUses.from_facts(
            facts[True][0] + facts[False][0],
            facts[True][1] + facts[False][1],
            facts[True][2] + facts[False][2],
        ),
        main_uses=MainUses.from_facts(*facts[True]),
        dot_imported=frozenset(dot),
        defs=defs,
        renamed=dict(renamed or {}),
    )
