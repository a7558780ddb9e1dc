"""A bounded soak: 64 concurrent clients against `go-vault serve` (granian) for a few seconds,
mixed cold and warm requests -> zero 5xx, every zip's h1 checked, server memory reported."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from serveproc import serve_process
from vaultlab import LoopbackUpstream, fixture_graph

from scanner.dirhash import hash_zip
from scanner.module import escape_path, unescape_path

CLIENTS = 64
SECONDS = 8.0


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _tree_rss_kib(pid: int) -> int:
    """RSS of the server and its worker processes (granian forks one)."""
    total = _rss_kib(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        total += _tree_rss_kib(int(child))
    return total


def test_soak_64_clients_zero_5xx(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    fixture_graph(tree, count=32)
    modules: list[tuple[str, str, str]] = []  # (module, version, h1)
    for zip_file in sorted(tree.root.rglob("*.zip")):
        escaped, _, name = zip_file.relative_to(tree.root).as_posix().rpartition("/@v/")
        modules.append((unescape_path(escaped), name.removesuffix(".zip"), hash_zip(zip_file)))
    upstream = LoopbackUpstream(tree.root)
    serve = ("--storage", str(tmp_path / "vault"), "--upstream", upstream.url)
    try:
        with serve_process(*serve, "--audit-log", str(tmp_path / "audit.jsonl")) as (proc, url):
            statuses, checked, rss = asyncio.run(_load(url, modules, proc.pid))
    finally:
        upstream.stop()
    total = sum(statuses.values())
    print(
        f"\nsoak: {CLIENTS} clients, {SECONDS:.0f} s, {total} requests ({total / SECONDS:.0f}/s), "
        f"statuses {dict(statuses)}, zips h1-checked {checked}, "
        f"server RSS KiB start/mid/end {rss}"
    )
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] > CLIENTS and checked >= len(modules)
    assert rss[2] - rss[1] < 64 << 10, f"server memory still growing: {rss}"


async def _load(
    url: str, modules: list[tuple[str, str, str]], pid: int
) -> tuple[Counter[int], int, tuple[int, int, int]]:
    statuses: Counter[int] = Counter()
    checked = 0
    verified: set[tuple[str, str]] = set()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        deadline = time.monotonic() + 30
        while True:
            try:
                await client.get("/-/healthz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "go-vault serve did not come up"
                await asyncio.sleep(0.05)
        rss_start = _tree_rss_kib(pid)
        stop = time.monotonic() + SECONDS
        rng = random.Random(1)

        async def client_loop(n: int) -> None:
            nonlocal checked
            first = True
            while time.monotonic() < stop:
                if first:  # a cold storm: every module's zip is asked for at once
                    module, version, h1 = modules[n % len(modules)]
                    kind, first = "zip", False
                else:
                    module, version, h1 = rng.choice(modules)
                    kind = rng.choice(("zip", "zip", "info", "mod", "list", "missing"))
                base = f"/{escape_path(module)}/@v/"
                if kind == "list":
                    r = await client.get(base + "list")
                elif kind == "missing":  # cold and negative: never in any upstream
                    r = await client.get(f"/example.com/absent/m{rng.randrange(10**6)}/@v/list")
                else:
                    r = await client.get(f"{base}{version}.{kind}")
                statuses[r.status_code] += 1
                if kind == "zip" and r.status_code == 200:
                    got = await asyncio.to_thread(hash_zip, r.content)
                    assert got == h1, f"{module}@{version}: served zip hashes to {got}, not {h1}"
                    checked += 1
                    verified.add((module, version))

        mid: list[int] = []

        async def sample_mid() -> None:
            await asyncio.sleep(SECONDS / 2)
            mid.append(_tree_rss_kib(pid))

        await asyncio.gather(sample_mid(), *(client_loop(n) for n in range(CLIENTS)))
        rss_end = _tree_rss_kib(pid)
    assert len(verified) == len(modules), "some modules were never served during the soak"
    return statuses, checked, (rss_start, mid[0], rss_end)
