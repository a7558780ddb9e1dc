"""`go-vault approve MODULE_GLOB[@VERSION|@RANGE]`: what is approved is what was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def approve(vault: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "approve"]
    return subprocess.run(
        [*cli, *args, "--storage", str(vault)],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": "-", "USER": "legal"},
        timeout=120,
        check=False,
    )


def test_an_empty_version_after_the_at_sign_is_refused_not_every_version(tmp_path: Path) -> None:
    """`approve "example.com/gpl@$VERSION"` with VERSION unset approved every version."""
    vault = tmp_path / "vault"
    vault.mkdir()
    why = ["--reason", "vetted by legal", "--expires", "2099-01-01"]
    done = approve(vault, "example.com/gpl@", *why)
    assert done.returncode == 2, done.stderr
    assert "error: example.com/gpl@: no version or range after '@'" in done.stderr, done.stderr
    listed = approve(vault, "--list")
    assert json.loads(listed.stdout) == {"exceptions": []}

    done = approve(vault, "example.com/gpl@v1.2.3", *why)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["versions"] == "=v1.2.3"
    done = approve(vault, "example.com/gpl", *why)  # no '@': every version, as documented
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["versions"] == "*"
