"""PR-comment Markdown (a jinja2 template), kept under GitHub's 65,536-character limit."""

from __future__ import annotations

from functools import cache
from urllib.parse import quote

import jinja2

from ..result import ScanResult
from . import active_findings, module_issues, vuln_issues

# The comment is found and updated in place by this marker; keep it stable. It is the marker of
# the repository root's comment; a run keyed by a subdirectory (or `comment-key`) has its own.
MARKER = "<!-- goproxy-scan:pr-comment -->"
# Where the rows a long comment leaves out can be read, when the caller does not say.
FULL_REPORT = "the result JSON (`goproxy-scan report --from FILE` prints it all)"
# GitHub rejects a comment body of 65,536 characters or more.
MAX_CHARS = 65_535
# Row limits tried in order until the comment fits.
_ROW_LIMITS = (None, 500, 200, 50, 10, 0)


def comment_marker(key: str = "") -> str:
    """The marker of the comment keyed by `key`: MARKER for the root (an empty key).

    The key is percent-encoded so that no `-->` (nor any space) can end the HTML comment; one
    key's marker is never a substring of another's (each ends with ` -->`).
    """
    if not key:
        return MARKER
    return f"<!-- goproxy-scan:pr-comment:{quote(key, safe='/')} -->"


# Characters Markdown (GFM) may read as markup inside a line: emphasis, code spans,
# strikethrough, links, images, and the backslash itself. Each gets a backslash escape.
_MARKUP = str.maketrans({c: f"\\{c}" for c in "\\`*_~[]|"})


def _cell(value: object) -> str:
    """Data as literal text in a table cell or a line: no markup, no HTML, one line."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    text = text.translate(_MARKUP)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url(value: object) -> str:
    # A link destination: what would end it or the table cell is percent-encoded.
    return quote(str(value), safe=":/?#@!$&'*+,;=%-._~")


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
    env.filters["url"] = _url
    return env.get_template("pr-comment.md.j2")


def render_markdown(
    result: ScanResult, key: str = "", label: str = "", full_report: str = FULL_REPORT
) -> str:
    """The PR comment / job summary.

    `key` picks the comment's marker (see comment_marker), `label` is named in the title (the
    scanned directory when it is not the repository root), `full_report` says where the rows
    a long comment leaves out can be read (it is the template's own text, not data).
    """
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
            marker=comment_marker(key),
            label=label,
            full_report=full_report,
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
