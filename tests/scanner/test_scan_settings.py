"""Scan settings from flags, the policy file's `scan:` section and GOPROXY_SCAN_*: bad values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("--proxy", "proxy.corp:8080", "--proxy: proxy URL 'proxy.corp:8080' is not an http(s)"),
        ("--proxy", "ftp://proxy.corp", "--proxy: proxy URL 'ftp://proxy.corp' is not an http(s)"),
        ("GOPROXY_SCAN_PROXY", "direct", "GOPROXY_SCAN_PROXY: proxy URL 'direct' is not"),
        ("scan.proxy", "corp-proxy", "scan.proxy: proxy URL 'corp-proxy' is not an http(s)"),
        ("GOPROXY_SCAN_TIMEOUT", "-1", "GOPROXY_SCAN_TIMEOUT: '-1' is not a positive number"),
        ("scan.timeout", "0", "scan.timeout: '0' is not a positive number of seconds"),
        ("GOPROXY_SCAN_RETRIES", "-1", "GOPROXY_SCAN_RETRIES: '-1' is negative (give 0 or more)"),
        ("scan.jobs", "-3", "scan.jobs: '-3' is negative (give 0 or more)"),
    ],
)
def test_scan_settings_out_of_range_are_input_errors(
    tmp_path: Path, where: str, value: str, message: str
) -> None:
    """A proxy that is no URL was not asked, silently (local verdicts, exit 0 or 1); a negative
    timeout was requests' ValueError traceback; negative jobs and retries were taken."""
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.21\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nlicenses:\n  allow: [MIT]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOPROXY_SCAN_")}
    args = ["scan", "--offline", "--no-source-rules", "--policy", str(policy)]
    if where.startswith("--"):
        args += [where, value]
    elif where.startswith("scan."):
        policy.write_text(f"licenses:\n  allow: [MIT]\nscan:\n  {where[5:]}: '{value}'\n")
    else:
        env[where] = value
    proc = subprocess.run(
        ["goproxy-scan", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
