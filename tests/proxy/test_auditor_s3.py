"""The auditor on S3 storage: replicas on one bucket share verdicts and approvals (real moto)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from goproxytree import GoProxyTree, write_files
from s3server import MotoServer
from serveproc import serve_process
from test_auditor import publish, write_policy
from vaultlab import LoopbackUpstream

from proxy.auditor import approval_store, state_dir
from proxy.config import VaultConfig
from proxy.exceptions import FILE_NAME, new_approval

RunGo = Callable[..., subprocess.CompletedProcess[str]]
GPL, MIT = "example.com/gpl", "example.com/mit"
TOKEN = "adm1n"


def go_vault(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@contextmanager
def replica(name: str, storage: str, upstream: str, policy: Path, tmp: Path) -> Iterator[str]:
    """One `go-vault serve --policy` process with its own local cache (detections by h1)."""
    args = ("--server", "uvicorn", "--storage", storage, "--upstream", upstream)
    extra = ("--policy", str(policy), "--admin-token", TOKEN)
    audit = ("--audit-log", str(tmp / f"audit-{name}.jsonl"))
    env = {"XDG_CACHE_HOME": str(tmp / f"cache-{name}")}
    with serve_process(*args, *extra, *audit, env=env, ready=True) as (_proc, url):
        yield url


def verdict(url: str, module: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/-/verdicts/{module}/@v/v1.0.0", timeout=60)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def zip_status(url: str, module: str) -> httpx.Response:
    return httpx.get(f"{url}/{module}/@v/v1.0.0.zip", timeout=60)


def refuses(url: str) -> bool:
    return zip_status(url, GPL).status_code == 403


def wait_for(what: str, ok: Callable[[], bool], seconds: float = 15.0) -> float:
    """Poll `ok` until true; returns how long it took (the test's 'within a few seconds')."""
    start = time.monotonic()
    while not ok():
        assert time.monotonic() - start < seconds, f"{what} not within {seconds} s"
        time.sleep(0.1)
    return time.monotonic() - start


@pytest.fixture
def licensed_upstream(goproxy_tree: GoProxyTree) -> Iterator[LoopbackUpstream]:
    publish(goproxy_tree, GPL, "gpl")
    publish(goproxy_tree, MIT, "mit")
    lab = LoopbackUpstream(goproxy_tree.root)
    yield lab
    lab.stop()


@pytest.mark.gocmd
def test_two_replicas_share_verdicts_and_approvals(
    moto_server: MotoServer,
    licensed_upstream: LoopbackUpstream,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    bucket = moto_server.new_bucket()
    storage = f"s3://{bucket}/vault"
    policy = write_policy(tmp_path / "policy.yml")
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(replica(n, storage, licensed_upstream.url, policy, tmp_path))
            for n in "ab"
        )
        # The GPL zip is refused on both replicas; A judged it, B reads A's stored verdict.
        first = zip_status(a, GPL)
        assert first.status_code == 403
        assert first.text.startswith(f"{GPL}@v1.0.0: REJECT by policy: license GPL-3.0-only;")
        assert "go-vault approve example.com/gpl@v1.0.0" in first.text
        assert zip_status(b, GPL).status_code == 403
        for u in (a, b):
            assert zip_status(u, MIT).status_code == 200
        keys = {
            o["Key"]
            for o in boto3.client("s3", endpoint_url=moto_server.url)
            .list_objects_v2(Bucket=bucket, Prefix="vault/.go-vault/verdicts/")
            .get("Contents", ())
        }
        assert keys == {f"vault/.go-vault/verdicts/{m}/@v/v1.0.0.json" for m in (GPL, MIT)}
        # Same verdict document on both, down to when it was made (judged once, shared).
        assert verdict(a, GPL) == verdict(b, GPL)
        assert verdict(a, GPL)["decision"] == "REJECT"

        # The go command through B prints the module, the license and the rule.
        app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
        denied = run_go(
            "mod", "download", f"{GPL}@v1.0.0", cwd=app, env_extra={"GOPROXY": b}, check=False
        )
        assert denied.returncode != 0
        assert "example.com/gpl@v1.0.0" in denied.stderr and "GPL-3.0-only" in denied.stderr
        assert "license.denied" in denied.stderr

        # An approval through A's admin route applies on B within a few seconds, no restart.
        approve = go_vault(
            *("approve", f"{GPL}@v1.0.0", "--proxy", a, "--admin-token", TOKEN),
            *("--reason", "build tooling only", "--approver", "legal@example.com"),
        )
        assert approve.returncode == 0, approve.stderr
        approval_id = json.loads(approve.stdout)["id"]
        assert zip_status(a, GPL).status_code == 200
        wait_for("B serving the approved zip", lambda: zip_status(b, GPL).status_code == 200)
        out = run_go("mod", "download", "-json", f"{GPL}@v1.0.0", cwd=app, env_extra={"GOPROXY": b})
        assert '"Sum": "h1:' in out.stdout
        after_a, after_b = verdict(a, GPL), verdict(b, GPL)
        assert after_a["decision"] == after_b["decision"] == "PASS"
        same = ("h1", "policy_digest", "expression", "reasons")
        assert {k: after_a[k] for k in same} == {k: after_b[k] for k in same}
        # Both list the one approval from the bucket.
        for u in (a, b):
            r = httpx.get(f"{u}/-/admin/exceptions", headers={"Authorization": f"Bearer {TOKEN}"})
            assert [e["id"] for e in r.json()["exceptions"]] == [approval_id]

        # Withdrawn straight in the bucket (no proxy): both refuse again within a few seconds.
        revoke = go_vault("approve", "--revoke", approval_id, "--storage", storage)
        assert revoke.returncode == 0, revoke.stderr
        for u in (a, b):
            wait_for(f"{u} refusing again", functools.partial(refuses, u))


def test_local_approvals_of_an_s3_vault_move_into_the_bucket(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica that kept approvals locally (earlier releases) gives them to the bucket once."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = VaultConfig(storage=f"s3://{moto_server.new_bucket()}/vault")
    old = new_approval(GPL, "v1.0.0", "tooling", "legal@example.com", None, now=datetime.now(UTC))
    local = state_dir(config) / FILE_NAME
    local.parent.mkdir(parents=True)
    local.write_text(json.dumps({"version": 1, "approvals": [old.to_json()]}))
    assert [x.id for x in approval_store(config).all()] == [old.id]
    assert not local.exists() and local.with_name(FILE_NAME + ".migrated").exists()
    # Another replica with no local file sees it in the bucket; a second start adds nothing.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other"))
    assert approval_store(config).all() == (old,)


def test_approvals_made_at_once_on_two_replicas_are_all_kept(moto_server: MotoServer) -> None:
    """Compare-and-swap on the bucket's document: no replica's approval overwrites another's."""
    from concurrent.futures import ThreadPoolExecutor

    config = VaultConfig(storage=f"s3://{moto_server.new_bucket()}/vault")
    replicas = [approval_store(config), approval_store(config)]
    approvals = [
        new_approval(f"example.com/m{i}", None, "ok", "legal", None, now=datetime.now(UTC))
        for i in range(12)
    ]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda i: replicas[i % 2].add(approvals[i]), range(12)))
    assert {a.id for a in replicas[0].all()} == {a.id for a in approvals}
    assert replicas[1].remove(approvals[0].id) and not replicas[1].remove(approvals[0].id)
    assert len(replicas[0].all()) == 11  # the other replica sees the removal (new ETag)


def test_an_unreadable_approvals_document_keeps_the_last_approvals(
    moto_server: MotoServer,
) -> None:
    """A broken or unreachable shared document does not fail downloads: the last read stays."""
    from proxy.auditor import PolicySource
    from scanner.policy import allowlist_policy

    bucket = moto_server.new_bucket()
    store = approval_store(VaultConfig(storage=f"s3://{bucket}/vault"))
    store.add(new_approval(GPL, None, "ok", "legal", None, now=datetime.now(UTC)))
    policies = PolicySource(lambda: allowlist_policy("MIT"), store)
    with_approval = policies.refresh_now()
    assert len(with_approval.policy.exceptions) == 1
    boto3.client("s3", endpoint_url=moto_server.url).put_object(
        Bucket=bucket, Key="vault/.go-vault/approvals.json", Body=b"{not json"
    )
    assert policies.refresh_now() == with_approval
