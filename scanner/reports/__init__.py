"""Renderers of one ScanResult: console, JSON, SARIF, annotations, Markdown, GitLab, SBOM, VEX."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ..errors import InputError
from ..result import (
    FindingResult,
    ModuleResult,
    RuleInfo,
    RuleKind,
    ScanResult,
    Severity,
    VulnOutcome,
    VulnResult,
)
from ..verdict import Decision


class OutputFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    MARKDOWN = "markdown"
    GITLAB = "gitlab"
    CYCLONEDX = "cyclonedx"
    OPENVEX = "openvex"

    @classmethod
    def parse(cls, value: str) -> OutputFormat:
        try:
            return cls(value.lower())
        except ValueError as e:
            names = ", ".join(f.value for f in cls)
            raise InputError(f"unknown report format {value!r}", hint=f"use one of {names}") from e


def module_issues(result: ScanResult) -> tuple[ModuleResult, ...]:
    """Modules whose verdict is not PASS, failing ones first (existing ones only inform)."""
    bad = [m for m in result.modules if m.decision is not Decision.PASS]
    return tuple(sorted(bad, key=lambda m: (not m.fails, m.path, m.version)))


def module_severity(module: ModuleResult) -> Severity:
    """A REJECT weighs as a high finding, a REVIEW_REQUIRED as a medium one."""
    return Severity.HIGH if module.decision is Decision.REJECT else Severity.MEDIUM


def module_rule_id(module: ModuleResult) -> str:
    """The policy rule that decided, or a generic id when the verdict gave no reason."""
    if module.reasons:
        return module.reasons[0].rule_id
    return "license/reject" if module.decision is Decision.REJECT else "license/review"


def gomod_location(result: ScanResult, item: ModuleResult | VulnResult) -> tuple[str, int]:
    """The go.mod and line a module's (or its vulnerability's) issue is reported at: the
    require line that names it, else the top of the scanned go.mod."""
    return item.gomod_path or result.gomod_path, item.require_line or 1


def module_message(module: ModuleResult) -> str:
    license_text = module.expression or "no license found"
    why = "; ".join(r.message for r in module.reasons) or module.decision.value
    text = f"{module.key} ({license_text}): {module.decision.value}: {why}"
    if module.previous_version:
        text += f" (was {module.previous_version})"
    return text


def rule_for(result: ScanResult, rule_id: str, module: ModuleResult | None = None) -> RuleInfo:
    """The rule's description from the result, or a minimal one built from what is known."""
    rule = result.rule(rule_id)
    if rule is not None:
        return rule
    if module is not None:
        return RuleInfo(
            id=rule_id,
            kind=RuleKind.LICENSE,
            name=rule_id,
            severity=module_severity(module),
            short=f"Dependency license policy: {rule_id}",
            help="The policy does not allow this module's license; remove or replace the "
            "dependency, or ask for a policy exception.",
        )
    return RuleInfo(
        id=rule_id, kind=RuleKind.SOURCE, name=rule_id, severity=Severity.MEDIUM, short=rule_id
    )


def vuln_issues(result: ScanResult) -> tuple[VulnResult, ...]:
    """Known vulnerabilities, failing ones first, then by closeness, module and id."""
    return tuple(
        sorted(
            result.vulnerabilities,
            key=lambda v: (not v.fails, -_REACH_ORDER.index(v.reachability.value), v.key),
        )
    )


_REACH_ORDER = ("required", "imported", "called")


def vuln_message(v: VulnResult) -> str:
    """The policy's sentence, the fix, and where the vulnerable code is called from."""
    text = f"{v.reason}. Fix: {v.fix}"
    if v.outcome is VulnOutcome.PASS:
        text += " (reported; the policy does not fail on it)"
    if v.dependency and v.dependency != f"{v.module}@{v.version}":
        text += f" [replaces {v.dependency}]"
    return text


def vuln_title(v: VulnResult) -> str:
    names = ", ".join((v.id, *v.aliases))
    return f"{names} in {v.module}@{v.version} ({v.reachability.value})"


def active_findings(result: ScanResult) -> tuple[FindingResult, ...]:
    return tuple(f for f in result.findings if not f.suppressed)


def render(result: ScanResult, fmt: OutputFormat, *, color: bool = False) -> str:
    """The text of one report; the CLI decides where it goes."""
    return _renderer(fmt)(result, color)


def _renderer(fmt: OutputFormat) -> Callable[[ScanResult, bool], str]:
    # Imported on use: each renderer pulls in its own library (rich, jinja2, cyclonedx).
    if fmt is OutputFormat.CONSOLE:
        from .console import render_console

        return render_console
    if fmt is OutputFormat.JSON:
        return lambda result, _color: result.to_json()
    if fmt is OutputFormat.SARIF:
        from .sarif import render_sarif

        return lambda result, _color: render_sarif(result)
    if fmt is OutputFormat.GITHUB:
        from .github import render_annotations

        return lambda result, _color: render_annotations(result)
    if fmt is OutputFormat.MARKDOWN:
        from .markdown import render_markdown

        return lambda result, _color: render_markdown(result)
    if fmt is OutputFormat.GITLAB:
        from .gitlab import render_code_quality

        return lambda result, _color: render_code_quality(result)
    if fmt is OutputFormat.OPENVEX:
        return lambda result, _color: render_openvex_from_result(result)
    from ..sbom import SbomOptions, render_sbom_from_result

    return lambda result, _color: render_sbom_from_result(result, SbomOptions(reproducible=True))


def render_openvex_from_result(result: ScanResult) -> str:
    """The OpenVEX document of the result's vulnerabilities (InputError when there are none)."""
    if not result.vulnerabilities:
        why = "none are known" if result.vulndb else "they were not checked (no --vulndb)"
        raise InputError(
            f"no OpenVEX document for {result.main_module}: {why}",
            hint="OpenVEX needs at least one statement; pass --vulndb URL_OR_DIR to check",
        )
    from ..vulndb.openvex import openvex_document, render_openvex
    from ..vulndb.scanresult import to_vuln_findings, utc_time

    document = openvex_document(
        to_vuln_findings(result),
        main_module=result.main_module,
        now=utc_time(result.generated_at),
    )
    return render_openvex(document)
