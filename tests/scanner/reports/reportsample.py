"""A scan result with one of everything the renderers show, built by hand, and golden files."""

from __future__ import annotations

import os
from pathlib import Path

from scanner.result import (
    FindingResult,
    ModuleResult,
    RuleInfo,
    RuleKind,
    ScanResult,
    Severity,
    Status,
)
from scanner.verdict import Decision, Reason

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("GOPROXY_SCAN_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/scanner/golden/NAME; GOPROXY_SCAN_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"missing golden {path}: run with GOPROXY_SCAN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, regenerate with "
        "GOPROXY_SCAN_UPDATE_GOLDEN=1 and review the diff"
    )


def make_result(*, base_ref: str = "origin/main") -> ScanResult:
    diff = bool(base_ref)
    new = Status.NEW if diff else None
    existing = Status.EXISTING if diff else None
    return ScanResult(
        main_module="example.com/shop",
        tool_version="0.1.0",
        generated_at="2026-01-02T03:04:05+00:00",
        fail_on=Severity.HIGH,
        go_version="1.22",
        stdlib_version="go1.27.3",
        main_requires=(
            "github.com/Azure/go-autorest@v14.2.0+incompatible",
            "example.com/gpl@v1.0.0",
            "example.com/mit@v1.2.0",
        ),
        base_ref=base_ref,
        policy_digest="sha256:" + "0" * 64,
        verdict_source="local-fallback",
        notes=("the proxy at http://127.0.0.1:1/-/verdicts cannot be reached; judged locally",),
        modules=(
            ModuleResult(
                path="example.com/gpl",
                version="v1.0.0",
                decision=Decision.REJECT,
                expression="GPL-3.0-only",
                license_files=("LICENSE",),
                reasons=(Reason("license.denied", "GPL-3.0-only is denied (strong-copyleft)"),),
                h1="h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                zip_sha256="5" * 64,
                require_line=6,
                requires=("example.com/mit@v1.0.0",),
                go_version="1.21",
                status=new,
            ),
            ModuleResult(
                path="example.com/mit",
                version="v1.2.0",
                decision=Decision.PASS,
                expression="MIT",
                declared="MIT",
                h1="h1:2Lx8XKmXbrBQz/pNiMHDE4VlFUKyW3TAk2D1rAK7t1Q=",
                require_line=7,
                status=Status.CHANGED if diff else None,
                previous_version="v1.1.0" if diff else "",
            ),
            ModuleResult(
                path="github.com/Azure/go-autorest",
                version="v14.2.0+incompatible",
                decision=Decision.REVIEW_REQUIRED,
                expression="LicenseRef-unknown",
                reasons=(Reason("license.unknown", "no license text matched, 100% | 0%"),),
                indirect=True,
                optional=True,
                require_line=5,
                replace="github.com/fork/go-autorest@v14.2.1+incompatible",
                status=existing,
            ),
        ),
        findings=(
            FindingResult(
                rule_id="GPS101",
                severity=Severity.HIGH,
                path="cmd/api/main.go",
                line=12,
                column=2,
                message='hard-coded credential in "password": 50%, a,b:c\nsecond line\r',
                cwe="CWE-798",
                fix="read the secret from the environment or a secret store",
                fingerprint="f" * 32,
                status=new,
            ),
            FindingResult(
                rule_id="GPS401",
                severity=Severity.MEDIUM,
                path="internal/hash.go",
                line=8,
                column=9,
                message="weak hash md5",
                cwe="CWE-328",
                fix="use crypto/sha256",
                fingerprint="e" * 32,
                status=existing,
            ),
            FindingResult(
                rule_id="GPS401",
                severity=Severity.MEDIUM,
                path="internal/etag.go",
                line=3,
                column=5,
                message="weak hash md5",
                cwe="CWE-328",
                suppressed=True,
                suppression_reason="ETag only, not security",
                fingerprint="d" * 32,
                status=new,
            ),
        ),
        rules=(
            RuleInfo(
                id="GPS101",
                kind=RuleKind.SOURCE,
                name="HardcodedCredential",
                severity=Severity.HIGH,
                short="Hard-coded credential",
                help="A secret in source code leaks with the code. Load it at run time.",
                cwe="CWE-798",
            ),
            RuleInfo(
                id="GPS401",
                kind=RuleKind.SOURCE,
                name="WeakHash",
                severity=Severity.MEDIUM,
                short="Weak hash (md5, sha1)",
                help="md5 and sha1 are broken for security use; use SHA-256 or better.",
                cwe="CWE-328",
            ),
        ),
    )
