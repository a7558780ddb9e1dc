"""`goproxy-scan vulndb check`: build list from a GOPROXY, the shared database, reach, policy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from goproxytree import GoProxyTree, write_files

SCHEMA = Path(__file__).parent / "schemas" / "openvex-0.2.0.schema.json"

MAIN_GO = """package main

import "github.com/gin-gonic/gin"

func download(c *gin.Context) {
	c.FileAttachment("/srv/report.pdf", "report.pdf")
}

func main() {
	r := gin.Default()
	r.GET("/report", download)
	_ = r.Run(":8080")
}
"""


@pytest.fixture
def project(goproxy_tree: GoProxyTree, tmp_path: Path) -> Path:
    goproxy_tree.add_module(
        "github.com/gin-gonic/gin", "v1.5.0", {"go.mod": "module github.com/gin-gonic/gin\n"}
    )
    goproxy_tree.add_module("aahframe.work", "v0.12.4", {"go.mod": "module aahframe.work\n"})
    return write_files(
        tmp_path / "app",
        {
            "go.mod": "module example.com/app\n\ngo 1.19\n\nrequire (\n"
            "\tgithub.com/gin-gonic/gin v1.5.0\n\taahframe.work v0.12.4\n)\n",
            "main.go": MAIN_GO,
        },
    )


def _check(
    project: Path, tree: GoProxyTree, db: Path, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "goproxy-scan",
            "vulndb",
            "check",
            str(project),
            "--db",
            db.as_uri(),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--proxy",
            tree.url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_reports_reachability_and_fails_on_calls(
    project: Path, goproxy_tree: GoProxyTree, vulndb_dir: Path, tmp_path: Path
) -> None:
    proc = _check(project, goproxy_tree, vulndb_dir, tmp_path, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    found = {(v["id"], v["module"]): v for v in json.loads(proc.stdout)["vulnerabilities"]}
    logger = found[("GO-2020-0001", "github.com/gin-gonic/gin")]
    assert (logger["reachability"], logger["outcome"]) == ("called", "fail")
    assert logger["sites"] == [{"path": "main.go", "line": 10, "column": 7}]
    assert logger["fix"] == "go get github.com/gin-gonic/gin@v1.6.0"
    # a method on a parameter of a named type: c *gin.Context -> Context.FileAttachment
    attachment = found[("GO-2023-1737", "github.com/gin-gonic/gin")]
    assert (attachment["reachability"], attachment["symbols"]) == (
        "called",
        ["Context.FileAttachment"],
    )
    assert attachment["sites"] == [{"path": "main.go", "line": 6, "column": 4}]
    # a method on a value of unknown type from the package: r := gin.Default(); r.Run(...)
    run = found[("GO-2021-0052", "github.com/gin-gonic/gin")]
    assert (run["reachability"], run["symbols"]) == ("called", ["Engine.Run"])
    assert found[("GO-2022-0969", "stdlib")]["reachability"] == "required"
    assert not any(module == "aahframe.work" for _, module in found)  # at its fixed version


def test_an_exception_in_the_policy_file_lets_the_check_pass(
    project: Path, goproxy_tree: GoProxyTree, vulndb_dir: Path, tmp_path: Path
) -> None:
    (project / ".goproxy-scan.yml").write_text(
        "vulnerabilities:\n  fail_on: called\n  exceptions:\n"
        "    - id: CVE-2020-36567\n      reason: logs go to a structured sink\n"
        "      expires: 2999-01-01\n"
        "    - id: GO-2021-0052\n      reason: no proxies in front\n"
        "    - id: GO-2023-1737\n      reason: file names are constants\n"
    )
    proc = _check(project, goproxy_tree, vulndb_dir, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "EXCEPTED github.com/gin-gonic/gin@v1.5.0 has GO-2020-0001" in proc.stdout
    assert "excepted until 2999-01-01: logs go to a structured sink" in proc.stdout


def test_openvex_output_passes_the_schema_and_offline_uses_the_cache(
    project: Path, goproxy_tree: GoProxyTree, vulndb_dir: Path, tmp_path: Path
) -> None:
    proc = _check(project, goproxy_tree, vulndb_dir, tmp_path, "--format", "openvex")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(doc)
    status = {s["vulnerability"]["name"]: s["status"] for s in doc["statements"]}
    assert status["GO-2020-0001"] == "affected"
    assert status["GO-2021-0052"] == "affected"  # r.Run
    # net/http is not imported by the main module, but nothing proves the build lacks it
    assert status["GO-2022-0969"] == "under_investigation"
    # the database directory is gone: the cache answers
    moved = vulndb_dir.with_name("moved-away")
    vulndb_dir.rename(moved)
    try:
        again = _check(project, goproxy_tree, vulndb_dir, tmp_path, "--format", "json")
    finally:
        moved.rename(vulndb_dir)
    assert again.returncode == 1, again.stderr
    assert "unreachable; using the cached copy" in again.stderr


def test_a_workspace_checks_its_whole_build_list_unless_gowork_is_off(
    goproxy_tree: GoProxyTree, vulndb_dir: Path, tmp_path: Path
) -> None:
    """As the go command builds it: in a go.work workspace, what another module brings in (a
    vulnerable gin here) is in the build; with GOWORK=off only the module's own requirements."""
    goproxy_tree.add_module(
        "github.com/gin-gonic/gin", "v1.5.0", {"go.mod": "module github.com/gin-gonic/gin\n"}
    )
    goproxy_tree.add_module("aahframe.work", "v0.12.4", {"go.mod": "module aahframe.work\n"})
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.22\n\nuse (\n\t./app\n\t./other\n)\n",
            "app/go.mod": "module example.com/app\n\ngo 1.22\n\nrequire aahframe.work v0.12.4\n",
            "app/main.go": "package main\n\nfunc main() {}\n",
            "other/go.mod": "module example.com/other\n\ngo 1.22\n\n"
            "require github.com/gin-gonic/gin v1.5.0\n",
        },
    )

    def modules(**env: str) -> set[str]:
        proc = subprocess.run(
            [
                *("goproxy-scan", "vulndb", "check", str(ws / "app"), "--db", vulndb_dir.as_uri()),
                *("--cache-dir", str(tmp_path / "cache"), "--proxy", goproxy_tree.url),
                *("--format", "json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        assert proc.returncode in (0, 1), proc.stderr
        return {v["module"] for v in json.loads(proc.stdout)["vulnerabilities"]}

    assert "github.com/gin-gonic/gin" in modules(GOWORK="")
    assert "github.com/gin-gonic/gin" not in modules(GOWORK="off")
