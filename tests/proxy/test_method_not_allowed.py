"""A 405 names the methods its route takes in Allow (RFC 9110, section 15.5.6)."""

from __future__ import annotations

import httpx
import pytest
from vaultlab import GatewayFactory


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/example.com/a/@v/list", "GET, HEAD"),
        ("PUT", "/example.com/a/@v/v1.0.0.zip", "GET, HEAD"),
        ("DELETE", "/-/healthz", "GET, HEAD"),
        ("GET", "/-/verdicts", "POST"),
        ("POST", "/-/verdicts/example.com/a/@v/v1.0.0", "GET, HEAD"),
    ],
)
def test_a_405_says_which_methods_are_allowed(
    gateway: GatewayFactory, method: str, path: str, allow: str
) -> None:
    with gateway() as gw:
        r = httpx.request(method, gw.url + path)
    assert r.status_code == 405
    assert r.headers.get("allow") == allow
