"""Rollback, pin and undo through the gateway, with the real go command as the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, write_files
from vaultlab import GatewayFactory

from proxy.rollback import RollbackStore, state_file

RunGo = Callable[..., subprocess.CompletedProcess[str]]
M = "example.com/rb"
VERSIONS = ("v1.1.0", "v1.2.0", "v1.2.1", "v1.3.0")


def publish(tree: GoProxyTree) -> None:
    for v in VERSIONS:
        tree.add_module(
            M, v, {"go.mod": f"module {M}\n", "rb.go": f'package rb\n\nconst V = "{v}"\n'}
        )


def go_vault(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run a go-vault command in a child process, as an operator would."""
    env = {**os.environ, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "USER": "ops"}
    argv = [*args, "--storage", str(tmp_path / "vault")]
    proc = subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def vault_cli(tmp_path: Path, *args: str) -> str:
    code, out, err = go_vault(tmp_path, *args)
    assert code == 0, err
    return out


def wait_for(check: Callable[[], bool]) -> None:
    """The gateway re-reads the rollback state about once a second."""
    deadline = time.monotonic() + 15
    while not check():
        assert time.monotonic() < deadline, "the gateway did not pick up the change"
        time.sleep(0.1)


def listed(url: str) -> list[str]:
    return httpx.get(f"{url}/{M}/@v/list").text.split()


def go_get(run_go: RunGo, url: str, app: Path, target: str) -> subprocess.CompletedProcess[str]:
    return run_go("get", target, cwd=app, env_extra={"GOPROXY": url}, check=False)


def required(app: Path) -> str:
    line = next(x for x in (app / "go.mod").read_text().splitlines() if M in x)
    return line.split("//")[0].split()[-1]


@pytest.mark.gocmd
def test_rollback_then_undo_with_the_go_command(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    publish(goproxy_tree)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    with gateway() as gw:
        assert listed(gw.url) == list(VERSIONS)
        out = vault_cli(tmp_path, "rollback", M, "v1.3.0", "--reason", "CVE-2099-1: data loss")
        assert json.loads(out)["versions"] == ["v1.3.0"]
        wait_for(lambda: "v1.3.0" not in listed(gw.url))
        assert listed(gw.url) == ["v1.1.0", "v1.2.0", "v1.2.1"]
        assert httpx.get(f"{gw.url}/{M}/@latest").json()["Version"] == "v1.2.1"

        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.2.1"

        refused = go_get(run_go, gw.url, app, f"{M}@v1.3.0")
        assert refused.returncode != 0
        assert "403 Forbidden" in refused.stderr
        assert "CVE-2099-1: data loss" in refused.stderr  # the reason reaches the developer
        assert required(app) == "v1.2.1"

        vault_cli(tmp_path, "rollback", "--undo", M)
        wait_for(lambda: "v1.3.0" in listed(gw.url))
        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.3.0"

    events = [
        json.loads(line)
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if '"rollback"' in line
    ]
    assert [(e["action"], e["by"]) for e in events] == [("rollback", "ops"), ("undo", "ops")]
    history = RollbackStore(state_file(str(tmp_path / "vault"))).load().history
    assert [h["action"] for h in history] == ["rollback", "undo"]


@pytest.mark.gocmd
def test_pin_fixes_latest_and_leaves_newer_versions_downloadable(
    gateway: GatewayFactory,
    goproxy_tree: GoProxyTree,
    run_go: RunGo,
    tmp_path: Path,
) -> None:
    publish(goproxy_tree)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    with gateway() as gw:
        vault_cli(tmp_path, "pin", M, "v1.2.0", "--reason", "hold until QA signs v1.3")
        wait_for(lambda: listed(gw.url) == ["v1.1.0", "v1.2.0"])
        assert httpx.get(f"{gw.url}/{M}/@latest").json()["Version"] == "v1.2.0"
        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.2.0"
        got = go_get(run_go, gw.url, app, f"{M}@v1.3.0")  # named explicitly: still served
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.3.0"
        vault_cli(tmp_path, "pin", "--undo", M)
        wait_for(lambda: listed(gw.url) == list(VERSIONS))


def test_rollbacks_lists_and_survives_restart(tmp_path: Path) -> None:
    (tmp_path / "vault").mkdir()
    vault_cli(tmp_path, "rollback", M, "v1.3.0,v1.3.1", "--reason", "broken build")
    vault_cli(tmp_path, "pin", M, "v1.2.1", "--reason", "stable")
    # Each command is its own process: the state lives in the vault, not in a process.
    code, out, _ = go_vault(tmp_path, "rollbacks")
    assert code == 0
    lines = out.splitlines()
    assert any("rolled back  example.com/rb@v1.3.0" in x and "broken build" in x for x in lines)
    assert any("rolled back  example.com/rb@v1.3.1" in x for x in lines)
    assert any("pinned       example.com/rb@v1.2.1" in x and "stable" in x for x in lines)


@pytest.mark.parametrize(
    "args",
    [
        ["rollbacks"],
        ["rollback", M, "v1.3.0", "--reason", "broken build"],
        ["pin", M, "v1.2.1"],
        ["approve", M, "--reason", "vetted", "--expires", "2099-01-01"],
    ],
    ids=["rollbacks", "rollback", "pin", "approve"],
)
def test_a_directory_that_is_no_vault_says_so(tmp_path: Path, args: list[str]) -> None:
    """A mistyped --storage is not an empty vault ("no rollbacks"), and a change recorded
    there (a new vault made on the spot) would reach no server: an error, nothing made."""
    code, out, err = go_vault(tmp_path, *args)  # tmp_path/vault was never made
    assert code == 2 and not out
    assert f"{tmp_path / 'vault'}: no vault here" in err and "Traceback" not in err
    assert not (tmp_path / "vault").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollback", M, "v1.3.0"], "a rollback needs --reason"),
        (["rollback", M, "1.3", "--reason", "x"], "'1.3' is not a canonical version"),
        (["rollback", "--undo", M], "nothing of this module is rolled back"),
        (["pin", "--undo", M], "not pinned"),
    ],
)
def test_bad_requests_are_input_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "vault").mkdir()
    code, _, err = go_vault(tmp_path, *args)
    assert code == 2, err
    assert message in err


def test_admin_routes_roll_back_pin_and_undo(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    publish(goproxy_tree)
    auth = {"Authorization": "Bearer s3cret"}
    with gateway(admin_token="s3cret") as gw:
        admin = f"{gw.url}/-/admin"
        body = {"module": M, "versions": ["v1.3.0"], "reason": "leaks tokens", "by": "sec"}
        assert httpx.post(f"{admin}/rollbacks", json=body).status_code == 401
        assert listed(gw.url) == list(VERSIONS)  # refused: nothing changed
        r = httpx.post(f"{admin}/rollbacks", json=body, headers=auth)
        assert r.status_code == 200, r.text
        assert listed(gw.url) == ["v1.1.0", "v1.2.0", "v1.2.1"]  # at once on this replica
        refused = httpx.get(f"{gw.url}/{M}/@v/v1.3.0.zip")
        assert refused.status_code == 403 and "leaks tokens" in refused.text
        pin = {"module": M, "version": "v1.1.0", "reason": "freeze"}
        assert httpx.post(f"{admin}/pins", json=pin, headers=auth).status_code == 200
        assert httpx.get(f"{gw.url}/{M}/@latest").json()["Version"] == "v1.1.0"
        state = httpx.get(f"{admin}/rollbacks", headers=auth).json()
        assert [h["action"] for h in state["history"]] == ["rollback", "pin"]
        bad = httpx.post(f"{admin}/rollbacks", json={"module": M}, headers=auth)
        assert bad.status_code == 400
        assert httpx.delete(f"{admin}/pins/{M}", headers=auth).status_code == 200
        assert httpx.delete(f"{admin}/rollbacks/{M}", headers=auth).status_code == 200
        assert listed(gw.url) == list(VERSIONS)
        assert httpx.get(f"{gw.url}/{M}/@v/v1.3.0.info").status_code == 200
    events = [
        json.loads(line)
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if '"event":"rollback"' in line
    ]
    assert [e["action"] for e in events] == ["rollback", "pin", "unpin", "undo"]


def test_an_unreadable_state_keeps_the_last_rollbacks(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    publish(goproxy_tree)
    with gateway() as gw:
        vault_cli(tmp_path, "rollback", M, "v1.3.0", "--reason", "bad")
        wait_for(lambda: "v1.3.0" not in listed(gw.url))
        (tmp_path / "vault" / ".go-vault" / "rollbacks.json").write_text("{not json")
        time.sleep(1.2)  # past the gateway's re-read interval
        r = httpx.get(f"{gw.url}/{M}/@v/list")
        assert r.status_code == 200 and "v1.3.0" not in r.text
    code, _, err = go_vault(tmp_path, "rollbacks")
    assert code == 3 and "rollbacks.json" in err and "does not read" in err
