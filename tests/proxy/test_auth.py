"""Auth matrix: every route x {none, wrong, read, verdicts, admin} x {http, https, mTLS}."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, json_stream
from testca import Issued, ServedGateway, TestCA, serving
from vaultlab import LoopbackUpstream, vault_config

from proxy.auth import Access, TokenFile

MODULE = "example.com/dep/m0"
ROUTES: dict[str, Access | None] = {
    f"/{MODULE}/@v/list": Access.READ,
    f"/{MODULE}/@latest": Access.READ,
    f"/{MODULE}/@v/v1.0.0.info": Access.READ,
    f"/{MODULE}/@v/v1.0.0.mod": Access.READ,
    f"/{MODULE}/@v/v1.0.0.zip": Access.READ,
    "/sumdb/sum.golang.org/supported": Access.READ,
    f"/-/verdicts/{MODULE}/@v/v1.0.0": Access.VERDICTS,
    "/-/admin/exceptions": Access.ADMIN,
    "/-/metrics": Access.ADMIN,
    "/-/healthz": None,
    "/-/readyz": None,
}
CREDENTIALS = ("none", "wrong", "read", "read-basic", "verdicts", "admin")
TRANSPORTS = ("http", "https", "mtls")
CLIENT_SUBJECT = "CN=ci-runner,O=Example"


class Lab:
    def __init__(self, root: Path) -> None:
        self.tree = GoProxyTree(root / "upstream")
        for n in range(3):
            path = f"example.com/dep/m{n}"
            self.tree.add_module(
                path,
                "v1.0.0",
                {
                    "go.mod": f"module {path}\n\ngo 1.21\n",
                    f"m{n}.go": f"package m{n}\n\nconst Name = {n}\n",
                    "LICENSE": "MIT License\n",
                },
            )
        self.upstream = LoopbackUpstream(self.tree.root)
        self.ca = TestCA(root / "ca")
        self.server_cert = self.ca.issue("server", "127.0.0.1", server=True)
        self.client_cert = self.ca.issue("client", "ci-runner", server=False)
        self.rogue_cert = TestCA(root / "rogue", "rogue CA").issue("x", "ci-runner", server=False)
        self.token_file = TokenFile(root / "tokens.json")
        self.tokens = {
            "read": self.token_file.add("reader", Access.READ)[1],
            "verdicts": self.token_file.add("scanner-ci", Access.VERDICTS)[1],
            "admin": self.token_file.add("ops", Access.ADMIN)[1],
        }
        self.root = root

    def config(self, name: str, **changes: object) -> object:
        return vault_config(
            self.root / name,
            upstream=self.upstream.url,
            auth_tokens=str(self.token_file.path),
            server="uvicorn",
            **changes,
        )

    def client(self, transport: str, cert: Issued | None = None) -> httpx.Client:
        if transport == "http":
            return httpx.Client(timeout=30)
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        if cert is not None:
            ctx.load_cert_chain(cert.cert, cert.key)
        return httpx.Client(verify=ctx, timeout=30)

    def headers(self, credential: str) -> dict[str, str]:
        if credential == "none":
            return {}
        if credential == "wrong":
            return {"Authorization": "Bearer gvt_not-a-real-token"}
        if credential == "read-basic":
            pair = base64.b64encode(f"go:{self.tokens['read']}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {"Authorization": f"Bearer {self.tokens[credential]}"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("auth"))
    yield lab
    lab.upstream.stop()


@pytest.fixture(scope="module")
def gateways(lab: Lab) -> Iterator[dict[str, ServedGateway]]:
    tls = {"tls_cert": str(lab.server_cert.cert), "tls_key": str(lab.server_cert.key)}
    configs = {
        "http": lab.config("http"),
        "https": lab.config("https", **tls),
        "mtls": lab.config("mtls", tls_client_ca=str(lab.ca.cert), **tls),
    }
    with (
        serving(configs["http"]) as plain,  # type: ignore[arg-type]
        serving(configs["https"]) as https,  # type: ignore[arg-type]
        serving(configs["mtls"]) as mtls,  # type: ignore[arg-type]
    ):
        yield {"http": plain, "https": https, "mtls": mtls}


def _granted(credential: str, transport: str) -> Access | None:
    if credential == "none":
        return Access.READ if transport == "mtls" else None  # the client cert's scope
    if credential == "wrong":
        return None
    return Access(credential.removesuffix("-basic"))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("credential", CREDENTIALS)
def test_auth_matrix(
    lab: Lab, gateways: dict[str, ServedGateway], transport: str, credential: str
) -> None:
    served = gateways[transport]
    granted = _granted(credential, transport)
    wrong: list[str] = []
    cert = lab.client_cert if transport == "mtls" else None
    with lab.client(transport, cert) as client:
        for route, needed in ROUTES.items():
            r = client.get(served.url + route, headers=lab.headers(credential))
            if needed is None or (granted is not None and granted.allows(needed)):
                if route.startswith(f"/{MODULE}/@v/"):
                    ok = r.status_code == 200
                else:  # admitted: whatever the route says next (404 where it is off)
                    ok = r.status_code not in (401, 403) and r.status_code < 500
            elif granted is None:
                ok = r.status_code == 401 and "www-authenticate" in r.headers
            else:
                ok = r.status_code == 403 and needed.value in r.text
            if not ok:
                wrong.append(f"{route}: {r.status_code} {r.text.strip()!r}")
    assert not wrong, f"{credential} over {transport}:\n" + "\n".join(wrong)


def test_refused_request_says_how_to_authenticate(
    lab: Lab, gateways: dict[str, ServedGateway]
) -> None:
    with lab.client("http") as client:
        r = client.get(gateways["http"].url + f"/{MODULE}/@v/list")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert "authentication required" in r.text and "token" in r.text
    assert len(r.text.splitlines()) <= 8


def test_mtls_refuses_another_cas_certificate_and_without_one_asks_for_a_token(
    lab: Lab, gateways: dict[str, ServedGateway]
) -> None:
    """Beside the token file a certificate is optional (the go command cannot present one):
    no certificate means authenticate otherwise; another CA's certificate is refused."""
    url = gateways["mtls"].url
    with lab.client("mtls", lab.rogue_cert) as client, pytest.raises(httpx.TransportError):
        client.get(url + "/-/healthz")
    with lab.client("mtls", None) as client:
        assert client.get(url + "/-/healthz").status_code == 200  # open to all, as ever
        assert client.get(url + "/example.com/m/@v/list").status_code == 401
    with lab.client("mtls", lab.client_cert) as client:
        assert client.get(url + "/-/healthz").status_code == 200


def _audit_events(
    path: Path, want: Callable[[dict[str, object]], bool], count: int = 1
) -> list[dict[str, object]]:
    """The matching events once at least `count` are written (the log flushes every 0.25 s)."""
    deadline = time.monotonic() + 10
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [e for e in map(json.loads, lines) if want(e)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_identity_is_in_every_audit_event(lab: Lab, gateways: dict[str, ServedGateway]) -> None:
    served = gateways["mtls"]
    audit = Path(served.gateway.config.audit_log)
    with lab.client("mtls", lab.client_cert) as client:
        r = client.get(served.url + "/example.com/dep/m1/@v/v1.0.0.zip")
        assert r.status_code == 200
        r = client.get(served.url + "/example.com/dep/m1/@v/list", headers=lab.headers("admin"))
        assert r.status_code == 200
    ingest = _audit_events(
        audit, lambda e: e["event"] == "ingest" and e.get("module") == "example.com/dep/m1"
    )
    assert ingest and ingest[0]["identity"] == CLIENT_SUBJECT
    requests = _audit_events(
        audit,
        lambda e: e["event"] == "request" and e.get("module") == "example.com/dep/m1",
        count=2,
    )
    assert {e["identity"] for e in requests} == {CLIENT_SUBJECT, "ops"}


def test_revoked_token_stops_working_without_restart(
    lab: Lab, gateways: dict[str, ServedGateway]
) -> None:
    entry, token = lab.token_file.add("short-lived", Access.READ)
    url = gateways["http"].url + f"/{MODULE}/@v/list"
    auth = {"Authorization": f"Bearer {token}"}
    with lab.client("http") as client:
        assert client.get(url, headers=auth).status_code == 200
        assert lab.token_file.revoke(entry.name)
        deadline = time.monotonic() + 15
        while client.get(url, headers=auth).status_code == 200:
            assert time.monotonic() < deadline, "a revoked token still works after 15 s"
            time.sleep(0.2)
        assert client.get(url, headers=auth).status_code == 401
    assert token not in lab.token_file.path.read_text()  # only hashes on disk


def _go_download(
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    cwd: Path,
    proxy: str,
    ca: Path,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    extra = {"GOPROXY": proxy, "SSL_CERT_FILE": str(ca), "GOFLAGS": "", **(env or {})}
    return run_go(
        "mod",
        "download",
        "-json",
        "example.com/dep/m2@v1.0.0",
        cwd=cwd,
        env_extra=extra,
        check=False,
    )


def test_go_command_over_https_with_netrc(
    lab: Lab,
    gateways: dict[str, ServedGateway],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    go_env: dict[str, str],
    tmp_path: Path,
) -> None:
    proxy = gateways["https"].url
    netrc = Path(go_env["HOME"]) / ".netrc"
    machine = proxy.removeprefix("https://")  # host:port, as the go command matches it
    netrc.write_text(f"machine {machine} login go password gvt_wrong\n")
    refused = _go_download(run_go, tmp_path, proxy, lab.ca.cert)
    assert refused.returncode != 0 and "token not recognised" in refused.stdout, refused.stdout
    netrc.write_text(f"machine {machine} login go password {lab.tokens['read']}\n")
    done = _go_download(run_go, tmp_path, proxy, lab.ca.cert)
    assert done.returncode == 0, done.stderr
    (info,) = json_stream(done.stdout)
    assert info["Version"] == "v1.0.0" and str(info["Sum"]).startswith("h1:")
    assert Path(str(info["Zip"])).is_file()


def test_go_command_over_https_with_goauth_bearer(
    lab: Lab,
    gateways: dict[str, ServedGateway],
    run_go: Callable[..., subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    proxy = gateways["https"].url
    script = tmp_path / "goauth.sh"
    script.write_text(
        f"#!/bin/sh\nprintf '%s\\n\\nAuthorization: Bearer %s\\n\\n' '{proxy}' "
        f"'{lab.tokens['verdicts']}'\n"
    )
    script.chmod(0o755)
    done = _go_download(run_go, tmp_path, proxy, lab.ca.cert, {"GOAUTH": str(script)})
    assert done.returncode == 0, done.stderr
