"""The verdict client against a real HTTP server on 127.0.0.1 speaking the verdict API."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scanner.errors import InputError, OperationalError
from scanner.module import ModuleVersion
from scanner.proxyclient import ClientOptions, ProxyAuthError, ProxyClient, ProxyUnreachableError
from scanner.verdict import Decision, Verdict


def verdict_json(module: str, version: str, decision: str = "PASS") -> dict[str, Any]:
    return Verdict(
        module=module,
        version=version,
        decision=Decision(decision),
        licenses=(),
        expression="MIT",
        reasons=(),
        policy_digest="sha256:" + "1" * 64,
        h1="h1:x",
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
                            m["module"], m["version"], "REJECT" if "gpl" in m["module"] else "PASS"
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


@pytest.fixture
def verdict_server() -> Iterator[VerdictServer]:
    server = VerdictServer()
    yield server
    server.close()


FAST = ClientOptions(retries=2, backoff=0.01, connect_timeout=2, read_timeout=2)
MODS = [ModuleVersion("example.com/mit", "v1.0.0"), ModuleVersion("example.com/gpl", "v2.0.0")]


def test_batch_query_returns_one_verdict_per_module(verdict_server: VerdictServer) -> None:
    with ProxyClient(verdict_server.url + "/base/", FAST) as client:
        got = client.verdicts([*MODS, ModuleVersion("example.com/unknown", "v1.0.0")])
    assert {str(k): v.decision for k, v in got.items()} == {
        "example.com/mit@v1.0.0": Decision.PASS,
        "example.com/gpl@v2.0.0": Decision.REJECT,
    }
    assert len(verdict_server.requests) == 1  # one batch
    request = verdict_server.requests[0]
    assert request["path"] == "/base/-/verdicts"
    assert request["body"]["modules"][0] == {"module": "example.com/gpl", "version": "v2.0.0"}


def test_retries_with_backoff_then_succeeds(verdict_server: VerdictServer) -> None:
    verdict_server.fail_first = [503, 502]
    with ProxyClient(verdict_server.url, FAST) as client:
        got = client.verdicts(MODS)
    assert len(got) == 2
    assert len(verdict_server.requests) == 3


def test_persistent_5xx_is_unreachable(verdict_server: VerdictServer) -> None:
    verdict_server.fail_first = [503] * 10
    with ProxyClient(verdict_server.url, FAST) as client, pytest.raises(ProxyUnreachableError):
        client.verdicts(MODS)
    assert len(verdict_server.requests) == 3  # first try + 2 retries


def test_token_is_sent_and_a_refusal_names_the_variable(verdict_server: VerdictServer) -> None:
    verdict_server.token = "s3cret"
    with ProxyClient(verdict_server.url, FAST) as client, pytest.raises(ProxyAuthError) as e:
        client.verdicts(MODS)
    assert "GOPROXY_SCAN_TOKEN" in str(e.value)
    options = ClientOptions(token="s3cret", retries=0)
    with ProxyClient(verdict_server.url, options) as client:
        assert len(client.verdicts(MODS)) == 2
    assert verdict_server.headers[-1]["Authorization"] == "Bearer s3cret"
    assert verdict_server.headers[-1]["User-Agent"].startswith("goproxy-scan/")


def test_refused_connection_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens
    start = time.monotonic()
    with (
        ProxyClient(f"http://127.0.0.1:{port}", FAST) as client,
        pytest.raises(ProxyUnreachableError) as e,
    ):
        client.verdicts(MODS)
    assert time.monotonic() - start < 5
    assert "--fail-open" in str(e.value)


def test_read_timeout_is_unreachable(verdict_server: VerdictServer) -> None:
    verdict_server.delay = 1.0
    options = ClientOptions(retries=0, read_timeout=0.2)
    with ProxyClient(verdict_server.url, options) as client, pytest.raises(ProxyUnreachableError):
        client.verdicts(MODS)


def test_not_a_verdict_api_and_bad_urls(verdict_server: VerdictServer) -> None:
    with pytest.raises(InputError):
        ProxyClient("ftp://example.com")
    verdict_server.fail_first = [404]
    with ProxyClient(verdict_server.url, FAST) as client, pytest.raises(OperationalError) as e:
        client.verdicts(MODS)
    assert "404" in str(e.value)
