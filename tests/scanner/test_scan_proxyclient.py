"""The verdict client against a real HTTP server on 127.0.0.1 speaking the verdict API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from verdictserver import VerdictServer

from scanner.errors import InputError, OperationalError
from scanner.module import ModuleVersion
from scanner.proxyclient import ClientOptions, ProxyAuthError, ProxyClient, ProxyUnreachableError
from scanner.verdict import Decision


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
