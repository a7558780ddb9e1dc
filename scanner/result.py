"""The one scan result model: what `scan` judged and why, as canonical, versioned JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from .errors import InputError
from .exitcodes import ExitCode
from .verdict import Decision, Reason

# Bump the major part when a field changes meaning or disappears; the minor part for additions.
RESULT_SCHEMA_VERSION = "1.2"  # 1.1: vulnerabilities, vulndb, vulndb_modified; 1.2: gomod_path
RESULT_SCHEMA_ID = "https://goproxy-scan.dev/schemas/result-1.schema.json"

FAILING_DECISIONS = frozenset({Decision.REJECT, Decision.REVIEW_REQUIRED})


class Severity(StrEnum):
    """How bad a finding is; `--fail-on` names the lowest one that fails a scan."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    @classmethod
    def parse(cls, value: object) -> Severity:
        """Accept a Severity, another enum with a string value, or a case-insensitive name."""
        raw = getattr(value, "value", value)
        try:
            return cls(str(raw).lower())
        except ValueError as e:
            names = ", ".join(s.value for s in cls)
            raise InputError(f"unknown severity {raw!r}", hint=f"use one of {names}") from e


_SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)

# GitHub code scanning reads `security-severity` as a CVSS-like score; these sit inside each band.
SECURITY_SEVERITY = {
    Severity.INFO: "0.0",
    Severity.LOW: "3.0",
    Severity.MEDIUM: "5.5",
    Severity.HIGH: "8.0",
    Severity.CRITICAL: "9.5",
}


class Status(StrEnum):
    """Where an item stands against `--base`: only NEW and CHANGED items can fail a scan."""

    NEW = "new"
    CHANGED = "changed"
    EXISTING = "existing"


class RuleKind(StrEnum):
    SOURCE = "source"
    LICENSE = "license"
    VULNERABILITY = "vulnerability"


class VulnReach(StrEnum):
    """How close the main module's code comes to the vulnerable code (scanner.vulndb.reach)."""

    CALLED = "called"
    IMPORTED = "imported"
    REQUIRED = "required"

    @property
    def severity(self) -> Severity:
        # The database carries no severities: the closer the code, the worse for this project.
        return {
            VulnReach.CALLED: Severity.HIGH,
            VulnReach.IMPORTED: Severity.MEDIUM,
            VulnReach.REQUIRED: Severity.LOW,
        }[self]


class VulnOutcome(StrEnum):
    """What the policy's `vulnerabilities:` section said: fail, reported only, or excepted."""

    FAIL = "fail"
    PASS = "pass"
    EXCEPTED = "excepted"


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """One build-list module, its verdict and the facts an SBOM needs."""

    path: str
    version: str
    decision: Decision
    expression: str = ""  # concluded SPDX expression ("" when none was found)
    declared: str = ""  # SPDX expression the module declares itself (go.mod //go:license)
    license_files: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()
    h1: str = ""  # go.sum hash of the module tree
    zip_sha256: str = ""  # hex SHA-256 of the module zip, when the zip was at hand
    gomod_h1: str = ""
    indirect: bool = False
    optional: bool = False  # used only by tests or tools
    replace: str = ""  # the replacement: "path@version" or a local directory
    go_version: str = ""
    requires: tuple[str, ...] = ()  # "path@version" keys of the modules it requires
    require_line: int | None = None  # the require line in `gomod_path`, for locations
    # The go.mod holding require_line, from the repository root; "" for the scanned one
    # (ScanResult.gomod_path). Another workspace module's when only that one requires it.
    gomod_path: str = ""
    verdict_source: str = "local"  # "proxy" or "local"
    status: Status | None = None
    previous_version: str = ""  # for CHANGED: the version at --base

    @property
    def key(self) -> str:
        return f"{self.path}@{self.version}" if self.version else self.path

    @property
    def fails(self) -> bool:
        return self.decision in FAILING_DECISIONS and self.status is not Status.EXISTING


@dataclass(frozen=True, slots=True)
class FindingResult:
    """One source-rule finding in the main module's code."""

    rule_id: str
    severity: Severity
    path: str  # slash-separated, from the repository root (outside git: the module directory)
    line: int
    column: int
    message: str
    cwe: str = ""  # "CWE-798"
    fix: str = ""
    suppressed: bool = False
    suppression_reason: str = ""
    fingerprint: str = ""  # stable across line moves: see `fingerprint`
    status: Status | None = None

    def fails(self, fail_on: Severity) -> bool:
        return (
            not self.suppressed
            and self.status is not Status.EXISTING
            and self.severity.rank >= fail_on.rank
        )


@dataclass(frozen=True, slots=True)
class VulnSite:
    """Where the main module calls (or imports) vulnerable code: path from the repository root."""

    path: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class VulnResult:
    """One known vulnerability (a Go vulnerability database entry) in one build-list module.

    `module`@`version` is what matched ("stdlib"/"toolchain" for the Go version; a replacement's
    path when the module is replaced); `dependency` is the build-list module it stands for
    ("path@version", "" for the Go version), whose go.mod line is `require_line`.
    """

    id: str
    module: str
    version: str
    reachability: VulnReach
    outcome: VulnOutcome
    rule_id: str  # vuln-called, vuln-imported, vuln-required, vuln-denied, vuln-excepted
    reason: str
    fix: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    url: str = ""
    fixed: str = ""
    dependency: str = ""
    symbols: tuple[str, ...] = ()
    sites: tuple[VulnSite, ...] = ()
    exception_reason: str = ""
    exception_expires: str = ""  # YYYY-MM-DD, "" for none
    require_line: int | None = None
    gomod_path: str = ""  # the go.mod of require_line: its dependency's (ModuleResult.gomod_path)
    status: Status | None = None
    # What the code the build compiles proves, for VEX (scanner.vulndb.evidence): "called",
    # "not-called", "not-built", "unknown" ("": not analysed); build_note says how.
    build: str = ""
    build_note: str = ""

    @property
    def key(self) -> str:
        return f"{self.id}:{self.module}@{self.version}"

    @property
    def severity(self) -> Severity:
        return self.reachability.severity

    @property
    def fails(self) -> bool:
        return self.outcome is VulnOutcome.FAIL and self.status is not Status.EXISTING


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule checks, for SARIF `rules` and report legends."""

    id: str
    kind: RuleKind
    name: str
    severity: Severity
    short: str
    help: str = ""
    cwe: str = ""


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one `goproxy-scan scan` decided; every renderer reads only this."""

    main_module: str
    tool_version: str
    generated_at: str  # RFC 3339, UTC
    fail_on: Severity = Severity.HIGH
    go_version: str = ""  # the main module's go directive
    stdlib_version: str = ""  # the Go release go.mod builds with ("go1.22.0")
    main_requires: tuple[str, ...] = ()  # "path@version" keys the main module requires
    gomod_path: str = "go.mod"
    base_ref: str = ""
    policy_digest: str = ""
    verdict_source: str = "local"  # "proxy", "local" or "local-fallback"
    modules: tuple[ModuleResult, ...] = ()
    findings: tuple[FindingResult, ...] = ()
    rules: tuple[RuleInfo, ...] = ()
    notes: tuple[str, ...] = ()
    parse_errors: tuple[str, ...] = ()
    vulnerabilities: tuple[VulnResult, ...] = ()
    vulndb: str = ""  # the vulnerability database asked; "" when vulnerabilities were not checked
    vulndb_modified: str = ""  # its `modified` time
    schema_version: str = RESULT_SCHEMA_VERSION
    tool_name: str = field(default="goproxy-scan")

    def __post_init__(self) -> None:
        # Canonical order by construction, so equal results serialise to equal bytes.
        object.__setattr__(self, "modules", tuple(sorted(self.modules, key=_module_order)))
        object.__setattr__(self, "findings", tuple(sorted(self.findings, key=_finding_order)))
        object.__setattr__(self, "rules", tuple(sorted(self.rules, key=lambda r: r.id)))
        object.__setattr__(
            self, "vulnerabilities", tuple(sorted(self.vulnerabilities, key=_vuln_order))
        )

    @property
    def failing_modules(self) -> tuple[ModuleResult, ...]:
        return tuple(m for m in self.modules if m.fails)

    @property
    def failing_findings(self) -> tuple[FindingResult, ...]:
        return tuple(f for f in self.findings if f.fails(self.fail_on))

    @property
    def failing_vulnerabilities(self) -> tuple[VulnResult, ...]:
        return tuple(v for v in self.vulnerabilities if v.fails)

    @property
    def passed(self) -> bool:
        return (
            not self.failing_modules
            and not self.failing_findings
            and not self.failing_vulnerabilities
        )

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PASS if self.passed else ExitCode.VIOLATION

    def rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def summary_line(self) -> str:
        """The one line every renderer ends with: outcome and counts."""
        counts = {d: sum(1 for m in self.modules if m.decision is d) for d in Decision}
        active = [f for f in self.findings if not f.suppressed]
        suppressed = len(self.findings) - len(active)
        outcome = "PASS" if self.passed else "FAIL"
        text = (
            f"{outcome}: {len(self.modules)} modules ({counts[Decision.PASS]} pass, "
            f"{counts[Decision.REJECT]} rejected, {counts[Decision.REVIEW_REQUIRED]} need review), "
            f"{len(active)} findings ({suppressed} suppressed)"
        )
        vulns = self.failing_vulnerabilities
        if self.vulndb or self.vulnerabilities:
            # Only when they were checked: results without a database read as they always did.
            text += f", {len(self.vulnerabilities)} known vulnerabilities"
        if self.base_ref:
            text += f"; against {self.base_ref}: {len(self.failing_modules)} failing modules"
            if self.vulndb or self.vulnerabilities:
                text += f", {len(vulns)} failing vulnerabilities"
            text += f" and {len(self.failing_findings)} failing findings are new"
        else:
            failing = len(self.failing_modules) + len(self.failing_findings) + len(vulns)
            text += f"; {failing} fail the scan"
        return text

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, two-space indent, UTF-8, one trailing newline."""
        data = {"$schema": RESULT_SCHEMA_ID, **asdict(self)}
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, path: str = "result.json") -> ScanResult:
        """Load a saved result; raises InputError naming the file when it does not fit."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"not JSON: {e.msg}", path=path, line=e.lineno) from e
        # The version first: a newer document may carry fields this schema does not know.
        version = data.get("schema_version") if isinstance(data, dict) else None
        if (
            isinstance(version, str)
            and version.split(".")[0] != RESULT_SCHEMA_VERSION.split(".")[0]
        ):
            raise InputError(
                f"result schema {version} is not supported",
                path=path,
                hint=f"re-run the scan with this goproxy-scan (schema {RESULT_SCHEMA_VERSION})",
            )
        validate_result_json(data, path)
        return _result_from_dict(data)

    def with_status(
        self,
        modules: Mapping[str, tuple[Status, str]],
        findings: Mapping[str, Status],
        base_ref: str,
        vulnerabilities: Mapping[str, Status] | None = None,
    ) -> ScanResult:
        """A copy marked against a base: module key -> (status, previous version); fingerprints;
        vulnerability key -> status (`VulnResult.key`; those not given keep theirs)."""
        vuln_status = vulnerabilities or {}
        return replace(
            self,
            base_ref=base_ref,
            modules=tuple(
                replace(m, status=modules[m.key][0], previous_version=modules[m.key][1])
                if m.key in modules
                else m
                for m in self.modules
            ),
            findings=tuple(replace(f, status=findings.get(f.fingerprint)) for f in self.findings),
            vulnerabilities=tuple(
                replace(v, status=vuln_status.get(v.key, v.status)) for v in self.vulnerabilities
            ),
        )


def fingerprint(rule_id: str, path: str, line_text: str, ordinal: int = 0) -> str:
    """A finding's identity that survives edits elsewhere in the file.

    The rule, the file and the whitespace-normalised text of the line, plus the ordinal of
    equal lines, so moving code up or down keeps the fingerprint; editing the line changes it.
    """
    normal = " ".join(line_text.split())
    digest = hashlib.sha256(f"{rule_id}\0{path}\0{normal}\0{ordinal}".encode()).hexdigest()
    return digest[:32]


def fingerprint_findings(
    findings: Iterable[FindingResult], lines: Mapping[str, list[str]]
) -> tuple[FindingResult, ...]:
    """Fill in `fingerprint` from each file's lines (path -> lines, 1-based line numbers)."""
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for f in sorted(findings, key=_finding_order):
        file_lines = lines.get(f.path, [])
        text = file_lines[f.line - 1] if 0 < f.line <= len(file_lines) else ""
        key = (f.rule_id, f.path, " ".join(text.split()))
        ordinal = seen.get(key, 0)
        seen[key] = ordinal + 1
        out.append(replace(f, fingerprint=fingerprint(f.rule_id, f.path, text, ordinal)))
    return tuple(out)


def _module_order(m: ModuleResult) -> tuple[str, str]:
    return (m.path, m.version)


def _vuln_order(v: VulnResult) -> tuple[str, str, str]:
    return (v.module, v.version, v.id)


def _finding_order(f: FindingResult) -> tuple[str, int, int, str, str]:
    return (f.path, f.line, f.column, f.rule_id, f.message)


@cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of the result document (shipped beside this module)."""
    text = resources.files("scanner").joinpath("result.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_result_json(data: object, path: str = "result.json") -> None:
    """Raise InputError naming the first place where `data` breaks the result schema."""
    import jsonschema  # only needed when a saved result is read

    validator = jsonschema.Draft202012Validator(result_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(
            f"not a goproxy-scan result: at {where}: {error.message}",
            path=path,
            hint="pass a file written by `goproxy-scan scan --format json`",
        )


def _status(value: Any) -> Status | None:
    return None if value is None else Status(value)


def _result_from_dict(d: dict[str, Any]) -> ScanResult:
    modules = tuple(
        ModuleResult(
            **{
                **m,
                "decision": Decision(m["decision"]),
                "license_files": tuple(m["license_files"]),
                "reasons": tuple(Reason(**r) for r in m["reasons"]),
                "requires": tuple(m["requires"]),
                "status": _status(m["status"]),
            }
        )
        for m in d["modules"]
    )
    findings = tuple(
        FindingResult(**{**f, "severity": Severity(f["severity"]), "status": _status(f["status"])})
        for f in d["findings"]
    )
    rules = tuple(
        RuleInfo(**{**r, "kind": RuleKind(r["kind"]), "severity": Severity(r["severity"])})
        for r in d["rules"]
    )
    vulnerabilities = tuple(
        VulnResult(
            **{
                **v,
                "reachability": VulnReach(v["reachability"]),
                "outcome": VulnOutcome(v["outcome"]),
                "aliases": tuple(v["aliases"]),
                "symbols": tuple(v["symbols"]),
                "sites": tuple(VulnSite(**s) for s in v["sites"]),
                "status": _status(v["status"]),
            }
        )
        for v in d.get("vulnerabilities", ())  # absent in 1.0 results
    )
    # A re-rendered result is written by this version: it carries this schema version.
    nested = {"$schema", "schema_version", "modules", "findings", "rules", "vulnerabilities"}
    top = {k: v for k, v in d.items() if k not in nested}
    return ScanResult(
        **{
            **top,
            "fail_on": Severity(d["fail_on"]),
            "notes": tuple(d["notes"]),
            "main_requires": tuple(d["main_requires"]),
            "parse_errors": tuple(d["parse_errors"]),
            "modules": modules,
            "findings": findings,
            "rules": rules,
            "vulnerabilities": vulnerabilities,
        }
    )
