"""Renderers of one ScanResult: console, JSON, SARIF, GitHub, Markdown, GitLab, CycloneDX."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ..errors import InputError
from ..result import FindingResult, ModuleResult, RuleInfo, RuleKind, ScanResult, Severity
from ..verdict import Decision


class OutputFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"
    MARKDOWN = "markdown"
    GITLAB = "gitlab"
    CYCLONEDX = "cyclonedx"

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
    from ..sbom import SbomOptions, render_sbom_from_result

    return lambda result, _color: render_sbom_from_result(result, SbomOptions(reproducible=True))
