"""Evaluation: `(policy, module facts, now) -> Verdict`, a pure function.

Each license term is judged on its own (an explicit id beats its category; allow-listed terms
can still need review when detected with low confidence); `OR` takes the best alternative and
`AND` the worst, so `MIT OR GPL-3.0-only` passes an allow-list holding MIT and
`MIT AND GPL-3.0-only` does not. Exceptions and denied modules are matched on module path and
version; an expired exception stops applying and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import spdx
from ..licenses import LicenseReport, TemplateIndex, detect_zip, detector_version
from ..licenses.matcher import HEADER_CONFIDENCE
from ..verdict import Decision, LicenseFinding, Reason, Verdict
from .model import Action, LicenseException, Policy

_RANK = {Decision.PASS: 0, Decision.REVIEW_REQUIRED: 1, Decision.REJECT: 2}
_OF_ACTION = {
    Action.ALLOW: Decision.PASS,
    Action.REVIEW: Decision.REVIEW_REQUIRED,
    Action.REJECT: Decision.REJECT,
}
_UNKNOWN_PREFIX = "LicenseRef-unknown-"


@dataclass(frozen=True)
class ModuleFacts:
    """What is known about one module version when the policy judges it.

    `licenses` is the detector's report (None when nothing was detected); `declared` overrides
    the report's `//go:license`; `expression`, when given, is a license known for certain
    (`policy explain --license`, a verdict from elsewhere) and is judged as is.
    """

    module: str
    version: str
    h1: str = ""
    licenses: LicenseReport | None = None
    declared: str | None = None
    expression: str | None = None


@dataclass(frozen=True)
class _Outcome:
    decision: Decision
    reasons: tuple[Reason, ...]


def _best(outcomes: list[_Outcome]) -> _Outcome:
    top = min(_RANK[o.decision] for o in outcomes)
    chosen = [o for o in outcomes if _RANK[o.decision] == top]
    return _Outcome(chosen[0].decision, _merge(o.reasons for o in chosen[:1]))


def _worst(outcomes: list[_Outcome]) -> _Outcome:
    top = max(_RANK[o.decision] for o in outcomes)
    chosen = [o for o in outcomes if _RANK[o.decision] == top]
    return _Outcome(chosen[0].decision, _merge(o.reasons for o in chosen))


def _merge(groups: Iterable[tuple[Reason, ...]]) -> tuple[Reason, ...]:
    seen: dict[Reason, None] = {}
    for group in groups:
        for r in group:
            seen.setdefault(r, None)
    return tuple(seen)


def evaluate(policy: Policy, facts: ModuleFacts, now: datetime) -> Verdict:
    """Judge one module version. `now` is the injected clock (exception expiry, timestamp)."""
    mv = f"{facts.module}@{facts.version}"
    report = facts.licenses
    findings = report.findings() if report else ()
    expression, outcome = _judge(policy, facts, mv, findings, now)
    return Verdict(
        module=facts.module,
        version=facts.version,
        decision=outcome.decision,
        licenses=findings,
        expression=expression,
        reasons=outcome.reasons,
        policy_digest=policy.digest,
        h1=facts.h1,
        detector_version=report.detector_version if report else detector_version(),
        evaluated_at=now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _judge(
    policy: Policy,
    facts: ModuleFacts,
    mv: str,
    findings: tuple[LicenseFinding, ...],
    now: datetime,
) -> tuple[str, _Outcome]:
    rules = policy.licenses
    report = facts.licenses
    declared = facts.declared if facts.declared is not None else (report and report.declared)
    detected = report.expression if report else ""
    # Per term: the strongest evidence among the findings that name it.
    confidence: dict[str, float] = {}
    for f in findings:
        for term in spdx.terms(f.expression):
            confidence[str(term)] = max(confidence.get(str(term), 0.0), f.confidence)
    extra: list[_Outcome] = []
    if declared and not spdx.is_valid(declared):
        extra.append(
            _Outcome(
                _OF_ACTION[rules.declared_mismatch],
                (
                    Reason(
                        "license.declared-invalid",
                        f"{mv}: go.mod declares {declared!r}, which is not an SPDX expression; "
                        "the license files are judged instead",
                    ),
                ),
            )
        )
        declared = None
    if facts.expression:
        expression = spdx.normalize(facts.expression)
        confidence = {}
    elif detected and declared:
        root = report.root_expression if report else ""
        agree = {str(t) for t in spdx.terms(declared)} == {str(t) for t in spdx.terms(root)}
        if agree or not root:
            # The declaration carries the authors' OR; sub-directory licenses still apply.
            others = [f.expression for f in findings if any("/" in p for p in f.files)]
            expression = spdx.combine_and([declared, *others])
        else:
            expression = detected
            extra.append(
                _Outcome(
                    _OF_ACTION[rules.declared_mismatch],
                    (
                        Reason(
                            "license.declared-mismatch",
                            f"{mv}: go.mod declares {declared} but the license files hold "
                            f"{root}; fix the //go:license line or the license files",
                        ),
                    ),
                )
            )
    elif detected:
        expression = detected
    elif declared:
        expression = spdx.normalize(declared)
        confidence = {str(t): 0.0 for t in spdx.terms(expression)}
    else:
        expression = ""
    # A denied module is refused whatever its license; the verdict still says what that is.
    for denied in policy.denied_modules:
        if denied.covers(facts.module, facts.version):
            versions = f" {denied.versions}" if denied.versions.constraints else ""
            return expression, _Outcome(
                Decision.REJECT,
                (
                    Reason(
                        "module.denied",
                        f"{mv} is denied by the policy ({denied.module}{versions}): "
                        f"{denied.reason}; use another version or module",
                    ),
                ),
            )
    live, expired = _exceptions(policy, facts, now)
    notes = tuple(
        Reason(
            "exception.expired",
            f"{mv}: the exception for {e.describe()} expired on {e.expires}; it no longer "
            "applies - renew it or remove the module",
        )
        for e in expired
    )
    whole = _whole_exception(live, expression)
    if whole is not None:
        return expression, _Outcome(
            Decision.PASS,
            (
                *notes,
                Reason("exception.applied", f"{mv}: accepted by exception {whole.describe()}"),
            ),
        )
    if not expression:
        outcome = _Outcome(
            _OF_ACTION[rules.no_license],
            (
                Reason(
                    "license.none",
                    f"{mv} has no license file and declares no license: nobody granted rights "
                    "to use it; ask the authors to add one or request an exception",
                ),
            ),
        )
    else:
        outcome = spdx.evaluate(
            expression,
            lambda term: _judge_term(
                policy,
                term,
                mv,
                confidence,
                live,
                declared_only=bool(not detected and not facts.expression),
                files={f.expression: f.files for f in findings},
            ),
            _best,
            _worst,
        )
    final = _worst([outcome, *extra])
    return expression, _Outcome(final.decision, (*notes, *final.reasons))


def _found_in(files: dict[str, tuple[str, ...]] | None, name: str) -> str:
    """ " (text in LICENSE)": where the reviewer reads a term found in license files."""
    where = (files or {}).get(name)
    return f" (text in {', '.join(where)})" if where else ""


def _exceptions(
    policy: Policy, facts: ModuleFacts, now: datetime
) -> tuple[list[LicenseException], list[LicenseException]]:
    live: list[LicenseException] = []
    expired: list[LicenseException] = []
    for e in policy.exceptions:
        if e.covers(facts.module, facts.version):
            (expired if e.expired(now) else live).append(e)
    return live, expired


def _whole_exception(live: list[LicenseException], expression: str) -> LicenseException | None:
    for e in live:
        if e.license is None:
            return e
        if expression and spdx.simplify(e.license) == spdx.simplify(expression):
            return e
    return None


def _judge_term(
    policy: Policy,
    term: spdx.Term,
    mv: str,
    confidence: dict[str, float],
    live: list[LicenseException],
    *,
    declared_only: bool,
    files: dict[str, tuple[str, ...]] | None = None,
) -> _Outcome:
    rules = policy.licenses
    name = str(term)
    for e in live:
        if e.license == name:
            return _Outcome(
                Decision.PASS,
                (
                    Reason(
                        "exception.applied", f"{mv}: {name} accepted by exception {e.describe()}"
                    ),
                ),
            )
    category = spdx.category(term)
    allow, deny = set(rules.allow), set(rules.deny)
    where = policy.source
    unknown = term.license_id.startswith(_UNKNOWN_PREFIX) or category is spdx.Category.UNKNOWN
    if name in allow or (term.exception and term.license_id in allow and name not in deny):
        outcome = _Outcome(Decision.PASS, (Reason("license.allowed", f"{mv}: {name} is allowed"),))
    elif name in deny or (term.exception and term.license_id in deny):
        outcome = _Outcome(
            Decision.REJECT,
            (
                Reason(
                    "license.denied",
                    f"{mv}: {name} is denied by the policy ({where} licenses.deny); choose "
                    "another module or request an exception",
                ),
            ),
        )
    elif unknown and "unknown" not in allow and "unknown" not in deny:
        outcome = _Outcome(
            _OF_ACTION[rules.unknown],
            (
                Reason(
                    "license.unknown",
                    f"{mv}: {name}{_found_in(files, name)} is not a license the policy can judge"
                    " (no SPDX template matches its text); have it reviewed, then add an"
                    " exception",
                ),
            ),
        )
    elif category.value in deny:
        outcome = _Outcome(
            Decision.REJECT,
            (
                Reason(
                    "license.category-denied",
                    f"{mv}: {name} is {category.value}, a category the policy denies "
                    f"({where} licenses.deny); choose another module or request an exception",
                ),
            ),
        )
    elif category.value in allow:
        outcome = _Outcome(
            Decision.PASS,
            (Reason("license.allowed", f"{mv}: {name} is {category.value}, which is allowed"),),
        )
    else:
        outcome = _Outcome(
            _OF_ACTION[rules.not_listed],
            (
                Reason(
                    "license.not-listed",
                    f"{mv}: {name} ({category.value}) is neither allowed nor denied by the "
                    f"policy ({where}); add it to licenses.allow or licenses.deny",
                ),
            ),
        )
    seen = confidence.get(name, confidence.get(term.license_id))
    if outcome.decision is Decision.PASS and seen is not None and seen < rules.min_confidence:
        if declared_only:
            rule, why = (
                "license.declared-only",
                "is only declared in go.mod; no license file holds it",
            )
        elif seen >= HEADER_CONFIDENCE:
            rule, why = (
                "license.low-confidence",
                "is only named (a standard notice, an SPDX line or a statement of choice); no"
                f" license file holds its text (confidence {seen:.2f} < min_confidence"
                f" {rules.min_confidence:g})",
            )
        else:
            rule, why = "license.low-confidence", f"was detected with confidence {seen:.2f}"
        outcome = _worst(
            [
                outcome,
                _Outcome(
                    _OF_ACTION[rules.low_confidence],
                    (Reason(rule, f"{mv}: {name} {why}; check the license files by hand"),),
                ),
            ]
        )
    return outcome


def judge_zip(
    policy: Policy,
    zip_data: bytes | Path,
    module: str,
    version: str,
    now: datetime,
    *,
    index: TemplateIndex | None = None,
) -> Verdict:
    """Detect the licenses of a module zip and judge it: the auditor's one call."""
    from ..dirhash import hash_zip

    report = detect_zip(zip_data, module, version, index=index)
    facts = ModuleFacts(module=module, version=version, h1=hash_zip(zip_data), licenses=report)
    return evaluate(policy, facts, now)
