"""One call for the scan command: the build list's known vulnerabilities, reached and judged."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ..buildlist import BuildModule
from ..module import ModuleVersion
from ..result import ModuleResult
from .closure import (
    ModuleCode,
    ModuleSourceTree,
    PackageSource,
    VendorSource,
    build_closure,
    main_packages,
)
from .evidence import reach_build, vulnerable_packages
from .index import VulnIndex
from .match import VulnMatch, match_modules
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnFinding, VulnPolicy, evaluate_vulns
from .reach import ReachableMatch


def built_versions(modules: Iterable[BuildModule]) -> list[ModuleVersion]:
    """The module versions that are really built: replacements instead of what they replace.

    Main modules and directory replacements have no version to judge and are left out.
    """
    out = []
    for m in modules:
        if m.main:
            continue
        if m.replace is not None:
            if m.replace.version:
                out.append(ModuleVersion(m.replace.path, m.replace.version))
            continue
        out.append(ModuleVersion(m.path, m.version))
    return out


def index_paths(modules: Iterable[BuildModule]) -> set[str]:
    """The module paths to load from the database (`load_index(modules=…)`) for this list."""
    return {mv.path for mv in built_versions(modules)} | {STDLIB, TOOLCHAIN}


def check_build_list(
    index: VulnIndex,
    main_dir: Path,
    modules: Iterable[BuildModule],
    *,
    go_version: str,
    toolchain: str = "",
    policy: VulnPolicy,
    now: datetime,
    main_path: str = "",
    code: PackageSource | None = None,
    renamed: Mapping[str, str] | None = None,
) -> list[VulnFinding]:
    """Match, reach (from the main module's non-test code) and judge, sorted by module and id.

    `code`: where the dependencies' code is read to prove what the build compiles (None: it is
    not, and no finding is proved unaffected). `renamed`: replacement path -> the module path
    that imports name, as `build_list_code` gives it with `code` (None: the build list's replaces).
    """
    modules = list(modules)
    matches = match_modules(
        index, built_versions(modules), go_version=go_version, toolchain=toolchain
    )
    main_path = main_path or next((m.path for m in modules if m.main), "")
    if renamed is None:
        renamed = {
            m.replace.path: m.path for m in modules if m.replace is not None and m.replace.version
        }
    return evaluate_vulns(policy, reach(matches, main_dir, main_path, code, renamed), now)


def reach(
    matches: list[VulnMatch],
    main_dir: Path,
    main_path: str,
    code: PackageSource | None,
    renamed: Mapping[str, str] | None = None,
) -> list[ReachableMatch]:
    """Reach each match from the main module and prove what the build compiles.

    The main module and the import closure are read only when something matched.
    `renamed`: module replacement path -> the module path that imports name.
    """
    if not matches:
        return []
    renamed = dict(renamed or {})
    closure = build_closure(
        main_packages(main_dir, main_path),
        code,
        detailed=vulnerable_packages(matches, renamed),
        renamed=renamed,
    )
    return reach_build(matches, closure)


def scanned_code(
    main_dir: Path,
    modules: Iterable[ModuleResult],
    env: Mapping[str, str],
    fetch_zip: Callable[[str, str], bytes] | None = None,
) -> tuple[PackageSource, dict[str, str]]:
    """Where a scan's build reads its dependencies, and the replacement renames.

    vendor/ when the go command builds from it; else each module's code: a directory
    replacement, the module cache's extracted copy, or the zip `fetch_zip` gives.
    """
    from .scanresult import built_module

    code = []
    for m in modules:
        built = built_module(m)
        if built is None:  # a directory replacement, as written in go.mod
            code.append(ModuleCode(m.path, m.version, directory=main_dir / m.replace))
        else:
            code.append(ModuleCode(m.path, m.version, built.path, built.version))
    return _package_source(main_dir, code, env, fetch_zip)


def build_list_code(
    main_dir: Path,
    modules: Iterable[BuildModule],
    env: Mapping[str, str],
    fetch_zip: Callable[[str, str], bytes] | None = None,
) -> tuple[PackageSource, dict[str, str]]:
    """`scanned_code` for a build list (`vulndb check`): its main modules are left out."""
    code = []
    for m in modules:
        if m.main:
            continue
        if m.replace is None:
            code.append(ModuleCode(m.path, m.version, m.path, m.version))
        elif m.replace.version:
            code.append(ModuleCode(m.path, m.version, m.replace.path, m.replace.version))
        else:
            directory = Path(m.replace.dir) if m.replace.dir else main_dir / m.replace.path
            code.append(ModuleCode(m.path, m.version, directory=directory))
    return _package_source(main_dir, code, env, fetch_zip)


def _package_source(
    main_dir: Path,
    code: list[ModuleCode],
    env: Mapping[str, str],
    fetch_zip: Callable[[str, str], bytes] | None,
) -> tuple[PackageSource, dict[str, str]]:
    from ..modulestxt import parse_modules_txt
    from ..scan import gomodcache, vendor_dir

    vendor = vendor_dir(main_dir, env)
    if vendor is not None:
        listing = parse_modules_txt(
            (vendor / "modules.txt").read_bytes(), str(vendor / "modules.txt")
        )
        shown = Path(os.path.relpath(vendor, main_dir)).as_posix()
        renamed = {m.replace_path: m.path for m in listing.modules if m.replace_version}
        return VendorSource(vendor, listing, shown), renamed
    renamed = {m.code_path: m.path for m in code if m.code_path and m.code_path != m.path}
    modcache = gomodcache(env)
    return ModuleSourceTree(code, modcache=modcache, fetch_zip=fetch_zip), renamed


def finding_json(finding: VulnFinding) -> dict[str, Any]:
    """A finding as JSON (the shape `vulndb check --format json` prints)."""
    m, r = finding.match, finding.reach
    return {
        "id": m.id,
        "aliases": list(m.aliases),
        "summary": m.summary,
        "url": m.url,
        "module": m.module,
        "version": m.version,
        "fixed": m.fixed,
        "reachability": r.level.value,
        "symbols": list(r.symbols),
        "sites": [{"path": s.path, "line": s.line, "column": s.column} for s in r.sites],
        "outcome": finding.outcome.value,
        "rule_id": finding.rule_id,
        "reason": finding.reason,
        "fix": finding.fix_hint,
    }
