"""Offline bundles carry the Go vulnerability database; an offline proxy serves and enforces it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from e2e.test_proxy_serve import go_vault_serve  # the real `go-vault serve`, polled ready
from goproxytree import GoProxyTree, write_files
from test_auth_tenants import MIT
from test_bundle import go_vault, listing, repack

from proxy.bundle import MANIFEST, SUMS, VULNDB
from proxy.storage import Kind
from proxy.storage.fs import FsStorage
from scanner.vulndb.layout import build_layout

RunGo = Callable[..., subprocess.CompletedProcess[str]]
OSV_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "go-vulndb" / "osv"
# aahframe.work has exactly one entry: GO-2020-0033 (CVE-2020-36559), fixed in 0.12.4.
IDS = ["GO-2020-0001", "GO-2020-0033", "GO-2022-0969", "GO-2022-0617"]
MODULES = [("aahframe.work", "v0.12.3"), ("aahframe.work", "v0.12.4")]
POLICY = "version: 1\nlicenses:\n  allow: [MIT]\nvulnerabilities:\n  fail_on: required\n"


def fill(vault: Path, tree: GoProxyTree) -> None:
    storage = FsStorage(vault)
    for path, version in MODULES:
        art = tree.add_module(path, version, {"go.mod": f"module {path}\n", "LICENSE": MIT})
        for kind, blob in ((Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)):
            storage.put(path, version, kind, blob)


def build(osv: Path, out: Path, modified: str, ids: list[str]) -> Path:
    osv.mkdir(parents=True, exist_ok=True)
    for i in ids:
        shutil.copy2(OSV_DIR / f"{i}.json", osv / f"{i}.json")
    return build_layout(osv, out, modified=modified).out_dir


@pytest.fixture(scope="module")
def carried(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Vault A holding a vulnerable and a fixed aahframe.work, bundled with the database."""
    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    d = tmp_path_factory.mktemp("vulnbundle")
    db = build(d / "osv", d / "vulndbA", "2026-11-01T00:00:00Z", IDS)
    fill(d / "vaultA", GoProxyTree(d / "tree"))
    bundle = d / "go-modules-2026Q4.tar.gz"
    code, out, err = go_vault(
        "sync",
        "--offline",
        f"--bundle={bundle}",
        "--storage",
        str(d / "vaultA"),
        "--vulndb",
        str(db),
    )
    assert code == 0, err
    assert json.loads(out)["vulndb"] == "2026-11-01T00:00:00Z"
    assert "vulndb of 2026-11-01T00:00:00Z" in err
    return {"bundle": bundle, "db": db}


@pytest.mark.gocmd
def test_offline_proxy_serves_and_enforces_the_imported_database(
    carried: dict[str, Path], tmp_path: Path, run_go: RunGo
) -> None:
    vault, db = tmp_path / "vaultB", tmp_path / "vulndbB"
    code, out, err = go_vault(
        "import", str(carried["bundle"]), "--storage", str(vault), "--vulndb", str(db)
    )
    assert code == 0, err
    assert json.loads(out)["vulndb"] == "2026-11-01T00:00:00Z"
    # byte for byte the database A served, .json.gz included
    assert listing(db) == listing(carried["db"])
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY)
    cwd = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    args = ("--offline", "--storage", str(vault), "--vulndb", str(db), "--policy", str(policy))
    with go_vault_serve(*args) as (url, _):
        r = httpx.get(f"{url}/-/vulndb/index/modules.json", timeout=10)
        assert r.status_code == 200
        assert "aahframe.work" in [m["path"] for m in r.json()]
        env = {"GOPROXY": url}
        bad = run_go(
            "mod", "download", "aahframe.work@v0.12.3", cwd=cwd, env_extra=env, check=False
        )
        assert bad.returncode != 0, bad.stderr
        assert "403 Forbidden" in bad.stderr
        assert "GO-2020-0033" in bad.stderr and "CVE-2020-36559" in bad.stderr
        ok = run_go(
            "mod", "download", "-json", "aahframe.work@v0.12.4", cwd=cwd, env_extra=env, check=False
        )
        assert ok.returncode == 0, ok.stdout
        assert json.loads(ok.stdout)["Version"] == "v0.12.4"


def test_a_newer_installed_database_is_kept_and_an_older_one_replaced(
    carried: dict[str, Path], tmp_path: Path
) -> None:
    newer = build(tmp_path / "osv", tmp_path / "newer", "2026-12-01T00:00:00Z", IDS[:1])
    before = listing(newer)
    code, out, err = go_vault(
        "import", str(carried["bundle"]), "--storage", str(tmp_path / "v1"), "--vulndb", str(newer)
    )
    assert code == 0, err
    assert json.loads(out)["vulndb"] is None and listing(newer) == before
    older = build(tmp_path / "osv", tmp_path / "older", "2026-10-01T00:00:00Z", IDS[:1])
    code, out, err = go_vault(
        "import", str(carried["bundle"]), "--storage", str(tmp_path / "v2"), "--vulndb", str(older)
    )
    assert code == 0, err
    assert listing(older) == listing(carried["db"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".older")]  # no staging left


def _rehash(m: dict[str, bytes]) -> None:
    """Make the checksums agree with the edited members (a consistent but lying bundle)."""
    import hashlib

    names = [n for n in m if n != SUMS]
    m[SUMS] = "".join(f"{hashlib.sha256(m[n]).hexdigest()}  {n}\n" for n in sorted(names)).encode()


def _flip_entry(m: dict[str, bytes]) -> list[object]:
    name = f"{VULNDB}/ID/GO-2020-0033.json"
    m[name] = m[name].replace(b"0.12.4", b"0.12.5")
    return []


def _foreign_file(m: dict[str, bytes]) -> list[object]:
    m[f"{VULNDB}/ID/run.sh"] = b"#!/bin/sh\n"
    manifest = json.loads(m[MANIFEST])
    manifest["vulndb"]["files"] += 1
    m[MANIFEST] = json.dumps(manifest).encode()
    _rehash(m)
    return []


def _unannounced(m: dict[str, bytes]) -> list[object]:
    manifest = json.loads(m[MANIFEST])
    manifest["vulndb"] = None
    m[MANIFEST] = json.dumps(manifest).encode()
    _rehash(m)
    return []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip_entry, f"checksum mismatch: {VULNDB}/ID/GO-2020-0033.json"),
        (_foreign_file, f"{VULNDB}/ID/run.sh is not a vulnerability database file"),
        (_unannounced, f"{VULNDB}/ files but no vulndb in {MANIFEST}"),
    ],
)
def test_a_tampered_database_is_refused_and_nothing_changes(
    change: Callable[[dict[str, bytes]], list[object]],
    message: str,
    carried: dict[str, Path],
    tmp_path: Path,
) -> None:
    vault = tmp_path / "vaultB"
    db = build(tmp_path / "osv", tmp_path / "vulndbB", "2026-10-01T00:00:00Z", IDS[:1])
    before = (listing(vault), listing(db))
    bad = tmp_path / "bad.tar.gz"
    repack(carried["bundle"], bad, change)  # type: ignore[arg-type]
    code, _, err = go_vault("import", str(bad), "--storage", str(vault), "--vulndb", str(db))
    assert code == 2, err
    assert message in err
    assert (listing(vault), listing(db)) == before
