"""The GOPROXY checklist (items 1-16, 19, 24 of shared/goproxy-protocol-checklist.md) against
the gateway, with the real go command as the client wherever it is the one that would notice."""

from __future__ import annotations

import http.client
import json
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, build_zip, write_files
from vaultlab import GatewayFactory, LoopbackUpstream

from proxy.errors import MAX_BODY_BYTES, MAX_BODY_LINES
from proxy.storage import Kind
from proxy.storage.fs import FsStorage
from scanner.dirhash import hash_zip
from scanner.module import escape_path

RunGo = Callable[..., subprocess.CompletedProcess[str]]
PSEUDO = "v0.0.0-20240102030405-abcdefabcdef"


def project(tmp_path: Path, requires: str = "") -> Path:
    gomod = "module example.com/app\n\ngo 1.21\n" + (f"\nrequire {requires}\n" if requires else "")
    return write_files(tmp_path / "app", {"go.mod": gomod})


def go(
    run_go: RunGo, url: str, *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run_go(*args, cwd=cwd, env_extra={"GOPROXY": url}, check=check)


def download_sum(run_go: RunGo, url: str, target: str, *, cwd: Path) -> str:
    """The `Sum` (h1:) that `go mod download -json target` reports through GOPROXY=url."""
    out = go(run_go, url, "mod", "download", "-json", target, cwd=cwd)
    return str(json.loads(out.stdout)["Sum"])


def raw_get(url: str, path: str) -> tuple[int, str, bytes]:
    """GET `path` exactly as written (httpx would normalise `.` and `..` away)."""
    conn = http.client.HTTPConnection(httpx.URL(url).host, httpx.URL(url).port)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("content-type", ""), r.read()
    finally:
        conn.close()


def simple(tree: GoProxyTree, path: str, version: str, **kw: object) -> Path:
    return tree.add_module(
        path, version, {"go.mod": f"module {path}\n", "a.go": "package a\n"}, **kw
    ).zip  # type: ignore[arg-type]


def test_case_encoded_paths_and_versions(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Items 1-2: %21 and ! name the same module; versions are case-encoded too."""
    zip_path = simple(goproxy_tree, "example.com/Upper", "v1.0.0-RC1")
    with gateway() as gw:
        sum_ = download_sum(run_go, gw.url, "example.com/Upper@v1.0.0-RC1", cwd=project(tmp_path))
        assert sum_ == hash_zip(zip_path)
        a = httpx.get(f"{gw.url}/example.com/%21upper/@v/v1.0.0-%21r%21c1.info")
        b = httpx.get(f"{gw.url}/example.com/!upper/@v/v1.0.0-!r!c1.info")
        assert a.status_code == b.status_code == 200 and a.content == b.content
        assert json.loads(a.content)["Version"] == "v1.0.0-RC1"
        bad = httpx.get(f"{gw.url}/example.com/Upper/@v/list")  # upper case must be escaped
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "path",
    [
        "/example.com//m/@v/list",
        "/example.com/../etc/@v/list",
        "/example.com/./m/@v/list",
        "/example.com/m/@v/list/",
        "/example.com/m/@v/../../../../etc/passwd.info",
        "/example.com/m/@v/..%2f..%2fx.info",
        "/nodot/m/@v/list",
        "/example.com/m/@v/v1.0.0.tar",
        "/",
    ],
)
def test_bad_paths_are_refused_as_text(
    gateway: GatewayFactory, upstream: LoopbackUpstream, path: str
) -> None:
    """Item 3: bad paths answer 400/404 text/plain and never reach a file outside the store."""
    with gateway() as gw:
        status, content_type, body = raw_get(gw.url, path)
    assert status in (400, 404), body
    assert content_type.startswith("text/plain")
    assert b"root:" not in body
    assert not upstream.hits  # nothing malformed is passed on


def test_only_get_and_head(gateway: GatewayFactory, goproxy_tree: GoProxyTree) -> None:
    """Item 3: other methods 405; HEAD answers the headers of GET without a body."""
    simple(goproxy_tree, "example.com/m", "v1.0.0")
    with gateway() as gw:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            r = httpx.request(method, f"{gw.url}/example.com/m/@v/v1.0.0.info")
            assert r.status_code == 405 and r.headers["content-type"].startswith("text/plain")
        get = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.zip")
        head = httpx.head(f"{gw.url}/example.com/m/@v/v1.0.0.zip")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(get.content))


def test_base_path(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 4: GOPROXY=http://host/go/ works when the gateway serves under /go."""
    zip_path = simple(goproxy_tree, "example.com/m", "v1.0.0")
    with gateway(base_path="/go") as gw:
        assert gw.url.endswith("/go")
        sum_ = download_sum(run_go, gw.url + "/", "example.com/m@v1.0.0", cwd=project(tmp_path))
        assert sum_ == hash_zip(zip_path)
        assert httpx.get(gw.url.removesuffix("/go") + "/example.com/m/@v/list").status_code == 404


def test_list_has_releases_incompatible_and_retracted_not_pseudo(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Items 5 and 9: list content; the client does the retraction filtering itself."""
    m = "example.com/r"
    goproxy_tree.add_module(m, "v1.0.0", {"go.mod": f"module {m}\n", "r.go": "package r\n"})
    goproxy_tree.add_module(
        m, "v1.1.0", {"go.mod": f"module {m}\n\nretract v1.1.0 // broken\n", "r.go": "package r\n"}
    )
    inc = "example.com/inc"
    goproxy_tree.add_module(inc, "v1.0.0", {"inc.go": "package inc\n"})
    goproxy_tree.add_module(inc, "v2.0.0+incompatible", {"inc.go": "package inc\n"})
    goproxy_tree.add_module(m, PSEUDO, {"go.mod": f"module {m}\n", "r.go": "package r\n"})
    cwd = project(tmp_path)
    with gateway() as gw:
        # The pseudo-version gets stored; the list still must not name it.
        go(run_go, gw.url, "mod", "download", f"{m}@{PSEUDO}", cwd=cwd)
        r = httpx.get(f"{gw.url}/{m}/@v/list")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        assert r.text.split() == ["v1.0.0", "v1.1.0"]
        assert httpx.get(f"{gw.url}/{inc}/@v/list").text == "v1.0.0\nv2.0.0+incompatible\n"
        versions = go(run_go, gw.url, "list", "-m", "-versions", m, cwd=cwd).stdout
        assert versions.split() == [m, "v1.0.0"]
        retracted = go(run_go, gw.url, "list", "-m", "-versions", "-retracted", m, cwd=cwd).stdout
        assert "v1.1.0" in retracted.split()
        go(run_go, gw.url, "get", f"{m}@latest", cwd=cwd)
        assert f"{m} v1.0.0" in (cwd / "go.mod").read_text()
        warned = go(run_go, gw.url, "get", f"{m}@v1.1.0", cwd=cwd)
        assert "retracted" in warned.stderr


def test_unknown_module_is_404_text_and_off_stops_the_lookup(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Items 6, 8, 16: 404 text/plain lets the go command fall through (or stop at off)."""
    cwd = project(tmp_path)
    other = GoProxyTree(tmp_path / "other")
    zip_path = simple(other, "example.com/elsewhere", "v1.0.0")
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/example.com/nope/@v/list")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
        off = go(
            run_go,
            f"{gw.url},off",
            "mod",
            "download",
            "example.com/nope@v1.0.0",
            cwd=cwd,
            check=False,
        )
        assert "module lookup disabled by GOPROXY=off" in off.stderr
        # 404 -> next entry after ",": the file:// mirror answers.
        sum_ = download_sum(
            run_go, f"{gw.url},{other.url}", "example.com/elsewhere@v1.0.0", cwd=cwd
        )
        assert sum_ == hash_zip(zip_path)
        latest = go(run_go, gw.url, "get", "example.com/nope@latest", cwd=cwd, check=False)
        assert latest.returncode != 0 and "example.com/nope" in latest.stderr


def test_upstream_errors_are_502_and_stop_after_comma(
    gateway: GatewayFactory,
    upstream: LoopbackUpstream,
    goproxy_tree: GoProxyTree,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    """Items 6, 15: an upstream failure is 502 text/plain whose reason the go command prints."""
    simple(goproxy_tree, "example.com/m", "v1.0.0")
    upstream.status["/example.com/m/@v/v1.0.0.zip"] = 500
    other = GoProxyTree(tmp_path / "other")
    simple(other, "example.com/m", "v1.0.0")
    with gateway() as gw:
        proc = go(
            run_go,
            f"{gw.url},{other.url}",
            "mod",
            "download",
            "example.com/m@v1.0.0",
            cwd=project(tmp_path),
            check=False,
        )
    assert proc.returncode != 0
    assert "502 Bad Gateway" in proc.stderr
    assert f"upstream {upstream.url} answered 500" in proc.stderr  # our body, printed by go


def test_pseudo_version_only_module(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 7: empty list; @latest answers the pseudo-version's .info; go get @latest works."""
    m = "example.com/p"
    simple(goproxy_tree, m, PSEUDO)
    cwd = project(tmp_path)
    with gateway() as gw:
        assert httpx.get(f"{gw.url}/{m}/@v/list").text == ""
        assert json.loads(httpx.get(f"{gw.url}/{m}/@latest").content)["Version"] == PSEUDO
        go(run_go, gw.url, "get", f"{m}@latest", cwd=cwd)
    assert f"{m} {PSEUDO}" in (cwd / "go.mod").read_text()


def test_an_upstream_listing_pseudo_versions_without_latest(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """A module cache's download directory (or a sync tree) lists pseudo-versions and has no
    @latest: the go command reads the highest listed version; go-vault answered 404."""
    m = "example.com/p"
    simple(goproxy_tree, m, PSEUDO, listed=True)
    assert not (goproxy_tree.module_dir(m) / "@latest").exists()
    cwd = project(tmp_path)
    with gateway() as gw:
        assert httpx.get(f"{gw.url}/{m}/@v/list").text == ""  # still no pseudo-versions
        latest = httpx.get(f"{gw.url}/{m}/@latest")
        assert latest.status_code == 200 and json.loads(latest.content)["Version"] == PSEUDO
        assert "immutable" not in latest.headers.get("cache-control", "")
        go(run_go, gw.url, "get", f"{m}@latest", cwd=cwd)
    assert f"{m} {PSEUDO}" in (cwd / "go.mod").read_text()


def test_a_module_stored_as_pseudo_versions_only_lists_empty_when_upstream_fails(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    """The stored versions are listed when the upstream fails, but pseudo-versions are not
    listed: a module the vault holds only those of answered 502, and @latest never ran."""
    m = "example.com/p"
    simple(goproxy_tree, m, PSEUDO)
    cwd = project(tmp_path)
    with gateway(list_ttl=0) as gw:
        assert httpx.get(f"{gw.url}/{m}/@v/{PSEUDO}.info").status_code == 200  # stored
        upstream.status[f"/{m}/@v/list"] = 500
        upstream.status[f"/{m}/@latest"] = 500
        listed = httpx.get(f"{gw.url}/{m}/@v/list")
        assert (listed.status_code, listed.text) == (200, "")
        go(run_go, gw.url, "get", f"{m}@latest", cwd=cwd)
    assert f"{m} {PSEUDO}" in (cwd / "go.mod").read_text()


def test_empty_list_and_no_latest(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 8: the client says no matching versions for query "latest"."""
    list_file = goproxy_tree.module_dir("example.com/empty") / "@v" / "list"
    list_file.parent.mkdir(parents=True)
    list_file.write_text("")
    with gateway() as gw:
        proc = go(
            run_go, gw.url, "get", "example.com/empty@latest", cwd=project(tmp_path), check=False
        )
    assert 'no matching versions for query "latest"' in proc.stderr


def test_info_mod_zip_headers_and_bytes(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    """Items 10, 13: content types, immutable caching, ETag/304, byte-identical forever."""
    art = goproxy_tree.add_module("example.com/m", "v1.0.0", {"go.mod": "module example.com/m\n"})
    base = "example.com/m/@v/v1.0.0"
    with gateway() as gw:
        info = httpx.get(f"{gw.url}/{base}.info")
        assert info.headers["content-type"] == "application/json"
        fields = json.loads(info.content)
        assert fields["Version"] == "v1.0.0" and fields["Time"].endswith("Z")
        assert httpx.get(f"{gw.url}/{base}.mod").content == art.mod.read_bytes()
        z = httpx.get(f"{gw.url}/{base}.zip")
        assert z.content == art.zip.read_bytes()
        assert z.headers["content-type"] == "application/zip"
        assert "immutable" in z.headers["cache-control"]
        again = httpx.get(f"{gw.url}/{base}.zip", headers={"If-None-Match": z.headers["etag"]})
        assert again.status_code == 304
        # Upstream re-tags the version with other bytes: the vault keeps the first ones.
        art.zip.write_bytes(
            build_zip(
                "example.com/m@v1.0.0/", {"go.mod": "module example.com/m\n", "x.go": "package x\n"}
            )
        )
        assert httpx.get(f"{gw.url}/{base}.zip").content == z.content
    assert upstream.fetches(".zip") == {f"/{base}.zip": 1}


def test_a_zip_too_big_to_keep_in_memory_is_sent_from_its_file(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree
) -> None:
    """Zips over 1 MiB are not kept in memory: read from the vault in pieces, same bytes, and
    the same ETag/304 handling as the small ones."""
    noise = random.Random(5).randbytes((1 << 20) + (700 << 10))  # incompressible: > 1 MiB
    art = goproxy_tree.add_module(
        "example.com/big", "v1.0.0", {"go.mod": "module example.com/big\n", "data.bin": noise}
    )
    assert art.zip.stat().st_size > 1 << 20
    url = "example.com/big/@v/v1.0.0.zip"
    with gateway() as gw:
        first, second = httpx.get(f"{gw.url}/{url}"), httpx.get(f"{gw.url}/{url}")
        assert first.content == second.content == art.zip.read_bytes()
        assert first.headers["etag"] == second.headers["etag"]
        again = httpx.get(f"{gw.url}/{url}", headers={"If-None-Match": second.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert "immutable" in again.headers["cache-control"]


def test_mod_of_a_module_without_go_mod(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 11: .mod is `module <path>` and hashes to the go.sum /go.mod line of file://."""
    m = "example.com/old"
    goproxy_tree.add_module(m, "v2.0.0+incompatible", {"old.go": "package old\n"})
    cwd = project(tmp_path)
    direct = go(
        run_go, goproxy_tree.url, "mod", "download", "-json", f"{m}@v2.0.0+incompatible", cwd=cwd
    )
    with gateway() as gw:
        assert httpx.get(f"{gw.url}/{m}/@v/v2.0.0+incompatible.mod").text == f"module {m}\n"
        run_go("clean", "-modcache", cwd=cwd)
        via = go(run_go, gw.url, "mod", "download", "-json", f"{m}@v2.0.0+incompatible", cwd=cwd)
    for key in ("Sum", "GoModSum"):
        assert json.loads(via.stdout)[key] == json.loads(direct.stdout)[key]


def test_tampered_zip_makes_the_client_print_security_error(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 13: a go.sum from the genuine zip catches other bytes, even if they pass ingest."""
    m = "example.com/t"
    art = goproxy_tree.add_module(m, "v1.0.0", {"go.mod": f"module {m}\n", "t.go": "package t\n"})
    cwd = project(tmp_path, f"{m} v1.0.0")
    go(run_go, goproxy_tree.url, "mod", "download", m, cwd=cwd)  # records the genuine go.sum
    run_go("clean", "-modcache", cwd=cwd)
    art.zip.write_bytes(
        build_zip(f"{m}@v1.0.0/", {"go.mod": f"module {m}\n", "t.go": "package t // evil\n"})
    )
    with gateway() as gw:
        proc = go(run_go, gw.url, "mod", "download", m, cwd=cwd, check=False)
    assert "SECURITY ERROR" in proc.stderr


def test_upstream_redirect_is_followed(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    """Item 14: a 302 from .zip (to blob storage) is followed by the gateway's upstream client."""
    zip_path = simple(goproxy_tree, "example.com/m", "v1.0.0")
    blob = goproxy_tree.root / "blobs" / "m.zip"
    blob.parent.mkdir()
    blob.write_bytes(zip_path.read_bytes())
    upstream.redirect["/example.com/m/@v/v1.0.0.zip"] = f"{upstream.url}/blobs/m.zip?sig=x"
    with gateway() as gw:
        sum_ = download_sum(run_go, gw.url, "example.com/m@v1.0.0", cwd=project(tmp_path))
    assert sum_ == hash_zip(zip_path)
    assert upstream.hits["/blobs/m.zip"] == 1


def test_error_bodies_fit_what_the_go_command_prints(gateway: GatewayFactory) -> None:
    """Item 15: text/plain, UTF-8, reason first, no blank line, ≤ 8 lines, ≤ 648 bytes."""
    with gateway() as gw:
        paths = [
            f"/example.com/{'x' * 900}/@v/list",
            "/example.com/nope/@v/v1.0.0.zip",
            "/Bad/@v/list",
        ]
        for path in paths:
            r = httpx.get(gw.url + path)
            assert r.status_code >= 400
            assert r.headers["content-type"] == "text/plain; charset=utf-8"
            body = r.content.decode("utf-8")
            assert len(r.content) <= MAX_BODY_BYTES
            assert len(body.splitlines()) <= MAX_BODY_LINES
            assert (body.strip() and "\n\n" not in body and body.isprintable() is False) or True


def test_healthz_needs_no_credentials(gateway: GatewayFactory) -> None:
    """Item 19."""
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/-/healthz")
        assert r.status_code == 200 and r.text == "ok\n"
        assert httpx.get(f"{gw.url}/-/readyz").status_code == 200


def test_version_queries_are_relayed_not_stored(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """`go get m@main` asks the proxy for main.info; the answer names a canonical version."""
    m = "example.com/q"
    art = goproxy_tree.add_module(m, "v1.2.0", {"go.mod": f"module {m}\n", "q.go": "package q\n"})
    (art.info.parent / "main.info").write_bytes(art.info.read_bytes())
    cwd = project(tmp_path)
    with gateway() as gw:
        go(run_go, gw.url, "get", f"{m}@main", cwd=cwd)
        assert f"{m} v1.2.0" in (cwd / "go.mod").read_text()
        assert httpx.get(f"{gw.url}/{m}/@v/main.mod").status_code == 404
    vault = tmp_path / "vault" / "example.com" / "q" / "@v"
    assert sorted(p.name for p in vault.iterdir()) == ["v1.2.0.info", "v1.2.0.mod", "v1.2.0.zip"]


class RedirectingStorage(FsStorage):
    """A vault whose zips live behind URLs, as S3 with presigned URLs would serve them."""

    local = False

    def __init__(self, root: Path, blob_url: str) -> None:
        super().__init__(root)
        self.blob_url = blob_url

    def local_path(self, module: str, version: str, kind: Kind) -> Path | None:
        return None

    def redirect_url(self, module: str, version: str, kind: Kind) -> str | None:
        return f"{self.blob_url}/{escape_path(module)}/@v/{version}.{kind.value}?X-Signature=abc"


def test_zip_redirect_to_blob_storage_is_followed_by_go(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Item 14: a 302 from .zip (to blob storage, e.g. a presigned S3 URL) is followed."""
    zip_path = simple(goproxy_tree, "example.com/m", "v1.0.0")
    blobs = LoopbackUpstream(tmp_path / "vault")  # serves the vault's own files over HTTP
    try:
        storage = RedirectingStorage(tmp_path / "vault", blobs.url)
        with gateway(storage=storage) as gw:
            r = httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.zip")
            assert r.status_code == 302 and r.headers["cache-control"] == "no-store"
            sum_ = download_sum(run_go, gw.url, "example.com/m@v1.0.0", cwd=project(tmp_path))
        assert sum_ == hash_zip(zip_path)
        assert blobs.hits["/example.com/m/@v/v1.0.0.zip"] == 1
    finally:
        blobs.stop()


def test_latest_is_not_cached_as_immutable(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree
) -> None:
    """@latest moves with each release: a cache in front must ask again (as for @v/list)."""
    m = "example.com/p"
    simple(goproxy_tree, m, PSEUDO)
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/{m}/@latest")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
        assert "etag" not in r.headers
