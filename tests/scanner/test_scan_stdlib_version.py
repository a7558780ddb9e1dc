"""The standard library's version: one, from go.mod, in the SBOM, its vulnerabilities and OpenVEX.

It is the Go release go.mod builds with (the newer of the `toolchain` line and the `go` line as
a release version), not the `go` command of the machine that scans: a reproducible SBOM is the same
everywhere, and the stdlib component is the one its vulnerabilities name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from goproxytree import GoProxyTree, write_files
from scanproject import run_scan_cli, scan_env

from scanner.gomod import parse_gomod
from scanner.result import ScanResult
from scanner.sbom import SbomOptions, render_sbom
from scanner.scan import build_go_release
from scanner.vulndb.layout import build_layout

pytestmark = pytest.mark.gocmd

OSV_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "go-vulndb" / "osv"
STDLIB_ENTRY = "GO-2022-0969"  # net/http in stdlib < 1.19.1

MAIN_GO = (
    'package main\n\nimport "net/http"\n\nfunc main() { _ = http.ListenAndServe(":80", nil) }\n'
)


def project(root: Path, gomod_tail: str) -> Path:
    write_files(root, {"go.mod": f"module example.com/app\n\n{gomod_tail}", "main.go": MAIN_GO})
    return root


def scan(root: Path, env: Mapping[str, str], *args: str) -> Any:
    proc = run_scan_cli(["scan", ".", "--no-source-rules", "--reproducible", *args], env, root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def sbom(root: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((root / "s.json").read_text())
    return doc


def stdlib_component(doc: Mapping[str, Any]) -> dict[str, Any]:
    (std,) = [c for c in doc["components"] if c["name"] == "stdlib"]
    return dict(std)


@pytest.fixture(scope="module")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not OSV_DIR.is_dir():
        pytest.skip(f"the shared Go vulnerability database is not at {OSV_DIR.resolve()}")
    src = tmp_path_factory.mktemp("osv")
    shutil.copy(OSV_DIR / f"{STDLIB_ENTRY}.json", src / f"{STDLIB_ENTRY}.json")
    out = tmp_path_factory.mktemp("vulndb") / "db"
    build_layout(src, out)
    return out


@pytest.fixture
def env(go_env: dict[str, str], goproxy_tree: GoProxyTree, scan_cache: Path) -> dict[str, str]:
    return scan_env(go_env, goproxy_tree, scan_cache)


@pytest.mark.parametrize(
    ("go", "toolchain", "release"),
    [
        ("1.22", "", "go1.22.0"),  # a language version names its first release since Go 1.21
        ("1.21", "", "go1.21.0"),
        ("1.20", "", "go1.20"),  # before 1.21 "go1.20" was the release's own name
        ("1.22.3", "", "go1.22.3"),
        ("1.21rc1", "", "go1.21rc1"),
        ("1.30", "go1.30.1", "go1.30.1"),
        # the newer line wins, as the go command picks the toolchain; a custom suffix is not
        # part of the version (internal/gover.FromToolchain)
        ("1.23.2", "go1.22.0", "go1.23.2"),
        ("1.22.1", "go1.22.3-custom", "go1.22.3"),
        ("1.22", "default", "go1.22.0"),
        ("", "", ""),
    ],
)
def test_the_release_go_mod_builds_with(go: str, toolchain: str, release: str) -> None:
    text = "module example.com/app\n"
    text += f"go {go}\n" if go else ""
    text += f"toolchain {toolchain}\n" if toolchain else ""
    assert build_go_release(parse_gomod(text)) == release


def test_sbom_vulnerabilities_and_openvex_name_one_stdlib_version(
    tmp_path: Path, env: dict[str, str], vulndb: Path
) -> None:
    # go 1.19, no toolchain line: GO-2022-0969 (stdlib < 1.19.1) matches at v1.19.0.
    root = project(tmp_path / "app", "go 1.19\n")
    scan(root, env, "--vulndb", str(vulndb), "--sbom", "s.json", "--format", "openvex=vex.json")
    doc = sbom(root)
    std = stdlib_component(doc)
    assert std["purl"] == "pkg:golang/stdlib@v1.19.0"
    assert std["version"] == "v1.19.0"
    refs = {c["bom-ref"] for c in doc["components"]}
    (vuln,) = [v for v in doc["vulnerabilities"] if v["id"] == "GO-2022-0969"]
    assert vuln["affects"] == [
        {"ref": std["bom-ref"], "versions": [{"version": "v1.19.0", "status": "affected"}]}
    ]
    vex = json.loads((root / "vex.json").read_text())
    named = {
        sub["identifiers"]["purl"]
        for statement in vex["statements"]
        for product in statement["products"]
        for sub in product.get("subcomponents", ())
    }
    assert named == {"pkg:golang/stdlib@v1.19.0"}
    assert named <= {c["purl"] for c in doc["components"]}
    assert refs >= {std["bom-ref"]}


def test_the_toolchain_line_decides_not_the_local_go(tmp_path: Path, env: dict[str, str]) -> None:
    root = project(tmp_path / "app", "go 1.30\n\ntoolchain go1.30.1\n")
    scan(root, env, "--sbom", "s.json")
    assert stdlib_component(sbom(root))["purl"] == "pkg:golang/stdlib@v1.30.1"


SCAN_ARGS = ("scan", ".", "--no-source-rules", "--reproducible", "--sbom", "s.json")


def test_a_reproducible_sbom_does_not_depend_on_the_go_command(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = project(tmp_path / "app", "go 1.22\n")
    scan(root, env, "--sbom", "s.json")
    with_go = (root / "s.json").read_bytes()
    assert stdlib_component(sbom(root))["purl"] == "pkg:golang/stdlib@v1.22.0"
    # The same tree scanned with no go command on PATH (the scanner run by its interpreter).
    path = os.pathsep.join(["/usr/bin", "/bin"])
    assert shutil.which("go", path=path) is None
    proc = subprocess.run(
        [sys.executable, "-c", "from scanner.cli import main; main()", *SCAN_ARGS],
        cwd=root,
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (root / "s.json").read_bytes() == with_go


def test_a_result_without_the_release_falls_back_to_the_go_line() -> None:
    # A result written before the field was filled from go.mod: "1.22" is v1.22.0, not v1.22.
    result = ScanResult(main_module="example.com/app", tool_version="0", generated_at="")
    options = SbomOptions(reproducible=True)
    doc = json.loads(render_sbom(replace(result, go_version="1.22"), options))
    assert stdlib_component(doc)["purl"] == "pkg:golang/stdlib@v1.22.0"
    doc = json.loads(render_sbom(replace(result, stdlib_version="go1.21rc1"), options))
    assert stdlib_component(doc)["purl"] == "pkg:golang/stdlib@v1.21.0-rc.1"
