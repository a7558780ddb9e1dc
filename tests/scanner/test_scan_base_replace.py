"""`scan --base`: a replace directive added, retargeted or removed is a changed module."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import (
    commit_all,
    make_project,
    publish_dependencies,
    run_scan_cli,
    scan_env,
    tidy,
)

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


def test_a_replacement_added_at_head_is_changed_and_fails(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """Same path and version as at the base, so it was 'existing' and could not fail: a PR
    that swapped a dependency for a GPL fork with one replace line passed."""
    publish_dependencies(goproxy_tree)
    goproxy_tree.add_module(
        "example.com/fork",
        "v1.5.0",
        {
            "go.mod": "module example.com/fork\n\ngo 1.21\n",
            "COPYING": license_text("GPL-3.0-only"),
            "util.go": 'package util\n\nfunc Name() string { return "fork" }\n',
        },
    )
    project = make_project(tmp_path / "repo", run_go, goproxy_tree)
    gomod = project / "go.mod"
    gomod.write_text(gomod.read_text() + "\nreplace example.com/util => example.com/fork v1.5.0\n")
    tidy(project, run_go, goproxy_tree)
    commit_all(project, "use a fork of util")
    env = scan_env(go_env, goproxy_tree, scan_cache)
    out = tmp_path / "r.json"

    proc = run_scan_cli(["scan", "--base", "HEAD~1", "--format", f"json={out}"], env, project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    util = next(
        m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/util"
    )
    assert (util["status"], util["decision"], util["previous_version"]) == (
        "changed",
        "REJECT",
        "v0.2.0",
    )

    # Removing the replacement again is a change too; it names what the base replaced it by.
    gomod.write_text(gomod.read_text().replace("replace example.com/util", "// was"))
    tidy(project, run_go, goproxy_tree)
    commit_all(project, "back to util")
    proc = run_scan_cli(["scan", "--base", "HEAD~1", "--format", f"json={out}"], env, project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    util = next(
        m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/util"
    )
    assert (util["status"], util["previous_version"]) == (
        "changed",
        "v0.2.0 => example.com/fork@v1.5.0",
    )
