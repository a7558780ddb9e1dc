"""A go.sum without the entries the build needs: a note, and no SBOM hash go.sum did not pin.

`go build` stops with "missing go.sum entry"; the scan passed without a word and filled the
SBOM's `goproxy-scan:h1` (and its SHA-256 hash) from the zip it downloaded itself.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree
from scanproject import make_project, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


def scan(project: Path, env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    proc = run_scan_cli(
        ["scan", ".", "--no-source-rules", "--format", "json=r.json", "--sbom", "s.json"],
        env,
        project,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((project / "r.json").read_text())
    sbom = json.loads((project / "s.json").read_text())
    return result, {c["name"]: c for c in sbom["components"]}


def h1_property(component: Mapping[str, Any]) -> str | None:
    props = {p["name"]: p["value"] for p in component.get("properties", ())}
    return props.get("goproxy-scan:h1")


@pytest.fixture
def project(
    tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree
) -> tuple[Path, RunGo, GoProxyTree]:
    publish_dependencies(goproxy_tree)
    return make_project(tmp_path / "repo", run_go, goproxy_tree), run_go, goproxy_tree


def test_a_tidy_go_sum_has_no_note_and_pins_every_hash(
    project: tuple[Path, RunGo, GoProxyTree], go_env: dict[str, str], scan_cache: Path
) -> None:
    root, _run_go, tree = project
    result, components = scan(root, scan_env(go_env, tree, scan_cache))
    assert not [n for n in result["notes"] if "go.sum" in n]
    gosum = (root / "go.sum").read_text()
    for path in ("example.com/mit", "example.com/util", "example.com/testonly"):
        h1 = h1_property(components[path])
        assert h1 is not None and f"{path} {components[path]['version']} {h1}" in gosum


def test_no_go_sum_is_a_note_and_the_sbom_claims_no_pin(
    project: tuple[Path, RunGo, GoProxyTree], go_env: dict[str, str], scan_cache: Path
) -> None:
    root, run_go, tree = project
    (root / "go.sum").unlink()
    build = run_go("build", "./...", cwd=root, env_extra={"GOFLAGS": ""}, check=False)
    assert "missing go.sum entry" in build.stderr  # what the go command says

    result, components = scan(root, scan_env(go_env, tree, scan_cache))
    (note,) = [n for n in result["notes"] if "go.sum" in n]
    assert note.startswith("go.sum does not exist: no go.sum entry for ")
    for key in ("example.com/mit@v1.0.0", "example.com/util@v0.2.0", "example.com/testonly@v1.0.0"):
        assert key in note
    assert "go mod tidy" in note and "go mod download" in note
    for path in ("example.com/mit", "example.com/util", "example.com/testonly"):
        component = components[path]
        assert h1_property(component) is None
        # the zip's own SHA-256 stays (it says what was read), but no hash is go.sum's
        assert {h["content"] for h in component.get("hashes", ())} == {
            next(p["value"] for p in component["properties"] if p["name"].endswith("zip-sha256"))
        }


def test_a_missing_zip_line_of_an_imported_module_is_named(
    project: tuple[Path, RunGo, GoProxyTree], go_env: dict[str, str], scan_cache: Path
) -> None:
    root, run_go, tree = project
    gosum = root / "go.sum"
    # mit's zip line gone, its go.mod line kept: main.go imports mit, so the build needs both.
    gosum.write_text(
        "".join(
            line
            for line in gosum.read_text().splitlines(keepends=True)
            if not line.startswith("example.com/mit v1.0.0 h1:")
        )
    )
    build = run_go("build", ".", cwd=root, env_extra={"GOFLAGS": ""}, check=False)
    assert "missing go.sum entry" in build.stderr

    result, components = scan(root, scan_env(go_env, tree, scan_cache))
    (note,) = [n for n in result["notes"] if "go.sum" in n]
    assert note.startswith("go.sum: no go.sum entry for example.com/mit@v1.0.0; ")
    assert h1_property(components["example.com/mit"]) is None
    assert h1_property(components["example.com/util"]) is not None
