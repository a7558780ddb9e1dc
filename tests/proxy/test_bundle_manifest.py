"""Bundles whose manifest cannot be trusted: damaged files given to `sync --since`, manifests
that checksum but do not say what go-vault wrote (a broken tool, a hand edit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from goproxytree import GoProxyTree

from proxy.storage import Kind
from proxy.storage.fs import FsStorage

MODULES = [("example.com/man/a", "v1.0.0"), ("example.com/man/a", "v1.1.0")]


def go_vault(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "GO_VAULT_AUDIT_LOG": "-"},
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A real bundle exported by `go-vault sync` from a vault holding MODULES."""
    tree = GoProxyTree(tmp_path / "tree")
    storage = FsStorage(tmp_path / "source")
    for path, version in MODULES:
        art = tree.add_module(path, version, {"go.mod": f"module {path}\n", "a.go": "package a\n"})
        for kind, blob in ((Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)):
            storage.put(path, version, kind, blob)
    out = tmp_path / "full.tar.gz"
    code, _, err = go_vault(
        "sync", "--offline", "--bundle", str(out), "--storage", str(tmp_path / "source")
    )
    assert code == 0, err
    return out


def test_since_a_truncated_bundle_names_it(bundle: Path, tmp_path: Path) -> None:
    """A bundle cut short in a copy (its manifest is near the end) is not 'aborted'."""
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    delta = tmp_path / "delta.tar.gz"
    code, _, err = go_vault(
        "sync", "--offline", "--bundle", str(delta), "--since", str(cut),
        "--storage", str(tmp_path / "source"),
    )  # fmt: skip
    assert code == 2, err
    assert f"error: {cut}: " in err and "not a readable .tar.gz" in err, err
    assert "aborted" not in err and "Traceback" not in err
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("delta", ".delta"))]
