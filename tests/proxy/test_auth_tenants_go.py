"""The real go command on a tenant's GOPROXY over https: .netrc with that tenant's token works,
another tenant's token is refused, and the version lands in that tenant's storage only."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream
from testca import ServedGateway, TestCA
from vaultlab import LoopbackUpstream, vault_config

from proxy.auth import Access, TokenFile
from proxy.commands.serve import gateway_for
from proxy.tenants import TenantRouter, with_tenants

RunGo = Callable[..., subprocess.CompletedProcess[str]]
MODULE = "example.com/tenant/lib"


class Lab:
    def __init__(self, root: Path) -> None:
        tree = GoProxyTree(root / "upstream")
        tree.add_module(
            MODULE,
            "v1.0.0",
            {"go.mod": f"module {MODULE}\n\ngo 1.21\n", "lib.go": "package lib\n"},
        )
        self.upstream = LoopbackUpstream(tree.root)
        self.ca = TestCA(root / "ca")
        cert = self.ca.issue("server", "127.0.0.1", server=True)
        tokens = TokenFile(root / "tokens.json")
        self.tokens = {
            "acme": tokens.add("acme-ci", Access.READ, tenant="acme")[1],
            "beta": tokens.add("beta-ci", Access.READ, tenant="beta")[1],
        }
        tenants = root / "tenants.yml"
        tenants.write_text("acme:\n  quota_modules: 10\nbeta:\n  quota_modules: 10\n")
        self.config = vault_config(
            root,
            upstream=self.upstream.url,
            auth_tokens=str(tokens.path),
            tenants=str(tenants),
            tls_cert=str(cert.cert),
            tls_key=str(cert.key),
        )
        self.root = root


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ServedGateway]]:
    rig = Lab(tmp_path_factory.mktemp("tenants-go"))
    app = with_tenants(rig.config, gateway_for)
    assert isinstance(app, TenantRouter)
    served = ServedGateway(app.root, app)
    try:
        yield rig, served
    finally:
        served.stop()
        rig.upstream.stop()


def download(
    run_go: RunGo, go_env: dict[str, str], rig: Lab, proxy: str, token: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    machine = proxy.removeprefix("https://").split("/", 1)[0]  # host:port, as go matches it
    (Path(go_env["HOME"]) / ".netrc").write_text(f"machine {machine} login go password {token}\n")
    extra = {"GOPROXY": proxy, "SSL_CERT_FILE": str(rig.ca.cert), "GOFLAGS": ""}
    return run_go(
        "mod", "download", "-json", f"{MODULE}@v1.0.0", cwd=cwd, env_extra=extra, check=False
    )


def test_go_downloads_from_its_tenant_over_https_and_another_token_is_refused(
    lab: tuple[Lab, ServedGateway], run_go: RunGo, go_env: dict[str, str], tmp_path: Path
) -> None:
    rig, served = lab
    acme = f"{served.url}/t/acme"
    assert acme.startswith("https://127.0.0.1:")
    refused = download(run_go, go_env, rig, acme, rig.tokens["beta"], tmp_path)
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    assert "token of tenant beta" in refused.stdout + refused.stderr, refused.stdout
    assert not list((rig.root / "vault").rglob("*.zip"))  # a refused request stores nothing

    done = download(run_go, go_env, rig, acme, rig.tokens["acme"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (info,) = json_stream(done.stdout)
    assert info["Version"] == "v1.0.0" and str(info["Sum"]).startswith("h1:")
    assert Path(str(info["Zip"])).is_file()
    stored = [p.relative_to(rig.root / "vault") for p in (rig.root / "vault").rglob("*.zip")]
    assert stored and all(p.parts[:2] == ("t", "acme") for p in stored), stored

    # The same token on the other tenant's path: refused, though the module is now in acme's.
    run_go("clean", "-modcache", cwd=tmp_path)
    beta = download(run_go, go_env, rig, f"{served.url}/t/beta", rig.tokens["acme"], tmp_path)
    assert beta.returncode != 0 and "token of tenant acme" in beta.stdout + beta.stderr
