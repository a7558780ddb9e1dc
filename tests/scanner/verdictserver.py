"""A loopback HTTP server speaking the proxy's verdict API (POST /-/verdicts), for scan tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scanner.verdict import Decision, Reason, Verdict


def verdict_json(
    module: str, version: str, decision: str = "PASS", h1: str = "", excepted: bool = False
) -> dict[str, Any]:
    """`excepted`: the PASS comes from an exception of the proxy's (an approval)."""
    reasons = (Reason("exception.approved", f"{module}: approved"),) if excepted else ()
    return Verdict(
        module=module,
        version=version,
        decision=Decision(decision),
        licenses=(),
        expression="GPL-3.0-only" if "gpl" in module else "MIT",
        reasons=reasons,
        policy_digest="sha256:" + "1" * 64,
        h1=h1,
        detector_version="1",
        evaluated_at="2026-01-01T00:00:00+00:00",
    ).to_json()


class VerdictServer:
    """A loopback verdict API: scripted failures first, then answers; records requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_first: list[int] = []  # status codes to answer before succeeding
        self.token = ""
        self.delay = 0.0
        # module path -> decision; the default rejects paths containing "gpl"
        self.decide: Callable[[str], str] = lambda path: "REJECT" if "gpl" in path else "PASS"
        # (path, version) -> the h1: the proxy says it judged ("" = not stated)
        self.h1: Callable[[str, str], str] = lambda path, version: ""
        self.excepted: set[str] = set()  # module paths whose PASS is by an approval
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body})
                server.headers.append(dict(self.headers))
                if server.delay:
                    time.sleep(server.delay)
                if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
                    self._send(401, {"error": "token"})
                elif server.fail_first:
                    self._send(server.fail_first.pop(0), {"error": "scripted"})
                elif self.path.endswith("/-/verdicts"):
                    out = [
                        verdict_json(
                            m["module"],
                            m["version"],
                            server.decide(m["module"]),
                            server.h1(m["module"], m["version"]),
                            m["module"] in server.excepted,
                        )
                        for m in body["modules"]
                        if "unknown" not in m["module"]
                    ]
                    self._send(200, {"verdicts": out})
                else:
                    self._send(404, {"error": "no route"})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
