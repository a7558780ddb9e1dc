"""GitHub Actions workflow commands (annotations) and the job's step summary."""

from __future__ import annotations

from ..result import ScanResult, Severity
from . import (
    active_findings,
    gomod_location,
    module_issues,
    module_message,
    module_rule_id,
    vuln_issues,
    vuln_message,
    vuln_title,
)

_COMMAND = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    """The message part: the runner decodes %25, %0D and %0A (actions/toolkit escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value: additionally `:` and `,`, which would end the value early."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str, message: str, *, file: str, line: int, col: int = 0, title: str = ""
) -> str:
    props = [f"file={escape_property(file)}", f"line={max(line, 1)}"]
    if col > 0:
        props.append(f"col={col}")
    if title:
        props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def render_annotations(result: ScanResult) -> str:
    """One workflow command per issue; what does not fail the scan comes as a notice."""
    lines = []
    for m in module_issues(result):
        level = "error" if m.fails else "notice"
        title = f"goproxy-scan {module_rule_id(m)}: {m.path}"
        gomod, line = gomod_location(result, m)
        lines.append(annotation(level, module_message(m), file=gomod, line=line, title=title))
    for f in active_findings(result):
        level = _COMMAND[f.severity] if f.fails(result.fail_on) else "notice"
        message = f.message + (f"\nFix: {f.fix}" if f.fix else "")
        title = f"goproxy-scan {f.rule_id}" + (f" ({f.cwe})" if f.cwe else "")
        lines.append(
            annotation(level, message, file=f.path, line=f.line, col=f.column, title=title)
        )
    for v in vuln_issues(result):
        level = "error" if v.fails else "notice"
        gomod, line = gomod_location(result, v)
        title = f"goproxy-scan {vuln_title(v)}"
        lines.append(annotation(level, vuln_message(v), file=gomod, line=line, title=title))
        if v.fails and v.sites and v.reachability.value == "called":
            # The call itself is where the change under review reaches the vulnerable code.
            site = v.sites[0]
            lines.append(
                annotation(
                    "warning",
                    f"calls {', '.join(v.symbols)}, vulnerable: {v.id}. Fix: {v.fix}",
                    file=site.path,
                    line=site.line,
                    col=site.column,
                    title=f"goproxy-scan {v.id}",
                )
            )
    for note in result.notes:
        lines.append(f"::warning::{escape_data(note)}")
    lines.append(f"::notice title=goproxy-scan::{escape_data(result.summary_line())}")
    return "\n".join(lines) + "\n"


def step_summary(result: ScanResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the PR-comment report."""
    from .markdown import render_markdown

    return render_markdown(result)
