"""The CycloneDX `vulnerabilities` section of the SBOM from the evaluated vulnerabilities."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cyclonedx.model import Property, XsUri
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilityReference,
    VulnerabilitySource,
)

from ..sbom import PROP, module_purl
from .openvex import unproved
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnFinding
from .reach import BuildReach, Reachability

GO_VULNDB = VulnerabilitySource(name="Go Vulnerability Database", url=XsUri("https://vuln.go.dev"))


def _alias_source(alias: str) -> VulnerabilitySource:
    if alias.startswith("CVE-"):
        return VulnerabilitySource(
            name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{alias}")
        )
    if alias.startswith("GHSA-"):
        return VulnerabilitySource(
            name="GitHub", url=XsUri(f"https://github.com/advisories/{alias}")
        )
    return VulnerabilitySource(name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{alias}"))


def sbom_component_ref(module: str, version: str) -> str:
    """The bom-ref scanner.sbom gives a module; the toolchain is the `stdlib` component."""
    return str(module_purl(STDLIB if module in (STDLIB, TOOLCHAIN) else module, version))


def _build(group: list[VulnFinding]) -> BuildReach:
    """The group's proof: one finding called or unproved decides (the toolchain is not built)."""
    levels = {BuildReach.NOT_BUILT if f.match.module == TOOLCHAIN else f.reach.build for f in group}
    if any(f.reach.level is Reachability.CALLED for f in group):
        return BuildReach.CALLED
    for level in (BuildReach.CALLED, BuildReach.UNKNOWN, BuildReach.NOT_CALLED):
        if level in levels:
            return level
    return BuildReach.NOT_BUILT


def _analysis(
    group: list[VulnFinding],
) -> tuple[ImpactAnalysisState, ImpactAnalysisJustification | None]:
    build = _build(group)
    if build is BuildReach.CALLED:
        return ImpactAnalysisState.EXPLOITABLE, None
    if build is BuildReach.UNKNOWN:
        return ImpactAnalysisState.IN_TRIAGE, None
    if build is BuildReach.NOT_CALLED:
        return ImpactAnalysisState.NOT_AFFECTED, ImpactAnalysisJustification.CODE_NOT_REACHABLE
    return ImpactAnalysisState.NOT_AFFECTED, ImpactAnalysisJustification.CODE_NOT_PRESENT


def _detail(finding: VulnFinding) -> str:
    reach = finding.reach
    called = reach.level is Reachability.CALLED or reach.build is BuildReach.CALLED
    if called or finding.match.module == TOOLCHAIN:
        return finding.reason  # which says where it is called
    if reach.build is BuildReach.UNKNOWN:
        return f"{finding.reason}; not proved unaffected: {unproved(reach)}"
    return f"{finding.reason}; the build: {reach.build_note}"


def cyclonedx_vulnerabilities(
    findings: Iterable[VulnFinding],
    component_ref: Callable[[str, str], str] = sbom_component_ref,
) -> list[Vulnerability]:
    """One Vulnerability per id, affecting every module version it matched (sorted by id).

    The analysis is that of the OpenVEX statements (scanner.vulndb.openvex), over the group:
    called by the main module or in the build -> `exploitable` with the update as the response;
    else any finding without proof -> `in_triage`; else `not_affected`, `code_not_reachable`
    when a vulnerable package is compiled, `code_not_present` when none is.
    """
    by_id: dict[str, list[VulnFinding]] = {}
    for f in findings:
        by_id.setdefault(f.match.id, []).append(f)
    out = []
    for vid, group in sorted(by_id.items()):
        group.sort(key=lambda f: (f.match.module, f.match.version))
        first = group[0].match
        closest = max(group, key=lambda f: f.reach.level.rank)
        state, justification = _analysis(group)
        called = state is ImpactAnalysisState.EXPLOITABLE
        detail = "; ".join(_detail(f) for f in group)
        analysis = VulnerabilityAnalysis(
            state=state,
            justification=justification,
            responses=[ImpactAnalysisResponse.UPDATE]
            if called and any(f.match.fixed for f in group)
            else [],
            detail=detail,
        )
        out.append(
            Vulnerability(
                bom_ref=vid,
                id=vid,
                source=VulnerabilitySource(
                    name=GO_VULNDB.name, url=XsUri(first.url) if first.url else GO_VULNDB.url
                ),
                references=[
                    VulnerabilityReference(id=a, source=_alias_source(a)) for a in first.aliases
                ],
                description=first.summary or None,
                recommendation="; ".join(sorted({f.fix_hint for f in group})),
                analysis=analysis,
                affects=[
                    BomTarget(
                        ref=component_ref(f.match.module, f.match.version),
                        versions=[
                            BomTargetVersionRange(
                                version=f.match.version,
                                status=ImpactAnalysisAffectedStatus.AFFECTED,
                            )
                        ],
                    )
                    for f in group
                ],
                properties=[
                    Property(name=f"{PROP}:reachability", value=closest.reach.level.value),
                    Property(name=f"{PROP}:build", value=_build(group).value),
                    Property(
                        name=f"{PROP}:policy",
                        value=max(group, key=lambda f: f.fails).outcome.value,
                    ),
                ],
            )
        )
    return out
