"""Tenants: /t/<tenant>/ with its own storage prefix and quota (507, nothing stored), tokens
bound to one tenant (403 elsewhere), per-tenant license policy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from testca import ServedGateway
from vaultlab import LoopbackUpstream, vault_config

from proxy.auth import Access, TokenFile
from proxy.commands.serve import gateway_for
from proxy.storage import open_storage
from proxy.tenants import TenantRouter, with_tenants

MIT = "MIT License\n\nCopyright (c) 2024 Example\n\n" + (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this "
    'software and associated documentation files (the "Software"), to deal in the Software '
    "without restriction, including without limitation the rights to use, copy, modify, merge, "
    "publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons "
    "to whom the Software is furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all copies or "
    "substantial portions of the Software.\n\n"
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, '
    "INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR "
    "PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE "
    "FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR "
    "OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER "
    "DEALINGS IN THE SOFTWARE.\n"
)


class Lab:
    def __init__(self, root: Path) -> None:
        tree = GoProxyTree(root / "upstream")
        for name in ("m0", "m1"):
            path = f"example.com/t/{name}"
            tree.add_module(path, "v1.0.0", {"go.mod": f"module {path}\n", "LICENSE": MIT})
        tree.add_module(
            "example.com/t/big",
            "v1.0.0",
            {"go.mod": "module example.com/t/big\n", "LICENSE": MIT, "b.bin": os.urandom(8192)},
        )
        self.upstream = LoopbackUpstream(tree.root)
        tokens = TokenFile(root / "tokens.json")
        self.tokens = {
            "acme": tokens.add("acme-ci", Access.READ, tenant="acme")[1],
            "beta": tokens.add("beta-ci", Access.READ, tenant="beta")[1],
            "global": tokens.add("ops", Access.READ)[1],
        }
        tenants = root / "tenants.yml"
        tenants.write_text(
            "acme:\n  license_whitelist: MIT\n  quota_modules: 1\n"
            "beta:\n  license_whitelist: Apache-2.0\n  quota_bytes: 6000\n"
            "gamma:\n  quota_bytes: 6000\n"
        )
        self.config = vault_config(
            root,
            upstream=self.upstream.url,
            auth_tokens=str(tokens.path),
            tenants=str(tenants),
        )
        self.root = root


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ServedGateway]]:
    lab = Lab(tmp_path_factory.mktemp("tenants"))
    app = with_tenants(lab.config, gateway_for)
    assert isinstance(app, TenantRouter)
    served = ServedGateway(app.root, app)
    try:
        yield lab, served
    finally:
        served.stop()
        lab.upstream.stop()


def _get(served: ServedGateway, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(served.url + path, headers=headers, timeout=60)


def test_tokens_are_bound_to_their_tenant(lab: tuple[Lab, ServedGateway]) -> None:
    rig, served = lab
    m0 = "/example.com/t/m0/@v/list"
    assert _get(served, "/t/acme" + m0, rig.tokens["acme"]).status_code == 200
    other = _get(served, "/t/beta" + m0, rig.tokens["acme"])
    assert other.status_code == 403 and "token of tenant acme" in other.text
    assert _get(served, m0, rig.tokens["acme"]).status_code == 403  # nor the root proxy
    assert _get(served, "/t/acme" + m0, None).status_code == 401
    assert _get(served, "/t/beta" + m0, rig.tokens["global"]).status_code == 200  # operator token
    assert _get(served, "/t/nope" + m0, rig.tokens["global"]).status_code in (400, 404)


def test_each_tenant_has_its_own_policy_and_storage(lab: tuple[Lab, ServedGateway]) -> None:
    rig, served = lab
    zip_path = "/example.com/t/m0/@v/v1.0.0.zip"
    assert _get(served, "/t/acme" + zip_path, rig.tokens["acme"]).status_code == 200  # MIT allowed
    refused = _get(served, "/t/beta" + zip_path, rig.tokens["beta"])
    assert refused.status_code == 403 and "MIT" in refused.text  # beta allows Apache-2.0 only
    acme = open_storage(str(rig.root / "vault" / "t" / "acme"))
    beta = open_storage(str(rig.root / "vault" / "t" / "beta"))
    assert acme.list("example.com/t/m0") == ["v1.0.0"]
    assert beta.list("example.com/t/m0") == ["v1.0.0"]  # judged and kept; its .zip refused
    assert "example.com/t/m0" not in set(open_storage(str(rig.root / "vault")).modules())


def test_over_quota_is_507_and_nothing_stored(lab: tuple[Lab, ServedGateway]) -> None:
    rig, served = lab
    # acme holds one module (m0, fetched above or now) and may hold no second.
    _get(served, "/t/acme/example.com/t/m0/@v/v1.0.0.zip", rig.tokens["acme"])
    second = _get(served, "/t/acme/example.com/t/m1/@v/v1.0.0.zip", rig.tokens["acme"])
    assert second.status_code == 507 and "quota" in second.text, second.text
    assert open_storage(str(rig.root / "vault" / "t" / "acme")).list("example.com/t/m1") == []
    # gamma has a byte quota smaller than the big module.
    big = _get(served, "/t/gamma/example.com/t/big/@v/v1.0.0.zip", rig.tokens["global"])
    assert big.status_code == 507 and "over its quota of 6000" in big.text, big.text
    assert open_storage(str(rig.root / "vault" / "t" / "gamma")).list("example.com/t/big") == []
    small = _get(served, "/t/gamma/example.com/t/m1/@v/v1.0.0.zip", rig.tokens["global"])
    assert small.status_code == 200
