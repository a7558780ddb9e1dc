"""The real go command against `go-vault serve --policy`: refusals it prints, reload, exceptions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from goproxytree import GoProxyTree, write_files
from test_auditor import publish, write_policy
from test_proxy_serve import go_vault_serve

pytestmark = pytest.mark.gocmd
RunGo = Callable[..., subprocess.CompletedProcess[str]]


def go_vault(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from proxy.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def eventually(
    run: Callable[[], subprocess.CompletedProcess[str]],
    done: Callable[[subprocess.CompletedProcess[str]], bool],
    seconds: float = 15,
) -> subprocess.CompletedProcess[str]:
    """`run()` until `done` says its result is the expected one (or fail with the last one)."""
    deadline = time.monotonic() + seconds
    while True:
        result = run()
        if done(result):
            return result
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.2)


def server_pid(storage: Path) -> int:
    """The pid of the go-vault serve process using `storage` (started by this test)."""
    pattern = f"--storage {storage} --upstream"
    out = subprocess.run(["pgrep", "-f", "--", pattern], capture_output=True, text=True)
    pids = {int(p) for p in out.stdout.split()}
    # granian's workers share the command line: the server is the one whose parent is not one
    mains = [p for p in pids if int(Path(f"/proc/{p}/stat").read_text().split()[3]) not in pids]
    assert len(mains) == 1, out.stdout
    return mains[0]


def test_go_get_meets_the_policy(tmp_path: Path, run_go: RunGo) -> None:
    tree = GoProxyTree(tmp_path / "upstream")
    for name in ("mit", "gpl", "or", "and", "unknown"):
        publish(tree, f"example.com/{name}", name)
    policy = write_policy(tmp_path / "policy.yml")
    storage = tmp_path / "vault"
    app = write_files(tmp_path / "app", {"go.mod": "module example.com/app\n\ngo 1.21\n"})
    with go_vault_serve(
        *("--storage", str(storage), "--upstream", tree.url, "--policy", str(policy)),
        *("--server", "uvicorn"),
        env={"GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
    ) as (url, _start):
        env = {"GOPROXY": url}

        def get(*modules: str) -> subprocess.CompletedProcess[str]:
            return run_go("get", *modules, cwd=app, env_extra=env, check=False)

        gpl = get("example.com/gpl@v1.0.0")
        assert gpl.returncode != 0
        # the go command prints our body: module, the license found, the rule, what to do
        assert "403 Forbidden" in gpl.stderr
        assert (
            "\tserver response:\n"
            "\texample.com/gpl@v1.0.0: REJECT by policy: license GPL-3.0-only; license.denied\n"
            "\tlicense.denied: GPL-3.0-only is denied by the policy ("
        ) in gpl.stderr
        assert "go-vault approve example.com/gpl@v1.0.0" in gpl.stderr
        ok = get("example.com/mit@v1.0.0", "example.com/or@v1.0.0")
        assert ok.returncode == 0, ok.stderr
        gomod = (app / "go.mod").read_text()
        assert "example.com/mit v1.0.0" in gomod and "example.com/or v1.0.0" in gomod
        both = get("example.com/and@v1.0.0")
        assert both.returncode != 0
        assert "license GPL-3.0-only AND MIT; license.denied" in both.stderr
        unknown = get("example.com/unknown@v1.0.0")
        assert unknown.returncode != 0 and "REVIEW_REQUIRED by policy" in unknown.stderr
        assert "license.unknown" in unknown.stderr

        # an exception that has expired does not apply, and the refusal says so (approve
        # refuses a date in the past: the approval's last day passes in the file instead)
        approve = go_vault(
            *("approve", "example.com/unknown@v1.0.0", "--storage", str(storage)),
            *("--reason", "reviewed by legal", "--approver", "legal@example.com"),
            *("--expires", "2020-01-01"),
        )
        assert approve.returncode == 2
        assert "expires: 2020-01-01 is in the past" in approve.stderr, approve.stderr
        approve = go_vault(
            *("approve", "example.com/unknown@v1.0.0", "--storage", str(storage)),
            *("--reason", "reviewed by legal", "--approver", "legal@example.com"),
            *("--expires", "2099-01-01"),
        )
        assert approve.returncode == 0, approve.stderr
        (approvals,) = storage.rglob("approvals.json")
        approvals.write_text(approvals.read_text().replace("2099-01-01", "2020-01-01"))
        # the server looks at the approvals file once a second
        stale = eventually(
            lambda: get("example.com/unknown@v1.0.0"), lambda p: "exception.expired" in p.stderr
        )
        assert stale.returncode != 0
        approve = go_vault(
            *("approve", "example.com/unk*@>=v1.0.0, <v2.0.0", "--storage", str(storage)),
            *("--reason", "reviewed by legal", "--approver", "legal@example.com"),
            *("--expires", "2099-12-31"),
        )
        assert approve.returncode == 0, approve.stderr
        eventually(lambda: get("example.com/unknown@v1.0.0"), lambda p: p.returncode == 0)

        # the policy changes: GPL-3.0-only allowed, MIT denied; SIGHUP, no restart
        verdict = go_vault("verdict", "example.com/gpl@v1.0.0", "--proxy", url)
        assert verdict.returncode == 1 and verdict.stdout.startswith(
            "example.com/gpl@v1.0.0: REJECT\n  license: GPL-3.0-only"
        )
        policy.write_text(
            policy.read_text()
            .replace("allow: [MIT, ", "allow: [GPL-3.0-only, ")
            .replace("deny: [GPL-3.0-only, ", "deny: [MIT, ")
        )
        os.kill(server_pid(storage), signal.SIGHUP)
        deadline = time.monotonic() + 20
        while go_vault("verdict", "example.com/gpl@v1.0.0", "--proxy", url).returncode != 0:
            assert time.monotonic() < deadline, "SIGHUP did not reload the policy"
            time.sleep(0.1)
        assert get("example.com/gpl@v1.0.0").returncode == 0
        # MIT is in the module cache; a clean cache must ask the proxy again, and is refused
        clean = run_go(
            "mod",
            "download",
            "example.com/mit@v1.0.0",
            cwd=app,
            env_extra={**env, "GOMODCACHE": str(tmp_path / "mc2")},
            check=False,
        )
        assert clean.returncode != 0 and "license MIT; license.denied" in clean.stderr
        js = go_vault("verdict", "example.com/mit@v1.0.0", "--proxy", url, "--json")
        assert js.returncode == 1 and json.loads(js.stdout)["decision"] == "REJECT"
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    reloads = [e for e in events if e["event"] == "policy-reload"]
    assert reloads and reloads[0]["by"] == "SIGHUP" and "error" not in reloads[0]
    audits = [e for e in events if e["event"] == "audit"]
    assert {(e["module"], e["decision"]) for e in audits} >= {
        ("example.com/gpl", "REJECT"),
        ("example.com/gpl", "PASS"),
        ("example.com/mit", "REJECT"),
        ("example.com/unknown", "REVIEW_REQUIRED"),
    }


def test_sighup_under_granian_reloads_the_policy(tmp_path: Path) -> None:
    """The default server: granian passes SIGHUP on to its workers, which reload in place."""
    tree = GoProxyTree(tmp_path / "upstream")
    publish(tree, "example.com/gpl", "gpl")
    policy = write_policy(tmp_path / "policy.yml")
    storage = tmp_path / "vault"
    with go_vault_serve(
        *("--storage", str(storage), "--upstream", tree.url, "--policy", str(policy)),
        *("--server", "granian"),
        env={"GO_VAULT_AUDIT_LOG": str(tmp_path / "audit.jsonl")},
    ) as (url, _start):
        assert go_vault("verdict", "example.com/gpl@v1.0.0", "--proxy", url).returncode == 1
        policy.write_text(policy.read_text().replace("deny: [GPL-3.0-only, ", "deny: ["))
        policy.write_text(policy.read_text().replace("allow: [", "allow: [GPL-3.0-only, "))
        os.kill(server_pid(storage), signal.SIGHUP)
        deadline = time.monotonic() + 30
        while go_vault("verdict", "example.com/gpl@v1.0.0", "--proxy", url).returncode != 0:
            assert time.monotonic() < deadline, "SIGHUP did not reload the policy"
            time.sleep(0.2)
