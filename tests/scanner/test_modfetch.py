"""Module sources: file:// and http:// proxies, the module cache, and GOPROXY lists."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from goproxytree import GoProxyTree

from scanner.errors import InputError, NotFoundError, OperationalError
from scanner.modfetch import ModCacheSource, ProxySource, SourceChain, source_from_goproxy

RunGo = Callable[..., subprocess.CompletedProcess[str]]


class _Handler(SimpleHTTPRequestHandler):
    """Serves a GOPROXY tree; /status/<code>/... answers that status (a broken proxy)."""

    def do_GET(self) -> None:
        if self.path.startswith("/auth/"):
            # Basic auth "u:p", as a private proxy behind .netrc credentials would want.
            if self.headers.get("Authorization") != "Basic dTpw":
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.path = self.path[len("/auth") :]
        if self.path.startswith("/redirect/"):
            # A proxy that sends .zip downloads to blob storage (a presigned URL, say).
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/status/"):
            code = int(self.path.split("/")[2])
            body = f"proxy says {code}\n".encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tree(goproxy_tree: GoProxyTree) -> GoProxyTree:
    goproxy_tree.add_module("example.com/a", "v1.0.0", {"go.mod": "module example.com/a\n"})
    goproxy_tree.add_module("example.com/a", "v1.1.0", {"go.mod": "module example.com/a\n"})
    goproxy_tree.add_module("github.com/Azure/Thing", "v0.1.0-RC1")
    goproxy_tree.add_module("example.com/p", "v0.0.0-20240102030405-abcdefabcdef")
    return goproxy_tree


@pytest.fixture
def http_url(tree: GoProxyTree) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(tree.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _check_source(src: ProxySource, tree: GoProxyTree) -> None:
    assert src.list_versions("example.com/a") == ["v1.0.0", "v1.1.0"]
    art = tree.artifacts("example.com/a", "v1.1.0")
    assert src.gomod("example.com/a", "v1.1.0") == art.mod.read_bytes()
    assert src.zip("example.com/a", "v1.1.0") == art.zip.read_bytes()
    assert json.loads(src.info("example.com/a", "v1.1.0"))["Version"] == "v1.1.0"
    # Upper case is case-encoded (!x) in paths and versions.
    assert b"Azure/Thing" in src.gomod("github.com/Azure/Thing", "v0.1.0-RC1")
    assert src.list_versions("example.com/p") == []
    assert json.loads(src.latest("example.com/p"))["Version"].startswith("v0.0.0-2024")
    with pytest.raises(NotFoundError) as err:
        src.gomod("example.com/a", "v9.9.9")
    assert "example.com/a@v9.9.9" in str(err.value)
    with pytest.raises(NotFoundError):
        src.list_versions("example.com/missing")


def test_file_proxy(tree: GoProxyTree) -> None:
    _check_source(ProxySource(tree.url), tree)


def test_http_proxy(tree: GoProxyTree, http_url: str) -> None:
    _check_source(ProxySource(http_url), tree)


def test_redirects_are_followed(tree: GoProxyTree, http_url: str) -> None:
    src = ProxySource(f"{http_url}/redirect")
    art = tree.artifacts("example.com/a", "v1.0.0")
    assert src.zip("example.com/a", "v1.0.0") == art.zip.read_bytes()


def test_http_errors_are_operational(http_url: str) -> None:
    for code in (404, 410):
        with pytest.raises(NotFoundError, match=f"{code}"):
            ProxySource(f"{http_url}/status/{code}").gomod("example.com/a", "v1.0.0")
    with pytest.raises(OperationalError, match="500: proxy says 500") as err:
        ProxySource(f"{http_url}/status/500").gomod("example.com/a", "v1.0.0")
    assert not isinstance(err.value, NotFoundError)


def test_netrc_credentials_are_sent(
    http_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(OperationalError, match="401"):
        ProxySource(f"{http_url}/auth").gomod("example.com/a", "v1.0.0")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login u password p\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert b"example.com/a" in ProxySource(f"{http_url}/auth").gomod("example.com/a", "v1.0.0")
    # Credentials in the URL win over .netrc.
    user_url = http_url.replace("http://", "http://u:p@")
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert b"example.com/a" in ProxySource(f"{user_url}/auth").gomod("example.com/a", "v1.0.0")
    # ...and never show up in messages.
    with pytest.raises(NotFoundError) as err:
        ProxySource(f"{user_url}/auth").gomod("example.com/a", "v9.0.0")
    assert "u:p" not in str(err.value) and "127.0.0.1" in str(err.value)
    assert "u:p" not in repr(ProxySource(f"{user_url}/auth"))


def test_a_netrc_machine_with_a_port_is_used_as_the_go_command_uses_it(
    http_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `goproxy-scan env` writes "machine HOST:PORT" for a proxy on a non-default port, the form
    # the go command matches; requests alone looks up the host name only.
    netrc = tmp_path / "netrc"
    host_port = http_url.removeprefix("http://")
    netrc.write_text(
        f"machine 127.0.0.2 login x password y\nmachine {host_port} login u password p\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert b"example.com/a" in ProxySource(f"{http_url}/auth").gomod("example.com/a", "v1.0.0")


def test_unreachable_proxy_is_operational() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now.
    with pytest.raises(OperationalError, match="cannot reach"):
        ProxySource(f"http://127.0.0.1:{port}", timeout=5).gomod("example.com/a", "v1.0.0")


@pytest.mark.gocmd
def test_module_cache_source(tree: GoProxyTree, run_go: RunGo, tmp_path: Path) -> None:
    run_go(
        "mod",
        "download",
        "example.com/a@v1.0.0",
        "github.com/Azure/Thing@v0.1.0-RC1",
        cwd=tmp_path,
        env_extra={"GOPROXY": tree.url, "GOFLAGS": ""},
    )
    modcache = Path(run_go("env", "GOMODCACHE", cwd=tmp_path).stdout.strip())
    src = ModCacheSource(modcache)
    art = tree.artifacts("example.com/a", "v1.0.0")
    assert src.gomod("example.com/a", "v1.0.0") == art.mod.read_bytes()
    assert src.zip("example.com/a", "v1.0.0") == art.zip.read_bytes()
    assert b"Azure/Thing" in src.gomod("github.com/Azure/Thing", "v0.1.0-RC1")
    # Only what was downloaded is in the cache.
    assert src.list_versions("example.com/a") == ["v1.0.0"]
    with pytest.raises(NotFoundError):
        src.gomod("example.com/a", "v1.1.0")


def test_goproxy_list_semantics(tree: GoProxyTree, http_url: str, tmp_path: Path) -> None:
    empty = GoProxyTree(tmp_path / "empty")
    want = tree.artifacts("example.com/a", "v1.0.0").mod.read_bytes()
    # "," falls through on 404/410 only.
    assert source_from_goproxy(f"{empty.url},{tree.url}").gomod("example.com/a", "v1.0.0") == want
    src = source_from_goproxy(f"{http_url}/status/410,{tree.url}")
    assert src.gomod("example.com/a", "v1.0.0") == want
    with pytest.raises(OperationalError, match="500"):
        source_from_goproxy(f"{http_url}/status/500,{tree.url}").gomod("example.com/a", "v1.0.0")
    # "|" falls through on any error.
    src = source_from_goproxy(f"{http_url}/status/500|{tree.url}")
    assert src.gomod("example.com/a", "v1.0.0") == want
    # Missing everywhere: the last answer, or GOPROXY=off's message.
    with pytest.raises(NotFoundError, match="not found"):
        source_from_goproxy(f"{empty.url},{tree.url}").gomod("example.com/zzz", "v1.0.0")
    with pytest.raises(NotFoundError, match="module lookup disabled by GOPROXY=off"):
        source_from_goproxy(f"{empty.url},off").gomod("example.com/a", "v1.0.0")
    assert isinstance(source_from_goproxy(f"{tree.url},{empty.url}"), SourceChain)
    assert isinstance(source_from_goproxy(tree.url), ProxySource)
    # "direct" (version control) is skipped: the usual GOPROXY means its proxies.
    assert isinstance(source_from_goproxy(f"{tree.url},direct"), ProxySource)
    src = source_from_goproxy(f"{empty.url},direct,{tree.url}")
    assert src.gomod("example.com/a", "v1.0.0") == want


@pytest.mark.parametrize(
    "value",
    [
        "direct",
        "direct,off",
        "off",
        "",
        "ftp://x",
        "file://remote-host/x",
        "off,file:///x",
        "notaurl",
    ],
)
def test_bad_goproxy_values_are_input_errors(value: str) -> None:
    with pytest.raises(InputError):
        source_from_goproxy(value)


@pytest.mark.gocmd
def test_go_command_agrees_on_fall_through(
    tree: GoProxyTree, http_url: str, run_go: RunGo, tmp_path: Path
) -> None:
    """The go command stops at a 500 after "," and goes on after "|" — and so do we."""
    for sep, ok in ((",", False), ("|", True)):
        goproxy = f"{http_url}/status/500{sep}{tree.url}"
        proc = run_go(
            "mod",
            "download",
            "-json",
            "example.com/a@v1.0.0",
            cwd=tmp_path,
            env_extra={"GOPROXY": goproxy, "GOFLAGS": "", "GOMODCACHE": str(tmp_path / sep)},
            check=False,
        )
        assert (proc.returncode == 0) is ok, proc.stdout + proc.stderr
        src = source_from_goproxy(goproxy)
        if ok:
            src.gomod("example.com/a", "v1.0.0")
        else:
            with pytest.raises(OperationalError):
                src.gomod("example.com/a", "v1.0.0")


@pytest.mark.gocmd
def test_tree_answers_the_go_commands_queries(
    tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """The shared fixture itself: @v/list for -versions, @latest for a pseudo-only module."""
    env = {"GOPROXY": tree.url, "GOFLAGS": ""}
    out = run_go("list", "-m", "-versions", "example.com/a", cwd=tmp_path, env_extra=env)
    assert out.stdout.split() == ["example.com/a", "v1.0.0", "v1.1.0"]
    out = run_go("list", "-m", "example.com/p@latest", cwd=tmp_path, env_extra=env)
    assert out.stdout.split() == ["example.com/p", "v0.0.0-20240102030405-abcdefabcdef"]
    out = run_go("list", "-m", "github.com/Azure/Thing@v0.1.0-RC1", cwd=tmp_path, env_extra=env)
    assert out.stdout.split() == ["github.com/Azure/Thing", "v0.1.0-RC1"]
