"""Faults: kill -9 during ingest leaves nothing partial; a truncating, partitioned or looping
upstream gets a clear 502 and nothing stored (slow, 5xx and re-tag: test_gateway_*.py)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from subprocess import Popen

import httpx
from goproxytree import GoProxyTree
from serveproc import serve_process
from vaultlab import GatewayFactory, LoopbackUpstream

from proxy.storage import Kind, open_storage
from scanner.dirhash import hash_zip

M = "example.com/big"


def _big_module(tree: GoProxyTree) -> bytes:
    """A module with 6 MiB of incompressible data, so ingest takes a while to fetch and hash."""
    files: dict[str, str | bytes] = {"go.mod": f"module {M}\n", "LICENSE": "MIT License\n"}
    for n in range(6):
        files[f"data/blob{n}.bin"] = os.urandom(1 << 20)
    art = tree.add_module(M, "v1.0.0", files)
    return art.zip.read_bytes()


def serve_vault(
    storage: Path, upstream: str, tmp: Path | None = None
) -> AbstractContextManager[tuple[Popen[str], str]]:
    audit = str(storage.parent / "audit.jsonl")
    return serve_process(
        "--server",
        "uvicorn",
        "--storage",
        str(storage),
        "--upstream",
        upstream,
        "--audit-log",
        audit,
        env={"TMPDIR": str(tmp)} if tmp else None,
    )


def _assert_whole_or_absent(storage: Path, zip_bytes: bytes) -> bool:
    """The vault shows the version complete and right, or not at all; True if it is stored."""
    vault = open_storage(str(storage))
    if "v1.0.0" not in vault.list(M):
        return False
    assert vault.get(M, "v1.0.0", Kind.ZIP) == zip_bytes
    assert vault.get(M, "v1.0.0", Kind.MOD) == f"module {M}\n".encode()
    assert json.loads(vault.get(M, "v1.0.0", Kind.INFO))["Version"] == "v1.0.0"
    return True


def test_kill_9_during_ingest_leaves_no_partial_object(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    zip_bytes = _big_module(tree)
    upstream = LoopbackUpstream(tree.root)
    storage = tmp_path / "vault"
    scratch = tmp_path / "tmp"  # the servers' TMPDIR, where their zips are fetched to
    scratch.mkdir()
    outcomes = []
    try:
        # Kill at the moment the zip fetch starts, then ever later (hashing, staging, linking).
        for delay in (0.0, 0.02, 0.06, 0.12, 0.25):
            before = sum(upstream.fetches(".zip").values())
            with serve_vault(storage, upstream.url, scratch) as (proc, url):
                requester = threading.Thread(
                    target=lambda url=url: _quietly_get(f"{url}/{M}/@v/v1.0.0.zip"), daemon=True
                )
                requester.start()
                deadline = time.monotonic() + 20
                while sum(upstream.fetches(".zip").values()) == before:
                    assert time.monotonic() < deadline, "the ingest never reached upstream"
                    time.sleep(0.002)
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
            outcomes.append(_assert_whole_or_absent(storage, zip_bytes))
            if outcomes[-1]:
                break  # stored in full before the kill: later kill points prove nothing more
        # No process cleans up after a SIGKILL: each server removed at start what the one
        # killed before it was writing, and the last one's is still there ...
        assert len(list(scratch.glob("go-vault-ingest-*"))) == 1
        with (
            serve_vault(storage, upstream.url, scratch) as (_proc, url),
            httpx.Client(timeout=30) as c,
        ):
            r = c.get(f"{url}/{M}/@v/v1.0.0.zip")
            assert r.status_code == 200, r.text
            assert r.content == zip_bytes
            assert c.get(f"{url}/{M}/@v/v1.0.0.info").status_code == 200
    finally:
        upstream.stop()
    # ... until the next server starts; that one removed its own on exit.
    assert list(scratch.iterdir()) == []
    assert list((storage / ".tmp").iterdir()) == []
    assert _assert_whole_or_absent(storage, zip_bytes)
    assert hash_zip(zip_bytes) == hash_zip(open_storage(str(storage)).get(M, "v1.0.0", Kind.ZIP))
    assert outcomes and not all(outcomes), "every kill came after the ingest finished"


def _quietly_get(url: str) -> None:
    with contextlib.suppress(httpx.TransportError):  # killed under this request: the test
        httpx.get(url, timeout=30)


def test_truncated_zip_is_refused_and_nothing_stored(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    art = goproxy_tree.add_module(M, "v1.0.0", {"go.mod": f"module {M}\n", "a.go": "package a\n"})
    whole = art.zip.read_bytes()
    art.zip.write_bytes(whole[: len(whole) // 2])
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip", timeout=30)
    assert r.status_code == 502 and "refused by go-vault ingest" in r.text, r.text
    assert open_storage(str(tmp_path / "vault")).list(M) == []


def test_redirect_loop_is_a_clear_502(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream, tmp_path: Path
) -> None:
    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": f"module {M}\n"})
    upstream.redirect[f"/{M}/@v/v1.0.0.zip"] = f"/{M}/@v/v1.0.0.zip"
    with gateway() as gw:
        start = time.monotonic()
        r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip", timeout=30)
    assert r.status_code == 502, r.text
    assert "redirect" in r.text.lower()
    assert time.monotonic() - start < 10
    assert sum(upstream.fetches(".zip").values()) <= 30  # a bounded number of hops
    assert open_storage(str(tmp_path / "vault")).list(M) == []


class _Partitioned(http.server.BaseHTTPRequestHandler):
    """Serves .info/.mod from a tree, but a .zip's connection drops halfway through."""

    root: Path

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        target = self.root / self.path.lstrip("/")
        if not target.is_file():
            self.send_error(404)
            return
        body = target.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.endswith(".zip"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the network goes away mid-download
            return
        self.wfile.write(body)


def test_upstream_partition_mid_download_is_502_and_nothing_stored(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    _big_module(goproxy_tree)
    handler = type("Handler", (_Partitioned,), {"root": goproxy_tree.root})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with gateway(upstream=f"http://127.0.0.1:{server.server_address[1]}") as gw:
            r = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.zip", timeout=30)
            assert r.status_code == 502, r.text
            assert len(r.text.splitlines()) <= 8
            again = httpx.get(f"{gw.url}/{M}/@v/v1.0.0.info", timeout=30)
            assert again.status_code == 502  # not served from a half-written vault
    finally:
        server.shutdown()
        server.server_close()
    assert open_storage(str(tmp_path / "vault")).list(M) == []
