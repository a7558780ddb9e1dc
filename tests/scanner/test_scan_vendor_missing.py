"""A package vendor/modules.txt lists whose directory is gone from vendor/.

The scan stopped with `vendor/example.com/mit: not a directory`: no module, no remedy.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree
from scanproject import make_project, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

NO_PROXY = {"GOFLAGS": "", "GOPROXY": "off"}  # the go command builds from vendor/ alone


def test_a_missing_vendored_package_names_its_module_and_go_mod_vendor(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    publish_dependencies(goproxy_tree)
    root = make_project(tmp_path / "repo", run_go, goproxy_tree)
    run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    listing = (root / "vendor" / "modules.txt").read_text().splitlines()
    line = listing.index("# example.com/mit v1.0.0") + 1
    shutil.rmtree(root / "vendor" / "example.com" / "mit")
    build = run_go("build", "./...", cwd=root, env_extra=NO_PROXY, check=False)
    assert build.returncode != 0 and "example.com/mit" in build.stderr  # go refuses too

    env = {**scan_env(go_env, goproxy_tree, scan_cache), **NO_PROXY}
    proc = run_scan_cli(["scan", "--offline", "--no-source-rules"], env, root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = proc.stderr.strip()
    assert error.startswith(f"error: vendor/modules.txt:{line}: example.com/mit@v1.0.0: "), error
    assert "vendor/example.com/mit is missing" in error
    assert "go mod vendor" in error
    assert "not a directory" not in error
