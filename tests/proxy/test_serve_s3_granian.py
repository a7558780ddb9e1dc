"""`go-vault serve` on S3 storage with the default server (granian), started several times."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from s3server import MotoServer
from serveproc import serve_process

M = "example.com/lib"


def test_every_granian_start_on_s3_serves_modules(
    moto_server: MotoServer, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """A granian worker forked while a thread of the main process held the import lock of the
    `idna` codec (the start-line probe's connect) could never import it: every S3 request of
    that worker hung in urllib3's connect while /-/healthz answered 200. Two starts in three."""
    goproxy_tree.add_module(M, "v1.0.0", {"go.mod": f"module {M}\n", "l.go": "package lib\n"})
    upstream = goproxy_tree.root.as_uri()
    storage = f"s3://{moto_server.new_bucket()}/p?endpoint={moto_server.url}"
    for n in range(4):
        with serve_process(
            *("--storage", storage, "--upstream", upstream),
            *("--audit-log", str(tmp_path / f"audit-{n}.jsonl")),
        ) as (_proc, url):
            r = httpx.get(f"{url}/{M}/@v/list", timeout=20)
            assert r.status_code == 200, f"start {n}: {r.status_code} {r.text}"
            assert r.text.split() == ["v1.0.0"], f"start {n}"


# Run in a fresh interpreter: the test process has imported the `idna` codec long ago.
_PROBE_IMPORTS_NOTHING = """
import socket, sys, threading
from proxy.commands.serve import _health_probe
from proxy.config import load_config

listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]

def answer():
    conn, _ = listener.accept()
    conn.recv(1024)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
    conn.close()

threading.Thread(target=answer, daemon=True).start()
config = load_config(env={}, flags={"listen": f"localhost:{port}"})
probe = _health_probe(config, port)
before = set(sys.modules)
assert probe() is True
print(sorted(set(sys.modules) - before))
"""


def test_the_start_probe_imports_nothing_once_made() -> None:
    """What the start-line probe thread runs while granian may fork imports no module (an
    import lock held across a fork stays held in the child); making it on the main thread
    resolves the address and imports the codec getaddrinfo needs."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE_IMPORTS_NOTHING],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
