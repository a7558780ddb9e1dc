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
from s3server import MotoServer
from vaultlab import GatewayFactory, listing

from proxy.rollback import RollbackStore, state_file
from proxy.storage import Kind, Storage, open_storage

RunGo = Callable[..., subprocess.CompletedProcess[str]]
M = "example.com/rb"
VERSIONS = ("v1.1.0", "v1.2.0", "v1.2.1", "v1.3.0")


def publish(tree: GoProxyTree) -> None:
    for v in VERSIONS:
        tree.add_module(
            M, v, {"go.mod": f"module {M}\n", "rb.go": f'package rb\n\nconst V = "{v}"\n'}
        )


def store(storage: Storage, tree: GoProxyTree, version: str) -> None:
    """Put M@version into a vault, the way ingest leaves it (.info last)."""
    art = tree.add_module(M, version, {"go.mod": f"module {M}\n", "rb.go": "package rb\n"})
    storage.put_version(
        M, version, [(Kind.ZIP, art.zip), (Kind.MOD, art.mod), (Kind.INFO, art.info)]
    )


def go_vault(tmp_path: Path, *args: str, storage: str | None = None) -> tuple[int, str, str]:
    """Run a go-vault command in a child process, as an operator would."""
    env = {**os.environ, "GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl"), "USER": "ops"}
    argv = [*args, "--storage", storage or str(tmp_path / "vault")]
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
        assert httpx.get(f"{gw.url}/{M}/@v/v1.2.0.info").status_code == 200  # into the vault
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
    store(open_storage(str(tmp_path / "vault")), GoProxyTree(tmp_path / "tree"), "v1.2.1")
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
        (["rollback", M, "1.3", "--reason", "x"], 'version "1.3" invalid: not a semantic'),
        (["rollback", "--undo", M], "nothing of this module is rolled back"),
        (["pin", "--undo", M], "not pinned"),
    ],
)
def test_bad_requests_are_input_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "vault").mkdir()
    code, _, err = go_vault(tmp_path, *args)
    assert code == 2, err
    assert message in err


# module, typo -> why it is invalid, and the valid version the hint shows.
TYPOS = {
    "letter O for zero": (M, "v1.2.O", "not a semantic version", "v1.2.3"),
    "not canonical": (M, "v1.2", "not canonical, write v1.2.0", "v1.2.3"),
    "v2 on a v1 path": (M, "v2.0.0", "should be v0 or v1, not v2", "v1.2.3"),
    "compatible +incompatible": (
        M,
        "v1.3.0+incompatible",
        "+incompatible suffix not allowed: major version v1 is compatible",
        "v1.2.3",
    ),
    "+incompatible on a /v2 path": (
        f"{M}/v2",
        "v2.0.0+incompatible",
        "+incompatible suffix not allowed: major version v2 is compatible",
        "v2.1.0",
    ),
    "v1 on a /v2 path": (f"{M}/v2", "v1.3.0", "should be v2, not v1", "v2.1.0"),
}


@pytest.mark.parametrize("command", ["rollback", "pin"])
@pytest.mark.parametrize("case", sorted(TYPOS))
def test_a_mistyped_version_is_refused_and_nothing_recorded(
    tmp_path: Path, command: str, case: str
) -> None:
    """A rollback of a typo hides nothing while the operator believes the release withdrawn;
    a pin of one makes @latest 404 for everyone. Either is refused before anything is written."""
    module, version, message, looks_like = TYPOS[case]
    vault = tmp_path / "vault"
    store(open_storage(str(vault)), GoProxyTree(tmp_path / "tree"), "v1.2.0")
    before = listing(vault)
    if command == "rollback":  # one typo beside a good version: neither is rolled back
        args = ["rollback", module, f"{looks_like},{version}", "--reason", "bad release"]
    else:
        args = ["pin", module, version]
    code, out, err = go_vault(tmp_path, *args)
    assert code == 2 and not out, err
    assert f'error: {module}: version "{version}" invalid: {message}' in err
    assert f"a version of {module} looks like {looks_like}" in err
    if case == "v2 on a v1 path":
        assert f"its v2 releases are the module {M}/v2, or v2.x.y+incompatible where" in err
    assert listing(vault) == before
    assert not (tmp_path / "audit.jsonl").exists()


@pytest.fixture(params=["fs", "s3"])
def vault_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A vault, as --storage names it: a directory, or a bucket on the real S3-compatible server."""
    if request.param == "fs":
        return str(tmp_path / "vault")
    server: MotoServer = request.getfixturevalue("moto_server")
    return f"s3://{server.new_bucket()}/vault"


def test_a_pin_needs_the_version_in_the_vault_a_rollback_only_warns(
    tmp_path: Path, vault_spec: str
) -> None:
    storage = open_storage(vault_spec)
    for v in ("v1.1.0", "v1.2.0"):
        store(storage, GoProxyTree(tmp_path / "tree"), v)
    rollbacks = RollbackStore(state_file(vault_spec))

    code, out, err = go_vault(tmp_path, "pin", M, "v1.2.1", storage=vault_spec)
    assert code == 2 and not out, err
    assert f"error: {M}@v1.2.1: not in the vault" in err
    assert f"go-vault prefetch FILE, FILE holding the line '{M} v1.2.1'" in err
    assert f"go mod download {M}@v1.2.1" in err
    assert rollbacks.load().pins == ()

    code, out, err = go_vault(tmp_path, "pin", M, "v1.2.0", storage=vault_spec)
    assert code == 0 and "warning" not in err, err
    assert [p.version for p in rollbacks.load().pins] == ["v1.2.0"]

    # Withdrawing a release before anyone fetched it is allowed: recorded, with a warning.
    code, out, err = go_vault(
        tmp_path, "rollback", M, "v1.1.0,v1.3.0", "--reason", "CVE-2099-2", storage=vault_spec
    )
    assert code == 0, err
    assert json.loads(out)["versions"] == ["v1.1.0", "v1.3.0"]
    assert f"warning: {M}@v1.3.0: not in the vault yet; rolled back all the same" in err
    assert "v1.1.0" not in err  # stored: nothing to warn about
    assert sorted(r.version for r in rollbacks.load().rollbacks) == ["v1.1.0", "v1.3.0"]


def test_admin_routes_refuse_what_the_commands_refuse(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    publish(goproxy_tree)
    auth = {"Authorization": "Bearer s3cret"}
    refused = [
        ("rollbacks", {"versions": ["v1.3.0", "v1.3.O"]}, 'version "v1.3.O" invalid: not a sem'),
        ("rollbacks", {"versions": "v2.0.0"}, "should be v0 or v1, not v2"),
        ("pins", {"version": "v1.3.0+incompatible"}, "+incompatible suffix not allowed"),
        ("pins", {"version": "v1.2.1"}, f"{M}@v1.2.1: not in the vault"),  # upstream has it
    ]
    with gateway(admin_token="s3cret") as gw:
        admin = f"{gw.url}/-/admin"
        assert httpx.get(f"{gw.url}/{M}/@v/v1.2.0.info").status_code == 200  # into the vault
        before = listing(tmp_path / "vault")
        for route, body, message in refused:
            r = httpx.post(
                f"{admin}/{route}", json={"module": M, "reason": "x", **body}, headers=auth
            )
            assert r.status_code == 400, r.text
            assert message in r.json()["error"]
        assert listing(tmp_path / "vault") == before
        assert httpx.get(f"{admin}/rollbacks", headers=auth).json()["history"] == []

        body = {"module": M, "versions": ["v1.2.0", "v1.3.0"], "reason": "leaks tokens"}
        r = httpx.post(f"{admin}/rollbacks", json=body, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["warning"].startswith(f"warning: {M}@v1.3.0: not in the vault yet")
        assert httpx.get(f"{gw.url}/{M}/@v/v1.3.0.info").status_code == 403  # when it arrives


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
        assert httpx.get(f"{gw.url}/{M}/@v/v1.1.0.info").status_code == 200  # into the vault
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
