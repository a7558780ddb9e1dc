"""Policy reloads of a running `go-vault serve`: SIGHUP under either server (and each granian
worker), the admin route; a policy that does not parse leaves the old one in force, and every
attempt is a `policy-reload` event."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree
from serveproc import serve_process
from test_auditor import publish, write_policy

GPL = "example.com/gpl@v1.0.0"
ADMIN = "admin-secret"


def reloads(audit: Path) -> list[dict[str, object]]:
    if not audit.exists():
        return []
    events = (json.loads(line) for line in audit.read_text().splitlines())
    return [e for e in events if e["event"] == "policy-reload"]


def wait_for_reloads(audit: Path, count: int) -> list[dict[str, object]]:
    """The first `count` policy-reload events (the audit log is flushed every 0.25 s)."""
    deadline = time.monotonic() + 30
    while len(got := reloads(audit)) < count:
        assert time.monotonic() < deadline, f"{len(got)} policy-reload events of {count}: {got}"
        time.sleep(0.1)
    return got


def gpl_status(url: str) -> int:
    return httpx.get(f"{url}/{GPL.replace('@', '/@v/')}.zip", timeout=30).status_code


@pytest.mark.parametrize(
    ("server", "processes"),
    [(["--server", "uvicorn"], 1), (["--server", "granian"], 1), (["--workers", "2"], 2)],
    ids=["uvicorn", "granian", "granian-2-workers"],
)
def test_sighup_with_a_broken_policy_keeps_serving_the_old_one(
    tmp_path: Path, server: list[str], processes: int
) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    publish(tree, "example.com/gpl", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    audit = tmp_path / "audit.jsonl"
    args = ["--storage", str(tmp_path / "vault"), "--upstream", tree.url, "--policy", str(policy)]
    with serve_process(*args, "--audit-log", str(audit), *server) as (proc, url):
        assert gpl_status(url) == 403  # GPL-3.0-only is denied

        good = policy.read_text()
        policy.write_text("licenses: [\n")
        proc.send_signal(signal.SIGHUP)
        failed = wait_for_reloads(audit, processes)
        assert proc.poll() is None, "the server died of a policy that does not parse"
        assert all(e["by"] == "SIGHUP" and "not valid YAML" in str(e["error"]) for e in failed)
        assert len({e["pid"] for e in failed}) == processes  # each server process, once
        for _ in range(4 * processes):  # whichever worker answers
            assert gpl_status(url) == 403

        policy.write_text(
            good.replace("deny: [GPL-3.0-only, ", "deny: [").replace(
                "allow: [", "allow: [GPL-3.0-only, "
            )
        )
        proc.send_signal(signal.SIGHUP)
        done = wait_for_reloads(audit, 2 * processes)[processes:]
        assert all(e["by"] == "SIGHUP" and "error" not in e for e in done), done
        assert len({e["pid"] for e in done}) == processes
        for _ in range(4 * processes):
            assert gpl_status(url) == 200
    assert proc.returncode == 0


def test_a_failed_admin_reload_is_an_event_too(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    policy = write_policy(tmp_path / "policy.yml")
    audit = tmp_path / "audit.jsonl"
    args = ["--storage", str(tmp_path / "vault"), "--upstream", tree.url, "--policy", str(policy)]
    with serve_process(*args, "--audit-log", str(audit), "--admin-token", ADMIN) as (_, url):
        policy.write_text("licenses: [\n")
        auth = {"Authorization": f"Bearer {ADMIN}"}
        r = httpx.post(f"{url}/-/admin/policy/reload", headers=auth, timeout=30)
        assert r.status_code == 400 and "not valid YAML" in r.json()["error"]
        (event,) = wait_for_reloads(audit, 1)
        assert event["by"] == "admin" and event["error"] == r.json()["error"]


def test_sighup_reloads_the_policy_of_every_tenant(tmp_path: Path) -> None:
    """The root gateway and each tenant's have a policy of their own; SIGHUP reloaded only the
    one whose handler was installed last."""
    tree = GoProxyTree(tmp_path / "upstream")
    root_policy = write_policy(tmp_path / "policy.yml")
    tenant_policy = write_policy(tmp_path / "acme.yml")
    tenants = tmp_path / "tenants.yml"
    tenants.write_text(f"acme:\n  policy: {tenant_policy}\n")
    audit = tmp_path / "audit.jsonl"
    args = ["--storage", str(tmp_path / "vault"), "--upstream", tree.url, "--tenants", str(tenants)]
    with serve_process(*args, "--policy", str(root_policy), "--audit-log", str(audit)) as (p, _):
        p.send_signal(signal.SIGHUP)
        events = wait_for_reloads(audit, 2)
    assert {str(e["source"]) for e in events} == {str(root_policy), str(tenant_policy)}


def test_an_admin_reload_reaches_every_process_sharing_the_vault(tmp_path: Path) -> None:
    """The admin route reloaded only the granian worker that answered it; the others, and the
    other replicas on the vault, kept the old policy until each got SIGHUP."""
    tree = GoProxyTree(tmp_path / "upstream")
    publish(tree, "example.com/gpl", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    audit, replica_audit = tmp_path / "audit.jsonl", tmp_path / "replica.jsonl"
    args = ["--storage", str(tmp_path / "vault"), "--upstream", tree.url, "--policy", str(policy)]
    with (
        serve_process(
            *args, "--audit-log", str(audit), "--workers", "2", "--admin-token", ADMIN
        ) as (_, url),
        serve_process(*args, "--audit-log", str(replica_audit), "--server", "uvicorn") as (
            _,
            other,
        ),
    ):
        assert gpl_status(url) == 403 and gpl_status(other) == 403
        policy.write_text(
            policy.read_text()
            .replace("deny: [GPL-3.0-only, ", "deny: [")
            .replace("allow: [", "allow: [GPL-3.0-only, ")
        )
        r = httpx.post(
            f"{url}/-/admin/policy/reload", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
        )
        assert r.status_code == 200 and set(r.json()) == {"policy_digest"}, r.text
        time.sleep(1.1)  # each process looks for reload requests at most once a second
        assert [gpl_status(u) for u in (url, other) for _ in range(8)] == [200] * 16
        (followed,) = wait_for_reloads(replica_audit, 1)
        asked, *others = wait_for_reloads(audit, 1)
    assert asked["by"] == "admin" and asked["policy_digest"] == r.json()["policy_digest"]
    assert str(followed["by"]).startswith(f"admin on {os.uname().nodename}:{asked['pid']}")
    assert followed["policy_digest"] == asked["policy_digest"]
    for event in others:  # the other granian worker, when it answered one of the requests
        assert event["by"] == followed["by"] and event["pid"] != asked["pid"]
