"""`go-vault serve` over TLS (granian and uvicorn) and mutual TLS, started as the operator does."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from serveproc import SERVE, serve_process
from testca import Issued, TestCA

from proxy.auth import Access, TokenFile


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, Issued, Issued]:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    return ca, ca.issue("server", "127.0.0.1", server=True), ca.issue("c", "deployer", server=False)


@contextmanager
def serve(tmp: Path, *args: str) -> Iterator[tuple[str, Path]]:
    audit = tmp / "audit.jsonl"
    common = ("--storage", str(tmp / "vault"), "--offline", "--audit-log", str(audit))
    with serve_process(*common, *args) as (_proc, url):
        yield url, audit


def _client(ca: TestCA, cert: Issued | None = None) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(ca.cert))
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    return httpx.Client(verify=ctx, timeout=10)


def _wait_up(client: httpx.Client, url: str) -> None:
    deadline = time.monotonic() + 30
    while True:  # granian binds after the start-up line
        try:
            client.get(url + "/-/healthz")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "go-vault serve did not come up over https"
            time.sleep(0.05)


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_https_with_tokens(
    pki: tuple[TestCA, Issued, Issued], tmp_path: Path, server: str
) -> None:
    ca, server_cert, _ = pki
    tokens = TokenFile(tmp_path / "tokens.json")
    _, token = tokens.add("ci", Access.READ)
    tls = ("--tls-cert", str(server_cert.cert), "--tls-key", str(server_cert.key))
    with (
        serve(tmp_path, "--server", server, *tls, "--auth-tokens", str(tokens.path)) as (url, _),
        _client(ca) as client,
    ):
        assert url.startswith("https://127.0.0.1:")
        _wait_up(client, url)
        assert client.get(url + "/-/healthz").status_code == 200
        assert client.get(url + "/example.com/m/@v/list").status_code == 401
        r = client.get(url + "/example.com/m/@v/list", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 404 and "offline" in r.text  # admitted; the vault is empty
        with httpx.Client(timeout=5) as plain, pytest.raises(httpx.TransportError):
            plain.get(url.replace("https://", "http://") + "/-/healthz")


def test_serve_mtls_identity_is_the_certificate_subject(
    pki: tuple[TestCA, Issued, Issued], tmp_path: Path
) -> None:
    """No --server: a client CA picks uvicorn, the server that passes the subject on."""
    ca, server_cert, client_cert = pki
    args = (
        *("--tls-cert", str(server_cert.cert)),
        *("--tls-key", str(server_cert.key), "--tls-client-ca", str(ca.cert)),
    )
    with serve(tmp_path, *args) as (url, audit):
        with _client(ca, client_cert) as client:
            _wait_up(client, url)
            assert client.get(url + "/example.com/m/@v/list").status_code == 404
            assert client.get(url + "/-/metrics").status_code == 403  # mtls_scope read
        with _client(ca) as anonymous, pytest.raises(httpx.TransportError):
            anonymous.get(url + "/-/healthz")
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    seen = {e.get("identity") for e in events if e["event"] == "request"}
    assert seen == {"CN=deployer,O=Example"}, [e for e in events if e["event"] == "request"]


def test_mtls_beside_a_token_file_admits_either_credential(
    pki: tuple[TestCA, Issued, Issued], tmp_path: Path
) -> None:
    """The go command cannot present a client certificate: with a token file, a vault that
    required one locked out every go user holding a token (the handshake failed: "EOF")."""
    ca, server_cert, client_cert = pki
    tokens = TokenFile(tmp_path / "tokens.json")
    _, token = tokens.add("dev", Access.READ)
    args = (
        *("--tls-cert", str(server_cert.cert), "--tls-key", str(server_cert.key)),
        *("--tls-client-ca", str(ca.cert), "--auth-tokens", str(tokens.path)),
    )
    with serve(tmp_path, *args) as (url, audit):
        with _client(ca, client_cert) as client:
            _wait_up(client, url)
            assert client.get(url + "/example.com/m/@v/list").status_code == 404
        with _client(ca) as anonymous:
            assert anonymous.get(url + "/example.com/m/@v/list").status_code == 401
            bearer = {"Authorization": f"Bearer {token}"}
            assert anonymous.get(url + "/example.com/m/@v/list", headers=bearer).status_code == 404
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    seen = {e.get("identity") for e in events if e["event"] == "request" and e["status"] == 404}
    assert seen == {"CN=deployer,O=Example", "dev"}


def test_mtls_with_granian_is_an_input_error(
    pki: tuple[TestCA, Issued, Issued], tmp_path: Path
) -> None:
    ca, server_cert, _ = pki
    proc = subprocess.run(
        [
            *SERVE,
            *("--listen", "127.0.0.1:0", "--storage", str(tmp_path / "v"), "--server", "granian"),
            *("--tls-cert", str(server_cert.cert), "--tls-key", str(server_cert.key)),
            *("--tls-client-ca", str(ca.cert)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert proc.returncode == 2
    assert "mutual TLS needs server uvicorn" in proc.stderr
