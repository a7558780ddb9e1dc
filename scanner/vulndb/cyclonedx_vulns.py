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
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnFinding
from .reach import Reachability

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


def cyclonedx_vulnerabilities(
    findings: Iterable[VulnFinding],
    component_ref: Callable[[str, str], str] = sbom_component_ref,
) -> list[Vulnerability]:
    """One Vulnerability per id, affecting every module version it matched (sorted by id).

    The analysis follows the closest reachability: called -> `exploitable` with the update as
    the response; imported or required only -> `not_affected` / `code_not_reachable`.
    """
    by_id: dict[str, list[VulnFinding]] = {}
    for f in findings:
        by_id.setdefault(f.match.id, []).append(f)
    out = []
    for vid, group in sorted(by_id.items()):
        group.sort(key=lambda f: (f.match.module, f.match.version))
        first = group[0].match
        closest = max(group, key=lambda f: f.reach.level.rank)
        called = closest.reach.level is Reachability.CALLED
        detail = "; ".join(f.reason for f in group)
        analysis = VulnerabilityAnalysis(
            state=ImpactAnalysisState.EXPLOITABLE if called else ImpactAnalysisState.NOT_AFFECTED,
            justification=None if called else ImpactAnalysisJustification.CODE_NOT_REACHABLE,
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
                    Property(
                        name=f"{PROP}:policy",
                        value=max(group, key=lambda f: f.fails).outcome.value,
                    ),
                ],
            )
        )
    return out
