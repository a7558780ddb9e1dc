"""Limits: a per-identity rate limit answers 429 with Retry-After and spares other identities."""

from __future__ import annotations

from pathlib import Path

import httpx
from vaultlab import GatewayFactory

from proxy.auth import Access, TokenFile
from proxy.limits import RateLimiter, TooManyRequestsError


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
