"""`go-vault approve`: which vault it changes (an explicit --storage wins over $GO_VAULT_URL,
--proxy with --storage is refused), and a --proxy without an admin token is an input error."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from goproxytree import GoProxyTree
from serveproc import serve_process
from test_auditor import write_policy

ADMIN = "adm1n-approve-target"
CLI = [sys.executable, "-c", "from proxy.cli import main; main()", "approve"]
WHY = ("--reason", "vetted by legal", "--expires", "2099-01-01", "--approver", "legal")


def approve(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GO_VAULT_")}
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**clean, "GO_VAULT_AUDIT_LOG": "-", **env},
        timeout=120,
        check=False,
    )


def server_exceptions(url: str) -> list[dict[str, str]]:
    r = httpx.get(
        f"{url}/-/admin/exceptions", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    return list(r.json()["exceptions"])


def test_an_explicit_storage_wins_over_go_vault_url(tmp_path: Path) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    policy = write_policy(tmp_path / "policy.yml")
    served, local = tmp_path / "served-vault", tmp_path / "local-vault"
    local.mkdir()
    args = ("--storage", str(served), "--upstream", tree.url, "--policy", str(policy))
    with serve_process(*args, "--admin-token", ADMIN, "--server", "uvicorn") as (_, url):
        env = {"GO_VAULT_URL": url, "GO_VAULT_ADMIN_TOKEN": ADMIN}
        done = approve("example.com/gpl@v1.0.0", *WHY, "--storage", str(local), env=env)
        assert done.returncode == 0, done.stderr
        assert server_exceptions(url) == []  # the server's vault is untouched
        listed = approve("--list", "--storage", str(local), env=env)
        assert [e["module"] for e in json.loads(listed.stdout)["exceptions"]] == ["example.com/gpl"]

        # Without --storage, $GO_VAULT_URL still names the server to go through.
        done = approve("example.com/other@v1.0.0", *WHY, env=env)
        assert done.returncode == 0, done.stderr
        assert [e["module"] for e in server_exceptions(url)] == ["example.com/other"]

        # Both named: refused, nothing written anywhere.
        done = approve(
            "example.com/third@v1.0.0", *WHY, "--proxy", url, "--storage", str(local), env=env
        )
        assert done.returncode == 2, done.stderr
        assert "both --proxy" in done.stderr and "ambiguous" in done.stderr, done.stderr
        assert "not both" in done.stderr
        assert [e["module"] for e in server_exceptions(url)] == ["example.com/other"]
    listed = approve("--list", "--storage", str(local), env={})
    assert len(json.loads(listed.stdout)["exceptions"]) == 1


def test_proxy_without_an_admin_token_is_an_input_error_before_any_request(
    tmp_path: Path,
) -> None:
    # A port nothing listens on: an attempt to connect would be exit 3 "cannot be reached".
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    for env in ({}, {"GO_VAULT_ADMIN_TOKEN": ""}):
        done = approve("example.com/gpl@v1.0.0", *WHY, "--proxy", url, env=env)
        assert done.returncode == 2, done.stderr
        assert "admin token required (--admin-token or GO_VAULT_ADMIN_TOKEN)" in done.stderr
        assert "cannot be reached" not in done.stderr
    done = approve("--list", env={"GO_VAULT_URL": url})
    assert done.returncode == 2 and "admin token required" in done.stderr, done.stderr
    done = approve("--list", "--proxy", url, "--admin-token", "a\nb", env={})
    assert done.returncode == 2 and "cannot carry" in done.stderr, done.stderr
