"""Server time and size limits over raw loopback sockets: slow or silent clients are dropped."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from serveproc import serve_process

from proxy.storage import Kind, open_storage

TIMEOUT = 1.0  # header, idle and send timeouts of the servers under test
MAX_BODY = 1024
ADMIN = "admin-secret-for-limits"
M = "example.com/big"
BIG = 24 << 20  # a zip larger than every loopback buffer between server and client


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(server name, URL) of one go-vault serve with 1 s timeouts and a 1 KiB body cap."""
    vault = tmp_path_factory.mktemp("vault-time")
    storage = open_storage(str(vault))
    storage.put(M, "v1.0.0", Kind.ZIP, os.urandom(BIG))  # served as stored: only bytes matter
    storage.put(M, "v1.0.0", Kind.MOD, f"module {M}\n".encode())
    storage.put(M, "v1.0.0", Kind.INFO, b'{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}')
    env = {
        "GO_VAULT_HEADER_TIMEOUT": str(TIMEOUT),
        "GO_VAULT_IDLE_TIMEOUT": str(TIMEOUT),
        "GO_VAULT_SEND_TIMEOUT": str(TIMEOUT),
        "GO_VAULT_MAX_BODY": str(MAX_BODY),
        "GO_VAULT_ADMIN_TOKEN": ADMIN,
    }
    args = ("--storage", str(vault), "--offline", "--server", request.param, "--workers", "1")
    with serve_process(*args, env=env, ready=True) as (_proc, url):
        yield request.param, url


def connect(url: str) -> socket.socket:
    u = httpx.URL(url)
    sock = socket.create_connection((u.host, u.port or 80), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes `sock` (reading and dropping what it sends), bounded."""
    start = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(1 << 16):
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    raise AssertionError(f"connection still open after {seconds} s")


def still_serves(url: str) -> None:
    assert httpx.get(f"{url}/-/healthz", timeout=10).status_code == 200


def test_a_silent_connection_is_closed(server: tuple[str, str]) -> None:
    """Under granian too: go-vault runs it HTTP/1-only, so hyper's header timer starts at once."""
    _, url = server
    with connect(url) as sock:
        assert closed_within(sock, TIMEOUT + 5) >= TIMEOUT * 0.5
    still_serves(url)


def test_headers_trickled_byte_by_byte_are_cut_off(server: tuple[str, str]) -> None:
    """A slowloris client: every byte in time for a read timeout, the headers never done."""
    _, url = server
    with connect(url) as sock:
        sock.sendall(b"GET /-/healthz HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        sock.settimeout(0.2)
        closed = False
        for i in range(60):  # at most 60 * 0.2 s
            try:
                sock.sendall(b"X-Slow-%d: y\r\n" % i)
                if sock.recv(1 << 16) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        assert closed, "a client trickling headers kept its connection"
        assert time.monotonic() - start < TIMEOUT + 5
    still_serves(url)


def test_an_idle_keep_alive_connection_is_closed(server: tuple[str, str]) -> None:
    _, url = server
    with connect(url) as sock:
        sock.sendall(b"GET /-/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(1 << 16).startswith(b"HTTP/1.1 200")
        closed_within(sock, TIMEOUT + 5)


def test_a_client_that_stops_reading_a_zip_is_dropped(server: tuple[str, str]) -> None:
    name, url = server
    if name == "granian":
        # granian 2.8.9 (hyper 1.x) has no write or send timeout and no option for one; the
        # zip goes out by pathsend, outside the app. docs/go-vault.md says what to do instead.
        pytest.skip("granian 2.8.9 has no write timeout: a client that stops reading is held")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the peer's window stays small
    u = httpx.URL(url)
    sock.settimeout(10)
    sock.connect((u.host, u.port or 80))
    with sock:
        sock.sendall(f"GET /{M}/@v/v1.0.0.zip HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(TIMEOUT + 2)  # read nothing: the server's writes stall
        got = 0
        sock.settimeout(5)
        try:
            while chunk := sock.recv(1 << 20):  # the buffered part, then the server's close
                got += len(chunk)
        except ConnectionResetError:
            pass
        assert got < BIG, "the whole zip was buffered: the test proves nothing"
    still_serves(url)


def complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return bool(sep) and len(body) >= int(line.split(b":")[1])
    return False


def raw(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    """(status, headers, body) of one raw request; the server closes after a refusal."""
    with connect(url) as sock:
        sock.sendall(request)
        data = b""
        sock.settimeout(5)
        try:
            while not complete(data):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.lower(), body


def test_a_post_body_over_the_cap_is_413_text(server: tuple[str, str]) -> None:
    _, url = server
    status, head, body = raw(
        url,
        b"POST /-/admin/rollbacks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + ADMIN.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1),
    )
    assert status == 413 and b"content-type: text/plain" in head
    assert b"over 1024" in body and b"max_body" in body


def test_a_chunked_post_over_the_cap_is_413(server: tuple[str, str]) -> None:
    _, url = server
    chunk = b"x" * 512
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    status, head, body = raw(
        url,
        b"POST /-/admin/rollbacks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + ADMIN.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks,
    )
    assert status == 413 and b"content-type: text/plain" in head, body


def test_a_get_with_a_body_is_refused_and_a_goproxy_get_served(server: tuple[str, str]) -> None:
    _, url = server
    status, _, body = raw(
        url,
        b"GET /" + M.encode() + b"/@v/list HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    )
    assert status == 413 and b"carries no body" in body
    assert httpx.get(f"{url}/{M}/@v/v1.0.0.mod", timeout=10).text == f"module {M}\n"


def test_a_post_body_trickled_is_cut_off(server: tuple[str, str]) -> None:
    _, url = server
    with connect(url) as sock:
        sock.sendall(
            b"POST /-/admin/rollbacks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + ADMIN.encode()
            + b"\r\nContent-Length: 100\r\n\r\n{"
        )
        # Send nothing more: within the timeout the server answers 408 or closes.
        sock.settimeout(0.5)
        start = time.monotonic()
        data = b""
        while time.monotonic() - start < TIMEOUT + 5:
            try:
                chunk = sock.recv(1 << 16)
            except TimeoutError:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        assert time.monotonic() - start < TIMEOUT + 5
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_a_post_body_under_the_cap_reaches_the_route(server: tuple[str, str]) -> None:
    _, url = server
    r = httpx.post(
        f"{url}/-/admin/rollbacks",
        content=b"{not json",
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400, r.text  # the route read it and said what is wrong
