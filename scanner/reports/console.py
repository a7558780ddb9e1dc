"""The console report: tables of what fails and why, colours on a TTY, one summary line."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..result import ScanResult, Severity, Status, VulnResult
from . import active_findings, module_issues, vuln_issues

# A fixed width keeps the report identical in CI logs, terminals and golden files.
WIDTH = 120

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _status(status: Status | None) -> str:
    return status.value if status is not None else ""


def _vuln_why(v: VulnResult) -> str:
    """The policy's sentence without the module and ids the other columns already show."""
    text = v.reason.removeprefix(f"{v.module}@{v.version} has {v.id}")
    if v.aliases:
        text = text.removeprefix(f" ({', '.join(v.aliases)})")
    return text.removeprefix(": ").removeprefix("; ").strip()


def render_console(result: ScanResult, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=WIDTH,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    diff = bool(result.base_ref)
    header = f"goproxy-scan {result.tool_version}: {result.main_module}"
    if diff:
        header += f" (changes against {result.base_ref})"
    console.print(Text(header, style="bold"))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    for error in result.parse_errors:
        console.print(Text(f"parse error: {error}", style="yellow"))

    issues = module_issues(result)
    if issues:
        table = Table(title="Dependencies that break the policy", title_justify="left")
        table.add_column("module", overflow="fold")
        table.add_column("version")
        table.add_column("license")
        table.add_column("decision")
        if diff:
            table.add_column("change")
        table.add_column("why")
        for m in issues:
            style = "red" if m.fails else "dim"
            cells = [m.path, m.version, m.expression or "(none)", m.decision.value]
            if diff:
                cells.append(_status(m.status))
            cells.append("; ".join(r.message for r in m.reasons))
            table.add_row(*cells, style=style)
        console.print(table)

    findings = active_findings(result)
    if findings:
        table = Table(title="Source findings", title_justify="left")
        table.add_column("severity")
        table.add_column("rule")
        table.add_column("location", overflow="fold")
        if diff:
            table.add_column("change")
        table.add_column("message")
        for f in findings:
            sev = Text(f.severity.value, style=_SEVERITY_STYLE[f.severity])
            row: list[str | Text] = [sev, f.rule_id, f"{f.path}:{f.line}:{f.column}"]
            if diff:
                row.append(_status(f.status))
            row.append(f.message)
            table.add_row(*row, style=None if f.fails(result.fail_on) else "dim")
        console.print(table)

    vulns = vuln_issues(result)
    if vulns:
        # Full width: the why-and-fix column takes what the short ones leave.
        table = Table(title="Known vulnerabilities", title_justify="left", expand=True)
        table.add_column("id", no_wrap=True)
        table.add_column("module", overflow="fold", no_wrap=True, max_width=44)
        table.add_column("reach: policy")
        if diff:
            table.add_column("change")
        table.add_column("why and fix", overflow="fold", ratio=1)
        for v in vulns:
            judged = Text(v.reachability.value, style=_SEVERITY_STYLE[v.severity])
            judged.append(f": {v.outcome.value}")
            ids = "\n".join((v.id, *v.aliases))
            vrow: list[str | Text] = [ids, f"{v.module}@{v.version}", judged]
            if diff:
                vrow.append(_status(v.status))
            vrow.append(f"{_vuln_why(v)}\nfix: {v.fix}")
            table.add_row(*vrow, style="red" if v.fails else "dim")
        console.print(table)
    if not result.vulndb and not result.vulnerabilities:
        console.print(
            "vulnerabilities: not checked (give --vulndb URL_OR_DIR or GOPROXY_SCAN_VULNDB)"
        )
    elif result.vulndb:
        modified = f" (modified {result.vulndb_modified})" if result.vulndb_modified else ""
        console.print(f"vulnerabilities: checked against {result.vulndb}{modified}", soft_wrap=True)

    suppressed = [f for f in result.findings if f.suppressed]
    if suppressed:
        console.print(f"{len(suppressed)} findings suppressed by //goproxy-scan:ignore")
    summary_style = "bold green" if result.passed else "bold red"
    # One line, however long: scripts grep for it.
    console.print(Text(result.summary_line(), style=summary_style), soft_wrap=True)
    return out.getvalue()
