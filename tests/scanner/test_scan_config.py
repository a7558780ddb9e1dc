"""Scan settings: defaults, policy file scan: section, GOPROXY_SCAN_*, flags; and `report`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from reports.reportsample import make_result  # tests/scanner/reports/

from scanner.config import Output, load_config
from scanner.errors import InputError
from scanner.reports import OutputFormat
from scanner.result import Severity
from scanner.sbom import SbomFormat, SpecVersion
from scanner.scan import apply_severities


def test_layers_in_order(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".goproxy-scan.yml").write_text(
        "licenses:\n  allow: [MIT]\n"
        "scan:\n  fail_on: low\n  proxy: https://file.example\n  fail_mode: open\n"
        "  format: [sarif=out.sarif, console]\n"
    )
    main = tmp_path / "svc"
    main.mkdir()
    config = load_config({"main_dir": main}, env={})
    assert config.policy_file == tmp_path / ".goproxy-scan.yml"  # found upwards
    assert config.fail_on is Severity.LOW
    assert config.proxy == "https://file.example"
    assert config.fail_open is True
    assert config.outputs == (Output(OutputFormat.SARIF, "out.sarif"), Output(OutputFormat.CONSOLE))

    env = {
        "GOPROXY_SCAN_FAIL_ON": "critical",
        "GOPROXY_SCAN_PROXY": "https://env.example",
        "GOPROXY_SCAN_TOKEN": "t0k",
        "GOPROXY_SCAN_FAIL_MODE": "closed",
    }
    config = load_config({"main_dir": main}, env=env)
    assert (config.fail_on, config.proxy, config.token, config.fail_open) == (
        Severity.CRITICAL,
        "https://env.example",
        "t0k",
        False,
    )
    assert "t0k" not in repr(config)  # the token never shows up in logs

    config = load_config(
        {"main_dir": main, "fail_on": Severity.MEDIUM, "proxy": "https://flag"}, env=env
    )
    assert (config.fail_on, config.proxy) == (Severity.MEDIUM, "https://flag")


def test_defaults_without_any_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    config = load_config({"main_dir": tmp_path}, env={})
    assert config.policy_file is None
    assert config.fail_on is None and config.fail_open is False  # None: the policy decides
    assert config.outputs == (Output(OutputFormat.CONSOLE),)
    assert config.sbom_spec is SpecVersion.V1_6
    config = load_config({"main_dir": tmp_path, "sbom": tmp_path / "bom.xml"}, env={})
    assert config.sbom_output_format is SbomFormat.XML


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("scan:\n  fail_onn: low\n", "scan.fail_onn"),
        ("scan:\n  fail_on: severe\n", "severe"),
        ("scan:\n  fail_mode: maybe\n", "fail mode"),
        ("scan: [1, 2]\n", "mapping"),
        ("scan:\n  format: pdf\n", "pdf"),
        ("scan: {\n", "not YAML"),
    ],
)
def test_bad_policy_settings_name_the_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(text)
    with pytest.raises(InputError) as e:
        load_config({"main_dir": tmp_path, "policy_file": policy}, env={})
    assert needle in str(e.value)
    assert "policy.yml" in str(e.value)
    assert e.value.line is not None  # FILE:LINE, as for every other key of the file
    assert "\n" not in str(e.value)  # one line, even for PyYAML's own messages


@pytest.mark.parametrize(
    ("section", "line", "says"),
    [
        ("scan:\n  fial_on: high\n", 5, "unknown key scan.fial_on (did you mean fail_on?"),
        ("scan: {fail_on: hihg}\n", 4, "scan.fail_on: unknown severity 'hihg'"),
        ("scan:\n  offline: true\n  timeout: -1\n", 6, "scan.timeout: -1 is not a positive"),
        ("scan:\n  token: s3cret\n", 5, "unknown key scan.token (token is read only from"),
        ("scan:\n  format:\n    - json\n    - sarif\n", 5, "scan.format: json and sarif both"),
    ],
    ids=["typo-key", "bad-severity", "bad-timeout", "env-only-key", "two-on-stdout"],
)
def test_policy_check_refuses_the_scan_settings_scan_refuses(
    tmp_path: Path, section: str, line: int, says: str
) -> None:
    """`policy check` said "valid policy" of a `scan:` section that `scan` then refused (with
    no line): both read it with one parser now, and both name FILE:LINE."""
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    policy = tmp_path / "t2.yml"
    policy.write_text("version: 1\nlicenses:\n  allow: [MIT]\n" + section)
    for args in (["policy", "check", str(policy)], ["scan", ".", "--policy", str(policy)]):
        proc = _goproxy_scan(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith(f"error: {policy}:{line}: {says}"), (args, proc.stderr)


def test_policy_check_passes_the_scan_settings_scan_takes(tmp_path: Path) -> None:
    policy = tmp_path / "ok.yml"
    policy.write_text(
        "version: 1\nlicenses:\n  allow: [MIT]\n"
        "scan:\n  fail_on: medium\n  format: [json, sarif=r.sarif]\n  timeout: 5\n"
    )
    proc = _goproxy_scan(tmp_path, "policy", "check", str(policy))
    assert proc.returncode == 0, proc.stderr
    assert "valid policy" in proc.stdout
    config = load_config({"main_dir": tmp_path, "policy_file": policy}, env={})
    assert config.fail_on is Severity.MEDIUM and config.timeout == 5.0


def _goproxy_scan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in `cwd`, with no GOPROXY_SCAN_* settings from the outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOPROXY_SCAN_")}
    return subprocess.run(
        ["goproxy-scan", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "named", "hint"),
    [
        (
            ["scan", "--format", "json", "--format", "sarif"],
            "--format json and --format sarif both",
            "--format sarif=report.sarif",
        ),
        (
            ["scan", "--format", "json", "--format", "json"],
            "--format json and --format json both",
            "--format json=result.json",
        ),
        (
            ["scan", "--format", "json", "--output", "-", "--format", "console"],
            "--format json --output - and --format console both",
            "--format console=report.txt",
        ),
        (
            ["report", "--from", "RESULT", "--format", "sarif", "--format", "github"],
            "--format sarif and --format github both",
            "--format github=annotations.txt",
        ),
    ],
    ids=["json-sarif", "json-twice", "explicit-dash", "report"],
)
def test_two_reports_on_stdout_are_a_usage_error(
    tmp_path: Path, args: list[str], named: str, hint: str
) -> None:
    """Both were written to stdout one after the other: a stream no consumer could parse."""
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    saved = tmp_path / "result.json"
    saved.write_text(make_result().to_json())
    proc = _goproxy_scan(tmp_path, *[str(saved) if a == "RESULT" else a for a in args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"error: {named} write to standard output"), proc.stderr
    assert proc.stderr.endswith(f"(give all but one of them a file, e.g. {hint})\n")


def test_one_report_on_stdout_and_the_rest_in_files(tmp_path: Path) -> None:
    saved = tmp_path / "result.json"
    saved.write_text(make_result().to_json())
    sarif = tmp_path / "r.sarif"
    proc = subprocess.run(
        [
            *("goproxy-scan", "report", "--from", str(saved)),
            *("--format", "json", "--format", f"sarif={sarif}"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(saved.read_text())
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def _report(
    tmp_path: Path, *formats: str, stdout: int | None = None
) -> subprocess.CompletedProcess[str]:
    saved = tmp_path / "result.json"
    saved.write_text(make_result().to_json())
    args = [a for f in formats for a in ("--format", f)]
    return subprocess.run(
        ["goproxy-scan", "report", "--from", str(saved), *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )


def test_stdout_by_another_name_is_standard_output(tmp_path: Path) -> None:
    """/dev/stdout, or the very file stdout is redirected to, is where `-` writes too."""
    proc = _report(tmp_path, "json=/dev/stdout", "sarif")
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith(
        "error: --format json=/dev/stdout and --format sarif both write to standard output"
    ), proc.stderr
    redirected = tmp_path / "out.json"
    with redirected.open("w") as out:  # goproxy-scan report ... --format json=out.json > out.json
        proc = _report(tmp_path, "console", f"json={redirected}", stdout=out.fileno())
    assert proc.returncode == 2, proc.stderr
    assert (
        f"--format console and --format json={redirected} both write to standard output"
        in proc.stderr
    )
    assert redirected.read_text() == ""


def test_two_reports_into_one_file_are_a_usage_error(tmp_path: Path) -> None:
    proc = _report(tmp_path, "json=r.json", "sarif=./r.json")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "error: --format json=r.json and --format sarif=./r.json both write to ./r.json, where"
        " the last would replace the others"
    ), proc.stderr
    assert not (tmp_path / "r.json").exists()
    proc = _report(tmp_path, "json=/dev/null", "sarif=/dev/null", "console")
    assert proc.returncode == 0, proc.stderr  # thrown away twice: nothing runs together


def test_two_reports_on_stdout_in_the_policy_file_or_environment(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text("licenses:\n  allow: [MIT]\nscan:\n  format: [json, sarif]\n")
    with pytest.raises(InputError) as e:
        load_config({"main_dir": tmp_path, "policy_file": policy}, env={})
    assert str(e.value).startswith(f"{policy}:4: scan.format: json and sarif both write to")
    assert "e.g. sarif=report.sarif" in str(e.value)
    with pytest.raises(InputError) as e:
        load_config({"main_dir": tmp_path}, env={"GOPROXY_SCAN_FORMAT": "json,json"})
    assert str(e.value).startswith("GOPROXY_SCAN_FORMAT: json and json both write to")
    config = load_config({"main_dir": tmp_path}, env={"GOPROXY_SCAN_FORMAT": "json,sarif=r.sarif"})
    assert config.outputs == (Output(OutputFormat.JSON), Output(OutputFormat.SARIF, "r.sarif"))


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_config({"main_dir": tmp_path}, env={"GOPROXY_SCAN_OFFLINE": "perhaps"})
    assert "GOPROXY_SCAN_OFFLINE" in str(e.value)


def test_report_rerenders_a_saved_result(tmp_path: Path) -> None:
    saved = tmp_path / "result.json"
    saved.write_text(make_result().to_json())
    sarif = tmp_path / "out" / "r.sarif"
    proc = subprocess.run(
        [
            "goproxy-scan",
            "report",
            "--from",
            str(saved),
            "--format",
            "sarif",
            "--output",
            str(sarif),
            "--format",
            "console",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert proc.stdout.rstrip().splitlines()[-1].startswith("FAIL: 3 modules")
    again = subprocess.run(
        ["goproxy-scan", "report", "--from", str(saved), "--format", "json", "--exit-code"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert again.stdout == saved.read_text()  # canonical JSON survives a round trip


def test_report_rejects_what_is_not_a_result(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": "1.0", "modules": "x"}))
    proc = subprocess.run(
        ["goproxy-scan", "report", "--from", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "bad.json" in proc.stderr and "not a goproxy-scan result" in proc.stderr
    future = json.loads(make_result().to_json())
    future["schema_version"] = "2.0"
    bad.write_text(json.dumps(future))
    proc = subprocess.run(
        ["goproxy-scan", "report", "--from", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "schema 2.0 is not supported" in proc.stderr
    proc = subprocess.run(
        ["goproxy-scan", "report", "--from", str(bad), "--format", "pdf"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "unknown report format" in proc.stderr


def test_github_format_writes_annotations_and_the_step_summary(tmp_path: Path) -> None:
    saved = tmp_path / "result.json"
    saved.write_text(make_result().to_json())
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run(
        ["goproxy-scan", "report", "--from", str(saved), "--format", "github"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("::error file=go.mod,line=6,")
    text = summary.read_text()
    assert text.startswith("earlier step\n<!-- goproxy-scan:pr-comment -->")  # appended
    assert "example.com/gpl" in text


def test_policy_severities_override_or_turn_off_rules() -> None:
    findings = make_result().findings
    changed = apply_severities(findings, [("GPS101", "low"), ("GPS401", "off")])
    assert [(f.rule_id, f.severity) for f in changed] == [("GPS101", Severity.LOW)]
    assert apply_severities(findings, []) == findings
