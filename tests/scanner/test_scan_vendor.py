"""`goproxy-scan scan` of a vendored build: vendor/modules.txt as `go mod vendor` writes it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from licenses.corpus import render as license_text
from scanproject import git, make_project, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


@pytest.fixture
def vendored(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    """The scan project, vendored, with a requirement and a replace that vendor no package."""
    publish_dependencies(goproxy_tree)
    root = make_project(tmp_path / "repo", run_go, goproxy_tree)
    env = {"GOPROXY": goproxy_tree.url}
    # Required (`## explicit` in modules.txt) but imported by nothing: no vendored package.
    run_go("get", "example.com/gpl@v1.0.0", cwd=root, env_extra=env)
    with (root / "go.mod").open("a") as f:
        f.write("\nreplace example.com/unused => example.com/gpl v1.0.0\n")
    run_go("mod", "vendor", cwd=root, env_extra=env)
    return root


def vendor_env(go_env: dict[str, str], tree: GoProxyTree, cache: Path) -> dict[str, str]:
    # No -mod flag and no proxy: the go command builds from vendor/ alone.
    return {**scan_env(go_env, tree, cache), "GOFLAGS": "", "GOPROXY": "off"}


def test_vendored_build_is_judged_on_the_modules_it_compiles(
    vendored: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
    tmp_path: Path,
) -> None:
    """A requirement or replace line without vendored code was 'vendor/…: not a directory'."""
    env = vendor_env(go_env, goproxy_tree, scan_cache)
    run_go("build", "./...", cwd=vendored, env_extra={"GOFLAGS": "", "GOPROXY": "off"})
    out = tmp_path / "result.json"
    proc = run_scan_cli(["scan", "--offline", "--format", f"json={out}"], env, vendored)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = {m["path"]: m for m in json.loads(out.read_text())["modules"]}
    # What `go list -deps -test` finds in modules other than the main one.
    listed = run_go(
        "list",
        "-deps",
        "-test",
        "-f",
        "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}",
        "./...",
        cwd=vendored,
        env_extra={"GOFLAGS": "", "GOPROXY": "off"},
    ).stdout.split()
    assert set(modules) == set(listed)
    assert set(modules) == {"example.com/mit", "example.com/util", "example.com/testonly"}
    # go.mod's `// indirect`, though modules.txt marks every requirement `## explicit`.
    assert modules["example.com/util"]["indirect"] is True
    assert modules["example.com/mit"]["indirect"] is False
    assert modules["example.com/mit"]["expression"] == "MIT"


# go.mod edits made after `go mod vendor`, and whether the go command still builds.
EDITS = {
    "in sync": ("", ""),
    "version changed": ("example.com/mit v1.0.0", "example.com/mit v1.1.0"),
    "replace added": (
        "replace example.com/unused",
        "replace example.com/mit => ./mit\nreplace example.com/unused",
    ),
    "replace removed": ("replace example.com/unused => example.com/gpl v1.0.0\n", ""),
    "replace retargeted": ("=> example.com/gpl v1.0.0", "=> example.com/util v0.2.0"),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_modules_txt_out_of_sync_with_go_mod_is_refused_as_go_refuses_it(
    vendored: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
    edit: str,
    tmp_path: Path,
) -> None:
    """A stale vendor/ was judged as if go.mod agreed with it (the go command does not build)."""
    old, new = EDITS[edit]
    gomod = vendored / "go.mod"
    if old:
        assert old in gomod.read_text()
        gomod.write_text(gomod.read_text().replace(old, new))
    built = run_go(
        "build", "./...", cwd=vendored, env_extra={"GOFLAGS": "", "GOPROXY": "off"}, check=False
    )
    go_refuses = "inconsistent vendoring" in built.stderr
    assert go_refuses == (edit != "in sync"), built.stderr
    proc = run_scan_cli(
        ["scan", "--offline", "--no-source-rules", "--format", f"json={tmp_path / 'r.json'}"],
        vendor_env(go_env, goproxy_tree, scan_cache),
        vendored,
    )
    if not go_refuses:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 2, proc.stdout + proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: go.mod:"), first
    assert "inconsistent vendoring" in first and "go mod vendor" in first


def test_a_nested_vendored_module_keeps_its_license_files_to_itself(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """vendor/ keeps no go.mod, so vendor/example.com/otel/ holds the nested module
    example.com/otel/sdk's directory too. Its license files were read as the parent's (with
    go.opentelemetry.io/otel, buildkit's scan put otel in review for a file of
    otel/exporters/jaeger). modules.txt lists the nested module: its files are its own."""
    publish_dependencies(goproxy_tree)
    mit = license_text("MIT")
    goproxy_tree.add_module(
        "example.com/otel",
        "v1.0.0",
        {
            "go.mod": "module example.com/otel\n\ngo 1.22\n",
            "LICENSE": mit,
            "otel.go": "package otel\n",
        },
    )
    fee = "You may use this package only after you pay a fee of 100 euros to Example Corp.\n"
    goproxy_tree.add_module(
        "example.com/otel/sdk",
        "v1.0.0",
        {
            "go.mod": "module example.com/otel/sdk\n\ngo 1.22\n",
            "LICENSE": fee,
            "sdk.go": "package sdk\n",
        },
    )
    imports = 'import (\n\t_ "example.com/otel"\n\t_ "example.com/otel/sdk"\n)\n'
    root = make_project(
        tmp_path / "repo", run_go, goproxy_tree, {"otel.go": "package main\n\n" + imports}
    )
    run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    assert (root / "vendor/example.com/otel/sdk/LICENSE").is_file()
    out = tmp_path / "result.json"
    env = vendor_env(go_env, goproxy_tree, scan_cache)
    proc = run_scan_cli(["scan", "--offline", "--format", f"json={out}"], env, root)
    modules = {m["path"]: m for m in json.loads(out.read_text())["modules"]}
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the sdk's fee
    assert (modules["example.com/otel"]["decision"], modules["example.com/otel"]["expression"]) == (
        "PASS",
        "MIT",
    )
    assert modules["example.com/otel/sdk"]["decision"] == "REVIEW_REQUIRED"
    # `goproxy-scan licenses` of the vendored copy reads the same files as scan.
    proc = run_scan_cli(["licenses", "--json", "vendor/example.com/otel"], env, root)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["expression"], [f["path"] for f in report["files"]]) == ("MIT", ["LICENSE"])


def test_the_project_s_own_sub_module_is_under_the_repository_s_license(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """`replace example.com/app/api => ./api` (tetragon's and hypershift's ./api): the
    project's own code, with no LICENSE of its own, was REJECTed as unlicensed - in module mode
    and in vendor mode - though the repository's LICENSE covers it. A directory outside the
    repository still has only its own license files."""
    publish_dependencies(goproxy_tree)
    gomod = (
        "module example.com/app\n\ngo 1.22\n\nrequire (\n\texample.com/mit v1.0.0\n"
        "\texample.com/app/api v0.0.0\n\texample.com/outside v0.0.0\n)\n\n"
        "replace example.com/app/api => ./api\n\nreplace example.com/outside => ../../outside\n"
    )
    outside = write_files(
        tmp_path / "outside",
        {"go.mod": "module example.com/outside\n\ngo 1.22\n", "o.go": "package outside\n"},
    )
    root = make_project(
        tmp_path / "repo",
        run_go,
        goproxy_tree,
        {
            "go.mod": gomod,
            "api/go.mod": "module example.com/app/api\n\ngo 1.22\n",
            "api/api.go": "package api\n\nconst V = 1\n",
            "uses.go": (
                'package main\n\nimport (\n\t_ "example.com/app/api"\n'
                '\t_ "example.com/outside"\n)\n'
            ),
        },
        subdir="app",  # the repository's LICENSE is one level up
    )
    assert outside.is_dir()
    (tmp_path / "repo" / "LICENSE").write_text(license_text("BSD-3-Clause"))
    git(tmp_path / "repo", "add", "-A")
    git(tmp_path / "repo", "commit", "-q", "-m", "license")
    for mode in ("modules", "vendor"):
        if mode == "vendor":
            run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
            env = vendor_env(go_env, goproxy_tree, scan_cache)
        else:
            env = scan_env(go_env, goproxy_tree, scan_cache, GOFLAGS="-mod=mod")
        out = tmp_path / f"{mode}.json"
        proc = run_scan_cli(["scan", "--offline", "--format", f"json={out}"], env, root)
        modules = {m["path"]: m for m in json.loads(out.read_text())["modules"]}
        api = modules["example.com/app/api"]
        assert (api["decision"], api["expression"]) == ("PASS", "BSD-3-Clause"), (mode, api)
        assert api["license_files"] == ["../../LICENSE"]
        assert modules["example.com/outside"]["decision"] == "REJECT", mode  # no license
        assert proc.returncode == 1, proc.stdout + proc.stderr


def test_a_license_file_go_mod_vendor_leaves_behind_is_read_from_the_module_cache(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """`go mod vendor` copies from a module's root, when no package there is imported, only
    files named LICENSE*, COPYING*, NOTICE* and the like: ldez/grignotin's LICENCE stayed
    behind, and the vendor-mode scan REJECTed the module as unlicensed. Its zip in the module
    cache has the file; without the zip, the REJECT says why vendor/ may lack it."""
    publish_dependencies(goproxy_tree)
    goproxy_tree.add_module(
        "example.com/british",
        "v1.0.0",
        {
            "go.mod": "module example.com/british\n\ngo 1.22\n",
            "LICENCE": license_text("Apache-2.0"),
            # Only this package is imported: the root directory is not copied whole.
            "gomod/g.go": "package gomod\n",
        },
    )
    files = {"uses.go": 'package main\n\nimport _ "example.com/british/gomod"\n'}
    root = make_project(tmp_path / "repo", run_go, goproxy_tree, files)
    run_go("mod", "vendor", cwd=root, env_extra={"GOPROXY": goproxy_tree.url})
    assert not (root / "vendor/example.com/british/LICENCE").exists()
    env = vendor_env(go_env, goproxy_tree, scan_cache)
    for cache, decision in ((env["GOMODCACHE"], "PASS"), (str(tmp_path / "empty"), "REJECT")):
        out = tmp_path / f"{decision}.json"
        proc = run_scan_cli(
            ["scan", "--offline", "--format", f"json={out}"], {**env, "GOMODCACHE": cache}, root
        )
        british = {m["path"]: m for m in json.loads(out.read_text())["modules"]}[
            "example.com/british"
        ]
        assert british["decision"] == decision, (proc.stderr, british)
    assert british["expression"] == ""
    (reason,) = british["reasons"]
    assert "a LICENCE, UNLICENSE or lower-case license file stays behind" in reason["message"]
