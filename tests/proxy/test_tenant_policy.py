"""A tenant's policy: its own, else the root's (a tenant without one was not judged at all)."""

from __future__ import annotations

from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from vaultlab import GatewayFactory, vault_config

from proxy.tenants import Tenant, tenant_config


def test_a_tenant_without_a_policy_is_judged_by_the_roots(tmp_path: Path) -> None:
    root = vault_config(tmp_path, policy=str(tmp_path / "policy.yml"))
    inherited = tenant_config(root, Tenant("acme", quota_modules=5))
    assert (inherited.policy, inherited.license_whitelist) == (root.policy, None)
    own = tenant_config(root, Tenant("beta", license_whitelist="MIT"))
    assert (own.policy, own.license_whitelist) == (None, "MIT")
    whitelisted = vault_config(tmp_path, license_whitelist="MIT,Apache-2.0")
    assert tenant_config(whitelisted, Tenant("acme")).license_whitelist == "MIT,Apache-2.0"


def test_a_file_where_a_modules_directory_belongs_is_a_storage_error(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """@v/list of a vault whose module path is a file was a traceback and "internal error"."""
    goproxy_tree.add_module("example.com/dep/m8", "v1.0.0")
    (tmp_path / "vault" / "example.com" / "dep").mkdir(parents=True)
    (tmp_path / "vault" / "example.com" / "dep" / "m8").write_text("x\n")
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/example.com/dep/m8/@v/list")
    assert r.status_code == 500 and "internal error" not in r.text
    assert r.text.startswith("example.com/dep/m8: cannot read the vault at "), r.text
