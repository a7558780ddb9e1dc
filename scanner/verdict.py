"""The verdict model: what the policy decided about one module version, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Bumped when the JSON shape changes; from_json() refuses shapes it does not know.
VERDICT_SCHEMA_VERSION = 1


class Decision(StrEnum):
    """The closed set of outcomes; the proxy answers 403 for REJECT, the scanner exits 1."""

    PASS = "PASS"
    REJECT = "REJECT"
    REVIEW_REQUIRED = "REVIEW_REQUIRED"


@dataclass(frozen=True)
class LicenseFinding:
    """One license the detector found (or the module declared), with where and how sure.

    `expression` is an SPDX expression (a single id, or `LicenseRef-…` for unknown text);
    `files` are slash paths relative to the module root; `confidence` is 0..1 (1.0 means the
    text matched the official SPDX template exactly); `category` is a scanner.spdx category.
    """

    expression: str
    files: tuple[str, ...]
    confidence: float
    category: str = "unknown"

    def to_json(self) -> dict[str, Any]:
        return {
            "expression": self.expression,
            "files": list(self.files),
            "confidence": round(self.confidence, 4),
            "category": self.category,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LicenseFinding:
        return cls(
            expression=str(data["expression"]),
            files=tuple(str(f) for f in data.get("files", ())),
            confidence=float(data.get("confidence", 0.0)),
            category=str(data.get("category", "unknown")),
        )


@dataclass(frozen=True)
class Reason:
    """Why a decision was taken: a stable rule id (scripts match on it) and a sentence."""

    rule_id: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        return cls(rule_id=str(data["rule_id"]), message=str(data["message"]))


@dataclass(frozen=True)
class Verdict:
    """The policy's decision on the exact bytes of one module version.

    `expression` is the module's combined SPDX expression (the AND of what was found, or the
    declared one); `h1` names the zip that was judged; `policy_digest` names the policy;
    `evaluated_at` is an ISO-8601 UTC timestamp from the injected clock.
    """

    module: str
    version: str
    decision: Decision
    licenses: tuple[LicenseFinding, ...]
    expression: str
    reasons: tuple[Reason, ...]
    policy_digest: str
    h1: str
    detector_version: str
    evaluated_at: str

    @property
    def passed(self) -> bool:
        return self.decision is Decision.PASS

    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.reasons)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stable key order); `json.dumps(v.to_json())` is the wire form."""
        return {
            "schema_version": VERDICT_SCHEMA_VERSION,
            "module": self.module,
            "version": self.version,
            "decision": self.decision.value,
            "expression": self.expression,
            "licenses": [f.to_json() for f in self.licenses],
            "reasons": [r.to_json() for r in self.reasons],
            "policy_digest": self.policy_digest,
            "h1": self.h1,
            "detector_version": self.detector_version,
            "evaluated_at": self.evaluated_at,
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any] | str | bytes) -> Verdict:
        """Rebuild a verdict from `to_json()` output (a dict, or its JSON text)."""
        if isinstance(data, str | bytes):
            data = json.loads(data)
        assert isinstance(data, dict)
        version = data.get("schema_version", VERDICT_SCHEMA_VERSION)
        if version != VERDICT_SCHEMA_VERSION:
            raise ValueError(
                f"verdict schema_version {version} is not {VERDICT_SCHEMA_VERSION}: "
                "upgrade goproxy-scan to read it"
            )
        return cls(
            module=str(data["module"]),
            version=str(data["version"]),
            decision=Decision(data["decision"]),
            licenses=tuple(LicenseFinding.from_json(f) for f in data.get("licenses", ())),
            expression=str(data.get("expression", "")),
            reasons=tuple(Reason.from_json(r) for r in data.get("reasons", ())),
            policy_digest=str(data.get("policy_digest", "")),
            h1=str(data.get("h1", "")),
            detector_version=str(data.get("detector_version", "")),
            evaluated_at=str(data.get("evaluated_at", "")),
        )
