"""`goproxy-scan vulndb check` of a vendored project: vendor/ alone, as the go command builds.

With vendor/modules.txt and no -mod flag the go command needs no GOPROXY and no module cache;
`scan --vulndb` reads vendor/ then, and `vulndb check` must too (it asked GOPROXY, or with
--offline the module cache, for go.mod files the build never reads).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree, go_binary, scanner_cli, write_files

from scanner.vulndb.layout import build_layout

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

# gin < 1.6.0 (Default called), gin < 1.7.7 (Engine.Run called), gin FileAttachment (not in
# the vendored gin), stdlib < 1.19.1 (go 1.19).
ENTRIES = ("GO-2020-0001", "GO-2021-0052", "GO-2023-1737", "GO-2022-0969")

GIN_GO = """package gin

// Engine is the framework's instance.
type Engine struct{ addr string }

// Default returns an Engine with the logger attached.
func Default() *Engine { return &Engine{} }

// Run listens on addr.
func (e *Engine) Run(addr string) error { e.addr = addr; return nil }
"""

MAIN_GO = """package main

import "github.com/gin-gonic/gin"

func main() {
\tr := gin.Default()
\t_ = r.Run(":8080")
}
"""


@pytest.fixture
def small_db(osv_dir: Path, tmp_path: Path) -> Path:
    src = tmp_path / "osv"
    src.mkdir()
    for entry in ENTRIES:
        shutil.copy(osv_dir / f"{entry}.json", src / f"{entry}.json")
    out = tmp_path / "db"
    build_layout(src, out)
    return out


@pytest.fixture
def vendored(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    """A project built from the GOPROXY tree, then `go mod vendor`ed."""
    goproxy_tree.add_module(
        "github.com/gin-gonic/gin",
        "v1.5.0",
        {"go.mod": "module github.com/gin-gonic/gin\n\ngo 1.19\n", "gin.go": GIN_GO},
    )
    root = write_files(
        tmp_path / "app",
        {
            "go.mod": "module example.com/app\n\ngo 1.19\n\n"
            "require github.com/gin-gonic/gin v1.5.0\n",
            "main.go": MAIN_GO,
        },
    )
    env = {"GOPROXY": goproxy_tree.url}
    run_go("mod", "tidy", cwd=root, env_extra=env)
    run_go("mod", "vendor", cwd=root, env_extra=env)
    assert (root / "vendor" / "github.com" / "gin-gonic" / "gin" / "gin.go").is_file()
    return root


def offline_env(go_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """No proxy, no -mod flag and an empty module cache: only vendor/ can answer."""
    modcache = tmp_path / "empty-modcache"
    modcache.mkdir()
    return {**go_env, "GOPROXY": "off", "GOFLAGS": "", "GOMODCACHE": str(modcache)}


def check(project: Path, env: dict[str, str], db: Path, tmp_path: Path, *args: str) -> Any:
    proc = subprocess.run(
        [
            scanner_cli(),
            *("vulndb", "check", ".", "--db", db.as_uri()),
            *("--cache-dir", str(tmp_path / "vulncache"), "--format", "json", *args),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return {v["id"]: v for v in json.loads(proc.stdout)["vulnerabilities"]}


@pytest.mark.parametrize("offline", [False, True], ids=["online-db", "offline"])
def test_a_vendored_project_is_checked_from_vendor_without_proxy_or_module_cache(
    vendored: Path,
    go_env: dict[str, str],
    small_db: Path,
    tmp_path: Path,
    offline: bool,
) -> None:
    """It was exit 2 'module lookup is disabled' (GOPROXY=off), or with --offline exit 3
    '…: not found in file://…/gomodcache', though the go command builds it and `scan
    --vulndb` checks it."""
    env = offline_env(go_env, tmp_path)
    built = subprocess.run(
        [go_binary(), "build", "./..."], cwd=vendored, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr  # the go command needs nothing but vendor/
    found = check(vendored, env, small_db, tmp_path, *(["--offline"] if offline else []))
    logger = found["GO-2020-0001"]
    assert (logger["module"], logger["version"]) == ("github.com/gin-gonic/gin", "v1.5.0")
    assert (logger["reachability"], logger["outcome"]) == ("called", "fail")
    assert logger["sites"] == [{"path": "main.go", "line": 6, "column": 7}]
    assert (found["GO-2021-0052"]["reachability"], found["GO-2021-0052"]["symbols"]) == (
        "called",
        ["Engine.Run"],
    )
    assert found["GO-2022-0969"]["module"] == "stdlib"
    # the module cache stayed empty: nothing was downloaded or read there
    assert not any(Path(env["GOMODCACHE"]).iterdir())


def test_a_vendored_project_checks_what_scan_vulndb_checks(
    vendored: Path, go_env: dict[str, str], small_db: Path, tmp_path: Path
) -> None:
    """The two commands agree on each vulnerability's reachability and outcome."""
    env = offline_env(go_env, tmp_path)
    found = check(vendored, env, small_db, tmp_path)
    out = tmp_path / "result.json"
    scan = subprocess.run(
        [
            scanner_cli(),
            *("scan", ".", "--offline", "--no-source-rules", "--vulndb", str(small_db)),
            *("--format", f"json={out}"),
        ],
        cwd=vendored,
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scan.returncode == 1, scan.stdout + scan.stderr
    scanned = {v["id"]: v for v in json.loads(out.read_text())["vulnerabilities"]}
    assert set(found) == set(scanned)
    for vid, v in found.items():
        assert (v["reachability"], v["outcome"]) == (
            scanned[vid]["reachability"],
            scanned[vid]["outcome"],
        ), vid
