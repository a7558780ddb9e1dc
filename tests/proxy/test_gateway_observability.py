"""Trace ids on every response, one audit-log line per request and ingest, health and metrics."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from vaultlab import GatewayFactory

from proxy.storage.fs import FsStorage


def events(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def test_trace_id_is_echoed_or_generated_and_logged(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    goproxy_tree.add_module("example.com/m", "v1.0.0")
    with gateway() as gw:
        mine = httpx.get(
            f"{gw.url}/example.com/m/@v/v1.0.0.zip", headers={"X-Go-Module-Trace-ID": "ci-run-42"}
        )
        fresh = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.zip")
        evil = httpx.get(f"{gw.url}/-/healthz", headers={"X-Go-Module-Trace-ID": 'a b"\\n<x>'})
        missing = httpx.get(f"{gw.url}/example.com/nope/@v/list")
    assert mine.headers["x-go-module-trace-id"] == "ci-run-42"
    generated = fresh.headers["x-go-module-trace-id"]
    assert len(generated) == 32 and generated != "ci-run-42"
    assert evil.headers["x-go-module-trace-id"].isalnum()
    assert missing.headers["x-go-module-trace-id"]  # errors carry one too
    log = events(tmp_path)
    ingest = [e for e in log if e["event"] == "ingest"]
    assert len(ingest) == 1 and ingest[0]["trace_id"] == "ci-run-42"
    assert str(ingest[0]["h1"]).startswith("h1:")
    first, second = [e for e in log if e["event"] == "request" and e["route"] == "zip"]
    assert (
        first["trace_id"] == "ci-run-42"
        and first["cache"] == "miss"
        and first["decision"] == "stored"
    )
    assert second["trace_id"] == generated and second["cache"] == "hit"
    for e in (first, second):
        assert e["module"] == "example.com/m" and e["version"] == "v1.0.0" and e["status"] == 200
        assert e["bytes"] == len(mine.content) and e["client"] == "127.0.0.1"
        assert isinstance(e["latency_ms"], float)
    assert [e["status"] for e in log if e["event"] == "request" and e["route"] == "list"] == [404]


def test_metrics_count_requests_cache_upstream_and_ingests(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree
) -> None:
    goproxy_tree.add_module("example.com/m", "v1.0.0")
    stored = 'go_vault_ingests_total{outcome="stored"} 1.0'
    with gateway() as gw:
        httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.mod")
        # The .mod is answered before the zip is checked and stored: a request in the
        # meantime would join the ingest (a miss). The second one comes after it.
        deadline = time.monotonic() + 30
        while stored not in httpx.get(f"{gw.url}/-/metrics").text:
            assert time.monotonic() < deadline, "the ingest never finished"
            time.sleep(0.01)
        httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.mod")
        httpx.get(f"{gw.url}/example.com/nope/@v/list")
        text = httpx.get(f"{gw.url}/-/metrics").text
    assert 'go_vault_requests_total{route="mod",status="200"} 2.0' in text
    assert 'go_vault_requests_total{route="list",status="404"} 1.0' in text
    assert 'go_vault_cache_total{result="hit"} 1.0' in text
    assert 'go_vault_cache_total{result="miss"} 2.0' in text
    assert stored in text
    assert 'go_vault_upstream_requests_total{outcome="ok"} 3.0' in text
    assert 'go_vault_upstream_requests_total{outcome="not_found"} 1.0' in text
    assert 'go_vault_request_seconds_count{route="mod"} 2.0' in text


def test_readyz_checks_storage(gateway: GatewayFactory, tmp_path: Path) -> None:
    storage = FsStorage(tmp_path / "vault")
    with gateway(storage=storage) as gw:
        assert httpx.get(f"{gw.url}/-/readyz").status_code == 200
        (tmp_path / "vault" / ".tmp").rmdir()  # the vault's scratch space disappears
        (tmp_path / "vault" / ".tmp").write_text("not a directory")
        r = httpx.get(f"{gw.url}/-/readyz")
        assert r.status_code == 500 and "not writable" in r.text
        assert httpx.get(f"{gw.url}/-/healthz").status_code == 200  # alive, just not ready


def test_otel_spans_reach_the_configured_otlp_endpoint(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree
) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    posts: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(
        target=collector.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    goproxy_tree.add_module("example.com/m", "v1.0.0")
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
        with gateway(otlp_endpoint=endpoint) as gw:
            httpx.get(
                f"{gw.url}/example.com/m/@v/v1.0.0.mod", headers={"X-Go-Module-Trace-ID": "span-7"}
            )
        # Spans are batched and flushed at shutdown.
    finally:
        collector.shutdown()
    assert posts and all(path == "/v1/traces" for path, _ in posts)
    payload = b"".join(body for _, body in posts)
    assert b"go_vault.request" in payload and b"go_vault.ingest" in payload
    assert b"span-7" in payload and b"example.com/m" in payload


def test_no_otlp_endpoint_means_no_tracer(gateway: GatewayFactory) -> None:
    with gateway() as gw:
        assert not gw.gateway.tracer.enabled


def test_vulndb_route_prefix_matches_its_module() -> None:
    from proxy import app, vulndb

    assert app.VULNDB_PREFIX == vulndb.PREFIX  # app spells it out to import vulndb lazily
