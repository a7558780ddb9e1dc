"""Limits: a per-identity rate limit answers 429 with Retry-After and spares other identities."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from vaultlab import GatewayFactory, LoopbackUpstream

from proxy.auth import Access, TokenFile
from proxy.limits import IngestBusyError, IngestSlots, RateLimiter, TooManyRequestsError


def test_rate_limit_is_per_identity_with_retry_after(
    gateway: GatewayFactory, tmp_path: Path
) -> None:
    tokens = TokenFile(tmp_path / "tokens.json")
    _, noisy = tokens.add("noisy", Access.READ)
    _, quiet = tokens.add("quiet", Access.READ)
    with (
        gateway(auth_tokens=str(tokens.path), rate_limit=1.0, rate_burst=3) as gw,
        httpx.Client(base_url=gw.url, timeout=10) as client,
    ):
        statuses = []
        for _ in range(6):
            r = client.get("/-/healthz", headers={"Authorization": f"Bearer {noisy}"})
            statuses.append(r.status_code)
        assert statuses[:3] == [200, 200, 200]  # the burst
        assert 429 in statuses[3:], statuses
        limited = client.get("/-/healthz", headers={"Authorization": f"Bearer {noisy}"})
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "rate limit: noisy" in limited.text and "retry after" in limited.text
        # Another identity has its own bucket.
        other = client.get("/-/healthz", headers={"Authorization": f"Bearer {quiet}"})
        assert other.status_code == 200


def test_rate_limit_without_auth_is_per_client_address(gateway: GatewayFactory) -> None:
    with gateway(rate_limit=0.5, rate_burst=2) as gw, httpx.Client(base_url=gw.url) as client:
        codes = [client.get("/-/healthz").status_code for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[2:] == [429, 429]


def test_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    try:
        limiter.check("a")
    except TooManyRequestsError as e:
        assert e.status == 429 and e.retry_after == 1
    else:
        raise AssertionError("third request within the same instant was allowed")
    now[0] += 0.5  # one token back at 2/s
    limiter.check("a")
    limiter.check("b")  # untouched by a's use


def test_ingest_cap_serialises_cold_downloads(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, upstream: LoopbackUpstream
) -> None:
    for n in range(3):
        goproxy_tree.add_module(f"example.com/cold/m{n}", "v1.0.0")
    upstream.delay = 0.5  # every upstream answer takes 0.5 s; one ingest fetches 3 at once
    with gateway(max_ingests=1) as gw, httpx.Client(timeout=30) as client:

        async def fetch_all() -> list[int]:
            async with httpx.AsyncClient(timeout=30) as ac:
                rs = await asyncio.gather(
                    *(ac.get(f"{gw.url}/example.com/cold/m{n}/@v/v1.0.0.zip") for n in range(3))
                )
            return [r.status_code for r in rs]

        start = time.monotonic()
        assert asyncio.run(fetch_all()) == [200, 200, 200]
        assert time.monotonic() - start >= 1.4  # one at a time: 3 x 0.5 s
        upstream.delay = 0
        # Stored versions take no slot.
        assert client.get(f"{gw.url}/example.com/cold/m0/@v/v1.0.0.mod").status_code == 200


def test_ingest_slots_give_503_after_the_wait() -> None:
    async def scenario() -> None:
        slots = IngestSlots(1, wait=0.1)
        async with slots:
            with pytest.raises(IngestBusyError) as err:
                async with slots:
                    pass
        assert err.value.status == 503 and err.value.headers[0][0] == b"retry-after"
        async with slots:  # released: free again
            pass

    asyncio.run(scenario())
