"""`goproxy-scan scan` in a module of a go.work workspace: the workspace's build list and sums."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from scanproject import publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


def test_hashes_come_from_every_go_sum_of_the_workspace(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """Only the scanned module's go.sum was read: a module that another workspace module
    requires had no go.sum hash (empty in the result and SBOM, and a proxy verdict for it was
    never checked against the hash the build verifies)."""
    publish_dependencies(goproxy_tree)
    ws = write_files(
        tmp_path / "ws",
        {
            "a/go.mod": "module example.com/a\n\ngo 1.22\n\nrequire example.com/mit v1.1.0\n",
            "a/a.go": 'package a\n\nimport "example.com/mit"\n\nvar A = mit.Hello()\n',
            "b/go.mod": "module example.com/b\n\ngo 1.22\n\nrequire example.com/gpl v1.0.0\n",
            "b/b.go": 'package b\n\nimport "example.com/gpl"\n\nvar B = gpl.Add(1, 2)\n',
        },
    )
    env = {"GOPROXY": goproxy_tree.url}
    for module in ("a", "b"):
        run_go("mod", "tidy", cwd=ws / module, env_extra=env)
    run_go("work", "init", "./a", "./b", cwd=ws, env_extra={"GOFLAGS": ""})
    out = tmp_path / "result.json"
    proc = run_scan_cli(
        ["scan", "--no-source-rules", "--format", f"json={out}"],
        {**scan_env(go_env, goproxy_tree, scan_cache), "GOFLAGS": ""},
        ws / "a",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # b's GPL module is in the build
    modules = {m["path"]: m for m in json.loads(out.read_text())["modules"]}
    assert set(modules) == {"example.com/gpl", "example.com/mit", "example.com/util"}
    sums = (ws / "a" / "go.sum").read_text() + (ws / "b" / "go.sum").read_text()
    for path, m in modules.items():
        assert f"{path} {m['version']} {m['h1']}\n" in sums, path
        assert f"{path} {m['version']}/go.mod {m['gomod_h1']}\n" in sums, path
