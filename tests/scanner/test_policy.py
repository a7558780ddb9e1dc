"""The policy file and its evaluation: loading errors, digest, rules, exceptions, verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from licenses.corpus import render

from scanner.cli import cli, run
from scanner.dirhash import hash_zip
from scanner.errors import ParseError
from scanner.licenses import TemplateIndex, detect_files, load_index
from scanner.modzip import create_zip_from_files
from scanner.policy import (
    ModuleFacts,
    VersionRange,
    allowlist_policy,
    default_policy,
    evaluate,
    judge_zip,
    load_policy,
    module_matches,
    parse_policy,
)
from scanner.verdict import Decision, Verdict

NOW = datetime(2026, 6, 1, tzinfo=UTC)

COMPANY = """\
version: 1
name: example corp
licenses:
  allow: [permissive, public-domain, MPL-2.0]
  deny: [network-copyleft, strong-copyleft]
  unknown: reject
  low_confidence: review
exceptions:
  - module: github.com/acme/*
    versions: ">=v1.2.0, <v2.0.0"
    license: GPL-3.0-only
    reason: internal tool, never shipped
    approver: legal@example.com
    expires: 2026-12-31
  - module: example.com/old
    reason: grandfathered
    approver: cto@example.com
    expires: 2025-01-01
denied_modules:
  - module: github.com/evil
    reason: compromised maintainer account
  - module: example.com/buggy
    versions: "<v1.4.2"
    reason: CVE-2024-0001
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> TemplateIndex:
    return load_index(tmp_path_factory.mktemp("spdx"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / ".goproxy-scan.yml"
    p.write_text(text)
    return p


def judge(policy_text: str, module: str, version: str, expression: str) -> Verdict:
    policy = parse_policy(policy_text, "policy.yml")
    return evaluate(policy, ModuleFacts(module, version, expression=expression), NOW)


# --- loading ----------------------------------------------------------------------------------


def test_bad_key_names_file_line_and_key(tmp_path: Path) -> None:
    p = write(tmp_path, "version: 1\nlicenses:\n  allow: [MIT]\n  alow: [ISC]\n")
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert e.value.path == str(p)
    assert e.value.line == 4
    assert "licenses.alow" in str(e.value)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("licenses:\n  unknown: maybe\n", 2, "licenses.unknown"),
        ("licenses:\n  allow: [Foo-License]\n", 2, "Foo-License"),
        (
            "exceptions:\n  - module: x\n    reason: r\n    approver: a\n    expires: soon\n",
            5,
            "exceptions[0].expires: soon is not a date",
        ),
        ("exceptions:\n  - module: x\n    reason: r\n", 2, "approver"),
        (
            "denied_modules:\n  - module: x\n    reason: r\n    versions: '>=banana'\n",
            4,
            "banana",
        ),
        ("licenses: [MIT\n", 2, "flow sequence on line 1"),
        ("- just a list\n", 1, "mapping"),
        # YAML values JSON has no type for: jsonschema-rs cannot take them, jsonschema words it
        ("licenses:\n  allow: !!set {MIT: null}\n", 2, "licenses.allow"),
        # an alias inside its own anchor: a RecursionError traceback
        ("licenses: &a\n  allow: *a\n", None, "alias refers to the node that holds it"),
    ],
)
def test_invalid_policies(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert words in str(e.value)
    assert e.value.path == str(p)
    if line is not None:
        assert e.value.line == line


@pytest.mark.parametrize(
    ("severities", "line", "hint"),
    [
        ('{GPS013: "off"}', 5, "did you mean GPS103 weak-hash or GPS113 decompression-bomb?"),
        ("\n    GPS103: low\n    gps101: critical", 7, "did you mean GPS101 hardcoded-credential?"),
        ("{GPS999: high}", 5, "rule ids: GPS100, GPS101,"),
    ],
    ids=["swapped-digits", "lower-case", "no-such-rule"],
)
def test_a_severity_for_an_unknown_rule_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], severities: str, line: int, hint: str
) -> None:
    """It changed nothing, so the rule meant went on failing the scan, unnoticed."""
    p = write(
        tmp_path,
        f"version: 1\nlicenses:\n  allow: [MIT]\nsource_rules:\n  severities: {severities}\n",
    )
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert (e.value.path, e.value.line) == (str(p), line)
    assert "is not a source rule id" in e.value.message
    assert e.value.hint is not None and hint in e.value.hint
    assert run(cli, ["policy", "check", str(p)]) == 2
    assert f"{p}:{line}: source_rules.severities:" in capsys.readouterr().err


def test_severities_for_every_known_rule_load() -> None:
    from scanner.rules import RULES

    table = ", ".join(f'{r.id}: "off"' for r in RULES)
    policy = parse_policy(
        f"licenses: {{allow: [MIT]}}\nsource_rules: {{severities: {{{table}}}}}\n"
    )
    assert dict(policy.source_rules.severities) == {r.id: "off" for r in RULES}


def test_the_docs_examples_name_only_rules_that_exist() -> None:
    """docs/policy.md's own example set a severity for GPS001, an id no rule has."""
    import re

    from scanner.rules import BY_ID

    docs = Path(__file__).parents[2] / "docs"
    examples = [
        block
        for doc in docs.glob("*.md")
        for block in re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
    ]
    named = {i for block in examples for i in re.findall(r"\bGPS\d+\b", block)}
    assert named and named <= set(BY_ID), sorted(named - set(BY_ID))


@pytest.mark.parametrize(
    ("text", "license", "allow_line", "deny_line"),
    [
        ("licenses:\n  allow: [MIT, ISC]\n  deny:\n    - GPL-3.0-only\n    - mit\n", "MIT", 2, 5),
        ("licenses:\n  deny: [permissive]\n  allow:\n    - permissive\n", "permissive", 4, 2),
        (
            "version: 1\nlicenses:\n  allow:\n    - GPL-2.0-only WITH Classpath-exception-2.0\n"
            "  deny: [gpl-2.0-only with classpath-exception-2.0]\n",
            "GPL-2.0-only WITH Classpath-exception-2.0",
            4,
            5,
        ),
    ],
    ids=["spelled-differently", "category", "with-exception"],
)
def test_a_license_both_allowed_and_denied_is_refused(
    tmp_path: Path, text: str, license: str, allow_line: int, deny_line: int
) -> None:
    """Evaluation let the allow win silently: a deny someone added did nothing."""
    p = write(tmp_path, text)
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert str(e.value) == (
        f"{p}:{max(allow_line, deny_line)}: {license} is both allowed ({p}:{allow_line}) and "
        f"denied ({p}:{deny_line}) (a license is allowed or denied, not both: remove it from "
        "one of the lists)"
    )


def test_an_id_beside_its_own_category_is_no_conflict() -> None:
    # An explicit id beats its category: "deny permissive but allow MIT" is a policy.
    policy = parse_policy("licenses:\n  allow: [MIT]\n  deny: [permissive]\n")
    assert policy.licenses.allow == ("MIT",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# to do: write the policy\n",
        "{}\n",
        "version: 1\nname: example corp\n",
        "licenses: {}\n",
        "licenses:\n  allow: []\n  deny: []\nexceptions: []\n",
    ],
    ids=["empty", "comment", "empty-mapping", "version-only", "empty-section", "empty-lists"],
)
def test_a_policy_without_rules_is_refused(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was accepted, and judged every module REVIEW_REQUIRED (nothing was allowed)."""
    p = write(tmp_path, text)
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert e.value.path == str(p)
    assert e.value.message == "the policy has no rules"
    assert "licenses: {allow: [permissive], deny: [strong-copyleft]}" in str(e.value)
    assert "goproxy-scan policy default" in str(e.value)
    assert run(cli, ["policy", "check", str(p)]) == 2
    assert capsys.readouterr().err == f"error: {e.value}\n"


def test_a_policy_of_settings_alone_still_loads() -> None:
    # Settings for the scanner or the vulnerability check are something to say.
    assert parse_policy("scan:\n  offline: true\n").section("scan") == {"offline": True}


def test_a_valid_policy_loads_without_the_python_jsonschema() -> None:
    # Every scan loads a policy: jsonschema-rs checks it, and the pure-Python jsonschema (a
    # tenth of a second to import) is left for wording errors.
    code = (
        "import sys; import scanner.policy as p; p.default_policy(); "
        "print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_other_sections_are_kept_for_their_owners() -> None:
    policy = parse_policy("vulnerabilities:\n  fail_on: called\nscan:\n  offline: true\n")
    assert policy.section("vulnerabilities") == {"fail_on": "called"}
    assert policy.section("scan") == {"offline": True}


def test_digest_is_of_the_normalised_policy() -> None:
    a = parse_policy("licenses:\n  allow: [MIT, apache-2.0]\n  deny: [GPL-3.0-only]\n")
    b = parse_policy("# reordered\nlicenses:\n  deny: [gpl-3.0-only]\n  allow: [Apache-2.0, mit]\n")
    c = parse_policy("licenses:\n  allow: [MIT]\n  deny: [GPL-3.0-only]\n")
    assert a.digest == b.digest
    assert a.digest != c.digest
    assert a.digest.startswith("sha256:") and len(a.digest) == 71
    scan_only = parse_policy(
        "licenses:\n  allow: [MIT, apache-2.0]\n  deny: [GPL-3.0-only]\nscan:\n  jobs: 2\n"
    )
    assert scan_only.digest == a.digest  # scanner settings do not change a verdict


def test_default_policy_is_valid_and_checkable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = default_policy()
    assert "strong-copyleft" in policy.licenses.deny
    assert run(cli, ["policy", "default"]) == 0
    p = tmp_path / "copy.yml"
    p.write_text(capsys.readouterr().out)
    assert load_policy(p).digest == policy.digest
    assert run(cli, ["policy", "check", str(p)]) == 0
    assert policy.digest in capsys.readouterr().out


def test_policy_check_warns_about_expired_exceptions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = write(tmp_path, COMPANY)
    assert run(cli, ["policy", "check", str(p), "--now", "2026-06-01"]) == 0
    err = capsys.readouterr().err
    assert "expired on 2025-01-01" in err and "example.com/old" in err
    bad = write(tmp_path, "licenses:\n  deny: [nope-1.0]\n")
    assert run(cli, ["policy", "check", str(bad)]) == 2


# --- selectors --------------------------------------------------------------------------------


def test_module_patterns_work_like_goprivate() -> None:
    assert module_matches("github.com/acme/*", "github.com/acme/tool")
    assert module_matches("github.com/acme/*", "github.com/acme/tool/v2")
    assert module_matches("github.com/evil", "github.com/evil/sub")
    assert not module_matches("github.com/acme/*", "github.com/acmecorp/tool")
    assert not module_matches("github.com/acme/tool", "github.com/acme")


def test_version_ranges() -> None:
    r = VersionRange.parse(">=v1.2.0, <v2.0.0")
    assert r.contains("v1.2.0") and r.contains("v1.9.9-rc.1")
    assert not r.contains("v1.1.9") and not r.contains("v2.0.0")
    assert VersionRange.parse("1.4.2").contains("v1.4.2")
    assert VersionRange.parse(None).contains("v0.0.0-20240101000000-abcdefabcdef")


# --- evaluation -------------------------------------------------------------------------------


def test_the_issue_examples_with_the_seed_allow_list() -> None:
    policy = allowlist_policy("MIT,Apache-2.0,BSD-3-Clause")
    facts = lambda e: ModuleFacts("example.com/m", "v1.0.0", expression=e)  # noqa: E731
    assert evaluate(policy, facts("MIT OR GPL-3.0-only"), NOW).decision is Decision.PASS
    rejected = evaluate(policy, facts("MIT AND GPL-3.0-only"), NOW)
    assert rejected.decision is Decision.REJECT
    assert rejected.rule_ids() == ("license.not-listed",)
    assert "GPL-3.0-only" in rejected.reasons[0].message
    assert evaluate(policy, facts("ISC"), NOW).decision is Decision.REJECT


@pytest.mark.parametrize(
    ("module", "version", "expression", "decision", "rule"),
    [
        ("example.com/a", "v1.0.0", "MIT", Decision.PASS, "license.allowed"),
        ("example.com/a", "v1.0.0", "MPL-2.0", Decision.PASS, "license.allowed"),
        (
            "example.com/a",
            "v1.0.0",
            "LGPL-2.1-only",
            Decision.REVIEW_REQUIRED,
            "license.not-listed",
        ),
        ("example.com/a", "v1.0.0", "AGPL-3.0-only", Decision.REJECT, "license.category-denied"),
        ("example.com/a", "v1.0.0", "LicenseRef-unknown-abc", Decision.REJECT, "license.unknown"),
        ("github.com/acme/tool", "v1.5.0", "GPL-3.0-only", Decision.PASS, "exception.applied"),
        (
            "github.com/acme/tool",
            "v2.0.0",
            "GPL-3.0-only",
            Decision.REJECT,
            "license.category-denied",
        ),
        (
            "github.com/acme/tool",
            "v1.5.0",
            "AGPL-3.0-only",
            Decision.REJECT,
            "license.category-denied",
        ),
        (
            "github.com/acme/tool",
            "v1.5.0",
            "MIT AND GPL-3.0-only",
            Decision.PASS,
            "exception.applied",
        ),
        ("example.com/old", "v1.0.0", "AGPL-3.0-only", Decision.REJECT, "exception.expired"),
        ("github.com/evil/x", "v9.0.0", "MIT", Decision.REJECT, "module.denied"),
        ("example.com/buggy", "v1.4.1", "MIT", Decision.REJECT, "module.denied"),
        ("example.com/buggy", "v1.4.2", "MIT", Decision.PASS, "license.allowed"),
    ],
)
def test_company_policy(
    module: str, version: str, expression: str, decision: Decision, rule: str
) -> None:
    verdict = judge(COMPANY, module, version, expression)
    assert verdict.decision is decision
    assert rule in verdict.rule_ids()


def test_a_denied_module_still_names_its_license() -> None:
    # The 403 body and `go-vault verdict` print the expression: a denied MIT module was
    # reported as "license found: none found".
    verdict = judge(COMPANY, "github.com/evil/x", "v9.0.0", "MIT")
    assert verdict.rule_ids() == ("module.denied",)
    assert verdict.expression == "MIT"


def facts_from(
    files: dict[str, str], index: TemplateIndex, declared: str | None = None
) -> ModuleFacts:
    report = detect_files({k: v.encode() for k, v in files.items()}, index=index, declared=declared)
    return ModuleFacts("example.com/m", "v1.0.0", h1="h1:x", licenses=report)


def test_detected_facts(index: TemplateIndex) -> None:
    policy = default_policy()
    none = evaluate(policy, facts_from({}, index), NOW)
    assert (none.decision, none.rule_ids()) == (Decision.REJECT, ("license.none",))

    mit = evaluate(policy, facts_from({"LICENSE": render("MIT")}, index), NOW)
    assert mit.decision is Decision.PASS
    assert mit.expression == "MIT"
    assert mit.licenses[0].files == ("LICENSE",) and mit.licenses[0].confidence == 1.0

    notice_only = (
        'Licensed under the Apache License, Version 2.0 (the "License"); you may not use this '
        "file except in compliance with the License. You may obtain a copy of the License at\n\n"
        "    http://www.apache.org/licenses/LICENSE-2.0\n\nUnless required by applicable law or "
        "agreed to in writing, software distributed under the License is distributed on an "
        '"AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or '
        "implied. See the License for the specific language governing permissions and "
        "limitations under the License.\n"
    )
    low = evaluate(policy, facts_from({"LICENSE": notice_only}, index), NOW)
    assert low.decision is Decision.REVIEW_REQUIRED
    assert low.rule_ids() == ("license.low-confidence",)
    custom = "The Frobnitz Grant. You may look at this code on Tuesdays only and nowhere else.\n"
    unknown = evaluate(policy, facts_from({"COPYING": custom}, index), NOW)
    assert unknown.rule_ids() == ("license.unknown",)
    assert " (text in COPYING) is not a license" in unknown.reasons[0].message  # where to read
    # The reviewer reads why: the license is named, its text is nowhere.
    assert "Apache-2.0 is only named (a standard notice" in low.reasons[0].message
    assert "(confidence 0.80 < min_confidence 0.9)" in low.reasons[0].message

    dual = facts_from({"LICENSE": render("MIT"), "LICENSE-GPL": render("GPL-3.0-only")}, index)
    assert evaluate(policy, dual, NOW).decision is Decision.REJECT
    declared = facts_from(
        {"LICENSE": render("MIT"), "LICENSE-GPL": render("GPL-3.0-only")},
        index,
        declared="MIT OR GPL-3.0-only",
    )
    chosen = evaluate(policy, declared, NOW)
    assert chosen.decision is Decision.PASS
    assert chosen.expression == "MIT OR GPL-3.0-only"

    mismatch = evaluate(
        policy, facts_from({"LICENSE": render("MIT")}, index, declared="Apache-2.0"), NOW
    )
    assert mismatch.decision is Decision.REVIEW_REQUIRED
    assert "license.declared-mismatch" in mismatch.rule_ids()

    declared_only = evaluate(policy, facts_from({}, index, declared="MIT"), NOW)
    assert declared_only.decision is Decision.REVIEW_REQUIRED
    assert declared_only.rule_ids() == ("license.declared-only",)


def test_judge_zip_names_the_bytes_it_judged(index: TemplateIndex) -> None:
    zip_data = create_zip_from_files(
        "example.com/net",
        "v0.3.0",
        {"go.mod": b"module example.com/net\n", "LICENSE": render("AGPL-3.0-only").encode()},
    )
    verdict = judge_zip(default_policy(), zip_data, "example.com/net", "v0.3.0", NOW, index=index)
    assert verdict.decision is Decision.REJECT
    assert verdict.h1 == hash_zip(zip_data)
    assert verdict.policy_digest == default_policy().digest
    assert verdict.evaluated_at == "2026-06-01T00:00:00Z"
    assert verdict.licenses[0].category == "network-copyleft"
    assert Verdict.from_json(json.dumps(verdict.to_json())) == verdict


def test_cli_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, COMPANY)
    args = ["policy", "explain", "github.com/acme/tool@v1.5.0", "--policy", str(p)]
    assert run(cli, [*args, "--license", "GPL-3.0-only", "--now", "2026-06-01"]) == 0
    assert "exception.applied" in capsys.readouterr().out
    assert run(cli, [*args, "--license", "GPL-3.0-only", "--now", "2027-01-01"]) == 1
    out = capsys.readouterr().out
    assert "REJECT" in out and "exception.expired" in out
    assert run(cli, [*args, "--license", "MIT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "PASS"
    assert run(cli, ["policy", "explain", "nover", "--license", "MIT"]) == 2
    assert run(cli, ["policy", "explain", "a.com/b@v1.0.0", "--license", "Nope-1"]) == 2


def test_a_dependency_with_a_bad_declaration_is_reviewed_not_an_error(
    index: TemplateIndex,
) -> None:
    zip_data = create_zip_from_files(
        "example.com/x",
        "v1.0.0",
        {
            "go.mod": b"module example.com/x\n\n//go:license Not-A-License\n",
            "LICENSE": render("MIT").encode(),
        },
    )
    verdict = judge_zip(default_policy(), zip_data, "example.com/x", "v1.0.0", NOW, index=index)
    assert verdict.decision is Decision.REVIEW_REQUIRED
    assert verdict.rule_ids() == ("license.declared-invalid",)
    assert verdict.expression == "MIT"
