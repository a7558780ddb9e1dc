"""A full disk: `go-vault serve` on a 2 MiB tmpfs vault answers 507 with a message, stores
nothing partial, and keeps serving what it holds (mount namespace via `unshare -rm`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from serveproc import serve_process
from vaultlab import LoopbackUpstream

from proxy.bundle import export_bundle
from proxy.storage import Kind
from proxy.storage.fs import FsStorage

GO_VAULT = [sys.executable, "-c", "from proxy.cli import main; main()"]


def _can_mount_tmpfs(where: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {where}"],
        capture_output=True,
        timeout=10,
    )
    return probe.returncode == 0


def test_full_disk_is_507_and_nothing_partial(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    if not _can_mount_tmpfs(vault):
        pytest.skip("no unprivileged mount namespace here (unshare -rm)")
    tree = GoProxyTree(tmp_path / "upstream")
    small = tree.add_module("example.com/small", "v1.0.0", {"go.mod": "module example.com/small\n"})
    tree.add_module(
        "example.com/huge",
        "v1.0.0",
        {"go.mod": "module example.com/huge\n", "blob.bin": os.urandom(3 << 20)},
    )
    upstream = LoopbackUpstream(tree.root)
    serve = ("--server", "uvicorn", "--storage", str(vault), "--upstream", upstream.url)
    mount = f"mount -t tmpfs -o size=2m tmpfs {vault}"
    audit = ("--audit-log", str(tmp_path / "audit.jsonl"))
    try:
        with (
            serve_process(*serve, *audit, shell_prefix=mount, wrap=["unshare", "-rm"]) as (_, url),
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            first = client.get("/example.com/small/@v/v1.0.0.zip")
            assert first.status_code == 200
            full = client.get("/example.com/huge/@v/v1.0.0.zip")
            assert full.status_code == 507, full.text
            assert "disk is full" in full.text and "nothing was stored" in full.text
            assert full.headers["retry-after"]
            # Nothing of the refused version is visible; the stored one is still whole.
            assert client.get("/example.com/huge/@v/list").text.strip() == "v1.0.0"  # upstream
            assert client.get("/example.com/small/@v/v1.0.0.zip").content == small.zip.read_bytes()
            assert client.get("/-/healthz").status_code == 200
            again = client.get("/example.com/huge/@v/v1.0.0.info")
            assert again.status_code == 507  # still full: refused again, not half-served
    finally:
        upstream.stop()
    # The tmpfs vanished with the namespace; the audit log (outside it) tells the story.
    events = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert any(e.get("status") == 507 and e.get("decision") == "disk-full" for e in events)


def _bundle_cli(shell: str) -> subprocess.CompletedProcess[str]:
    """`shell` (go-vault … commands) in a private mount namespace (`unshare -rm`)."""
    go_vault = f"{sys.executable} -c 'from proxy.cli import main; main()'"
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", shell.replace("go-vault", go_vault)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _small_vault(tmp_path: Path) -> Path:
    tree = GoProxyTree(tmp_path / "tree")
    vault = FsStorage(tmp_path / "vault")
    for n in range(6):
        art = tree.add_module(
            f"example.com/b{n}",
            "v1.0.0",
            {"go.mod": f"module example.com/b{n}\n", "x.bin": os.urandom(64 << 10)},
        )
        vault.put_version(
            f"example.com/b{n}",
            "v1.0.0",
            [(Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)],
        )
    return tmp_path / "vault"


def test_a_bundle_on_a_full_disk_is_a_message_and_no_partial_file(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    if not _can_mount_tmpfs(full):
        pytest.skip("no unprivileged mount namespace here (unshare -rm)")
    vault = _small_vault(tmp_path)
    proc = _bundle_cli(
        f"mount -t tmpfs -o size=128k tmpfs {full} && "
        f"go-vault sync --offline --bundle={full}/b.tar.gz --storage {vault}; "
        f"echo exit=$?; ls -A {full}"
    )
    assert "no space left to write the bundle" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip().endswith("exit=3")  # and the listing of the disk is empty


def test_an_import_into_a_full_vault_blames_the_vault_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    if not _can_mount_tmpfs(target):
        pytest.skip("no unprivileged mount namespace here (unshare -rm)")
    bundle = tmp_path / "b.tar.gz"
    export_bundle(FsStorage(_small_vault(tmp_path)), bundle)
    proc = _bundle_cli(
        f"mount -t tmpfs -o size=128k tmpfs {target} && "
        f"go-vault import {bundle} --storage {target}; echo exit=$?; "
        f"find {target} -type f -not -name .claims"
    )
    assert "cannot write into the vault: No space left on device" in proc.stderr, proc.stderr
    assert "not a readable" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.strip().endswith("exit=3")  # and no file was left in the vault


def test_a_bundle_path_that_cannot_be_written_is_a_message(tmp_path: Path) -> None:
    vault = _small_vault(tmp_path)
    proc = subprocess.run(
        [
            *GO_VAULT,
            "sync",
            "--offline",
            "--bundle=/proc/go-vault-test.tar.gz",
            "--storage",
            str(vault),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot write the bundle" in proc.stderr and "writable directory" in proc.stderr
