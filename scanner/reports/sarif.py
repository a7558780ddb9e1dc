"""SARIF 2.1.0: rules with help and security-severity, license findings on go.mod lines."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from ..result import (
    SECURITY_SEVERITY,
    FindingResult,
    RuleInfo,
    RuleKind,
    ScanResult,
    Severity,
    Status,
    VulnResult,
)
from . import (
    gomod_location,
    module_issues,
    module_message,
    module_rule_id,
    rule_for,
    vuln_issues,
    vuln_message,
)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/goproxy-scan/goproxy-scan"
# Key of our own fingerprint in partialFingerprints; the version lets us change the recipe.
FINGERPRINT_KEY = "goproxyScan/v1"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_BASELINE = {Status.NEW: "new", Status.CHANGED: "updated", Status.EXISTING: "unchanged"}


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    tags = ["security", rule.kind.value]
    if rule.cwe:
        tags.append(f"external/cwe/{rule.cwe.lower()}")
    help_text = rule.help or rule.short
    help_markdown = f"**{rule.short}**\n\n{help_text}"
    if rule.cwe:
        number = rule.cwe.removeprefix("CWE-")
        help_markdown += f"\n\n[{rule.cwe}](https://cwe.mitre.org/data/definitions/{number}.html)"
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": tags,
            "precision": "high",
        },
    }


def artifact_uri(path: str) -> str:
    """A repository-relative path as SARIF's `artifactLocation.uri`: an RFC 3986 URI reference
    relative to %SRCROOT%, the form GitHub code scanning maps onto the repository's files.

    Each segment is percent-encoded (UTF-8), `/` kept: `ok/my file.go` is `ok/my%20file.go`.
    Only unreserved characters stay as they are, so a `%` cannot read as an escape, a `#` or
    `?` as a fragment or query, nor a `:` in the first segment as a scheme.
    """
    return quote(path, safe="/")


def _location(path: str, line: int, column: int) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": max(line, 1)}
    if column > 0:
        region["startColumn"] = column
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(path), "uriBaseId": "%SRCROOT%"},
            "region": region,
        }
    }


def _finding_result(f: FindingResult, rule_index: int, diff: bool) -> dict[str, Any]:
    message = f.message + (f" Fix: {f.fix}" if f.fix else "")
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": message},
        "locations": [_location(f.path, f.line, f.column)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint or _fallback_fingerprint(f)},
        "properties": {"severity": f.severity.value, "cwe": f.cwe},
    }
    if f.suppressed:
        out["suppressions"] = [
            {"kind": "inSource", "status": "accepted", "justification": f.suppression_reason}
        ]
    if diff and f.status is not None:
        out["baselineState"] = _BASELINE[f.status]
    return out


def _vuln_rule(result: ScanResult, vid: str) -> RuleInfo:
    """One rule per advisory; its severity is that of the closest reachability found."""
    group = [v for v in result.vulnerabilities if v.id == vid]
    first = group[0]
    worst = max((v.severity for v in group), key=lambda s: s.rank)
    names = ", ".join((vid, *first.aliases))
    fixes = "; ".join(sorted({v.fix for v in group}))
    help_text = (
        f"{first.summary or vid} ({names}). A module version in the build list is in the "
        f"affected range of this Go vulnerability database entry. Fix: {fixes}."
    )
    if first.url:
        help_text += f" Details: {first.url}"
    return RuleInfo(
        id=vid,
        kind=RuleKind.VULNERABILITY,
        name=vid.replace("-", ""),
        severity=worst,
        short=first.summary or f"Known vulnerability {vid}",
        help=help_text,
    )


def _vuln_result(result: ScanResult, v: VulnResult, rule_index: int, diff: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": v.id,
        "ruleIndex": rule_index,
        "level": "error" if v.fails else "note",
        "message": {"text": vuln_message(v)},
        # The go.mod require line is where the upgrade happens; the calls are related.
        "locations": [_location(*gomod_location(result, v), 0)],
        "partialFingerprints": {
            FINGERPRINT_KEY: hashlib.sha256(
                f"{v.id}\0{v.module}\0{v.version}".encode()
            ).hexdigest()[:32]
        },
        "properties": {
            "module": v.module,
            "version": v.version,
            "fixed": v.fixed,
            "aliases": list(v.aliases),
            "reachability": v.reachability.value,
            "policy": v.outcome.value,
            "policyRule": v.rule_id,
            "security-severity": SECURITY_SEVERITY[v.severity],
        },
    }
    related = []
    for i, site in enumerate(v.sites):
        where = _location(site.path, site.line, site.column)
        what = "calls vulnerable " + ", ".join(v.symbols) if v.symbols else "imports"
        related.append({"id": i, **where, "message": {"text": f"{what} ({v.id})"}})
    if related:
        entry["relatedLocations"] = related
    if v.exception_reason:
        entry["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": v.exception_reason}
        ]
    if diff and v.status is not None:
        entry["baselineState"] = _BASELINE[v.status]
    return entry


def _fallback_fingerprint(f: FindingResult) -> str:
    return hashlib.sha256(f"{f.rule_id}\0{f.path}\0{f.line}".encode()).hexdigest()[:32]


def sarif_document(result: ScanResult) -> dict[str, Any]:
    diff = bool(result.base_ref)
    rules: dict[str, RuleInfo] = {}
    issues = module_issues(result)
    for m in issues:
        rule_id = module_rule_id(m)
        rules.setdefault(rule_id, rule_for(result, rule_id, m))
    for f in result.findings:
        rules.setdefault(f.rule_id, rule_for(result, f.rule_id))
    for v in result.vulnerabilities:
        if v.id not in rules:
            rules[v.id] = _vuln_rule(result, v.id)
    ordered = sorted(rules.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(ordered)}

    results: list[dict[str, Any]] = []
    for m in issues:
        rule_id = module_rule_id(m)
        entry: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": index[rule_id],
            "level": "error" if m.fails else "note",
            "message": {"text": module_message(m)},
            # The go.mod require line is where a reviewer can act on a dependency.
            "locations": [_location(*gomod_location(result, m), 0)],
            "partialFingerprints": {
                FINGERPRINT_KEY: hashlib.sha256(
                    f"{rule_id}\0{m.path}\0{m.version}".encode()
                ).hexdigest()[:32]
            },
            "properties": {
                "module": m.path,
                "version": m.version,
                "decision": m.decision.value,
                "license": m.expression,
            },
        }
        if diff and m.status is not None:
            entry["baselineState"] = _BASELINE[m.status]
        results.append(entry)
    results.extend(_finding_result(f, index[f.rule_id], diff) for f in result.findings)
    results.extend(_vuln_result(result, v, index[v.id], diff) for v in vuln_issues(result))

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": result.tool_name,
                "version": result.tool_version,
                "semanticVersion": result.tool_version,
                "informationUri": INFORMATION_URI,
                "rules": [_rule_descriptor(r) for r in ordered],
            }
        },
        "automationDetails": {"id": f"goproxy-scan/{result.main_module}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [
            {
                "executionSuccessful": True,
                "endTimeUtc": result.generated_at,
                "toolExecutionNotifications": [
                    {"level": "warning", "message": {"text": note}}
                    for note in (*result.notes, *result.parse_errors)
                ],
            }
        ],
        "properties": {"passed": result.passed, "summary": result.summary_line()},
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def render_sarif(result: ScanResult) -> str:
    return json.dumps(sarif_document(result), indent=2, ensure_ascii=False) + "\n"
