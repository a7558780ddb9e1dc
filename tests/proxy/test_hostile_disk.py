"""A full disk: `go-vault serve` on a 2 MiB tmpfs vault answers 507 with a message, stores
nothing partial, and keeps serving what it holds (mount namespace via `unshare -rm`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from serveproc import serve_process
from vaultlab import LoopbackUpstream


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
