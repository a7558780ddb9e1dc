"""`scan --base` where the base's go.mod does not parse: the base has no dependencies.

A PR that fixes a broken go.mod on main could never pass the gate: the base's analysis stopped
the scan (exit 2) with an error naming the temporary worktree, already deleted.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from scanproject import (
    commit_all,
    git,
    make_project,
    publish_dependencies,
    run_scan_cli,
    scan_env,
)

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

SECRET_GO = (
    'package main\n\nvar dbPassword = "Zq8-vT2n-41Lp-u7"\n\n'
    "func pw() int { return len(dbPassword) }\n"
)


def test_a_base_go_mod_that_does_not_parse_counts_every_dependency_as_new(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    publish_dependencies(goproxy_tree)
    repo = tmp_path / "repo"
    svc = make_project(repo, run_go, goproxy_tree, {"secret.go": SECRET_GO}, subdir="svc")
    good = (svc / "go.mod").read_text()
    (svc / "go.mod").write_text(good + "\ngarbage\n")
    commit_all(repo, "break go.mod")
    broken_line = len(good.splitlines()) + 2
    git(repo, "tag", "broken")
    (svc / "go.mod").write_text(good)
    commit_all(repo, "fix go.mod")
    env = scan_env(go_env, goproxy_tree, scan_cache)
    out = tmp_path / "r.json"

    proc = run_scan_cli(["scan", "--base", "broken", "--format", f"json={out}"], env, svc)
    # Every module is new and judged (all pass the default policy); the hard-coded secret was
    # there at the base too, so it stays existing and does not fail the scan.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    statuses = {m["path"]: m["status"] for m in result["modules"]}
    assert statuses == dict.fromkeys(statuses, "new")
    assert "example.com/mit" in statuses
    (note,) = [n for n in result["notes"] if "does not parse" in n]
    assert note.startswith(f"svc/go.mod:{broken_line} at base 'broken' does not parse (")
    assert note.endswith("): every dependency is counted as new")
    assert {f["rule_id"]: f["status"] for f in result["findings"]} == {"GPS101": "existing"}
    assert "goproxy-scan-base-" not in proc.stdout + proc.stderr


def test_a_base_message_quoting_its_own_path_names_it_as_in_the_repository(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """An unterminated block's message quotes where it started: that was the deleted temporary
    worktree's path, a new one in every run's JSON, SARIF and PR comment."""
    publish_dependencies(goproxy_tree)
    repo = tmp_path / "repo"
    svc = make_project(repo, run_go, goproxy_tree, subdir="svc")
    good = (svc / "go.mod").read_text()
    (svc / "go.mod").write_text(good + "\nrequire (\n")
    commit_all(repo, "break go.mod")
    opened = len(good.splitlines()) + 2
    git(repo, "tag", "broken")
    (svc / "go.mod").write_text(good)
    commit_all(repo, "fix go.mod")
    out = tmp_path / "r.json"
    env = scan_env(go_env, goproxy_tree, scan_cache)
    proc = run_scan_cli(["scan", "--base", "broken", "--format", f"json={out}"], env, svc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (note,) = [n for n in json.loads(out.read_text())["notes"] if "does not parse" in n]
    assert f"unterminated block started at svc/go.mod:{opened})" in note, note
    assert "goproxy-scan-base-" not in note
