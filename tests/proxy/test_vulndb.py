"""go-vault with the Go vulnerability database: the /-/vulndb/ mirror, refusing vulnerable code."""

from __future__ import annotations

import gzip
import http.client
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from e2e.test_proxy_serve import go_vault_serve  # the real `go-vault serve`, polled ready
from goproxytree import GoProxyTree, write_files
from vaultlab import GatewayFactory

from proxy.vulndb import LiveIndex, VulnAuditor
from scanner.vulndb.database import load_index
from scanner.vulndb.layout import build_layout
from scanner.vulndb.policy import VulnPolicy

RunGo = Callable[..., subprocess.CompletedProcess[str]]
OSV_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "go-vulndb" / "osv"
# aahframe.work has exactly one entry: GO-2020-0033, fixed in 0.12.4.
IDS = ["GO-2020-0001", "GO-2020-0033", "GO-2022-0969", "GO-2022-0617"]


@pytest.fixture
def vulndb(tmp_path: Path) -> Path:
    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    src = tmp_path / "osv"
    src.mkdir()
    for i in IDS:
        shutil.copy2(OSV_DIR / f"{i}.json", src / f"{i}.json")
    return build_layout(src, tmp_path / "vulndb", modified="2026-11-01T00:00:00Z").out_dir


def test_mirror_serves_the_layout_govulncheck_reads(
    gateway: GatewayFactory, vulndb: Path, tmp_path: Path
) -> None:
    with gateway(vulndb=str(vulndb)) as gw:
        base = f"{gw.url}/-/vulndb"
        db = httpx.get(f"{base}/index/db.json.gz")
        assert db.status_code == 200
        assert db.headers["content-type"] == "application/gzip"
        assert "content-encoding" not in db.headers  # govulncheck gunzips the body itself
        assert json.loads(gzip.decompress(db.content)) == {"modified": "2026-11-01T00:00:00Z"}
        entry = httpx.get(f"{base}/ID/GO-2020-0033.json")
        assert entry.headers["content-type"] == "application/json"
        assert entry.json()["aliases"] == ["CVE-2020-36559", "GHSA-vp56-r7qv-783v"]
        for bad in ("/index/", "/index/db.txt", "/ID/GO-9999-9999.json", "/ID/%2e%2e/index/db"):
            r = httpx.get(base + bad)
            assert r.status_code == 404, bad
            assert r.headers["content-type"].startswith("text/plain")
        # a raw `..` (httpx would normalise it away) never leaves the database directory
        conn = http.client.HTTPConnection(*gw.url.removeprefix("http://").split(":"))
        conn.request("GET", "/-/vulndb/ID/../../vulndb/index/db.json")
        assert conn.getresponse().status == 404
        conn.close()
        # the scanner's own client reads the mirror as it reads vuln.go.dev
        index = load_index(base, cache_dir=tmp_path / "cache", modules=["aahframe.work"])
        assert set(index.entries) == {"GO-2020-0033"} and not index.from_cache
    with gateway() as gw:
        r = httpx.get(f"{gw.url}/-/vulndb/index/db.json")
        assert r.status_code == 404 and "--vulndb DIR" in r.text


def test_policy_refuses_vulnerable_versions_and_go_prints_the_advisory(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    vulndb: Path,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    for version in ("v0.12.3", "v0.12.4"):
        goproxy_tree.add_module("aahframe.work", version, {"go.mod": "module aahframe.work\n"})
    cwd = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    # at download time nothing is called yet: "required" is the level that refuses
    auditor = VulnAuditor(
        load_index(vulndb.as_uri()), VulnPolicy.from_mapping({"fail_on": "required"})
    )
    with gateway(vulndb=str(vulndb), auditor=auditor) as gw:
        env = {"GOPROXY": gw.url}
        bad = run_go(
            "mod", "download", "aahframe.work@v0.12.3", cwd=cwd, env_extra=env, check=False
        )
        assert bad.returncode != 0, bad.stderr
        assert "403 Forbidden" in bad.stderr
        assert "GO-2020-0033" in bad.stderr and "CVE-2020-36559" in bad.stderr
        assert "go get aahframe.work@v0.12.4" in bad.stderr
        ok = run_go("mod", "download", "-json", "aahframe.work@v0.12.4", cwd=cwd, env_extra=env)
        assert json.loads(ok.stdout)["Version"] == "v0.12.4"


def test_facts_without_refusal_when_the_policy_fails_only_on_calls(
    vulndb: Path,
) -> None:
    auditor = VulnAuditor(load_index(vulndb.as_uri()), VulnPolicy())
    verdict = auditor.audit("aahframe.work", "v0.12.3", b"", "h1:x")
    assert verdict is not None and verdict.passed
    assert verdict.rule_ids() == ("vuln-required",)
    assert "GO-2020-0033" in verdict.reasons[0].message
    assert auditor.audit("aahframe.work", "v0.12.4", b"", "h1:x") is None


def test_go_vault_serve_vulndb_flag(vulndb: Path, tmp_path: Path) -> None:
    args = ("--offline", "--storage", str(tmp_path / "vault"), "--vulndb", str(vulndb))
    with go_vault_serve(*args) as (url, _):
        r = httpx.get(f"{url}/-/vulndb/index/modules.json", timeout=10)
    assert r.status_code == 200
    assert [m["path"] for m in r.json()] == [
        "aahframe.work",
        "github.com/gin-gonic/gin",
        "golang.org/x/net",
        "k8s.io/kubernetes",
        "stdlib",
    ]


def test_the_auditor_follows_a_rebuilt_database(vulndb: Path, tmp_path: Path) -> None:
    src = tmp_path / "osv"
    (src / "GO-2020-0033.json").unlink()
    build_layout(src, vulndb, modified="2026-11-02T00:00:00Z")
    auditor = VulnAuditor(LiveIndex(vulndb), VulnPolicy.from_mapping({"fail_on": "required"}))
    assert auditor.audit("aahframe.work", "v0.12.3", b"", "h1:x") is None
    shutil.copy2(OSV_DIR / "GO-2020-0033.json", src / "GO-2020-0033.json")
    build_layout(src, vulndb, modified="2026-11-03T00:00:00Z")  # what an operator's cron does
    verdict = auditor.audit("aahframe.work", "v0.12.3", b"", "h1:x")
    assert verdict is not None and not verdict.passed
