"""Benchmark: the license auditor at ingest, and the batch verdict API, beside baselines in one run.

Targets (issue 5): cold ingest + audit throughput (modules/s) over >= 300 fixture modules with
real license texts; POST /-/verdicts for 1,000 warm modules under 1 s. Baselines from this run:
- cold: the same ingest with no auditor (what the audit adds to a first download);
- warm batch: 1,000 single GET /-/verdicts requests on one keep-alive connection.

    python bench/bench_auditor.py [--modules 300] [--warm 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
sys.path += [str(ROOT / "tests" / "proxy"), str(ROOT / "tests")]
from goproxytree import GoProxyTree  # noqa: E402
from test_auditor import license_auditor, publish, write_policy  # noqa: E402
from vaultlab import running_gateway, vault_config  # noqa: E402

from proxy.config import VaultConfig  # noqa: E402
from scanner.licenses import default_index  # noqa: E402

# Licenses as a Go dependency tree has them: mostly permissive, some copyleft and oddities.
MIX = ("mit", "apache", "mit", "apache", "or", "mit", "gpl", "apache", "unknown", "and")


def publish_set(tree: GoProxyTree, count: int, prefix: str) -> list[str]:
    paths = []
    for n in range(count):
        path = f"example.com/{prefix}/m{n}"
        publish(tree, path, MIX[n % len(MIX)])
        paths.append(path)
    return paths


async def fetch_zips(base: str, paths: list[str], concurrency: int) -> list[int]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:

        async def one(path: str) -> int:
            async with limit:
                return (await client.get(f"/{path}/@v/v1.0.0.zip")).status_code

        return list(await asyncio.gather(*(one(p) for p in paths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modules", type=int, default=300)
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    default_index()  # loading the templates is start-up, not ingest
    with tempfile.TemporaryDirectory(prefix="bench-auditor-") as tmp_name:
        tmp = Path(tmp_name)
        tree = GoProxyTree(tmp / "upstream")
        plain = publish_set(tree, args.modules, "plain")
        audited = publish_set(tree, args.modules, "audited")
        warm = publish_set(tree, max(0, args.warm - args.modules), "warm")
        policy = write_policy(tmp / "policy.yml")

        base_dir = tmp / "base"
        base_dir.mkdir()
        with running_gateway(vault_config(base_dir, upstream=tree.url)) as gw:
            t = time.perf_counter()
            codes = asyncio.run(fetch_zips(gw.url, plain, args.concurrency))
            base_s = time.perf_counter() - t
        assert set(codes) == {200}, codes

        audit_dir = tmp / "audit"
        audit_dir.mkdir()
        config = vault_config(audit_dir, upstream=tree.url)
        auditor = license_auditor(VaultConfig(storage=config.storage), policy)
        with running_gateway(config, auditor=auditor) as gw:
            t = time.perf_counter()
            codes = asyncio.run(fetch_zips(gw.url, audited, args.concurrency))
            cold_s = time.perf_counter() - t
            refused = codes.count(403)
            # The rest of the warm set, audited through the batch API itself (cold).
            body = {"modules": [{"module": p, "version": "v1.0.0"} for p in warm]}
            t = time.perf_counter()
            httpx.post(f"{gw.url}/-/verdicts", json=body, timeout=600).raise_for_status()
            batch_cold_s = time.perf_counter() - t
            everything = (audited + warm)[: args.warm]
            body = {"modules": [{"module": p, "version": "v1.0.0"} for p in everything]}
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                r = httpx.post(f"{gw.url}/-/verdicts", json=body, timeout=600)
                runs.append(time.perf_counter() - t)
                assert len(r.json()["verdicts"]) == len(everything)
            with httpx.Client(base_url=gw.url, timeout=60) as client:
                t = time.perf_counter()
                for p in everything:
                    client.get(f"/-/verdicts/{p}/@v/v1.0.0").raise_for_status()
                singles_s = time.perf_counter() - t
    n = args.modules
    print(f"cold ingest, no auditor:      {n / base_s:7.1f} modules/s  ({base_s:.2f} s, {n})")
    print(
        f"cold ingest + audit:          {n / cold_s:7.1f} modules/s  ({cold_s:.2f} s, "
        f"{refused} refused)  ratio {cold_s / base_s:.2f}x the plain ingest time"
    )
    if warm:
        print(
            f"cold audit via POST batch:    {len(warm) / batch_cold_s:7.1f} modules/s  "
            f"({batch_cold_s:.2f} s, {len(warm)})"
        )
    best = min(runs)
    print(
        f"warm batch of {len(everything)} verdicts:  {best * 1000:7.1f} ms best of 5 "
        f"(target < 1000 ms)  vs {singles_s * 1000:.0f} ms as single GETs: "
        f"{singles_s / best:.1f}x faster"
    )


if __name__ == "__main__":
    main()
