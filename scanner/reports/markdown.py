"""PR-comment Markdown (a jinja2 template), kept under GitHub's 65,536-character limit."""

from __future__ import annotations

from functools import cache

import jinja2

from ..result import ScanResult
from . import active_findings, module_issues, vuln_issues

# The comment is found and updated in place by this marker; keep it stable.
MARKER = "<!-- goproxy-scan:pr-comment -->"
# GitHub rejects a comment body of 65,536 characters or more.
MAX_CHARS = 65_535
# Row limits tried in order until the comment fits.
_ROW_LIMITS = (None, 500, 200, 50, 10, 0)


def _cell(value: object) -> str:
    # A table cell ends at a newline or an unescaped pipe.
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _code(value: object) -> str:
    # Inside backticks nothing is interpreted, except that a backtick would end the span.
    return str(value).replace("`", "'").replace("|", "\\|").replace("\n", " ")


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scanner.reports", "templates"),
        autoescape=False,  # Markdown, not HTML: the filters above do the escaping
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _cell
    env.filters["code"] = _code
    return env.get_template("pr-comment.md.j2")


def render_markdown(result: ScanResult) -> str:
    issues = module_issues(result)
    findings = active_findings(result)
    suppressed = tuple(f for f in result.findings if f.suppressed)
    vulns = vuln_issues(result)
    text = ""
    for limit in _ROW_LIMITS:
        shown_issues = issues if limit is None else issues[:limit]
        shown_findings = findings if limit is None else findings[:limit]
        shown_vulns = vulns if limit is None else vulns[:limit]
        text = _template().render(
            marker=MARKER,
            result=result,
            diff=bool(result.base_ref),
            issues=shown_issues,
            issues_omitted=len(issues) - len(shown_issues),
            findings=shown_findings,
            findings_omitted=len(findings) - len(shown_findings),
            vulns=shown_vulns,
            vulns_omitted=len(vulns) - len(shown_vulns),
            suppressed=suppressed if limit is None else suppressed[: limit or 0],
        )
        if len(text) <= MAX_CHARS:
            return text
    # Even without rows (a huge note list): cut, keeping the marker so updates still work.
    return text[: MAX_CHARS - 2] + "…\n"
