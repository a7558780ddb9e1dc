"""The soak of issue 10: 64 concurrent clients against `go-vault serve` (granian) for 60 s, warm
and cold requests mixed all along -> zero 5xx, every zip's h1 checked, server memory stable.

Cold all along, not only at the start: a pool of modules nobody asked for yet is released bit by
bit over the run (each first request fetches, checks, audits and stores a version), lists and
not-found answers expire every 2 s (so they go upstream again), and the not-found ones name
modules that were never published. The server's RSS (granian's process and its worker) is
sampled every second and printed; the last third of the run may not climb above the first
third's peak by more than RSS_SLACK_MIB. No assertion depends on speed: a slow machine makes
fewer requests, and any pool module still unasked at the end is fetched (cold) then.
"""

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
SECONDS = 60.0
POOL = 240  # modules first asked for during the run, released evenly over its first 80 %
ABSENT = 400  # never-published module paths asked for (404, cold again after negative_ttl)
TTL = "2"  # list_ttl and negative_ttl of the server under soak, seconds
RSS_SLACK_MIB = 16  # measured: +0.0-0.1 MiB after warm-up, also on a loaded machine

Module = tuple[str, str, str]  # (module, version, h1)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass  # a worker that just exited
    return 0


def _tree_rss_kib(pid: int) -> int:
    """RSS of the server and its worker processes (granian forks one)."""
    total = _rss_kib(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = children.read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        kids = []
    return total + sum(_tree_rss_kib(int(child)) for child in kids)


def _published(tree: GoProxyTree) -> dict[tuple[str, str], str]:
    """{(module, version): h1} of every zip in the tree."""
    found = {}
    for zip_file in sorted(tree.root.rglob("*.zip")):
        escaped, _, name = zip_file.relative_to(tree.root).as_posix().rpartition("/@v/")
        found[unescape_path(escaped), name.removesuffix(".zip")] = hash_zip(zip_file)
    return found


class Soak:
    """The clients' shared state: what is warm, what is still cold, what came back."""

    def __init__(self, client: httpx.AsyncClient, warm: list[Module], pool: list[Module]) -> None:
        self.client = client
        self.warm = warm  # asked for already (or by the opening storm)
        self.pool = pool  # not asked for yet, released over time
        self.taken = 0
        self.statuses: Counter[int] = Counter()
        self.kinds: Counter[str] = Counter()
        self.checked = 0
        self.verified: set[tuple[str, str]] = set()
        self.rss: list[tuple[float, int]] = []

    async def get(self, path: str, kind: str, expect: Module | None = None) -> None:
        r = await self.client.get(path)
        self.statuses[r.status_code] += 1
        self.kinds[kind] += 1
        if expect is not None and r.status_code == 200:
            module, version, h1 = expect
            got = await asyncio.to_thread(hash_zip, r.content)
            assert got == h1, f"{module}@{version}: served zip hashes to {got}, not {h1}"
            self.checked += 1
            self.verified.add((module, version))

    async def zip(self, module: Module, kind: str) -> None:
        path, version, _ = module
        await self.get(f"/{escape_path(path)}/@v/{version}.zip", kind, module)

    def next_cold(self, elapsed: float) -> Module | None:
        released = min(len(self.pool), int(len(self.pool) * elapsed / (0.8 * SECONDS)) + 1)
        if self.taken >= released:
            return None
        module = self.pool[self.taken]
        self.taken += 1
        return module

    async def client_loop(self, n: int, start: float, stop: float) -> None:
        rng = random.Random(n)
        await self.zip(self.warm[n % len(self.warm)], "cold-storm")  # all at once, all cold
        while (now := time.monotonic()) < stop:
            if rng.random() < 0.2 and (cold := self.next_cold(now - start)) is not None:
                await self.zip(cold, "cold-zip")
                self.warm.append(cold)
                continue
            module, version, h1 = rng.choice(self.warm)
            base = f"/{escape_path(module)}/@v/"
            match rng.choice(("zip", "zip", "zip", "info", "mod", "list", "absent")):
                case "zip":
                    await self.zip((module, version, h1), "warm-zip")
                case "list":  # expires every TTL s: now and then it goes upstream again
                    await self.get(base + "list", "list")
                case "absent":  # never published: a 404, cold again after negative_ttl
                    await self.get(f"/example.com/absent/m{rng.randrange(ABSENT)}/@v/list", "404")
                case kind:
                    await self.get(f"{base}{version}.{kind}", f"warm-{kind}")

    async def sample_rss(self, pid: int, start: float, stop: float) -> None:
        while (now := time.monotonic()) < stop:
            self.rss.append((now - start, _tree_rss_kib(pid)))
            await asyncio.sleep(1.0)


async def _soak(url: str, graph: list[Module], pool: list[Module], pid: int) -> Soak:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        soak = Soak(client, list(graph), pool)
        start = time.monotonic()
        stop = start + SECONDS
        await asyncio.gather(
            soak.sample_rss(pid, start, stop),
            *(soak.client_loop(n, start, stop) for n in range(CLIENTS)),
        )
        soak.rss.append((time.monotonic() - start, _tree_rss_kib(pid)))
        for module in pool[soak.taken :]:  # a slow machine: what was never released, cold now
            await soak.zip(module, "cold-late")
    return soak


def test_soak_64_clients_60_s_zero_5xx_memory_stable(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    fixture_graph(tree, count=32)
    graph = [(m, v, h1) for (m, v), h1 in _published(tree).items()]
    for n in range(POOL):
        path = f"example.com/soak/c{n}"
        tree.add_module(
            path,
            "v1.0.0",
            {
                "go.mod": f"module {path}\n\ngo 1.21\n",
                f"c{n}.go": f'package c{n}\n\nfunc Name() string {{ return "c{n}" }}\n',
                "LICENSE": "MIT License\n",
            },
        )
    published = _published(tree)
    pool = [
        (m, v, published[m, v]) for m, v in sorted(published) if m.startswith("example.com/soak/")
    ]
    upstream = LoopbackUpstream(tree.root)
    serve = ("--storage", str(tmp_path / "vault"), "--upstream", upstream.url)
    env = {"GO_VAULT_LIST_TTL": TTL, "GO_VAULT_NEGATIVE_TTL": TTL}
    try:
        with serve_process(
            *serve, "--audit-log", str(tmp_path / "audit.jsonl"), env=env, ready=True
        ) as (proc, url):
            soak = asyncio.run(_soak(url, graph, pool, proc.pid))
    finally:
        upstream.stop()

    total = sum(soak.statuses.values())
    first = [kib for t, kib in soak.rss if t < SECONDS / 3]
    last = [kib for t, kib in soak.rss if t >= 2 * SECONDS / 3]
    upstream_hits = sum(upstream.hits.values())
    print(
        f"\nsoak: {CLIENTS} clients, {SECONDS:.0f} s, {total} requests ({total / SECONDS:.0f}/s), "
        f"statuses {dict(soak.statuses)}, kinds {dict(soak.kinds)}, upstream hits {upstream_hits}, "
        f"zips h1-checked {soak.checked} ({len(soak.verified)} distinct)\n"
        f"server RSS MiB every 5 s: {[round(kib / 1024) for _, kib in soak.rss[::5]]}; "
        f"first-third peak {max(first) / 1024:.1f}, last-third peak {max(last) / 1024:.1f} "
        f"({(max(last) - max(first)) / 1024:+.1f}, at most +{RSS_SLACK_MIB})"
    )
    assert not [s for s in soak.statuses if s >= 500], soak.statuses
    assert set(soak.statuses) <= {200, 404}, soak.statuses
    assert soak.verified == {(m, v) for m, v, _ in graph + pool}, "some zips were never checked"
    assert soak.kinds["cold-zip"] + soak.kinds["cold-late"] == POOL
    assert max(last) <= max(first) + (RSS_SLACK_MIB << 10), (
        f"server memory still growing in the last third: {soak.rss}"
    )
