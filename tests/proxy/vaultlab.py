"""Test rig for go-vault: a counting loopback upstream, a gateway in a thread, a module graph."""

from __future__ import annotations

import collections
import http.server
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import uvicorn
from goproxytree import GoProxyTree

from proxy.app import Gateway
from proxy.config import VaultConfig
from proxy.ingest import Auditor
from proxy.storage import Storage


def leftovers(directory: Path) -> list[str]:
    """The files under `directory`, but the owner locks of scratch directories (proxy/scratch.py)
    and the vault's ingest claims: what a failed or abandoned write left behind."""
    return sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and p.name not in (".owner", ".claims")
    )


def listing(vault: Path) -> dict[str, bytes]:
    """Every file of a vault and its bytes (what must not change after a refused command)."""
    if not vault.exists():
        return {}
    return {
        str(p.relative_to(vault)): p.read_bytes()
        for p in sorted(vault.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


class LoopbackUpstream:
    """A GOPROXY over HTTP on 127.0.0.1 that serves a GoProxyTree and counts every request.

    `status[path] = 500` forces an answer, `redirect[path] = "/other"` answers 302, `delay`
    slows every answer (to make requests overlap), `hold[path]` (an Event) keeps one waiting
    until it is set. Paths are as requested, unescaped.
    """

    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        self.root = root
        self.hits: collections.Counter[str] = collections.Counter()
        self.status: dict[str, int] = {}
        self.redirect: dict[str, str] = {}
        self.delay = 0.0
        self.hold: dict[str, threading.Event] = {}  # a path answers once its event is set
        self._lock = threading.Lock()
        lab = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                with lab._lock:
                    lab.hits[path] += 1
                if lab.delay:
                    time.sleep(lab.delay)
                if path in lab.hold:
                    lab.hold[path].wait(30)
                if path in lab.redirect:
                    self.send_response(302)
                    self.send_header("Location", lab.redirect[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = lab.status.get(path)
                target = lab.root / path.lstrip("/")
                if status is None and (".." in path.split("/") or not target.is_file()):
                    status = 404
                if status is not None:
                    body = f"upstream says {status} for {path}\n".encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                else:
                    body = target.read_bytes()
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def fetches(self, suffix: str) -> dict[str, int]:
        """Request counts for paths ending in `suffix` (e.g. ".zip")."""
        with self._lock:
            return {p: n for p, n in self.hits.items() if p.endswith(suffix)}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RunningGateway:
    """A Gateway served by uvicorn (uvloop + httptools, as in production) in a thread."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}{gateway.config.base_path}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                gateway, loop="uvloop", http="httptools", lifespan="on", log_level="warning"
            )
        )
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(15)


GatewayFactory = Callable[..., AbstractContextManager[RunningGateway]]
"""The `gateway` fixture: gateway(**config_changes, storage=..., auditor=...) -> running one."""


@contextmanager
def running_gateway(
    config: VaultConfig, *, storage: Storage | None = None, auditor: Auditor | None = None
) -> Iterator[RunningGateway]:
    running = RunningGateway(Gateway(config, storage=storage, auditor=auditor))
    try:
        yield running
    finally:
        running.stop()


def vault_config(tmp: Path, **changes: object) -> VaultConfig:
    """A config for tests: vault and audit log under `tmp`, short timeouts."""
    values: dict[str, object] = {
        "listen": "127.0.0.1:0",
        "storage": str(tmp / "vault"),
        "audit_log": str(tmp / "audit.jsonl"),
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    values.update(changes)
    return VaultConfig(**values)  # type: ignore[arg-type]


def fixture_graph(
    tree: GoProxyTree,
    count: int = 32,
    files: int = 0,
    file_text: Callable[[int, int], str] | None = None,
) -> dict[str, str]:
    """Publish `count` interdependent modules plus awkward ones; returns the main project's files.

    example.com/dep/mN@v1.0.0 (and v1.1.0 for even N) requires mN+1 and mN+2, so the graph has
    shared edges and MVS picks v1.1.0 where both are wanted; the extras cover a case-encoded
    path, a /v2 module, a +incompatible module without go.mod and a pre-release version.
    `files` adds that many Go files to each dep module (real modules are not 3 files): ~4 KiB of
    comments each, or `file_text(module number, file number)`.
    """

    def gomod(path: str, requires: list[tuple[str, str]]) -> str:
        lines = [f"module {path}", "", "go 1.21"]
        if requires:
            lines += ["", "require ("] + [f"\t{p} {v}" for p, v in requires] + [")"]
        return "\n".join(lines) + "\n"

    def source(pkg: str, imports: list[str], value: str) -> str:
        body = " + ".join([f'"{value}"', *(f"{q.rsplit('/', 1)[-1]}.Name()" for q in imports)])
        imps = "".join(f'import "{q}"\n' for q in imports)
        return f"package {pkg}\n\n{imps}\nfunc Name() string {{ return {body} }}\n"

    mods: list[tuple[str, str]] = []
    for n in range(count):
        path = f"example.com/dep/m{n}"
        deps = [f"example.com/dep/m{k}" for k in (n + 1, n + 2) if k < count]
        versions = ["v1.0.0", "v1.1.0"] if n % 2 == 0 else ["v1.0.0"]
        for version in versions:
            requires = [(d, "v1.0.0") for d in deps]
            tree.add_module(
                path,
                version,
                {
                    "go.mod": gomod(path, requires),
                    f"m{n}.go": source(f"m{n}", deps if n % 5 == 0 else [], f"m{n}-{version}"),
                    "LICENSE": "MIT License\n",
                    **{
                        f"internal/gen/f{i}.go": file_text(n, i)
                        if file_text
                        else "package gen\n\n"
                        + "".join(f"// {path}@{version} line {k} of file {i}\n" for k in range(80))
                        for i in range(files)
                    },
                },
            )
        mods.append((path, versions[-1]))
    extras = [
        ("example.com/Upper/Mod", "v1.2.0-RC1", "mod"),
        ("example.com/major/v2", "v2.3.0", "v2"),
    ]
    for path, version, pkg in extras:
        tree.add_module(path, version, {"go.mod": gomod(path, []), "x.go": source(pkg, [], path)})
        mods.append((path, version))
    tree.add_module(
        "example.com/legacy", "v2.0.0+incompatible", {"legacy.go": source("legacy", [], "old")}
    )
    mods.append(("example.com/legacy", "v2.0.0+incompatible"))
    imports = [
        "example.com/dep/m0",
        "example.com/dep/m1",
        "example.com/Upper/Mod",
        "example.com/major/v2",
        "example.com/legacy",
    ]
    main = "package main\n\n" + "".join(f'import x{i} "{q}"\n' for i, q in enumerate(imports))
    main += (
        "\nfunc main() { println("
        + " + ".join(f"x{i}.Name()" for i in range(len(imports)))
        + ") }\n"
    )
    return {"go.mod": gomod("example.com/app", mods), "main.go": main}
