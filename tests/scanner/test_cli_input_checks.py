"""Inputs the commands refuse up front (exit 2, saying what and where) instead of a traceback,
a false PASS, odd paths or an "unreachable" exit 3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GPS = [sys.executable, "-c", "from scanner.cli import main; main()"]
VAULT = [sys.executable, "-c", "from proxy.cli import main; main()"]


def run(command: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_policy_explain_refuses_a_version_the_go_command_refuses(tmp_path: Path) -> None:
    """`evil@1.0.0` matched no denied range ("<v1.4.2"): PASS, exit 0."""
    policy = tmp_path / "p.yml"
    policy.write_text(
        "version: 1\nlicenses:\n  allow: [permissive]\ndenied_modules:\n"
        '  - module: example.com/evil\n    versions: "<v1.4.2"\n    reason: compromised\n'
    )
    args = ("policy", "explain", "--license", "MIT", "--policy", str(policy))
    bad = run(GPS, *args, "example.com/evil@1.0.0", cwd=tmp_path)
    assert bad.returncode == 2 and "example.com/evil@1.0.0" in bad.stderr, bad.stderr
    assert run(GPS, *args, "example.com/evil@v1.0.0", cwd=tmp_path).returncode == 1  # denied


def test_path_settings_of_the_scan_section_are_one_string(tmp_path: Path) -> None:
    """`scan: {sbom: [x, y]}` passed policy check and scan wrote a file named "['x', 'y']"."""
    (tmp_path / "go.mod").write_text("module example.com/app\n\ngo 1.22\n")
    policy = tmp_path / "p.yml"
    policy.write_text("version: 1\nlicenses:\n  allow: [permissive]\nscan:\n  sbom: [x, y]\n")
    for args in (("policy", "check", str(policy)), ("scan", ".", "--policy", str(policy))):
        proc = run(GPS, *args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert f"{policy}:5: scan.sbom: must be a string, not a list" in proc.stderr
    assert not list(tmp_path.glob("[[]*"))


def test_env_refuses_a_health_timeout_of_zero_and_a_goproxy_list(tmp_path: Path) -> None:
    zero = run(GPS, "env", "--proxy", "http://127.0.0.1:9", "--health-timeout", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "--health-timeout" in zero.stderr  # was a traceback, exit 3
    listed = run(
        GPS, "env", "--mode", "force", "--proxy", "http://127.0.0.1:9,direct", cwd=tmp_path
    )
    assert listed.returncode == 2 and "is a GOPROXY list, not one URL" in listed.stderr


def test_go_vault_verdict_refuses_a_url_without_a_scheme(tmp_path: Path) -> None:
    """It said "cannot be reached: UnsupportedProtocol", exit 3."""
    proc = run(VAULT, "verdict", "example.com/a@v1.0.0", "--proxy", "127.0.0.1:9", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "--proxy: '127.0.0.1:9' is not an http(s):// URL" in proc.stderr


def test_licenses_of_a_zip_refuses_flags_that_name_another_module(tmp_path: Path) -> None:
    """A mistyped --version read no entry of the zip: "no license files", exit 0."""
    from goproxytree import build_zip
    from licenses.corpus import render as license_text  # tests/scanner/licenses/

    zipped = tmp_path / "a.zip"
    files = {"go.mod": "module example.com/a\n", "LICENSE": license_text("MIT")}
    zipped.write_bytes(build_zip("example.com/a@v1.0.0/", files))
    good = run(GPS, "licenses", str(zipped), "--version", "v1.0.0", cwd=tmp_path)
    assert good.returncode == 0 and "MIT" in good.stdout, good.stderr
    bad = run(GPS, "licenses", str(zipped), "--version", "v1.0.1", cwd=tmp_path)
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "no entries under example.com/a@v1.0.1/: the zip holds example.com/a@v1.0.0/" in (
        bad.stderr
    )
