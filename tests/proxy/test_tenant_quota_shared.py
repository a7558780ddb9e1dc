"""Tenant quotas hold across every server process sharing the vault (replicas, --workers N):
the usage is one state document in the tenant's vault, reserved under its lock before a store."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from s3server import MotoServer
from serveproc import serve_process

from proxy.storage import open_storage


def _modules(tree: GoProxyTree, n: int) -> list[str]:
    paths = []
    for i in range(n):
        path = f"example.com/q/m{i}"
        tree.add_module(path, "v1.0.0", {"go.mod": f"module {path}\n", "a.go": "package a\n"})
        paths.append(path)
    return paths


def _args(tmp_path: Path, tree: GoProxyTree, quota: str) -> tuple[str, ...]:
    tenants = tmp_path / "tenants.yml"
    tenants.write_text(f"q:\n  {quota}\n")
    return (
        "--storage",
        str(tmp_path / "vault"),
        "--upstream",
        tree.url,
        "--tenants",
        str(tenants),
        "--server",
        "uvicorn",
    )


def _stored(tmp_path: Path) -> set[str]:
    return set(open_storage(str(tmp_path / "vault" / "t" / "q")).modules())


def test_two_servers_on_one_vault_share_the_module_quota(
    tmp_path: Path, goproxy_tree: GoProxyTree
) -> None:
    paths = _modules(goproxy_tree, 8)
    args = _args(tmp_path, goproxy_tree, "quota_modules: 3")
    with serve_process(*args) as (_, a), serve_process(*args) as (_, b):
        answers = []
        for i, path in enumerate(paths):  # the two servers take turns
            url = (a, b)[i % 2]
            answers.append(httpx.get(f"{url}/t/q/{path}/@v/v1.0.0.zip", timeout=60))
        # A module already held takes no new place, on either server.
        again = httpx.get(f"{b}/t/q/{paths[0]}/@v/v1.0.0.info", timeout=60)
    assert [r.status_code for r in answers] == [200, 200, 200] + [507] * 5, [
        (r.status_code, r.text) for r in answers
    ]
    assert all("tenant q holds 3 modules, its quota" in r.text for r in answers[3:])
    assert again.status_code == 200
    assert _stored(tmp_path) == set(paths[:3])
    usage = json.loads((tmp_path / "vault" / "t" / "q" / ".go-vault" / "quota.json").read_text())
    assert sorted(usage["modules"]) == paths[:3]


def test_concurrent_first_downloads_on_two_servers_never_pass_the_quota(
    tmp_path: Path, goproxy_tree: GoProxyTree
) -> None:
    paths = _modules(goproxy_tree, 10)
    args = _args(tmp_path, goproxy_tree, "quota_modules: 4")
    with serve_process(*args) as (_, a), serve_process(*args) as (_, b):
        statuses: list[int] = []

        def get(url: str) -> None:
            statuses.append(httpx.get(url, timeout=60).status_code)

        threads = [
            threading.Thread(target=get, args=(f"{(a, b)[i % 2]}/t/q/{p}/@v/v1.0.0.zip",))
            for i, p in enumerate(paths)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [200] * 4 + [507] * 6
    assert len(_stored(tmp_path)) == 4


def test_the_byte_quota_counts_what_the_other_server_stored(
    tmp_path: Path, goproxy_tree: GoProxyTree
) -> None:
    paths = _modules(goproxy_tree, 3)
    # One module version (.info + .mod + .zip) is a few hundred bytes: room for two, not three.
    one = sum(
        f.stat().st_size
        for f in (Path(goproxy_tree.root) / "example.com/q/m0/@v").iterdir()
        if f.suffix in (".info", ".mod", ".zip")
    )
    args = _args(tmp_path, goproxy_tree, f"quota_bytes: {2 * one + one // 2}")
    with serve_process(*args) as (_, a), serve_process(*args) as (_, b):
        assert httpx.get(f"{b}/t/q/{paths[0]}/@v/v1.0.0.zip", timeout=60).status_code == 200
        assert httpx.get(f"{a}/t/q/{paths[1]}/@v/v1.0.0.zip", timeout=60).status_code == 200
        over = httpx.get(f"{b}/t/q/{paths[2]}/@v/v1.0.0.zip", timeout=60)  # a's counts too
    assert over.status_code == 507 and "over its quota" in over.text, over.text
    assert _stored(tmp_path) == set(paths[:2])


def test_replicas_on_one_bucket_share_the_module_quota(
    tmp_path: Path, goproxy_tree: GoProxyTree, moto_server: MotoServer
) -> None:
    paths = _modules(goproxy_tree, 8)
    storage = f"s3://{moto_server.new_bucket()}/vault"
    tenants = tmp_path / "tenants.yml"
    tenants.write_text("q:\n  quota_modules: 3\n")
    args = ("--storage", storage, "--upstream", goproxy_tree.url, "--tenants", str(tenants))
    args += ("--server", "uvicorn")
    with serve_process(*args) as (_, a), serve_process(*args) as (_, b):
        statuses: list[int] = []

        def get(url: str) -> None:
            statuses.append(httpx.get(url, timeout=60).status_code)

        threads = [
            threading.Thread(target=get, args=(f"{(a, b)[i % 2]}/t/q/{p}/@v/v1.0.0.zip",))
            for i, p in enumerate(paths)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [200] * 3 + [507] * 5, statuses
    assert len(set(open_storage(f"{storage}/t/q").modules())) == 3
