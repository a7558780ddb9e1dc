"""OpenVEX (v0.2.0) statements from the evaluated vulnerabilities of one scan.

A vulnerability whose vulnerable code is called, by the main module or by a package it
compiles, is `affected` (with the fix as the action). `not_affected` is said only on proof from
the code the build compiles (scanner.vulndb.evidence): `vulnerable_code_not_present` when no
vulnerable package is compiled (and for a toolchain entry: the go command, not built code),
`vulnerable_code_not_in_execute_path` when one is but nothing names its vulnerable code.
Without proof the status is `under_investigation`, and the notes say what was missing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..sbom import module_purl
from .osv import STDLIB, TOOLCHAIN
from .policy import VulnFinding
from .reach import BuildReach, Reach, Reachability

OPENVEX_CONTEXT = "https://openvex.dev/ns/v0.2.0"
_NAMESPACE = uuid.UUID("2f5c8f4e-4d1a-4f0e-9a37-0b3f4e8c9d21")


def _purl(module: str, version: str) -> str:
    # The standard library and the toolchain are known to OSV tools by these names.
    name = STDLIB if module in (STDLIB, TOOLCHAIN) else module
    return str(module_purl(name, version))


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unproved(reach: Reach) -> str:
    """Why the build's code proves nothing for a finding (the note, or that it was not read)."""
    return reach.build_note or "the code the build compiles was not analysed"


def _statement(finding: VulnFinding, product: dict[str, Any]) -> dict[str, Any]:
    match, reach = finding.match, finding.reach
    vulnerability: dict[str, Any] = {"name": match.id}
    if match.url:
        vulnerability["@id"] = match.url
    if match.aliases:
        vulnerability["aliases"] = list(match.aliases)
    if match.summary:
        vulnerability["description"] = match.summary
    purl = _purl(match.module, match.version)
    sub = {"@id": purl, "identifiers": {"purl": purl}}
    statement: dict[str, Any] = {
        "vulnerability": vulnerability,
        "products": [{**product, "subcomponents": [sub]}],
    }
    if reach.level is Reachability.CALLED:
        where = ", ".join(f"{s.path}:{s.line}" for s in reach.sites[:5])
        statement["status"] = "affected"
        statement["status_notes"] = f"{', '.join(reach.symbols)} called at {where}"
        statement["action_statement"] = finding.fix_hint
    elif reach.build is BuildReach.CALLED:
        statement["status"] = "affected"
        statement["status_notes"] = f"called in the build: {reach.build_note}"
        statement["action_statement"] = finding.fix_hint
    elif match.module == TOOLCHAIN:
        statement["status"] = "not_affected"
        statement["justification"] = "vulnerable_code_not_present"
        statement["status_notes"] = "the vulnerability is in the go command, not in built code"
    elif reach.build is BuildReach.NOT_BUILT:
        statement["status"] = "not_affected"
        statement["justification"] = "vulnerable_code_not_present"
        statement["status_notes"] = reach.build_note
    elif reach.build is BuildReach.NOT_CALLED:
        statement["status"] = "not_affected"
        statement["justification"] = "vulnerable_code_not_in_execute_path"
        statement["status_notes"] = reach.build_note
    else:
        statement["status"] = "under_investigation"
        statement["status_notes"] = f"not proved unaffected: {unproved(reach)}"
    if finding.exception is not None:
        statement["status_notes"] += f"; policy exception: {finding.exception.reason}"
    return statement


def openvex_document(
    findings: Iterable[VulnFinding],
    *,
    main_module: str,
    main_version: str = "",
    now: datetime,
    author: str = "goproxy-scan",
) -> dict[str, Any]:
    """The OpenVEX document; its `@id` is derived from the content, so equal input is equal output.

    OpenVEX needs at least one statement: with no findings the caller writes no document.
    """
    product_id = str(module_purl(main_module, main_version))
    product = {"@id": product_id, "identifiers": {"purl": product_id}}
    statements = [
        _statement(f, product)
        for f in sorted(findings, key=lambda f: (f.match.id, f.match.module, f.match.version))
    ]
    if not statements:
        raise ValueError("an OpenVEX document needs at least one statement")
    digest = hashlib.sha256(json.dumps(statements, sort_keys=True).encode()).hexdigest()
    return {
        "@context": OPENVEX_CONTEXT,
        "@id": f"urn:uuid:{uuid.uuid5(_NAMESPACE, digest)}",
        "author": author,
        "timestamp": _rfc3339(now),
        "version": 1,
        "tooling": f"goproxy-scan {__version__}",
        "statements": statements,
    }


def render_openvex(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
