"""VEX statements from the code the build compiles: `not_affected` only on proof.

An entry GO-2099-0001 for example.com/mit < v1.2.0, symbol `Name`. The main module never
names mit: whether the program reaches `Name` is decided by its dependency example.com/dep,
read from the module cache, from a module zip, or from vendor/.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import run_scan_cli, scan_env

from scanner.vulndb.layout import build_layout

pytestmark = pytest.mark.gocmd

SCHEMA = Path(__file__).parent / "schemas" / "openvex-0.2.0.schema.json"

ENTRY = {
    "schema_version": "1.3.1",
    "id": "GO-2099-0001",
    "modified": "2099-01-02T00:00:00Z",
    "published": "2099-01-01T00:00:00Z",
    "aliases": ["CVE-2099-0001"],
    "summary": "Name leaks the secret in example.com/mit",
    "affected": [
        {
            "package": {"name": "example.com/mit", "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.0"}]}],
            "ecosystem_specific": {"imports": [{"path": "example.com/mit", "symbols": ["Name"]}]},
        }
    ],
}

MIT_GO = """package mit

// Name is vulnerable.
func Name() string { return "secret" }

// Greet reaches Name inside the package.
func Greet() string { return "hi " + Name() }

// Safe does not.
func Safe() string { return "safe" }
"""

MAIN_GO = """package main

import "example.com/dep"

func main() { println(dep.Run()) }
"""

# What example.com/dep@v1.0.0's package does with mit, by case.
DEP_CALLS = 'package dep\n\nimport "example.com/mit"\n\nfunc Run() string { return mit.Name() }\n'
DEP_CALLS_INSIDE = (
    'package dep\n\nimport "example.com/mit"\n\nfunc Run() string { return mit.Greet() }\n'
)
DEP_SAFE = 'package dep\n\nimport "example.com/mit"\n\nfunc Run() string { return mit.Safe() }\n'
# dep's other package imports mit; the one main imports does not: mit is not compiled.
DEP_UNUSED = 'package dep\n\nfunc Run() string { return "plain" }\n'
DEP_UNUSED_EXTRA = (
    'package extra\n\nimport "example.com/mit"\n\nfunc Run() string { return mit.Name() }\n'
)


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("osv")
    (src / "GO-2099-0001.json").write_text(json.dumps(ENTRY))
    out = tmp_path_factory.mktemp("vulndb") / "db"
    build_layout(src, out)
    return out


def project(root: Path, tree: GoProxyTree, run_go: Any, dep_go: str) -> Path:
    tree.add_module(
        "example.com/mit",
        "v1.0.0",
        {
            "go.mod": "module example.com/mit\n\ngo 1.21\n",
            "LICENSE": license_text("MIT"),
            "mit.go": MIT_GO,
        },
    )
    tree.add_module(
        "example.com/dep",
        "v1.0.0",
        {
            "go.mod": "module example.com/dep\n\ngo 1.21\n\nrequire example.com/mit v1.0.0\n",
            "LICENSE": license_text("MIT"),
            "dep.go": dep_go,
            "extra/extra.go": DEP_UNUSED_EXTRA,
        },
    )
    write_files(
        root,
        {
            "go.mod": "module example.com/app\n\ngo 1.22\n\nrequire example.com/dep v1.0.0\n",
            "main.go": MAIN_GO,
        },
    )
    run_go("mod", "tidy", cwd=root, env_extra={"GOPROXY": tree.url})
    return root


def scan_vex(
    root: Path, env: Mapping[str, str], vulndb: Path, *args: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(OpenVEX statement, CycloneDX vulnerability, console output) for GO-2099-0001."""
    out = root.parent / "out"
    proc = run_scan_cli(
        [
            "scan",
            ".",
            "--no-source-rules",
            "--vulndb",
            str(vulndb),
            "--format",
            "console",
            "--format",
            f"openvex={out}/v.vex",
            "--sbom",
            f"{out}/v.cdx.json",
            *args,
        ],
        env,
        root,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the policy judges main's code
    vex = json.loads((out / "v.vex").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(vex)
    (statement,) = [s for s in vex["statements"] if s["vulnerability"]["name"] == "GO-2099-0001"]
    cdx = json.loads((out / "v.cdx.json").read_text())
    (vuln,) = [v for v in cdx["vulnerabilities"] if v["id"] == "GO-2099-0001"]
    return statement, vuln, proc.stdout


@pytest.fixture
def env(go_env: dict[str, str], goproxy_tree: GoProxyTree, scan_cache: Path) -> dict[str, str]:
    return scan_env(go_env, goproxy_tree, scan_cache)


def test_a_vulnerable_function_called_through_a_dependency_is_affected(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_CALLS)
    statement, vuln, console = scan_vex(root, env, vulndb)
    assert statement["status"] == "affected", statement
    assert "example.com/dep@v1.0.0/dep.go:5" in statement["status_notes"]
    assert statement["action_statement"] == "go get example.com/mit@v1.2.0"
    assert vuln["analysis"]["state"] == "exploitable"
    assert "called in the build" in vuln["analysis"]["detail"]
    assert "GO-2099-0001" in console


def test_a_call_reaching_the_symbol_inside_its_package_is_affected(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_CALLS_INSIDE)
    statement, vuln, _ = scan_vex(root, env, vulndb)
    assert statement["status"] == "affected", statement
    assert "Greet" in statement["status_notes"]
    assert vuln["analysis"]["state"] == "exploitable"


def test_a_compiled_package_whose_symbol_nothing_names_is_not_in_the_execute_path(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_SAFE)
    statement, vuln, _ = scan_vex(root, env, vulndb)
    assert statement["status"] == "not_affected", statement
    assert statement["justification"] == "vulnerable_code_not_in_execute_path"
    assert vuln["analysis"]["state"] == "not_affected"
    assert vuln["analysis"]["justification"] == "code_not_reachable"


def test_a_package_outside_the_import_closure_is_not_present(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    # dep/extra calls mit.Name, but nothing the main module builds imports dep/extra
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_UNUSED)
    statement, vuln, _ = scan_vex(root, env, vulndb)
    assert statement["status"] == "not_affected", statement
    assert statement["justification"] == "vulnerable_code_not_present"
    assert vuln["analysis"]["justification"] == "code_not_present"


def test_the_zip_is_read_when_the_module_cache_has_no_extracted_copy(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_CALLS)
    modcache = Path(env["GOMODCACHE"])
    run_go("clean", "-modcache", cwd=root)
    assert not modcache.exists()
    statement, _, _ = scan_vex(root, env, vulndb)  # zips from the file:// GOPROXY
    assert statement["status"] == "affected", statement


def test_without_the_dependency_code_nothing_is_claimed(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_SAFE)
    # --offline: modules from the module cache, where dep's code is no longer
    modcache = Path(env["GOMODCACHE"])
    for extracted in modcache.glob("example.com/dep@*"):
        shutil.rmtree(extracted, onerror=lambda f, p, e: (Path(p).chmod(0o700), f(p)))
    for zipped in (modcache / "cache" / "download" / "example.com" / "dep").rglob("*.zip"):
        zipped.unlink()
    out = tmp_path / "out"
    proc = run_scan_cli(
        [
            "scan",
            ".",
            "--no-source-rules",
            "--offline",
            "--vulndb",
            str(vulndb),
            "--format",
            f"openvex={out}/v.vex",
            "--sbom",
            f"{out}/v.cdx.json",
        ],
        env,
        root,
    )
    assert (out / "v.vex").is_file(), proc.stdout + proc.stderr
    (statement,) = json.loads((out / "v.vex").read_text())["statements"]
    assert statement["status"] == "under_investigation", statement
    assert "justification" not in statement
    assert "example.com/dep" in statement["status_notes"]
    (vuln,) = json.loads((out / "v.cdx.json").read_text())["vulnerabilities"]
    assert vuln["analysis"]["state"] == "in_triage"


def test_vendor_is_what_a_vendored_build_compiles(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_CALLS)
    run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    run_go("clean", "-modcache", cwd=root)
    statement, _, _ = scan_vex(root, {**env, "GOFLAGS": ""}, vulndb)
    assert statement["status"] == "affected", statement
    assert "vendor/example.com/dep/dep.go:5" in statement["status_notes"]


def test_a_vendored_build_needs_no_goproxy(
    tmp_path: Path, env: dict[str, str], goproxy_tree: GoProxyTree, run_go: Any, vulndb: Path
) -> None:
    """`GOPROXY=off` builds from vendor/, and so scans: the vulnerability pass asked for a
    module source all the same, and exited 2 naming a `--modcache` flag scan does not have."""
    root = project(tmp_path / "app", goproxy_tree, run_go, DEP_CALLS)
    run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    run_go("clean", "-modcache", cwd=root)
    offline = {**env, "GOFLAGS": "", "GOPROXY": "off"}
    run_go("build", "./...", cwd=root, env_extra={"GOPROXY": "off", "GOFLAGS": ""})
    statement, _, _ = scan_vex(root, offline, vulndb)
    assert statement["status"] == "affected", statement
    assert "vendor/example.com/dep/dep.go:5" in statement["status_notes"]


@pytest.mark.parametrize(
    ("dep_go", "status", "justification"),
    [
        (DEP_CALLS, "affected", None),
        (DEP_SAFE, "not_affected", "vulnerable_code_not_in_execute_path"),
        (DEP_UNUSED, "not_affected", "vulnerable_code_not_present"),
    ],
    ids=["called", "compiled", "not-compiled"],
)
def test_vulndb_check_reads_the_build_as_scan_does(
    tmp_path: Path,
    env: dict[str, str],
    goproxy_tree: GoProxyTree,
    run_go: Any,
    vulndb: Path,
    dep_go: str,
    status: str,
    justification: str | None,
) -> None:
    """`vulndb check` did not read the dependencies' code: every finding main did not call
    was `under_investigation`, where `scan` proved it affected or not."""
    root = project(tmp_path / "app", goproxy_tree, run_go, dep_go)
    check = ["vulndb", "check", ".", "--db", str(vulndb), "--proxy", goproxy_tree.url]
    proc = run_scan_cli([*check, "--format", "openvex"], env, root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (statement,) = json.loads(proc.stdout)["statements"]
    assert statement["status"] == status, statement
    assert statement.get("justification") == justification
    if status == "affected":
        assert "example.com/dep@v1.0.0/dep.go:5" in statement["status_notes"]
