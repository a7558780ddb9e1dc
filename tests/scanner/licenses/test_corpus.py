"""The labelled corpus: every case from the SPDX texts must come out as labelled."""

from __future__ import annotations

import pytest

from scanner.licenses import TemplateIndex, detect_text

from .corpus import Case, corpus

CASES = corpus()
HIGH = 0.9


def _outcome(index: TemplateIndex, case: Case) -> tuple[set[str], bool]:
    matches = detect_text(case.text, index=index)
    high = {m.license_id for m in matches if m.confidence >= HIGH}
    unknown = any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)
    return high, unknown


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if not c.expected) >= 60  # modified, truncated, custom


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(index: TemplateIndex, case: Case) -> None:
    high, unknown = _outcome(index, case)
    assert high == case.expected
    assert unknown == case.unknown


def test_precision_and_recall(index: TemplateIndex, capsys: pytest.CaptureFixture[str]) -> None:
    tp = fp = fn = 0
    for case in CASES:
        high, _ = _outcome(index, case)
        tp += len(high & case.expected)
        fp += len(high - case.expected)
        fn += len(case.expected - high)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    with capsys.disabled():
        print(
            f"\nlicense corpus: {len(CASES)} cases, precision {precision:.3f}, "
            f"recall {recall:.3f} (tp={tp} fp={fp} fn={fn})"
        )
    # A wrong id with high confidence is the one mistake a policy cannot recover from.
    assert fp == 0
    assert recall >= 0.98


def test_modified_text_names_its_nearest_license(index: TemplateIndex) -> None:
    case = next(c for c in CASES if c.name == "Apache-2.0/modified")
    matches = detect_text(case.text, index=index)
    (match,) = [m for m in matches if m.license_id.startswith("LicenseRef-unknown-")]
    # The appendix's standard notice still names Apache-2.0, but only as a notice.
    assert all(m.confidence < HIGH for m in matches)
    assert match.nearest == "Apache-2.0"
    assert match.confidence <= 0.5


def test_span_covers_the_license_and_not_the_preamble(index: TemplateIndex) -> None:
    text = "Some project\n\nSee below for the license.\n\n" + next(
        c.text for c in CASES if c.name == "MIT/minimal"
    )
    (match,) = detect_text(text, index=index)
    assert match.license_id == "MIT"
    assert match.start_line >= 5
    assert match.end_line == len(text.rstrip("\n").splitlines())
