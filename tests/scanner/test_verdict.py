"""The verdict model: the JSON the proxy serves and the scanner reads back."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.verdict import Decision, LicenseFinding, Reason, Verdict

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
findings = st.builds(
    LicenseFinding,
    expression=st.sampled_from(["MIT", "Apache-2.0 OR MIT", "LicenseRef-unknown-0a1b2c3d4e5f"]),
    files=st.lists(text, max_size=3).map(tuple),
    confidence=st.floats(0, 1).map(lambda c: round(c, 4)),
    category=st.sampled_from(["permissive", "unknown", "strong-copyleft"]),
)
verdicts = st.builds(
    Verdict,
    module=text,
    version=text,
    decision=st.sampled_from(Decision),
    licenses=st.lists(findings, max_size=3).map(tuple),
    expression=text,
    reasons=st.lists(st.builds(Reason, rule_id=text, message=text), max_size=3).map(tuple),
    policy_digest=text,
    h1=text,
    detector_version=text,
    evaluated_at=text,
)


@given(verdicts)
def test_json_round_trip(verdict: Verdict) -> None:
    assert Verdict.from_json(verdict.to_json()) == verdict
    assert Verdict.from_json(verdict.to_json_text()) == verdict
    assert Verdict.from_json(verdict.to_json_text().encode()) == verdict


def test_wire_form_is_stable() -> None:
    verdict = Verdict(
        module="golang.org/x/text",
        version="v0.14.0",
        decision=Decision.REVIEW_REQUIRED,
        licenses=(LicenseFinding("BSD-3-Clause", ("LICENSE",), 1.0, "permissive"),),
        expression="BSD-3-Clause",
        reasons=(Reason("license.low-confidence", "check it"),),
        policy_digest="sha256:00",
        h1="h1:abc=",
        detector_version="d/1",
        evaluated_at="2026-01-01T00:00:00Z",
    )
    data = json.loads(verdict.to_json_text())
    assert data["schema_version"] == 1
    assert data["decision"] == "REVIEW_REQUIRED"
    assert data["licenses"] == [
        {
            "expression": "BSD-3-Clause",
            "files": ["LICENSE"],
            "confidence": 1.0,
            "category": "permissive",
        }
    ]
    assert not verdict.passed
    assert verdict.rule_ids() == ("license.low-confidence",)


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(ValueError, match="schema_version 2"):
        Verdict.from_json({"schema_version": 2, "module": "m", "version": "v", "decision": "PASS"})
