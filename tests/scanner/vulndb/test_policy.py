"""evaluate_vulns: fail by reachability level and by id, exceptions with reason and expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import yaml

from scanner.errors import InputError
from scanner.module import ModuleVersion
from scanner.policy import default_policy, parse_policy
from scanner.vulndb.index import VulnIndex
from scanner.vulndb.match import match_modules
from scanner.vulndb.policy import VulnOutcome, VulnPolicy, evaluate_vulns, fix_hint, vuln_policy
from scanner.vulndb.reach import Reach, Reachability, ReachableMatch, Site

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _gin(index: VulnIndex, level: Reachability) -> list[ReachableMatch]:
    (match,) = [
        m
        for m in match_modules(index, [ModuleVersion("github.com/gin-gonic/gin", "v1.5.0")])
        if m.id == "GO-2020-0001"
    ]
    sites = (Site("main.go", 9, 7),) if level is not Reachability.REQUIRED else ()
    symbols = ("Default",) if level is Reachability.CALLED else ()
    return [ReachableMatch(match, Reach(level, sites, symbols))]


@pytest.mark.parametrize(
    ("fail_on", "level", "outcome"),
    [
        ("called", Reachability.CALLED, VulnOutcome.FAIL),
        ("called", Reachability.IMPORTED, VulnOutcome.PASS),
        ("imported", Reachability.IMPORTED, VulnOutcome.FAIL),
        ("imported", Reachability.REQUIRED, VulnOutcome.PASS),
        ("required", Reachability.REQUIRED, VulnOutcome.FAIL),
        ("never", Reachability.CALLED, VulnOutcome.PASS),
    ],
)
def test_fail_by_reachability_level(
    full_index: VulnIndex, fail_on: str, level: Reachability, outcome: VulnOutcome
) -> None:
    policy = VulnPolicy.from_mapping({"fail_on": fail_on})
    (finding,) = evaluate_vulns(policy, _gin(full_index, level), NOW)
    assert finding.outcome is outcome
    assert finding.rule_id == f"vuln-{level.value}"
    assert finding.fix_hint == "go get github.com/gin-gonic/gin@v1.6.0"
    assert "github.com/gin-gonic/gin@v1.5.0 has GO-2020-0001 (CVE-2020-36567" in finding.reason


def test_called_reason_names_the_call_site(full_index: VulnIndex) -> None:
    (finding,) = evaluate_vulns(VulnPolicy(), _gin(full_index, Reachability.CALLED), NOW)
    assert "Default called at main.go:9" in finding.reason


def test_deny_by_id_or_alias_fails_at_any_level(full_index: VulnIndex) -> None:
    for ident in ("GO-2020-0001", "CVE-2020-36567", "GHSA-6vm3-jj99-7229"):
        policy = VulnPolicy.from_mapping({"fail_on": "never", "deny": [ident]})
        (finding,) = evaluate_vulns(policy, _gin(full_index, Reachability.REQUIRED), NOW)
        assert finding.fails and finding.rule_id == "vuln-denied"


def test_exceptions_with_reason_and_expiry(full_index: VulnIndex) -> None:
    section = yaml.safe_load(
        """
        fail_on: required
        exceptions:
          - id: CVE-2020-36567
            module: github.com/gin-gonic/gin
            reason: logs are not parsed downstream; upgrade in PLAT-42
            expires: 2026-11-26
        """
    )
    policy = VulnPolicy.from_mapping(section, ".goproxy-scan.yml")
    assert policy.exceptions[0].expires == date(2026, 11, 26)
    matches = _gin(full_index, Reachability.CALLED)
    (today,) = evaluate_vulns(policy, matches, NOW)  # still valid on its last day
    assert today.outcome is VulnOutcome.EXCEPTED and today.rule_id == "vuln-excepted"
    assert "excepted until 2026-11-26: logs are not parsed downstream" in today.reason
    (later,) = evaluate_vulns(policy, matches, datetime(2026, 11, 27, 0, 1, tzinfo=UTC))
    assert later.fails and "the exception expired on 2026-11-26" in later.reason
    other_module = VulnPolicy.from_mapping(
        {"fail_on": "called", "exceptions": [{"id": "GO-2020-0001", "module": "x", "reason": "r"}]}
    )
    assert evaluate_vulns(other_module, matches, NOW)[0].fails


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"fail_on": "sometimes"}, "unknown level 'sometimes'"),
        ({"fial_on": "called"}, "unknown key vulnerabilities.fial_on"),
        ({"exceptions": [{"id": "GO-2020-0001"}]}, "needs a reason"),
        ({"exceptions": [{"id": "GO-1", "reason": "r", "expires": "soon"}]}, "is not a date"),
        ({"deny": "GO-2020-0001"}, "must be a list"),
    ],
)
def test_bad_policy_sections_name_the_file_and_key(section: object, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        VulnPolicy.from_mapping(section, "policy.yml")
    assert str(err.value).startswith("policy.yml: ")


def test_fix_hints_for_the_standard_library(full_index: VulnIndex) -> None:
    (match,) = [
        m for m in match_modules(full_index, [], go_version="1.19") if m.id == "GO-2022-0969"
    ]
    assert fix_hint(match) == "build with Go go1.19.1 or later (go.mod toolchain line)"


def test_the_section_of_a_policy_file(full_index: VulnIndex) -> None:
    policy = parse_policy(
        "vulnerabilities:\n  fail_on: required\n  exceptions:\n"
        "    - id: GHSA-6vm3-jj99-7229\n      reason: accepted risk\n      expires: 2027-01-31\n",
        ".goproxy-scan.yml",
    )
    (finding,) = evaluate_vulns(vuln_policy(policy), _gin(full_index, Reachability.REQUIRED), NOW)
    assert finding.outcome is VulnOutcome.EXCEPTED
    assert vuln_policy(default_policy()) == VulnPolicy()
    with pytest.raises(InputError, match="fail_on"):
        parse_policy("vulnerabilities:\n  fail_on: sometimes\n", ".goproxy-scan.yml")
