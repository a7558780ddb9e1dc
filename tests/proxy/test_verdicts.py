"""The verdict API: one and many verdicts, cold versions audited on demand, the scanner's client."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
from goproxytree import GoProxyTree
from test_auditor import audit_events, license_auditor, publish, write_policy
from vaultlab import GatewayFactory, LoopbackUpstream

from proxy.config import VaultConfig
from proxy.verdicts import schema
from scanner.module import ModuleVersion
from scanner.proxyclient import ProxyClient
from scanner.verdict import Verdict

# A GPL text costs ~40 ms to identify, the short ones ~3 ms: a mix that stays quick.
KINDS = ("mit", "apache", "unknown", "or")


def kind_of(n: int) -> str:
    return {0: "gpl", 50: "and"}.get(n % 100, KINDS[n % len(KINDS)])


def check_schema(answer: object, definition: str) -> None:
    full = schema()
    wrapper = {"$defs": full["$defs"], "$ref": f"#/$defs/{definition}"}
    jsonschema.Draft202012Validator(wrapper).validate(answer)


@pytest.fixture
def config(tmp_path: Path) -> VaultConfig:
    return VaultConfig(storage=str(tmp_path / "vault"))


def test_one_verdict_cold_then_warm(
    goproxy_tree: GoProxyTree,
    gateway: GatewayFactory,
    upstream: LoopbackUpstream,
    config: VaultConfig,
    tmp_path: Path,
) -> None:
    publish(goproxy_tree, "example.com/Upper/gpl", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    with gateway(auditor=license_auditor(config, policy)) as gw:
        url = f"{gw.url}/-/verdicts/example.com/!upper/gpl/@v/v1.0.0"
        cold = httpx.get(url, timeout=30)
        assert cold.status_code == 200 and cold.headers["content-type"] == "application/json"
        verdict = cold.json()
        check_schema(verdict, "Verdict")
        assert verdict["module"] == "example.com/Upper/gpl" and verdict["decision"] == "REJECT"
        assert verdict["expression"] == "GPL-3.0-only"
        assert verdict["licenses"][0]["files"] == ["LICENSE"]
        assert [r["rule_id"] for r in verdict["reasons"]] == ["license.denied"]
        assert verdict["h1"].startswith("h1:") and verdict["policy_digest"].startswith("sha256:")
        assert upstream.fetches(".zip") == {"/example.com/!upper/gpl/@v/v1.0.0.zip": 1}
        assert httpx.get(url, timeout=30).json() == verdict  # warm: no second fetch
        assert upstream.fetches(".zip") == {"/example.com/!upper/gpl/@v/v1.0.0.zip": 1}
        missing = httpx.get(f"{gw.url}/-/verdicts/example.com/nope/@v/v1.0.0", timeout=30)
        assert missing.status_code == 404 and missing.json()["module"] == "example.com/nope"
        bad = httpx.get(f"{gw.url}/-/verdicts/example.com/Upper/@v/v1.0.0", timeout=30)
        assert bad.status_code == 400
        assert httpx.put(url, timeout=30).status_code == 405


def test_batch_of_1000_equals_the_single_answers(
    goproxy_tree: GoProxyTree, gateway: GatewayFactory, config: VaultConfig, tmp_path: Path
) -> None:
    wanted = []
    for n in range(1000):
        kind = kind_of(n)
        path = f"example.com/batch/{kind}{n}"
        publish(goproxy_tree, path, kind)
        wanted.append({"module": path, "version": "v1.0.0"})
    wanted.append({"module": "example.com/absent", "version": "v1.0.0"})
    policy = write_policy(tmp_path / "policy.yml")
    # file:// upstream: the loopback HTTP one has a listen backlog of 5
    auditor = license_auditor(config, policy)
    with gateway(
        auditor=auditor, audit_concurrency=16, pool_size=16, upstream=goproxy_tree.url
    ) as gw:
        start = time.perf_counter()
        cold = httpx.post(f"{gw.url}/-/verdicts", json={"modules": wanted}, timeout=300)
        cold_s = time.perf_counter() - start
        assert cold.status_code == 200, cold.text
        batch = cold.json()
        check_schema(batch, "Batch")
        assert batch["errors"] == []
        assert len(batch["verdicts"]) == 1000  # the absent module is left out
        assert [v["module"] for v in batch["verdicts"]] == [w["module"] for w in wanted[:1000]]
        start = time.perf_counter()
        warm = httpx.post(f"{gw.url}/-/verdicts", json={"modules": wanted}, timeout=300)
        warm_s = time.perf_counter() - start
        assert warm.json() == batch
        with httpx.Client(base_url=gw.url, timeout=30) as http:
            singles = [
                http.get(f"/-/verdicts/{w['module']}/@v/v1.0.0").json() for w in wanted[:1000]
            ]
        assert singles == batch["verdicts"]
        # the scanner's own client reads the same answers (in batches of 500)
        with ProxyClient(gw.url) as client:
            got = client.verdicts([ModuleVersion(w["module"], "v1.0.0") for w in wanted])
    assert {str(mv): v.to_json() for mv, v in got.items()} == {
        f"{v['module']}@{v['version']}": v for v in batch["verdicts"]
    }
    decisions = {Verdict.from_json(v).decision.value for v in batch["verdicts"]}
    assert decisions == {"PASS", "REJECT", "REVIEW_REQUIRED"}
    print(f"1000 verdicts: cold {cold_s:.2f}s, warm {warm_s:.3f}s")


def test_batch_requests_that_are_refused(
    gateway: GatewayFactory, config: VaultConfig, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "policy.yml")
    with gateway(auditor=license_auditor(config, policy)) as gw:
        url = f"{gw.url}/-/verdicts"
        many = {"modules": [{"module": "example.com/x", "version": "v1.0.0"}] * 5001}
        too_many = httpx.post(url, json=many, timeout=30)
        assert too_many.status_code == 413 and "5000" in too_many.json()["error"]
        for body in (b"not json", b'{"mods": []}', b'{"modules": [{"module": "x"}]}'):
            r = httpx.post(url, content=body, timeout=30)
            assert r.status_code == 400, body
            assert '{"modules"' in r.json()["error"]
        odd = [
            {"module": "example.com/x", "version": "latest"},
            {"module": "Example.com/x", "version": "v1.0.0"},
        ]
        refused = httpx.post(url, json={"modules": odd}, timeout=30).json()
        assert refused["verdicts"] == []
        assert [e["module"] for e in refused["errors"]] == ["example.com/x", "Example.com/x"]
        assert "not a semantic version" in refused["errors"][0]["error"]
        empty = httpx.post(url, json={"modules": []}, timeout=30)
        assert empty.json() == {"verdicts": [], "errors": []}
    with gateway() as gw:  # no policy, no auditor: the route says so
        r = httpx.post(f"{gw.url}/-/verdicts", json={"modules": []}, timeout=30)
        assert r.status_code == 404 and "--policy" in r.json()["error"]


def test_go_vault_approve_and_verdict_through_the_admin_route(
    goproxy_tree: GoProxyTree,
    gateway: GatewayFactory,
    config: VaultConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from proxy.cli import cli
    from scanner.cli import run

    publish(goproxy_tree, "example.com/gpl", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    auditor = license_auditor(config, policy)
    with gateway(auditor=auditor, admin_token="adm1n", upstream=goproxy_tree.url) as gw:
        assert run(cli, ["verdict", "example.com/gpl@v1.0.0", "--proxy", gw.url]) == 1
        out = capsys.readouterr().out
        assert out.startswith("example.com/gpl@v1.0.0: REJECT\n  license: GPL-3.0-only\n")
        assert "    GPL-3.0-only in LICENSE (confidence 1.00)" in out
        assert run(cli, ["verdict", "example.com/gpl", "--proxy", gw.url]) == 2
        assert run(cli, ["verdict", "example.com/none@v1.0.0", "--proxy", gw.url]) == 2
        approve = ["approve", "example.com/gpl@v1.0.0", "--proxy", gw.url]
        why = ["--reason", "tooling only", "--approver", "cto@example.com"]
        assert run(cli, [*approve, *why, "--admin-token", "wrong"]) == 3
        assert "401" in capsys.readouterr().err
        assert run(cli, [*approve, "--admin-token", "adm1n", "--approver", "x"]) == 2
        assert run(cli, [*approve, *why, "--admin-token", "adm1n"]) == 0
        added = json.loads(capsys.readouterr().out)
        assert added["versions"] == "=v1.0.0" and added["approver"] == "cto@example.com"
        assert run(cli, ["verdict", "example.com/gpl@v1.0.0", "--proxy", gw.url]) == 0
        assert "exception.applied: example.com/gpl@v1.0.0" in capsys.readouterr().out
        listing = ["approve", "--list", "--proxy", gw.url, "--admin-token", "adm1n"]
        assert run(cli, listing) == 0
        assert [e["id"] for e in json.loads(capsys.readouterr().out)["exceptions"]] == [added["id"]]
        revoke = ["approve", "--revoke", added["id"], "--proxy", gw.url, "--admin-token", "adm1n"]
        assert run(cli, revoke) == 0
        assert run(cli, ["verdict", "example.com/gpl@v1.0.0", "--proxy", gw.url]) == 1
    assert [e["action"] for e in audit_events(tmp_path) if e["event"] == "approval"] == [
        "add",
        "remove",
    ]
