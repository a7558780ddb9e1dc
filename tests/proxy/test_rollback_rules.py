"""Rollback and pin rules: @latest stays mutable, a pin and a rollback of one version exclude
each other, an undo names what is rolled back, and the history names who made a change."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from goproxytree import GoProxyTree, write_files
from test_rollback import M, go_get, go_vault, listed, publish, required, wait_for
from vaultlab import GatewayFactory

from proxy.auth import Access, TokenFile
from proxy.rollback import RollbackStore, state_file

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def latest(url: str) -> httpx.Response:
    r = httpx.get(f"{url}/{M}/@latest")
    assert r.status_code == 200, r.text
    return r


def assert_mutable(r: httpx.Response, list_answer: httpx.Response) -> None:
    """An @latest answer a cache in front must revalidate, as it must the @v/list answer."""
    assert "immutable" not in r.headers.get("cache-control", ""), r.headers
    assert "etag" not in r.headers, r.headers
    assert r.headers.get("cache-control") == list_answer.headers.get("cache-control")
    assert r.headers["content-type"].startswith("application/json")


def state(tmp_path: Path) -> RollbackStore:
    return RollbackStore(state_file(str(tmp_path / "vault")))


def test_latest_of_a_rolled_back_or_pinned_module_stays_mutable(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """@latest of a module with a rollback or pin was the version's .info response, sent as
    immutable for a year with an etag: a CDN in front kept it after the undo."""
    publish(goproxy_tree)
    with gateway() as gw:
        plain = latest(gw.url)  # no rollback: what @latest always was
        assert plain.json()["Version"] == "v1.3.0"
        assert "immutable" not in plain.headers.get("cache-control", "")

        code, _, err = go_vault(tmp_path, "rollback", M, "v1.3.0", "--reason", "bad")
        assert code == 0, err
        wait_for(lambda: "v1.3.0" not in listed(gw.url))
        list_answer = httpx.get(f"{gw.url}/{M}/@v/list")
        rolled = latest(gw.url)
        assert rolled.json()["Version"] == "v1.2.1"
        assert_mutable(rolled, list_answer)

        assert httpx.get(f"{gw.url}/{M}/@v/v1.1.0.info").status_code == 200  # into the vault
        code, _, err = go_vault(tmp_path, "pin", M, "v1.1.0", "--reason", "freeze")
        assert code == 0, err
        wait_for(lambda: listed(gw.url) == ["v1.1.0"])
        pinned = latest(gw.url)
        assert pinned.json()["Version"] == "v1.1.0"
        assert_mutable(pinned, list_answer)

        # The .info itself is still immutable: only its use as @latest moves.
        info = httpx.get(f"{gw.url}/{M}/@v/v1.1.0.info")
        assert "immutable" in info.headers["cache-control"] and "etag" in info.headers


@pytest.mark.gocmd
def test_a_rolled_back_version_cannot_be_pinned(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """A pin of a rolled-back version was recorded and listed as 'pinned' while @latest (and
    go get) went on answering the previous good release: it is refused, CLI and admin API."""
    publish(goproxy_tree)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    auth = {"Authorization": "Bearer s3cret"}
    with gateway(admin_token="s3cret") as gw:
        assert httpx.get(f"{gw.url}/{M}/@v/v1.2.0.info").status_code == 200  # into the vault
        code, _, err = go_vault(tmp_path, "rollback", M, "v1.2.0", "--reason", "bad")
        assert code == 0, err
        before = state(tmp_path).load()

        code, out, err = go_vault(tmp_path, "pin", M, "v1.2.0", "--reason", "hold")
        assert code == 2 and not out, err
        assert f"error: {M}@v1.2.0: rolled back: a pin of it would not apply" in err
        assert f"go-vault rollback --undo {M} v1.2.0" in err

        r = httpx.post(
            f"{gw.url}/-/admin/pins",
            json={"module": M, "version": "v1.2.0", "reason": "hold"},
            headers=auth,
        )
        assert r.status_code == 400, r.text
        assert f"{M}@v1.2.0: rolled back: a pin of it would not apply" in r.json()["error"]

        # Not stored and rolled back: the rollback is what is said (fetching it is refused).
        code, _, err = go_vault(tmp_path, "rollback", M, "v1.3.0", "--reason", "bad too")
        assert code == 0, err
        code, _, err = go_vault(tmp_path, "pin", M, "v1.3.0")
        assert code == 2 and f"{M}@v1.3.0: rolled back" in err and "not in the vault" not in err

        after = state(tmp_path).load()
        assert after.pins == before.pins == ()
        assert [h["action"] for h in after.history] == ["rollback", "rollback"]
        code, out, _ = go_vault(tmp_path, "rollbacks")
        assert code == 0 and "pinned" not in out
        wait_for(lambda: "v1.3.0" not in listed(gw.url))  # the gateway re-reads once a second
        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.2.1"


@pytest.mark.gocmd
def test_the_pinned_version_cannot_be_rolled_back(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, run_go: RunGo, tmp_path: Path
) -> None:
    """Rolling back the pinned version left a pin 'rollbacks' reported as @latest while it was
    not; unpinning instead would let the versions the pin holds back into @latest. Refused,
    naming both ways out; after the operator takes one, the rollback goes through."""
    publish(goproxy_tree)
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    auth = {"Authorization": "Bearer s3cret"}
    with gateway(admin_token="s3cret") as gw:
        for v in ("v1.1.0", "v1.2.0"):
            assert httpx.get(f"{gw.url}/{M}/@v/{v}.info").status_code == 200  # into the vault
        code, _, err = go_vault(tmp_path, "pin", M, "v1.2.0", "--reason", "hold v1.3")
        assert code == 0, err

        code, out, err = go_vault(tmp_path, "rollback", M, "v1.1.0,v1.2.0", "--reason", "bad")
        assert code == 2 and not out, err
        assert f"error: {M}@v1.2.0: pinned as @latest" in err and "nothing rolled back" in err
        assert f"go-vault pin {M} VERSION" in err and f"go-vault pin --undo {M}" in err

        body = {"module": M, "versions": ["v1.2.0"], "reason": "bad"}
        r = httpx.post(f"{gw.url}/-/admin/rollbacks", json=body, headers=auth)
        assert r.status_code == 400, r.text
        assert f"{M}@v1.2.0: pinned as @latest" in r.json()["error"]
        assert state(tmp_path).load().rollbacks == ()  # not even v1.1.0

        wait_for(lambda: listed(gw.url) == ["v1.1.0", "v1.2.0"])
        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.2.0"

        # The way out the error names: pin the earlier good version, then roll back.
        code, _, err = go_vault(tmp_path, "pin", M, "v1.1.0", "--reason", "v1.2.0 is bad")
        assert code == 0, err
        code, _, err = go_vault(tmp_path, "rollback", M, "v1.2.0", "--reason", "bad")
        assert code == 0, err
        wait_for(lambda: listed(gw.url) == ["v1.1.0"])
        got = go_get(run_go, gw.url, app, f"{M}@latest")
        assert got.returncode == 0, got.stderr
        assert required(app) == "v1.1.0"


def test_undo_of_a_version_not_rolled_back_names_what_is(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """It said 'nothing of this module is rolled back' while v1.2.0 was."""
    publish(goproxy_tree)
    auth = {"Authorization": "Bearer s3cret"}
    with gateway(admin_token="s3cret") as gw:
        code, _, err = go_vault(tmp_path, "rollback", M, "v1.2.0,v1.3.0", "--reason", "bad")
        assert code == 0, err

        code, out, err = go_vault(tmp_path, "rollback", "--undo", M, "v1.1.0")
        assert code == 2 and not out, err
        assert (
            f"error: {M}: v1.1.0 is not rolled back (rolled back: v1.2.0, v1.3.0); nothing undone"
        ) in err
        assert "nothing of this module" not in err
        # One wrong version in a list undoes nothing, as a rollback with a typo records nothing.
        code, _, err = go_vault(tmp_path, "rollback", "--undo", M, "v1.3.0,v1.1.0,v1.0.0")
        assert code == 2, err
        assert f"{M}: v1.0.0, v1.1.0 are not rolled back (rolled back: v1.2.0, v1.3.0)" in err

        r = httpx.delete(f"{gw.url}/-/admin/rollbacks/{M}?versions=v1.1.0", headers=auth)
        assert r.status_code == 400, r.text
        assert "v1.1.0 is not rolled back (rolled back: v1.2.0, v1.3.0)" in r.json()["error"]

        assert sorted(r.version for r in state(tmp_path).load().rollbacks) == ["v1.2.0", "v1.3.0"]
        assert listed(gw.url) == ["v1.1.0", "v1.2.1"]

        code, out, err = go_vault(tmp_path, "rollback", "--undo", M, "v1.3.0")
        assert code == 0, err
        assert json.loads(out)["versions"] == ["v1.3.0"]


def test_admin_changes_record_the_authenticated_identity(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """The history said "admin@127.0.0.1" (the client address) where the audit log said
    identity "ops"; a body's "by" does not override a proved identity either."""
    publish(goproxy_tree)
    tokens = TokenFile(tmp_path / "tokens.json")
    ops = {"Authorization": f"Bearer {tokens.add('ops', Access.ADMIN)[1]}"}
    with gateway(auth_tokens=str(tokens.path)) as gw:
        admin = f"{gw.url}/-/admin"
        assert httpx.get(f"{gw.url}/{M}/@v/v1.1.0.info", headers=ops).status_code == 200
        changes = [
            ("post", "rollbacks", {"module": M, "versions": ["v1.3.0"], "reason": "bad"}),
            ("post", "rollbacks", {"module": M, "versions": ["v1.2.0"], "reason": "x", "by": "me"}),
            ("post", "pins", {"module": M, "version": "v1.1.0", "reason": "freeze"}),
            ("delete", f"pins/{M}", None),
            ("delete", f"rollbacks/{M}?versions=v1.3.0", None),
        ]
        for method, route, body in changes:
            r = httpx.request(method, f"{admin}/{route}", json=body, headers=ops)
            assert r.status_code == 200, r.text
            assert r.json()["by"] == "ops"
        history = httpx.get(f"{admin}/rollbacks", headers=ops).json()["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("rollback", "ops"),
        ("rollback", "ops"),
        ("pin", "ops"),
        ("unpin", "ops"),
        ("undo", "ops"),
    ]
    assert [r.by for r in state(tmp_path).load().rollbacks] == ["ops"]
    events = [
        json.loads(line)
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if '"event":"rollback"' in line
    ]
    assert [(e["by"], e["identity"]) for e in events] == [("ops", "ops")] * 5


def test_the_shared_admin_token_records_by_else_the_address(
    gateway: GatewayFactory, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    """GO_VAULT_ADMIN_TOKEN names nobody: the body's "by" names the person, else the address."""
    publish(goproxy_tree)
    auth = {"Authorization": "Bearer s3cret"}
    with gateway(admin_token="s3cret") as gw:
        admin = f"{gw.url}/-/admin"
        body = {"module": M, "versions": ["v1.3.0"], "reason": "bad", "by": "sec"}
        assert httpx.post(f"{admin}/rollbacks", json=body, headers=auth).json()["by"] == "sec"
        del body["by"]
        body["versions"] = ["v1.2.0"]
        r = httpx.post(f"{admin}/rollbacks", json=body, headers=auth)
        assert r.json()["by"] == "admin@127.0.0.1"
        r = httpx.delete(f"{admin}/rollbacks/{M}", headers=auth)
        assert r.json()["by"] == "admin@127.0.0.1"


def test_rollbacks_warns_of_a_pin_recorded_on_a_rolled_back_version(tmp_path: Path) -> None:
    """A state written before pin and rollback excluded each other: 'rollbacks' said 'pinned'
    and nothing more, while @latest was another version."""
    doc = {
        "version": 1,
        "rollbacks": [{"module": M, "version": "v1.2.0", "reason": "bad", "by": "a", "at": "x"}],
        "pins": [{"module": M, "version": "v1.2.0", "reason": "hold", "by": "b", "at": "y"}],
        "history": [],
    }
    write_files(tmp_path / "vault", {".go-vault/rollbacks.json": json.dumps(doc)})
    code, out, err = go_vault(tmp_path, "rollbacks")
    assert code == 0, err
    assert f"pinned       {M}@v1.2.0" in out
    assert f"warning: {M}@v1.2.0 is also rolled back, so @latest is not it" in err
    assert f"go-vault pin --undo {M}" in err
