"""The upstream list: `,` falls through only on 404/410, `|` on any error; file://; `off`."""

from __future__ import annotations

import asyncio
import http.server
import random
import socket
import ssl
import threading
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from vaultlab import LoopbackUpstream

from proxy.errors import NotInProxyError, UpstreamError
from proxy.upstream import Upstream, parse_upstreams
from proxy.workers import Workers

LIST = "example.com/m/@v/list"


def fetch(spec: str, path: str = LIST, limit: int = 1 << 20) -> bytes:
    async def go() -> bytes:
        upstream = Upstream(spec, connect_timeout=1, read_timeout=2, workers=Workers(2))
        try:
            return await upstream.fetch(path, limit)
        finally:
            await upstream.aclose()

    return asyncio.run(go())


@pytest.fixture
def pair(tmp_path: Path) -> tuple[LoopbackUpstream, LoopbackUpstream]:
    a_tree, b_tree = GoProxyTree(tmp_path / "a"), GoProxyTree(tmp_path / "b")
    b_tree.add_module("example.com/m", "v1.0.0")
    a, b = LoopbackUpstream(a_tree.root), LoopbackUpstream(b_tree.root)
    yield a, b
    a.stop()
    b.stop()


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed again: connecting is refused


def test_comma_falls_through_on_not_found(pair: tuple[LoopbackUpstream, LoopbackUpstream]) -> None:
    a, b = pair
    assert fetch(f"{a.url},{b.url}") == b"v1.0.0\n"
    a.status["/" + LIST] = 410
    assert fetch(f"{a.url},{b.url}") == b"v1.0.0\n"


def test_comma_stops_on_other_errors(pair: tuple[LoopbackUpstream, LoopbackUpstream]) -> None:
    a, b = pair
    a.status["/" + LIST] = 503
    with pytest.raises(UpstreamError, match="answered 503"):
        fetch(f"{a.url},{b.url}")
    assert not b.hits

    with pytest.raises(UpstreamError, match="unreachable"):
        fetch(f"{refused_url()},{b.url}")
    assert not b.hits


def test_pipe_falls_through_on_any_error(pair: tuple[LoopbackUpstream, LoopbackUpstream]) -> None:
    a, b = pair
    a.status["/" + LIST] = 500
    assert fetch(f"{a.url}|{b.url}") == b"v1.0.0\n"
    assert fetch(f"{refused_url()}|{b.url}") == b"v1.0.0\n"


def test_the_last_entry_failing_before_a_dropped_direct_is_its_error(
    pair: tuple[LoopbackUpstream, LoopbackUpstream],
) -> None:
    """`URL|direct` (go-vault drops `direct`): URL failing was an AssertionError, a 500."""
    a, b = pair
    with pytest.raises(UpstreamError, match="unreachable"):
        fetch(f"{refused_url()}|direct")
    # any other failure says more than a not-found before it, as the go command ranks them
    b.status["/" + LIST] = 503
    with pytest.raises(UpstreamError, match="answered 503"):
        fetch(f"{a.url},{b.url}|direct", "example.com/m/@v/list")


def test_file_upstream_and_off(
    tmp_path: Path, pair: tuple[LoopbackUpstream, LoopbackUpstream]
) -> None:
    tree = GoProxyTree(tmp_path / "mirror")
    tree.add_module("example.com/m", "v2.0.0+incompatible", {"m.go": "package m\n"})
    assert fetch(tree.url) == b"v2.0.0+incompatible\n"
    with pytest.raises(NotInProxyError):
        fetch(tree.url, "example.com/none/@v/list")
    with pytest.raises(NotInProxyError, match="disabled"):
        fetch(f"{pair[0].url},off,{pair[1].url}")


def test_every_entry_not_found_is_not_found(
    pair: tuple[LoopbackUpstream, LoopbackUpstream],
) -> None:
    a, b = pair
    with pytest.raises(NotInProxyError):
        fetch(f"{a.url},{b.url}", "example.com/none/@v/list")
    assert a.hits and b.hits


def test_parse_drops_direct_and_keeps_separators() -> None:
    entries = parse_upstreams(
        "https://a.example/go/,direct|file:///srv/mirror|https://u:p@b.example"
    )
    assert [(e.url, e.fall_through) for e in entries] == [
        ("https://a.example/go", False),
        ("file:///srv/mirror", True),
        ("https://u:p@b.example", False),
    ]
    assert entries[2].display == "https://b.example"  # credentials never reach messages
    with pytest.raises(UpstreamError, match="not an http"):
        parse_upstreams("ftp://old.example")


def test_https_upstream_with_a_private_ca(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    tree = GoProxyTree(tmp_path / "tls")
    tree.add_module("example.com/m", "v1.0.0")
    lab = LoopbackUpstream(tree.root, tls=server_ctx)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))

    async def go(ca_file: str | None) -> bytes:
        upstream = Upstream(
            lab.url, connect_timeout=2, read_timeout=5, workers=Workers(2), ca_file=ca_file
        )
        try:
            return await upstream.fetch(LIST)
        finally:
            await upstream.aclose()

    try:
        assert asyncio.run(go(str(bundle))) == b"v1.0.0\n"
        with pytest.raises(UpstreamError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            asyncio.run(go(None))  # an unknown CA is refused, never silently trusted
    finally:
        lab.stop()


def test_oversized_answers_are_cut_off(
    tmp_path: Path, pair: tuple[LoopbackUpstream, LoopbackUpstream]
) -> None:
    """An upstream cannot fill the disk: past the limit (500 MiB for zips) the fetch fails."""
    big = tmp_path / "b" / "example.com" / "m" / "@v" / "v1.0.0.zip"
    big.write_bytes(b"z" * 5000)
    tree_url = (tmp_path / "b").resolve().as_uri()

    async def go(spec: str) -> None:
        upstream = Upstream(spec, connect_timeout=1, read_timeout=2, workers=Workers(2))
        try:
            await upstream.fetch_to_file(
                "example.com/m/@v/v1.0.0.zip", tmp_path / "out.zip", limit=4096
            )
        finally:
            await upstream.aclose()

    for spec in (pair[1].url, tree_url):
        with pytest.raises(UpstreamError, match="sent more than 4096 bytes"):
            asyncio.run(go(spec))
    with pytest.raises(UpstreamError, match="sent more than 3 bytes"):
        fetch(pair[1].url, LIST, limit=3)  # lists, .info and .mod are capped too (16 MiB)


def test_a_version_is_fetched_whole_from_the_first_directory_that_has_it(
    tmp_path: Path, pair: tuple[LoopbackUpstream, LoopbackUpstream]
) -> None:
    """fetch_version reads a file:// directory in one go (a small zip's bytes returned, not
    copied); a directory holding only part of the version (no .zip here) falls back to the
    chain rules file by file: .info/.mod from it, the .zip from the next upstream, streamed to
    the file; a version in none of them is not found."""
    a, b = pair
    partial = GoProxyTree(tmp_path / "partial")
    partial.add_module("example.com/m", "v1.0.0")
    (partial.root / "example.com/m/@v/v1.0.0.zip").unlink()
    whole = GoProxyTree(tmp_path / "whole")
    whole.add_module("example.com/w", "v1.2.0", {"go.mod": "module example.com/w\n"})
    counted: list[tuple[str, str]] = []

    async def go(spec: str, base: str) -> tuple[bytes, bytes, bytes | None]:
        upstream = Upstream(
            spec,
            connect_timeout=1,
            read_timeout=2,
            workers=Workers(2),
            on_request=lambda _entry, path, outcome: counted.append((path, outcome)),
        )
        try:
            return await upstream.fetch_version(base, tmp_path / "out.zip")
        finally:
            await upstream.aclose()

    info, mod, data = asyncio.run(go(f"{whole.url},{b.url}", "example.com/w/@v/v1.2.0"))
    assert b'"v1.2.0"' in info and mod == b"module example.com/w\n"
    assert data == (whole.root / "example.com/w/@v/v1.2.0.zip").read_bytes()
    assert not (tmp_path / "out.zip").exists()
    assert sorted(counted) == [
        (f"example.com/w/@v/v1.2.0.{k}", "ok") for k in ("info", "mod", "zip")
    ]
    assert not b.hits
    noise = random.Random(3).randbytes(300 << 10).hex()  # a zip too big to read on the loop
    whole.add_module(
        "example.com/big", "v1.0.0", {"go.mod": "module example.com/big\n", "n": noise}
    )
    *_, data = asyncio.run(go(whole.url, "example.com/big/@v/v1.0.0"))
    assert (
        data is None
        and (tmp_path / "out.zip").read_bytes()
        == (whole.root / "example.com/big/@v/v1.0.0.zip").read_bytes()
    )
    (tmp_path / "out.zip").unlink()

    counted.clear()
    info, mod, data = asyncio.run(go(f"{partial.url},{b.url}", "example.com/m/@v/v1.0.0"))
    assert b'"v1.0.0"' in info and data is None
    assert (tmp_path / "out.zip").read_bytes() == b.root.joinpath(
        "example.com/m/@v/v1.0.0.zip"
    ).read_bytes()
    assert ("example.com/m/@v/v1.0.0.zip", "not_found") in counted
    assert list(b.hits) == ["/example.com/m/@v/v1.0.0.zip"]

    with pytest.raises(NotInProxyError):
        asyncio.run(go(f"{whole.url},{a.url}", "example.com/absent/@v/v1.0.0"))


@pytest.mark.parametrize(("status", "error"), [(404, NotInProxyError), (502, UpstreamError)])
def test_an_html_error_page_is_not_quoted_as_the_reason(
    tmp_path: Path, status: int, error: type[Exception]
) -> None:
    """A web server's or firewall's error page in front of the upstream is markup, not a
    reason: the message names the status; a GOPROXY's own text is kept (tests above)."""
    page = "<!DOCTYPE html>\n<html><head><title>Error</title></head>\n<body>Oops</body></html>\n"

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(error) as info:
            fetch(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    message = str(info.value)
    assert str(status) in message and "<" not in message and "\n" not in message
