"""SBOM `scope: optional`: the modules only tests and tools need, by what the build compiles.

The go command is the judge: a module is optional when `go list -deps -test ./... TOOLS` has a
package of it and `go list -deps ./...` has none. Module mode and vendor mode agree.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import MAIN_GO, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

TOOL = "example.com/tool/cmd/gen"

MAIN_TEST_GO = """package main

import (
\t"testing"

\t"example.com/testkit"
\t"example.com/testonly"
)

func TestCheck(t *testing.T) {
\tif !testonly.Check() || !testkit.Check() {
\t\tt.Fatal("no")
\t}
}
"""


def publish(tree: GoProxyTree) -> None:
    """publish_dependencies, plus a tool needing gpl and util, and a test kit needing assert."""
    publish_dependencies(tree)
    tree.add_module(
        "example.com/tool",
        "v1.0.0",
        {
            "go.mod": "module example.com/tool\n\ngo 1.21\n\n"
            "require (\n\texample.com/gpl v1.0.0\n\texample.com/util v0.2.0\n)\n",
            "LICENSE": license_text("MIT"),
            "cmd/gen/main.go": 'package main\n\nimport (\n\t"example.com/gpl"\n'
            '\t"example.com/util"\n)\n\nfunc main() { println(gpl.Add(1, 2), util.Name()) }\n',
        },
    )
    tree.add_module(
        "example.com/assert",
        "v1.0.0",
        {
            "go.mod": "module example.com/assert\n\ngo 1.21\n",
            "LICENSE": license_text("MIT"),
            "assert.go": "package assert\n\nfunc True(b bool) bool { return b }\n",
        },
    )
    tree.add_module(
        "example.com/testkit",
        "v1.0.0",
        {
            "go.mod": "module example.com/testkit\n\ngo 1.21\n\n"
            "require example.com/assert v1.0.0\n",
            "LICENSE": license_text("MIT"),
            "testkit.go": 'package testkit\n\nimport "example.com/assert"\n\n'
            "func Check() bool { return assert.True(true) }\n",
        },
    )


@pytest.fixture
def project(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    publish(goproxy_tree)
    root = tmp_path / "app"
    write_files(
        root,
        {
            "go.mod": f"module example.com/app\n\ngo 1.24\n\ntool {TOOL}\n",
            "main.go": MAIN_GO,
            "main_test.go": MAIN_TEST_GO,
        },
    )
    run_go("mod", "tidy", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    return root


def go_modules(run_go: RunGo, root: Path, env: dict[str, str], *args: str) -> set[str]:
    """The non-main modules providing the packages `go list -deps ARGS` lists."""
    out = run_go(
        "list",
        "-deps",
        "-f",
        "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}",
        *args,
        cwd=root,
        env_extra=env,
    ).stdout
    return set(out.split())


def expected_optional(run_go: RunGo, root: Path, env: dict[str, str]) -> set[str]:
    built = go_modules(run_go, root, env, "./...")
    everything = go_modules(run_go, root, env, "-test", "./...", TOOL)
    return everything - built


def scan_optional(
    root: Path, env: dict[str, str], tmp_path: Path, name: str
) -> tuple[dict[str, bool], dict[str, str]]:
    """(module path -> result `optional`, module path -> SBOM `scope`) of one scan."""
    result, sbom = tmp_path / f"{name}.json", tmp_path / f"{name}.cdx.json"
    proc = run_scan_cli(
        ["scan", "--offline", "--format", f"json={result}", "--sbom", str(sbom)], env, root
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # gpl fails the policy
    modules = {m["path"]: m["optional"] for m in json.loads(result.read_text())["modules"]}
    scopes = {
        c["purl"].removeprefix("pkg:golang/").rpartition("@")[0]: c.get("scope", "required")
        for c in json.loads(sbom.read_text())["components"]
        if c["purl"].startswith("pkg:golang/example.com/")
    }
    return modules, scopes


def test_modules_only_tests_and_tools_need_are_optional_in_module_and_vendor_mode(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
    tmp_path: Path,
) -> None:
    """gpl (needed only by the tool) and assert (only by a test-only import) were required;
    in vendor mode every module was, testonly too."""
    module_env = {"GOPROXY": goproxy_tree.url}
    expected = expected_optional(run_go, project, module_env)
    assert expected == {
        "example.com/testonly",
        "example.com/testkit",
        "example.com/assert",
        "example.com/tool",
        "example.com/gpl",
    }  # util: the tool needs it, and so does mit, which main.go imports
    env = scan_env(go_env, goproxy_tree, scan_cache)
    modules, scopes = scan_optional(project, env, tmp_path, "module")
    assert {p for p, optional in modules.items() if optional} == expected
    assert {p for p, scope in scopes.items() if scope == "optional"} == expected
    assert set(scopes) == set(modules)

    run_go("mod", "vendor", cwd=project, env_extra=module_env)
    vendored = {"GOFLAGS": "", "GOPROXY": "off"}
    # modules.txt lists the main module's test and tool imports and what they need.
    assert expected_optional(run_go, project, vendored) == expected
    listed = {
        line.split()[1]
        for line in (project / "vendor" / "modules.txt").read_text().splitlines()
        if line.startswith("# ")
    }
    assert expected <= listed
    env = {**env, **vendored}
    vendor_modules, vendor_scopes = scan_optional(project, env, tmp_path, "vendor")
    assert vendor_modules == modules
    assert vendor_scopes == scopes


def test_a_module_required_outside_tests_and_tools_stays_required(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
    tmp_path: Path,
) -> None:
    """When main.go imports gpl too, the tool's need of it does not make it optional."""
    (project / "gpl.go").write_text(
        'package main\n\nimport "example.com/gpl"\n\nfunc sum() int { return gpl.Add(1, 2) }\n'
    )
    module_env = {"GOPROXY": goproxy_tree.url}
    run_go("mod", "tidy", cwd=project, env_extra=module_env)
    expected = expected_optional(run_go, project, module_env)
    assert "example.com/gpl" not in expected
    assert "example.com/tool" in expected
    env = scan_env(go_env, goproxy_tree, scan_cache)
    modules, _scopes = scan_optional(project, env, tmp_path, "module")
    assert {p for p, optional in modules.items() if optional} == expected
    run_go("mod", "vendor", cwd=project, env_extra=module_env)
    vendor_modules, _ = scan_optional(
        project, {**env, "GOFLAGS": "", "GOPROXY": "off"}, tmp_path, "vendor"
    )
    assert vendor_modules == modules
