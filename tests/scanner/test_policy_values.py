"""Policy values the schema passes but the parser refuses: each names FILE:LINE of the value.

And a date no calendar has (`expires: 2027-13-01`, unquoted: PyYAML builds a date and raises
ValueError inside safe_load) is such a value, refused by `policy check`, `scan`, `policy
explain` and the CI overlay alike, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.cipolicy import overlay_licenses
from scanner.cli import cli, run
from scanner.config import file_settings
from scanner.errors import InputError, ParseError, yaml_problem
from scanner.policy import load_policy, parse_policy
from scanner.yamlfile import safe_load

EXCEPTION = """\
version: 1
licenses:
  allow: [MIT]
exceptions:
  - module: example.com/x
    expires: {expires}
    reason: r
    approver: a@b
"""


def write(tmp_path: Path, text: str, name: str = "p.yml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("bad", ["2027-13-01", "2027-02-30", "2027-06-31", "0000-01-01"])
def test_an_impossible_unquoted_date_is_refused_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    p = write(tmp_path, EXCEPTION.format(expires=bad))
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert str(e.value) == f"{p}:6: exceptions[0].expires: {bad} is not a date (use YYYY-MM-DD)"
    assert run(cli, ["policy", "check", str(p)]) == 2
    assert capsys.readouterr().err == f"error: {e.value}\n"
    explain = ["policy", "explain", "example.com/x@v1.0.0", "--license", "MIT", "--policy"]
    assert run(cli, [*explain, str(p)]) == 2
    assert capsys.readouterr().err == f"error: {e.value}\n"


def test_scan_refuses_an_impossible_date_in_its_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = tmp_path / "m"
    main.mkdir()
    (main / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    p = write(main, EXCEPTION.format(expires="2027-13-01"), ".goproxy-scan.yml")
    # the `scan:` settings are read from the same file before the policy: they pass it on
    assert file_settings(p) == {}
    assert run(cli, ["scan", str(main)]) == 2
    err = capsys.readouterr().err
    assert f"{p}:6: exceptions[0].expires: 2027-13-01 is not a date (use YYYY-MM-DD)" in err
    assert "unexpectedly" not in err


def test_a_valid_unquoted_date_still_reads(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, EXCEPTION.format(expires="2027-06-30")))
    assert str(policy.exceptions[0].expires) == "2027-06-30"
    same = load_policy(write(tmp_path, EXCEPTION.format(expires='"2027-06-30"'), "q.yml"))
    assert same.digest == policy.digest


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("!!int x", "'x' is not a valid int"),
        ("0b_", "'0b_' is not a valid int"),
        ("!!float x", "'x' is not a valid float"),
        ("!!bool x", "'x' is not a valid bool"),
    ],
)
def test_a_value_yaml_cannot_construct_is_refused_at_its_line(
    tmp_path: Path, value: str, words: str
) -> None:
    p = write(tmp_path, f"version: 1\nlicenses:\n  allow: [MIT]\nname: {value}\n")
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert e.value.line == 4
    assert words in str(e.value)


def test_the_ci_overlay_refuses_an_impossible_date() -> None:
    text = EXCEPTION.format(expires="2027-13-01")
    with pytest.raises(ParseError, match=r"exceptions\[0\]\.expires: '2027-13-01' is not a date"):
        overlay_licenses(text, ["ISC"], [], "p.yml")
    with pytest.raises(InputError, match=r"^p\.yml:2: not valid YAML"):
        overlay_licenses("licenses: [\n", ["ISC"], [], "p.yml")


# --- FILE:LINE of every value error ------------------------------------------------------------


VALUES = """\
version: 1
licenses:
  allow:
    - MIT
    - {allow}
  deny: [{deny}]
exceptions:
  - module: example.com/x
    expires: {expires}
    versions: "{versions}"
    license: {license}
    reason: r
    approver: a@b
denied_modules:
  - module: example.com/y
    versions: "{denied}"
    reason: r
"""
GOOD = {
    "allow": "ISC",
    "deny": "GPL-3.0-only",
    "expires": "2027-06-30",
    "versions": ">=v1.0.0",
    "license": "Apache-2.0",
    "denied": "<v1.2.0",
}


@pytest.mark.parametrize(
    ("key", "bad", "line", "message"),
    [
        ("allow", "MITT", 5, "licenses.allow: unknown SPDX license id(s) MITT"),
        ("deny", "ISC, GPL-9", 6, "licenses.deny: unknown SPDX license id(s) GPL-9"),
        ("expires", '"2027-06-31"', 9, "exceptions[0].expires: '2027-06-31' is not a date"),
        ("expires", "someday", 9, "exceptions[0].expires: someday is not a date"),
        ("versions", ">= banana", 10, "exceptions[0].versions: 'banana' is not a semantic"),
        ("license", "GPL-9", 11, "exceptions[0].license: unknown SPDX license id(s) GPL-9"),
        ("denied", "<1.x", 16, "denied_modules[0].versions: '1.x' is not a semantic"),
    ],
)
def test_a_value_error_names_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    bad: str,
    line: int,
    message: str,
) -> None:
    assert parse_policy(VALUES.format(**GOOD), "good.yml").exceptions  # the base is valid
    p = write(tmp_path, VALUES.format(**{**GOOD, key: bad}))
    with pytest.raises(ParseError) as e:
        load_policy(p)
    assert e.value.path == str(p)
    assert e.value.line == line
    assert str(e.value).startswith(f"{p}:{line}: {message}")
    assert e.value.hint  # and what to do
    assert run(cli, ["policy", "check", str(p)]) == 2
    assert capsys.readouterr().err == f"error: {e.value}\n"


# --- the shared loader (scanner.yamlfile) ------------------------------------------------------


def test_the_loader_refuses_an_impossible_date_as_yaml_error_at_its_line() -> None:
    with pytest.raises(yaml.YAMLError) as e:
        safe_load("a: 1\nb:\n  - 2027-02-30\n")
    assert yaml_problem(e.value) == (
        "2027-02-30 is not a date (use YYYY-MM-DD; quote a value that is not a date)",
        3,
    )
    with pytest.raises(yaml.YAMLError, match="is not a date and time"):
        safe_load("a: 2027-01-01T25:00:00Z\n")
    assert safe_load("a: 2027-02-30\n", bad_dates_as_text=True) == {"a": "2027-02-30"}
    assert str(safe_load("a: 2027-02-28\n")["a"]) == "2027-02-28"


VULN_EXCEPTION = """\
version: 1
licenses:
  allow: [permissive]
  deny: [strong-copyleft]
vulnerabilities:
  fail_on: called
  exceptions:
    - id: GO-2099-0002
      module: example.com/vuln
      reason: {reason}
      expires: {expires}
"""


@pytest.mark.parametrize(
    ("reason", "expires", "line", "words"),
    [
        ("x", "2027-13-01", 11, "expires: 2027-13-01 is not a date (use YYYY-MM-DD)"),
        ("x", "'2027-06-31'", 11, "expires: '2027-06-31' is not a date (use YYYY-MM-DD)"),
        ("' '", "2027-06-30", 10, " (GO-2099-0002) needs a reason"),
    ],
    ids=["unquoted-date", "quoted-date", "blank-reason"],
)
def test_a_vulnerability_exception_value_error_names_file_and_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    reason: str,
    expires: str,
    line: int,
    words: str,
) -> None:
    # The schema passes these; scanner.vulndb.policy refuses them, at the value's line as the
    # license section's exceptions are, and `policy explain` refuses the file as `check` does.
    p = write(tmp_path, VULN_EXCEPTION.format(reason=reason, expires=expires))
    sep = "" if words.startswith(" ") else "."
    want = f"error: {p}:{line}: vulnerabilities.exceptions[0]{sep}{words}\n"
    assert run(cli, ["policy", "check", str(p)]) == 2
    assert capsys.readouterr().err == want
    explain = ["policy", "explain", "example.com/x@v1.0.0", "--license", "MIT", "--policy"]
    assert run(cli, [*explain, str(p)]) == 2
    captured = capsys.readouterr()
    assert captured.err == want
    assert captured.out == ""
