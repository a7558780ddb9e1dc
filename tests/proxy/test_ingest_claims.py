"""Single-flight across processes: server processes sharing one filesystem vault (granian's
--workers, or replicas on one volume) fetch each new version from the upstream once."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from serveproc import serve_process
from vaultlab import LoopbackUpstream

from proxy.storage.fs import FsStorage

HOLDER = """
import sys
from pathlib import Path
from proxy.storage.fs import FsStorage
release = FsStorage(Path(sys.argv[1])).claim(sys.argv[2], sys.argv[3])
print("held" if release else "refused", flush=True)
sys.stdin.readline()
release and release()
print("released", flush=True)
sys.stdin.readline()
"""


@contextmanager
def claimed_elsewhere(vault: Path, module: str, version: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the claim on module@version; a line on its stdin releases it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(vault), module, version],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_claim_excludes_other_processes_until_released_or_its_holder_dies(
    tmp_path: Path,
) -> None:
    vault = FsStorage(tmp_path / "vault")
    with claimed_elsewhere(tmp_path / "vault", "example.com/m", "v1.0.0") as holder:
        assert vault.claim("example.com/m", "v1.0.0") is None
        other = vault.claim("example.com/m", "v1.0.1")  # another version is not held
        assert other is not None
        other()
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "released\n"
        release = vault.claim("example.com/m", "v1.0.0")
        assert release is not None
        release()
    with claimed_elsewhere(tmp_path / "vault", "example.com/m", "v1.0.0") as holder:
        holder.kill()  # no release: the kernel drops a dead process's locks
        holder.wait()
        release = vault.claim("example.com/m", "v1.0.0")
        assert release is not None
        release()


def test_a_vault_without_locks_grants_every_claim(tmp_path: Path) -> None:
    vault = FsStorage(tmp_path / "vault")
    (tmp_path / "vault" / ".claims").mkdir()  # cannot be opened as a file
    release = vault.claim("example.com/m", "v1.0.0")
    assert release is not None
    release()


def get_all(urls: list[str]) -> list[httpx.Response]:
    answers: list[httpx.Response] = []

    def get(url: str) -> None:
        answers.append(httpx.get(url, timeout=60))

    threads = [threading.Thread(target=get, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_two_servers_on_one_vault_fetch_a_new_version_once(
    tmp_path: Path, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    art = goproxy_tree.add_module(
        "example.com/shared",
        "v1.0.0",
        {"go.mod": "module example.com/shared\n", "a.go": "package a\n"},
    )
    base = "/example.com/shared/@v/v1.0.0"
    upstream.hold[base + ".info"] = gate = threading.Event()  # the first ingest waits there
    args = ("--storage", str(tmp_path / "vault"), "--upstream", upstream.url, "--server", "uvicorn")
    with serve_process(*args) as (_, a), serve_process(*args) as (_, b):
        urls = [f"{url}{base}.{kind}" for url in (a, b) for kind in ("mod", "info", "zip")]
        answers: list[httpx.Response] = []
        getter = threading.Thread(target=lambda: answers.extend(get_all(urls * 2)))
        getter.start()
        deadline = time.monotonic() + 30
        while not upstream.fetches(".info") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # the other server's requests reach its claim and wait
        gate.set()
        getter.join()
    assert sorted(r.status_code for r in answers) == [200] * len(urls) * 2
    zips = {r.content for r in answers if r.request.url.path.endswith(".zip")}
    assert zips == {art.zip.read_bytes()}
    assert {p: n for p, n in upstream.hits.items() if p.startswith(base)} == {
        base + ".info": 1,
        base + ".mod": 1,
        base + ".zip": 1,
    }


def test_granian_workers_fetch_a_new_version_once(
    tmp_path: Path, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    for n in range(4):
        goproxy_tree.add_module(
            f"example.com/w{n}",
            "v1.0.0",
            {"go.mod": f"module example.com/w{n}\n", "a.go": "package a\n"},
        )
    upstream.delay = 0.2  # every upstream answer is slow, so the requests overlap
    args = ("--storage", str(tmp_path / "vault"), "--upstream", upstream.url)
    with serve_process(*args, "--server", "granian", "--workers", "2") as (_, url):
        urls = [
            f"{url}/example.com/w{n}/@v/v1.0.0.{kind}"
            for n in range(4)
            for kind in ("info", "mod", "zip")
            for _ in range(4)
        ]
        answers = get_all(urls)
    assert [r.status_code for r in answers] == [200] * len(urls)
    assert set(upstream.hits.values()) == {1}
    assert len(upstream.hits) == 4 * 3
