"""Bundles whose manifest cannot be trusted: damaged files given to `sync --since`, manifests
that checksum but do not say what go-vault wrote (a broken tool, a hand edit)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree

from proxy.bundle import MANIFEST, SUMS
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


def rewritten(bundle: Path, out: Path, manifest: object) -> Path:
    """`bundle` with another manifest.json and checksums that match it (what a broken export
    tool or a hand edit makes: every checksum is right, the manifest is not)."""
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    members[MANIFEST] = json.dumps(manifest).encode()
    members[SUMS] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(members.items())
        if name != SUMS
    ).encode()
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def _manifest(bundle: Path) -> dict[str, object]:
    with tarfile.open(bundle) as tar:
        member = tar.extractfile(MANIFEST)
        assert member is not None
        doc: dict[str, object] = json.loads(member.read())
        return doc


def _entries(doc: dict[str, object]) -> list[dict[str, object]]:
    entries = doc["modules"]
    assert isinstance(entries, list)
    return entries


Doc = dict[str, object]
MALFORMED: dict[str, tuple[Callable[[Doc], object], str]] = {
    "entry-without-path": (
        lambda d: {**d, "modules": [{"version": "v1.0.0"}, *_entries(d)[1:]]},
        "modules[0] has no path and version",
    ),
    "modules-not-a-list": (lambda d: {**d, "modules": {"a": 1}}, "no list of modules"),
    "entry-not-an-object": (lambda d: {**d, "modules": [1]}, "modules[0] has no path and version"),
    "base-without-digest": (
        lambda d: {**d, "base": {"file": "q1.tar.gz"}},
        "base has no file and manifest_sha256",
    ),
    "listed-twice": (
        lambda d: {**d, "modules": [*_entries(d), _entries(d)[0]]},
        "example.com/man/a@v1.0.0 is listed twice",
    ),
    "not-an-object": (lambda d: [d], "a JSON list, not an object"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_manifest_is_refused_naming_what_is_wrong(
    bundle: Path, tmp_path: Path, case: str
) -> None:
    """Import and `sync --since` both read the manifest: each says what is wrong with it (they
    crashed with a KeyError or TypeError; a version listed twice was counted twice)."""
    change, problem = MALFORMED[case]
    bad = rewritten(bundle, tmp_path / "bad.tar.gz", change(_manifest(bundle)))
    vault = tmp_path / "vault"
    code, out, err = go_vault("import", str(bad), "--storage", str(vault))
    assert code == 2, err
    assert f"error: {bad}: {MANIFEST}: {problem}" in err and "Traceback" not in err, err
    assert not out and not [p for p in vault.rglob("*") if p.is_file()]

    delta = tmp_path / "delta.tar.gz"
    code, _, err = go_vault(
        "sync", "--offline", "--bundle", str(delta), "--since", str(bad),
        "--storage", str(tmp_path / "source"),
    )  # fmt: skip
    assert code == 2, err
    assert f"error: {bad}: {MANIFEST}: {problem}" in err and "Traceback" not in err, err
    assert not delta.exists()


def test_the_real_manifest_still_imports(bundle: Path, tmp_path: Path) -> None:
    """The checks accept what export writes (rewritten with the same manifest)."""
    same = rewritten(bundle, tmp_path / "same.tar.gz", _manifest(bundle))
    code, out, err = go_vault("import", str(same), "--storage", str(tmp_path / "vault"))
    assert code == 0, err
    assert json.loads(out)["new"] == len(MODULES)
