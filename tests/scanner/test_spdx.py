"""SPDX expressions: parsing through license-expression, categories, and evaluation laws."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import spdx
from scanner.policy import (
    LicenseException,
    ModuleFacts,
    Policy,
    allowlist_policy,
    default_policy,
    evaluate,
)
from scanner.verdict import Decision

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POOL = [
    "MIT",
    "Apache-2.0",
    "BSD-3-Clause",
    "MPL-2.0",
    "GPL-3.0-only",
    "AGPL-3.0-only",
    "CC0-1.0",
    "BUSL-1.1",
    "LicenseRef-unknown-0123456789ab",
    "GPL-2.0-only WITH Classpath-exception-2.0",
]
RANK = {Decision.PASS: 0, Decision.REVIEW_REQUIRED: 1, Decision.REJECT: 2}
POLICIES = [default_policy(), allowlist_policy("MIT,Apache-2.0,BSD-3-Clause")]


def test_normalise_and_simplify() -> None:
    assert spdx.normalize("mit or gpl-2.0+") == "MIT OR GPL-2.0-or-later"
    assert spdx.normalize("GPL-2.0") == "GPL-2.0-only"
    assert spdx.simplify("MIT OR MIT") == "MIT"
    assert spdx.simplify("(MIT AND Apache-2.0) OR MIT") == "MIT"
    assert spdx.combine_and(["MIT", "Apache-2.0", "MIT"]) == "Apache-2.0 AND MIT"
    assert spdx.combine_and([]) == ""
    assert [str(t) for t in spdx.terms("MIT OR (GPL-2.0-only WITH Classpath-exception-2.0)")] == [
        "MIT",
        "GPL-2.0-only WITH Classpath-exception-2.0",
    ]


@pytest.mark.parametrize(
    "bad", ["", "MIT AND", "Foo-Bar-1.0", "Classpath-exception-2.0", "MIT WITH MIT", "(MIT"]
)
def test_invalid_expressions_are_input_errors(bad: str) -> None:
    with pytest.raises(spdx.ExpressionError):
        spdx.parse(bad)
    assert not spdx.is_valid(bad)


@pytest.mark.parametrize(
    ("term", "category"),
    [
        ("MIT", "permissive"),
        ("0BSD", "permissive"),
        ("Apache-2.0", "permissive"),
        ("ISC", "permissive"),
        ("Zlib", "permissive"),
        ("BSL-1.0", "permissive"),
        ("CC0-1.0", "public-domain"),
        ("Unlicense", "public-domain"),
        ("MPL-2.0", "weak-copyleft"),
        ("LGPL-2.1-only", "weak-copyleft"),
        ("EPL-2.0", "weak-copyleft"),
        ("GPL-3.0-or-later", "strong-copyleft"),
        ("AGPL-3.0-only", "network-copyleft"),
        ("SSPL-1.0", "network-copyleft"),
        ("BUSL-1.1", "proprietary"),
        ("LicenseRef-unknown-abc", "unknown"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "weak-copyleft"),
    ],
)
def test_categories(term: str, category: str) -> None:
    assert spdx.category(term).value == category


def expressions() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(POOL)

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(children, st.sampled_from([" AND ", " OR "]), children).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"
        )

    return st.recursive(leaf, extend, max_leaves=6)


def decide(policy: Policy, expression: str, now: datetime = NOW) -> Decision:
    return evaluate(
        policy, ModuleFacts("example.com/m", "v1.0.0", expression=expression), now
    ).decision


@settings(max_examples=60, deadline=None)
@given(a=expressions(), b=expressions(), p=st.sampled_from(POLICIES))
def test_or_takes_the_better_and_the_worse(a: str, b: str, p: Policy) -> None:
    da, db = decide(p, a), decide(p, b)
    assert decide(p, f"{a} OR {b}") == min(da, db, key=RANK.__getitem__)
    assert decide(p, f"{a} AND {b}") == max(da, db, key=RANK.__getitem__)
    assert decide(p, f"{b} OR {a}") == decide(p, f"{a} OR {b}")
    assert decide(p, f"{b} AND {a}") == decide(p, f"{a} AND {b}")


@settings(max_examples=60, deadline=None)
@given(a=expressions(), p=st.sampled_from(POLICIES))
def test_idempotence_and_simplification_keep_the_decision(a: str, p: Policy) -> None:
    assert decide(p, f"{a} OR {a}") == decide(p, a)
    assert decide(p, f"{a} AND {a}") == decide(p, a)
    assert decide(p, spdx.simplify(a)) == decide(p, a)


@settings(max_examples=40, deadline=None)
@given(a=expressions(), b=expressions(), c=expressions(), p=st.sampled_from(POLICIES))
def test_distributivity(a: str, b: str, c: str, p: Policy) -> None:
    assert decide(p, f"{a} AND ({b} OR {c})") == decide(p, f"({a} AND {b}) OR ({a} AND {c})")


@given(st.sampled_from(POOL))
def test_every_id_has_one_category(term: str) -> None:
    assert spdx.category(term) in set(spdx.Category)


@pytest.mark.parametrize("base", ["GPL-2.0-only", "GPL-3.0-only", "LGPL-2.1-only"])
@pytest.mark.parametrize("exception", ["Classpath-exception-2.0", "GCC-exception-3.1"])
def test_a_linking_exception_never_makes_a_license_stricter(base: str, exception: str) -> None:
    order = ["public-domain", "permissive", "weak-copyleft", "strong-copyleft"]
    with_exc = spdx.category(f"{base} WITH {exception}").value
    assert order.index(with_exc) <= order.index(spdx.category(base).value)


def test_with_exceptions_are_honoured() -> None:
    policy = default_policy()  # allows weak-copyleft, denies strong-copyleft
    assert decide(policy, "GPL-2.0-only") is Decision.REJECT
    assert decide(policy, "GPL-2.0-only WITH Classpath-exception-2.0") is Decision.PASS
    explicit = Policy(
        licenses=allowlist_policy(["GPL-2.0-only WITH Classpath-exception-2.0"]).licenses
    )
    assert decide(explicit, "GPL-2.0-only WITH Classpath-exception-2.0") is Decision.PASS
    assert decide(explicit, "GPL-2.0-only") is Decision.REJECT


@settings(max_examples=80, deadline=None)
@given(
    expires=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31)),
)
def test_exception_expiry_follows_the_injected_clock(expires: date, now: datetime) -> None:
    now = now.replace(tzinfo=UTC)
    exception = LicenseException(
        module="example.com/m", reason="legal said yes", approver="legal", expires=expires
    )
    policy = Policy(licenses=default_policy().licenses, exceptions=(exception,))
    verdict = evaluate(
        policy, ModuleFacts("example.com/m", "v1.0.0", expression="AGPL-3.0-only"), now
    )
    if now.date() <= expires:
        assert verdict.decision is Decision.PASS
        assert "exception.applied" in verdict.rule_ids()
    else:
        assert verdict.decision is Decision.REJECT
        assert "exception.expired" in verdict.rule_ids()
        assert "exception.applied" not in verdict.rule_ids()
    # The last day still counts; the day after does not.
    last = datetime.combine(expires, datetime.max.time(), UTC)
    assert decide(policy, "AGPL-3.0-only", last) is Decision.PASS
    day_after = last + timedelta(seconds=1)
    assert decide(policy, "AGPL-3.0-only", day_after) is Decision.REJECT
