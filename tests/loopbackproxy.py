"""A GOPROXY over HTTP(S) on 127.0.0.1 serving a GoProxyTree, with /-/healthz and a log."""

from __future__ import annotations

import base64
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class LoopbackProxy:
    """A GOPROXY over HTTP(S) on 127.0.0.1 serving a GoProxyTree, with /-/healthz and a log."""

    root: Path
    healthy: bool = True
    credentials: tuple[str, str] | None = None  # (login, password) required for module paths
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    url: str = ""
    server: ThreadingHTTPServer | None = None

    def module_requests(self) -> list[str]:
        return [p for p, _ in self.requests if "/@v/" in p]

    def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                proxy.requests.append((self.path, auth))
                if self.path == "/-/healthz":
                    if proxy.healthy:
                        self._send(200, b"ok\n")
                    else:
                        self._send(503, b"vault unavailable\n")
                    return
                if proxy.credentials is not None:
                    want = base64.b64encode(":".join(proxy.credentials).encode()).decode()
                    if auth != f"Basic {want}":
                        self._send(401, b"authentication required\n")
                        return
                target = (proxy.root / self.path.lstrip("/").replace("%21", "!")).resolve()
                if proxy.root.resolve() not in target.parents or not target.is_file():
                    self._send(404, b"not found\n")
                    return
                self._send(200, target.read_bytes(), "application/octet-stream")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def tls_context(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 from a throwaway CA, and the CA's PEM file (for
    SSL_CERT_FILE and REQUESTS_CA_BUNDLE)."""
    trustme = pytest.importorskip("trustme", reason="pip install -e '.[test]' brings trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file
