"""Rollbacks recorded before a gateway starts apply from its first request on, to every request
that comes at once (they were read after the first requests had been answered)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, write_files
from serveproc import serve_process
from test_rollback import VERSIONS, M, go_get, go_vault, publish, required
from vaultlab import vault_config

from proxy.app import Gateway
from proxy.storage import Kind
from proxy.storage.fs import FsStorage

RunGo = Callable[..., subprocess.CompletedProcess[str]]
ROLLED = "v1.3.0"  # the newest release of M, rolled back before the gateway starts
AT_ONCE = 16


def answers(responses: list[httpx.Response]) -> list[tuple[str, int, str]]:
    """What each request got, as the go command reads it: path, status, and the list or
    @latest version."""
    out = []
    for r in responses:
        path = r.request.url.path
        body = r.text if path.endswith("/list") else ""
        if path.endswith("/@latest") and r.status_code == 200:
            body = r.json()["Version"]
        out.append((path, r.status_code, " ".join(body.split())))
    return out


def expected(path: str) -> tuple[str, int, str]:
    if path.endswith(".zip") or path.endswith(".info"):
        return (path, 403, "")
    if path.endswith("/list"):
        return (path, 200, "v1.1.0 v1.2.0 v1.2.1")
    return (path, 200, "v1.2.1")


def stored_and_rolled_back(tree: GoProxyTree, tmp_path: Path) -> Path:
    """A vault holding every version of M (as a gateway that served them leaves it), the
    newest rolled back by the operator's command; returns the vault."""
    publish(tree)
    vault = tmp_path / "vault"
    storage = FsStorage(vault)
    for v in VERSIONS:
        art = tree.artifacts(M, v)
        blobs = [(Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)]
        storage.put_version(M, v, [(kind, path.read_bytes()) for kind, path in blobs])
    code, _, err = go_vault(tmp_path, "rollback", M, ROLLED, "--reason", "bad release")
    assert code == 0, err
    return vault


PATHS = [
    f"/{M}/@v/{ROLLED}.zip",
    f"/{M}/@v/list",
    f"/{M}/@latest",
    f"/{M}/@v/{ROLLED}.info",
]


def test_requests_at_once_on_a_new_gateway_all_see_the_rollback(
    goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """All in one event loop turn: the first starts reading the rollback state in a worker
    thread; the others used to be answered from the empty state meanwhile."""
    stored_and_rolled_back(goproxy_tree, tmp_path)
    wanted = [PATHS[i % len(PATHS)] for i in range(AT_ONCE)]

    async def at_once() -> list[httpx.Response]:
        gateway = Gateway(vault_config(tmp_path, upstream=goproxy_tree.url))
        transport = httpx.ASGITransport(app=gateway)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://vault") as client:
                return await asyncio.gather(*(client.get(p) for p in wanted))
        finally:
            await gateway.aclose()

    got = answers(asyncio.run(at_once()))
    assert got == [expected(p) for p in wanted]


@pytest.mark.gocmd
def test_go_get_latest_right_after_a_start_skips_the_rolled_back_version(
    goproxy_tree: GoProxyTree, tmp_path: Path, run_go: RunGo
) -> None:
    """`go-vault serve` (granian, the default) over a vault with a rollback: requests sent the
    moment it starts, and the go command's @latest, never see the rolled-back version."""
    vault = stored_and_rolled_back(goproxy_tree, tmp_path)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    wanted = [PATHS[i % len(PATHS)] for i in range(4 * AT_ONCE)]
    with serve_process("--storage", str(vault), "--upstream", goproxy_tree.url) as (_, url):
        with (
            httpx.Client(base_url=url, timeout=30) as client,
            concurrent.futures.ThreadPoolExecutor(AT_ONCE) as pool,
        ):
            got = answers(list(pool.map(client.get, wanted)))
        assert got == [expected(p) for p in wanted]
        done = go_get(run_go, url, app, f"{M}@latest")
        assert done.returncode == 0, done.stderr
        assert required(app) == "v1.2.1"


def test_a_state_that_never_read_serves_nothing_until_it_does(
    goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """Served from an empty state, a broken rollbacks.json would un-roll-back every version."""
    vault = stored_and_rolled_back(goproxy_tree, tmp_path)
    state = vault / ".go-vault" / "rollbacks.json"
    good = state.read_bytes()
    state.write_text("{not json")

    async def before_and_after_repair() -> list[httpx.Response]:
        gateway = Gateway(vault_config(tmp_path, upstream=goproxy_tree.url))
        transport = httpx.ASGITransport(app=gateway)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://vault") as client:
                broken = await client.get(PATHS[0])
                state.write_bytes(good)
                return [broken, await client.get(PATHS[0])]
        finally:
            await gateway.aclose()

    broken, repaired = asyncio.run(before_and_after_repair())
    assert broken.status_code == 500
    assert "cannot read its rollbacks" in broken.text
    assert repaired.status_code == 403 and "bad release" in repaired.text
