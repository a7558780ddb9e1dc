"""Caching and failure: single-flight, TTL'd lists, negative caching, serve-stale, upstream down,
offline mode (checklist item 24) — each observed through the go command or the upstream's counts."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from goproxytree import GoProxyTree, write_files
from vaultlab import GatewayFactory, LoopbackUpstream

from scanner.dirhash import hash_zip

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def project(tmp_path: Path, name: str = "app") -> Path:
    return write_files(tmp_path / name, {"go.mod": "module example.com/app\n\ngo 1.21\n"})


def publish(tree: GoProxyTree, path: str, version: str) -> Path:
    files = {"go.mod": f"module {path}\n", "x.go": "package x\n"}
    return tree.add_module(path, version, files).zip


def test_concurrent_requests_make_one_upstream_fetch(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    for n in range(4):
        publish(goproxy_tree, f"example.com/c{n}", "v1.0.0")
    upstream.delay = 0.2  # every upstream answer is slow, so the requests overlap
    with gateway() as gw:
        urls = [
            f"{gw.url}/example.com/c{n}/@v/v1.0.0.{kind}"
            for n in range(4)
            for kind in ("info", "mod", "zip")
            for _ in range(3)
        ] + [f"{gw.url}/example.com/c0/@v/list"] * 5
        statuses: list[int] = []
        threads = [
            threading.Thread(
                target=lambda u=u: statuses.append(httpx.get(u, timeout=30).status_code)
            )
            for u in urls
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses == [200] * len(urls)
    assert set(upstream.hits.values()) == {1}
    assert len(upstream.hits) == 4 * 3 + 1


def test_list_is_cached_for_its_ttl_and_not_found_too(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    publish(goproxy_tree, "example.com/m", "v1.0.0")
    now = [1000.0]
    with gateway(list_ttl=60, negative_ttl=30) as gw:
        gw.gateway.answers.clock = lambda: now[0]  # the cache's injectable clock
        for _ in range(3):
            assert httpx.get(f"{gw.url}/example.com/m/@v/list").text == "v1.0.0\n"
            assert httpx.get(f"{gw.url}/example.com/gone/@v/list").status_code == 404
            assert httpx.get(f"{gw.url}/example.com/gone/@v/v1.0.0.info").status_code == 404
        assert upstream.hits["/example.com/m/@v/list"] == 1
        assert upstream.hits["/example.com/gone/@v/list"] == 1
        assert upstream.hits["/example.com/gone/@v/v1.0.0.info"] == 1
        publish(goproxy_tree, "example.com/m", "v1.1.0")
        publish(goproxy_tree, "example.com/gone", "v1.0.0")
        now[0] += 31  # past the negative TTL, within the list TTL
        assert httpx.get(f"{gw.url}/example.com/m/@v/list").text == "v1.0.0\n"
        assert httpx.get(f"{gw.url}/example.com/gone/@v/list").text == "v1.0.0\n"
        now[0] += 30  # past the list TTL
        assert httpx.get(f"{gw.url}/example.com/m/@v/list").text == "v1.0.0\nv1.1.0\n"


def test_upstream_down_cached_is_served_and_uncached_is_502(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    """Verify list: after warm-up everything cached is served (stale lists too); anything
    uncached is a 502 whose reason the go command prints."""
    zip_path = publish(goproxy_tree, "example.com/m", "v1.0.0")
    publish(goproxy_tree, "example.com/cold", "v1.0.0")
    with gateway(list_ttl=0.0) as gw:
        env = {"GOPROXY": gw.url}
        go_get = ("get", "example.com/m@latest")
        run_go(*go_get, cwd=project(tmp_path, "warm"), env_extra=env)
        upstream.stop()
        run_go("clean", "-modcache", cwd=tmp_path)
        cwd = project(tmp_path, "again")
        run_go(*go_get, cwd=cwd, env_extra=env)  # list (stale) + .info/.mod/.zip from the vault
        out = run_go("mod", "download", "-json", "example.com/m", cwd=cwd, env_extra=env)
        assert json.loads(out.stdout)["Sum"] == hash_zip(zip_path)
        cold = run_go(
            "mod", "download", "example.com/cold@v1.0.0", cwd=cwd, env_extra=env, check=False
        )
        assert cold.returncode != 0
        assert "502 Bad Gateway" in cold.stderr
        assert f"upstream {upstream.url} unreachable" in cold.stderr


def test_upstream_timeout_is_504(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    publish(goproxy_tree, "example.com/slow", "v1.0.0")
    upstream.delay = 1.5
    with gateway(read_timeout=0.3) as gw:
        proc = run_go(
            "mod",
            "download",
            "example.com/slow@v1.0.0",
            cwd=project(tmp_path),
            env_extra={"GOPROXY": gw.url},
            check=False,
        )
    assert "504 Gateway Timeout" in proc.stderr and "timed out" in proc.stderr


def test_offline_serves_only_the_vault_and_never_connects(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    """Item 24: stored versions served, list from storage, else 404 "not in offline mirror"."""
    zip_path = publish(goproxy_tree, "example.com/m", "v1.0.0")
    publish(goproxy_tree, "example.com/m", "v1.1.0")
    publish(goproxy_tree, "example.com/other", "v1.0.0")
    with gateway() as gw:  # warm: only v1.0.0 goes into the vault
        assert httpx.get(f"{gw.url}/example.com/m/@v/v1.0.0.zip").status_code == 200
    upstream.hits.clear()
    with gateway(offline=True) as gw:
        env = {"GOPROXY": gw.url}
        cwd = project(tmp_path, "offline")
        assert httpx.get(f"{gw.url}/example.com/m/@v/list").text == "v1.0.0\n"
        assert (
            json.loads(httpx.get(f"{gw.url}/example.com/m/@latest").content)["Version"] == "v1.0.0"
        )
        out = run_go("mod", "download", "-json", "example.com/m@latest", cwd=cwd, env_extra=env)
        assert json.loads(out.stdout)["Sum"] == hash_zip(zip_path)
        for missing in (
            "example.com/m@v1.1.0",
            "example.com/other@v1.0.0",
            "example.com/other@latest",
        ):
            proc = run_go("mod", "download", missing, cwd=cwd, env_extra=env, check=False)
            assert proc.returncode != 0 and "not in offline mirror" in proc.stderr, proc.stderr
        r = httpx.get(f"{gw.url}/example.com/other/@v/list")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    assert not upstream.hits  # no outbound connection was attempted
