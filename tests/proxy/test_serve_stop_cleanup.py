"""A `go-vault serve` stopped cleanly (SIGTERM, exit 0) leaves none of its scratch directories:
the vault's `.tmp/stage-*` and `$TMPDIR/go-vault-*` go with the process, under either server."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from serveproc import serve_process

M = "example.com/stop"


@pytest.mark.parametrize(
    "server", [["--server", "uvicorn"], ["--server", "granian"], ["--workers", "2"]], ids=str
)
def test_a_clean_stop_leaves_no_scratch_directories(
    goproxy_tree: GoProxyTree, tmp_path: Path, server: list[str]
) -> None:
    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": f"module {M}\n", "stop.go": "package stop\n"})
    vault, tmp = tmp_path / "vault", tmp_path / "tmp"
    tmp.mkdir()
    args = ["--storage", str(vault), "--upstream", goproxy_tree.url, *server]
    with serve_process(*args, env={"TMPDIR": str(tmp)}) as (proc, url):
        r = httpx.get(f"{url}/{M}/@v/v1.0.0.zip", timeout=30)  # stored: staged, then moved in
        assert r.status_code == 200
        assert list((vault / ".tmp").glob("stage-*")), "the zip was not staged in the vault"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert sorted(p.name for p in (vault / ".tmp").iterdir()) == []
    assert sorted(p.name for p in tmp.iterdir()) == []
