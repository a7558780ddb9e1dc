"""Hostile request paths: every encoding of traversal, NUL, confusables, overlong and very long
paths answers 400 or 404, and no file outside the vault (FIFO canaries) is ever opened."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from vaultlab import LoopbackUpstream, RunningGateway, running_gateway, vault_config

CANARY = "canary.txt"
# Where a traversal out of the vault (tmp/vault) or the vulnerability database (tmp/vulndb)
# would land: each is a FIFO, so any open() blocks and shows up as a reader.
CANARY_FILES = [
    CANARY,
    "@v/list",
    "@v/v1.0.0.info",
    "@v/v1.0.0.mod",
    "@v/v1.0.0.zip",
    "x/@v/list",
    "x/@v/v1.0.0.info",
    "x/@v/v1.0.0.mod",
    "x/@v/v1.0.0.zip",
]

HOSTILE: list[bytes] = [
    b"/../canary.txt",
    b"/..%2fcanary.txt",
    b"/%2e%2e/canary.txt",
    b"/%2e%2e%2fcanary.txt",
    b"/%252e%252e%252fcanary.txt",
    b"/..%5ccanary.txt",
    b"/..\\canary.txt",
    b"/%c0%ae%c0%ae/canary.txt",
    b"/%c0%ae%c0%ae%c0%afcanary.txt",
    b"/%e0%80%ae%e0%80%ae/x/@v/list",
    b"/x/../../@v/list",
    b"/../@v/list",
    b"/%2e%2e/@v/list",
    b"/%2e%2e/@v/v1.0.0.zip",
    b"/%2e%2e/@v/v1.0.0.info",
    b"/%2e%2e/@v/v1.0.0.mod",
    b"/../x/@v/v1.0.0.zip",
    b"/..%2fx/@v/v1.0.0.zip",
    b"/%2e%2e%2fx/@v/v1.0.0.zip",
    b"/%252e%252e%252fx/@v/v1.0.0.zip",
    b"/.%2e/x/@v/v1.0.0.mod",
    b"/example.com/m/@v/..%2f..%2f..%2fx%2f@v%2fv1.0.0.zip",
    b"/example.com/m/@v/../../../x/@v/v1.0.0.zip",
    b"/example.com/m/@v/%2e%2e.zip",
    b"/example.com/m/@v/v1.0.0%00.zip",
    b"/example.com/m%00/@v/list",
    b"/example.com/m/@v/v1.0.0.zip%00.txt",
    b"/example.com/m\x00/@v/list",
    b"/example.com%5c..%5c..%5cx/@v/list",
    b"/example.com\\m/@v/list",
    b"/C:%5cwindows/@v/list",
    b"/%2fetc%2fpasswd/@v/list",
    b"//etc/passwd/@v/list",
    b"/etc/passwd",
    b"/example.com/m/@v/v1.0.0.zip/../../../../canary.txt",
    b"/Example.com/m/@v/list",
    b"/example.com/M/@v/list",
    b"/example.com/!!m/@v/list",
    b"/example.com/m!/@v/list",
    b"/example.com/m/@v/V1.0.0.zip",
    b"/example.com/m/@v/v1.0.0.ZIP",
    b"/ex%d0%b0mple.com/m/@v/list",  # Cyrillic a
    b"/example.com/m%ef%bc%8fx/@v/list",  # fullwidth solidus
    b"/example.com/m%e2%80%8b/@v/list",  # zero-width space
    b"/example.com/%ef%bc%8e%ef%bc%8e/@v/list",  # fullwidth full stops
    b"/example.com/m%e2%80%ae/@v/list",  # right-to-left override
    b"/example.com/m/@v/v1.0.0%e2%80%a4zip",  # one dot leader
    b"/" + b"a" * 8000 + b"/@v/list",
    b"/example.com/" + b"a" * 400 + b"/@v/list",
    b"/example.com/m/@v/v1.0.0-" + b"a" * 5000 + b".info",
    b"/example.com/" + b"x/" * 2000 + b"@v/list",
    b"/-/vulndb/../../canary.txt",
    b"/-/vulndb/%2e%2e/%2e%2e/canary.txt",
    b"/-/vulndb/..%2f..%2fcanary.txt",
    b"/-/vulndb/ID/../../canary.txt",
    b"/-/vulndb/%252e%252e/canary.txt",
    b"/-/vulndb/..%5c..%5ccanary.txt",
    b"/sumdb/sum.golang.org/../../canary.txt",
    b"/sumdb/%2e%2e/%2e%2e/canary.txt",
    b"/-/verdicts/..%2f..%2fx/@v/v1.0.0",
    b"/-/verdicts/%2e%2e/@v/v1.0.0",
    b"/./x/@v/list",
    b"/x/./@v/list",
    b"/x//@v/list",
    b"/x/@v/%2e%2e%2f%2e%2e%2fcanary.txt.info",
    b"/x/@v/v1.0.0.info;.zip",
    b"/%u002e%u002e/x/@v/list",
    b"/..;/x/@v/list",
    b"/x/@v/v1.0.0.zip?../../canary.txt",
    b"/example.com/m/@v/v1.0.0.zip%23/../../canary.txt",
]


@pytest.fixture(scope="module")
def hostile_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    root = tmp_path_factory.mktemp("hostile")
    tree = GoProxyTree(root / "upstream")
    tree.add_module("example.com/m", "v1.0.0", {"go.mod": "module example.com/m\n"})
    for rel in CANARY_FILES:
        for base in (root, root / "vulndb"):
            (base / rel).parent.mkdir(parents=True, exist_ok=True)
            os.mkfifo(base / rel)
    upstream = LoopbackUpstream(tree.root)
    config = vault_config(root, upstream=upstream.url, vulndb=str(root / "vulndb" / "db"))
    (root / "vulndb" / "db" / "index").mkdir(parents=True)
    (root / "vulndb" / "db" / "index" / "db.json").write_text("{}")
    try:
        with running_gateway(config) as gw:
            gw.root = root  # type: ignore[attr-defined]
            yield gw
    finally:
        _release_canaries(root)
        upstream.stop()


def _opened_canaries(root: Path) -> list[str]:
    """FIFOs some process holds open for reading (the gateway tried to read them)."""
    opened = []
    for rel in CANARY_FILES:
        for base in (root, root / "vulndb"):
            try:
                fd = os.open(base / rel, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                assert e.errno == errno.ENXIO  # no reader: never opened
                continue
            os.close(fd)
            opened.append(str(base / rel))
    return opened


def _release_canaries(root: Path) -> None:
    _opened_canaries(root)  # opening the write end also unblocks a stuck reader


def raw_get(url: str, target: bytes) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side normalisation)."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_hostile_paths_answer_400_or_404(hostile_gateway: RunningGateway) -> None:
    assert len(HOSTILE) >= 50
    wrong = []
    for target in HOSTILE:
        status, body = raw_get(hostile_gateway.url, target)
        if status not in (400, 404):
            wrong.append(f"{target[:80]!r}: {status} {body[:120]!r}")
    assert not wrong, "\n".join(wrong)
    root: Path = hostile_gateway.root  # type: ignore[attr-defined]
    assert _opened_canaries(root) == []
    # The gateway still serves real modules after all that.
    status, body = raw_get(hostile_gateway.url, b"/example.com/m/@v/v1.0.0.mod")
    assert status == 200 and body == b"module example.com/m\n"
