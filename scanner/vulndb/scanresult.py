"""Known vulnerabilities in the one ScanResult: the check for `scan`, and back for the reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from ..module import ModuleVersion
from ..result import (
    ModuleResult,
    ScanResult,
    Status,
    VulnOutcome,
    VulnReach,
    VulnResult,
    VulnSite,
)
from .match import VulnMatch
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnException, VulnFinding
from .policy import VulnOutcome as PolicyOutcome
from .reach import BuildReach, Reach, Reachability, Site


def built_module(module: ModuleResult) -> ModuleVersion | None:
    """The module version the build compiles for a build-list entry (None: a directory)."""
    if not module.replace:
        return ModuleVersion(module.path, module.version)
    path, _, version = module.replace.rpartition("@")
    if path and version.startswith("v") and not Path(module.replace).is_absolute():
        return ModuleVersion(path, version)
    return None


def go_lines(gomod_text: str) -> dict[str, int]:
    """The go.mod lines the Go version comes from: "stdlib" -> go line, "toolchain" -> toolchain.

    (The go.mod parser keeps no line for these directives; a reviewer acts on them.)
    """
    out: dict[str, int] = {}
    for number, line in enumerate(gomod_text.splitlines(), 1):
        words = line.split("//")[0].split()
        if len(words) == 2 and words[0] == "go":
            out.setdefault(STDLIB, number)
        elif len(words) == 2 and words[0] == "toolchain":
            out.setdefault(TOOLCHAIN, number)
    if STDLIB in out:
        out.setdefault(TOOLCHAIN, out[STDLIB])
    return out


def to_vuln_results(
    findings: Iterable[VulnFinding],
    modules: Iterable[ModuleResult],
    lines: Mapping[str, int],
    site_prefix: str = "",
) -> tuple[VulnResult, ...]:
    """The policy's findings as result records; sites get `site_prefix` (repository-relative)."""
    by_built = {}
    for m in modules:
        built = built_module(m)
        if built is not None:
            by_built[str(built)] = m
    out = []
    for f in findings:
        match, reach = f.match, f.reach
        owner = by_built.get(f"{match.module}@{match.version}")
        prefix = f"{site_prefix}/" if site_prefix else ""
        exception = f.exception
        out.append(
            VulnResult(
                id=match.id,
                module=match.module,
                version=match.version,
                reachability=VulnReach(reach.level.value),
                outcome=VulnOutcome(f.outcome.value),
                rule_id=f.rule_id,
                reason=f.reason,
                fix=f.fix_hint,
                aliases=match.aliases,
                summary=match.summary,
                url=match.url,
                fixed=match.fixed,
                dependency=owner.key if owner is not None else "",
                symbols=reach.symbols,
                sites=tuple(VulnSite(prefix + s.path, s.line, s.column) for s in reach.sites),
                exception_reason=exception.reason if exception else "",
                exception_expires=exception.expires.isoformat()
                if exception and exception.expires
                else "",
                require_line=owner.require_line if owner is not None else lines.get(match.module),
                gomod_path=owner.gomod_path if owner is not None else "",
                build=reach.build.value,
                build_note=reach.build_note,
            )
        )
    return tuple(out)


def to_vuln_findings(result: ScanResult) -> list[VulnFinding]:
    """The result's records as the findings OpenVEX and CycloneDX are written from.

    Sites keep the result's repository-relative paths; the matched packages are not kept.
    """
    out = []
    for v in result.vulnerabilities:
        exception = None
        if v.outcome is VulnOutcome.EXCEPTED:
            expires = date.fromisoformat(v.exception_expires) if v.exception_expires else None
            exception = VulnException(v.id, v.exception_reason, expires, v.module)
        out.append(
            VulnFinding(
                match=VulnMatch(
                    id=v.id,
                    aliases=v.aliases,
                    summary=v.summary,
                    module=v.module,
                    version=v.version,
                    fixed=v.fixed,
                    packages=(),
                    url=v.url,
                ),
                reach=Reach(
                    Reachability(v.reachability.value),
                    tuple(Site(s.path, s.line, s.column) for s in v.sites),
                    v.symbols,
                    # a result written before the build was analysed proves nothing
                    BuildReach(v.build) if v.build else BuildReach.UNKNOWN,
                    v.build_note,
                ),
                outcome=PolicyOutcome(v.outcome.value),
                rule_id=v.rule_id,
                reason=v.reason,
                fix_hint=v.fix,
                exception=exception,
            )
        )
    return out


def component_refs(result: ScanResult) -> dict[str, str]:
    """ "module@version" as matched -> the SBOM component's bom-ref (scanner.sbom purls)."""
    from ..sbom import module_purl, stdlib_purl

    refs = {}
    by_key = {m.key: m for m in result.modules}
    for v in result.vulnerabilities:
        owner = by_key.get(v.dependency)
        if owner is not None:
            refs[f"{v.module}@{v.version}"] = str(module_purl(owner.path, owner.version))
        elif v.module in (STDLIB, TOOLCHAIN):
            refs[f"{v.module}@{v.version}"] = str(stdlib_purl(result))
    return refs


def base_statuses(
    result: ScanResult, base_go: tuple[str, str] | None, head_go: tuple[str, str]
) -> dict[str, Status]:
    """Vulnerability key -> status against --base, as license findings: by their module.

    A module existing at the base (same version) keeps its vulnerabilities existing; the Go
    version's (stdlib, toolchain) are existing when go.mod's go and toolchain lines are unchanged.
    """
    modules: Mapping[str, ModuleResult] = {m.key: m for m in result.modules}
    out = {}
    for v in result.vulnerabilities:
        owner = modules.get(v.dependency)
        if owner is not None:
            out[v.key] = owner.status or Status.NEW
        else:
            out[v.key] = Status.EXISTING if base_go == head_go else Status.NEW
    return out


def utc_time(text: str) -> datetime:
    """The result's generated_at as an aware datetime (now, if it does not parse)."""
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def with_vulnerabilities(
    result: ScanResult, vulns: tuple[VulnResult, ...], url: str, modified: str
) -> ScanResult:
    return replace(result, vulnerabilities=vulns, vulndb=url, vulndb_modified=modified)
