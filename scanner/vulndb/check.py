"""One call for the scan command: the build list's known vulnerabilities, reached and judged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from ..buildlist import BuildModule
from ..module import ModuleVersion
from .index import VulnIndex
from .match import match_modules
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnFinding, VulnPolicy, evaluate_vulns
from .reach import MainUses, collect_main_uses, reach_all


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
) -> list[VulnFinding]:
    """Match, reach (from the main module's non-test code) and judge, sorted by module and id."""
    matches = match_modules(
        index, built_versions(modules), go_version=go_version, toolchain=toolchain
    )
    uses = collect_main_uses(main_dir) if matches else MainUses()
    return evaluate_vulns(policy, reach_all(matches, uses), now)


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
