"""`go-vault sync` reads a vault that is there: a mistyped --storage is refused, nothing made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_sync_of_a_directory_that_is_no_vault_is_refused_and_makes_nothing(
    tmp_path: Path,
) -> None:
    """It made the directory (and its .tmp) and wrote an empty bundle, with exit 0."""
    missing = tmp_path / "nothere"
    bundle = tmp_path / "bundles" / "y.tar.gz"
    bundle.parent.mkdir()
    cli = [sys.executable, "-c", "from proxy.cli import main; main()", "sync", "--offline"]
    proc = subprocess.run(
        [*cli, "--bundle", str(bundle), "--storage", str(missing)],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {missing}: no vault here"), proc.stderr
    assert not missing.exists() and list(bundle.parent.iterdir()) == []
