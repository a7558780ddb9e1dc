"""GitLab code-quality report (the Code Climate subset GitLab reads) from a ScanResult."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..result import ModuleResult, ScanResult, Severity, VulnResult
from . import (
    active_findings,
    gomod_location,
    module_issues,
    module_message,
    module_rule_id,
    module_severity,
    vuln_issues,
    vuln_message,
)

# GitLab's severities are info, minor, major, critical, blocker.
_SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}


def code_quality(result: ScanResult) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for m in module_issues(result):
        rule_id = module_rule_id(m)
        issues.append(
            {
                "type": "issue",
                "check_name": rule_id,
                "description": module_message(m),
                "categories": ["Security"],
                "severity": _SEVERITY[module_severity(m)] if m.fails else "info",
                "fingerprint": hashlib.sha256(
                    f"{rule_id}\0{m.path}\0{m.version}".encode()
                ).hexdigest(),
                "location": _gomod_location(result, m),
            }
        )
    for f in active_findings(result):
        issues.append(
            {
                "type": "issue",
                "check_name": f.rule_id,
                "description": f"{f.message}" + (f" Fix: {f.fix}" if f.fix else ""),
                "categories": ["Security"],
                "severity": _SEVERITY[f.severity] if f.fails(result.fail_on) else "info",
                "fingerprint": hashlib.sha256(
                    (f.fingerprint or f"{f.rule_id}\0{f.path}\0{f.line}").encode()
                ).hexdigest(),
                "location": {"path": f.path, "lines": {"begin": max(f.line, 1)}},
            }
        )
    for v in vuln_issues(result):
        issues.append(
            {
                "type": "issue",
                "check_name": v.id,
                "description": vuln_message(v),
                "categories": ["Security"],
                "severity": _SEVERITY[v.severity] if v.fails else "info",
                "fingerprint": hashlib.sha256(
                    f"{v.id}\0{v.module}\0{v.version}".encode()
                ).hexdigest(),
                "location": _gomod_location(result, v),
            }
        )
    return issues


def render_code_quality(result: ScanResult) -> str:
    return json.dumps(code_quality(result), indent=2, ensure_ascii=False) + "\n"


def _gomod_location(result: ScanResult, item: ModuleResult | VulnResult) -> dict[str, Any]:
    path, line = gomod_location(result, item)
    return {"path": path, "lines": {"begin": line}}
