"""`goproxy-scan scan` and `sbom` end to end: real go command, file:// GOPROXY, real git repos."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cyclonedx.schema import OutputFormat as CdxFormat
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from goproxytree import GoProxyTree
from licenses.corpus import render as license_text  # tests/scanner/licenses/
from scanproject import (
    add_gpl_and_secret,
    commit_all,
    git,
    make_project,
    publish_dependencies,
    run_scan_cli,
    scan_env,
    tidy,
)

from scanner.config import load_config
from scanner.gowork import parse_gowork
from scanner.sbom import SbomOptions, render_sbom
from scanner.scan import run_scan

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


@pytest.fixture
def project(tmp_path: Path, run_go: RunGo, goproxy_tree: GoProxyTree) -> Path:
    publish_dependencies(goproxy_tree)
    return make_project(tmp_path / "repo", run_go, goproxy_tree)


def test_clean_project_passes_and_json_names_every_module(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    out = tmp_path / "result.json"
    proc = run_scan_cli(
        ["scan", ".", "--format", "json", "--output", str(out), "--format", "console"],
        scan_env(go_env, goproxy_tree, scan_cache),
        project,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    modules = {m["path"]: m for m in result["modules"]}
    assert set(modules) == {"example.com/mit", "example.com/util", "example.com/testonly"}
    assert modules["example.com/mit"]["decision"] == "PASS"
    assert modules["example.com/mit"]["expression"] == "MIT"
    assert modules["example.com/util"]["indirect"] is True
    assert modules["example.com/testonly"]["optional"] is True
    assert modules["example.com/mit"]["h1"].startswith("h1:")
    assert proc.stdout.rstrip().splitlines()[-1].startswith("PASS: 3 modules")


def test_a_zip_that_is_not_the_one_go_sum_pins_is_rejected(
    project: Path,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    # The bytes judged must be the bytes go.sum names: the go command stops at them with
    # "checksum mismatch ... SECURITY ERROR", so a scan that passed them would vouch for a
    # build that cannot happen, or for a tampered download.
    gosum = project / "go.sum"
    lines = gosum.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("example.com/mit v1.0.0 h1:"))
    pinned = "h1:" + "A" * 43 + "="
    lines[at] = f"example.com/mit v1.0.0 {pinned}"
    gosum.write_text("\n".join(lines) + "\n")
    out = tmp_path / "result.json"
    proc = run_scan_cli(
        ["scan", ".", "--format", "json", "--output", str(out)],
        scan_env(go_env, goproxy_tree, scan_cache),
        project,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mit = next(m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/mit")
    assert mit["decision"] == "REJECT"
    reason = mit["reasons"][0]
    assert reason["rule_id"] == "scan.checksum-mismatch"
    assert f"go.sum:{at + 1} pins {pinned}" in reason["message"]
    assert "checksum mismatch: the module's zip hashes to h1:" in reason["message"]
    # The rest of the build is judged as before.
    util = next(
        m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/util"
    )
    assert util["decision"] == "PASS"


def test_gpl_dependency_and_secret_fail_with_exit_1(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    add_gpl_and_secret(project, run_go, goproxy_tree)
    sarif = tmp_path / "scan.sarif"
    proc = run_scan_cli(
        ["scan", ".", "--format", f"sarif={sarif}", "--format", "console"],
        scan_env(go_env, goproxy_tree, scan_cache),
        project,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "example.com/gpl" in proc.stdout and "GPL-3.0" in proc.stdout
    run = json.loads(sarif.read_text())["runs"][0]
    gomod_lines = (project / "go.mod").read_text().splitlines()
    lic = next(r for r in run["results"] if r["properties"].get("module") == "example.com/gpl")
    line = lic["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "example.com/gpl" in gomod_lines[line - 1]  # on the go.mod require line
    secret = next(r for r in run["results"] if r["ruleId"] == "GPS101")
    assert secret["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "gpl.go"


def test_base_marks_gpl_and_secret_new_and_a_quiet_head_passes(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    env = scan_env(go_env, goproxy_tree, scan_cache)
    add_gpl_and_secret(project, run_go, goproxy_tree)
    out = tmp_path / "diff.json"
    proc = run_scan_cli(["scan", ".", "--base", "HEAD~1", "--format", f"json={out}"], env, project)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(out.read_text())
    gpl = next(m for m in result["modules"] if m["path"] == "example.com/gpl")
    assert (gpl["decision"], gpl["status"]) == ("REJECT", "new")
    mit = next(m for m in result["modules"] if m["path"] == "example.com/mit")
    assert mit["status"] == "existing"
    secret = next(f for f in result["findings"] if f["rule_id"] == "GPS101")
    assert secret["status"] == "new"

    # A later commit that adds nothing new: the GPL module and the secret now exist at base.
    (project / "README.md").write_text("docs only\n")
    commit_all(project, "docs")
    proc = run_scan_cli(["scan", ".", "--base", "HEAD~1", "--format", f"json={out}"], env, project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert {m["status"] for m in result["modules"]} == {"existing"}
    assert all(f["status"] == "existing" for f in result["findings"])
    # the worktree used for the base is gone again
    listed = subprocess.run(
        ["git", "worktree", "list"], cwd=project, capture_output=True, text=True, check=True
    )
    assert len(listed.stdout.strip().splitlines()) == 1


def test_changed_version_is_marked_changed(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    run_go("get", "example.com/mit@v1.1.0", cwd=project, env_extra={"GOPROXY": goproxy_tree.url})
    commit_all(project, "bump mit")
    out = tmp_path / "r.json"
    proc = run_scan_cli(
        ["scan", ".", "--base", "main~1", "--format", f"json={out}"],
        scan_env(go_env, goproxy_tree, scan_cache),
        project,
    )
    assert proc.returncode == 0, proc.stderr
    mit = next(m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/mit")
    assert (mit["status"], mit["previous_version"]) == ("changed", "v1.0.0")


def test_module_in_a_subdirectory_reports_paths_from_the_repository_root(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
) -> None:
    publish_dependencies(goproxy_tree)
    module = make_project(tmp_path / "mono", run_go, goproxy_tree, subdir="services/app")
    add_gpl_and_secret(module, run_go, goproxy_tree)
    sarif = tmp_path / "r.sarif"
    proc = run_scan_cli(
        ["scan", ".", "--base", "HEAD~1", "--format", f"sarif={sarif}"],
        scan_env(go_env, goproxy_tree, scan_cache),
        module,
    )
    assert proc.returncode == 1, proc.stderr
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = {
        r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in results
    }
    assert uris["GPS101"] == "services/app/gpl.go"
    assert "services/app/go.mod" in uris.values()
    assert {r["baselineState"] for r in results} == {"new"}


def test_a_replacement_is_judged_by_the_bytes_the_build_uses(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    # A fork of example.com/mit (same module path inside) that is GPL-3.0 licensed.
    goproxy_tree.add_module(
        "example.com/fork/mit",
        "v1.0.1",
        {
            "go.mod": "module example.com/mit\n\ngo 1.21\n\nrequire example.com/util v0.2.0\n",
            "COPYING": license_text("GPL-3.0-only"),
            "mit.go": 'package mit\n\nfunc Hello() string { return "fork" }\n',
        },
    )
    gomod = project / "go.mod"
    gomod.write_text(
        gomod.read_text() + "\nreplace example.com/mit => example.com/fork/mit v1.0.1\n"
    )
    tidy(project, run_go, goproxy_tree)
    out = tmp_path / "r.json"
    proc = run_scan_cli(
        ["scan", ".", "--no-source-rules", "--format", f"json={out}"],
        scan_env(go_env, goproxy_tree, scan_cache),
        project,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    mit = next(m for m in json.loads(out.read_text())["modules"] if m["path"] == "example.com/mit")
    assert mit["replace"] == "example.com/fork/mit@v1.0.1"
    assert (mit["decision"], mit["expression"]) == ("REJECT", "GPL-3.0-only")


def test_base_without_the_module_makes_everything_new(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
) -> None:
    publish_dependencies(goproxy_tree)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("nothing here yet\n")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "readme")
    module = make_project(tmp_path / "unused", run_go, goproxy_tree)  # a tidied module...
    shutil.copytree(module, repo / "app", ignore=shutil.ignore_patterns(".git"))
    commit_all(repo, "add the module")  # ...that the base commit does not have
    out = tmp_path / "r.json"
    proc = run_scan_cli(
        ["scan", ".", "--base", "HEAD~1", "--no-source-rules", "--format", f"json={out}"],
        scan_env(go_env, goproxy_tree, scan_cache),
        repo / "app",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["base_ref"] == "HEAD~1"
    assert {m["status"] for m in result["modules"]} == {"new"}


def test_unknown_base_ref_is_an_input_error(
    project: Path, go_env: dict[str, str], scan_cache: Path, goproxy_tree: GoProxyTree
) -> None:
    proc = run_scan_cli(
        ["scan", ".", "--base", "no-such-ref"], scan_env(go_env, goproxy_tree, scan_cache), project
    )
    assert proc.returncode == 2
    assert "no-such-ref" in proc.stderr


def test_sbom_components_equal_go_list_m_all(
    project: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    scan_cache: Path,
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
) -> None:
    add_gpl_and_secret(project, run_go, goproxy_tree)
    listed = run_go("list", "-m", "all", cwd=project, env_extra={"GOPROXY": goproxy_tree.url})
    want = {tuple(line.split()[:2]) for line in listed.stdout.splitlines()[1:]}
    env = scan_env(go_env, goproxy_tree, scan_cache)
    for name, fmt in (("bom.json", CdxFormat.JSON), ("bom.xml", CdxFormat.XML)):
        target = tmp_path / name
        proc = run_scan_cli(["sbom", ".", "-o", str(target), "--reproducible"], env, project)
        assert proc.returncode == 0, proc.stderr
        text = target.read_text()
        validator = make_schemabased_validator(fmt, SchemaVersion.V1_6)
        assert validator.validate_str(text) is None
    doc = json.loads((tmp_path / "bom.json").read_text())
    got = {(c["name"], c["version"]) for c in doc["components"] if c["name"] != "stdlib"}
    assert got == want
    again = tmp_path / "again.json"
    run_scan_cli(["sbom", ".", "-o", str(again), "--reproducible"], env, project)
    assert again.read_bytes() == (tmp_path / "bom.json").read_bytes()
    gpl = next(c for c in doc["components"] if c["name"] == "example.com/gpl")
    props = {p["name"]: p["value"] for p in gpl["properties"]}
    assert props["goproxy-scan:verdict"] == "REJECT"
    assert gpl["licenses"][0]["license"]["id"] == "GPL-3.0-only"
    graph = {d["ref"]: d.get("dependsOn", []) for d in doc["dependencies"]}
    assert graph["pkg:golang/example.com/mit@v1.0.0"] == ["pkg:golang/example.com/util@v0.2.0"]


def test_missing_go_mod_is_an_input_error(tmp_path: Path, go_env: dict[str, str]) -> None:
    proc = run_scan_cli(["scan", str(tmp_path)], dict(go_env), tmp_path)
    assert proc.returncode == 2
    assert "go.mod" in proc.stderr
    (tmp_path / "go.work").write_text("go 1.21\n\nuse (\n\t./api\n\t./worker\n)\n")
    proc = run_scan_cli(["scan", str(tmp_path)], dict(go_env), tmp_path)
    assert proc.returncode == 2
    assert "go.work workspace root, not a module" in proc.stderr
    assert "./api, ./worker" in proc.stderr and "Traceback" not in proc.stderr


def test_offline_without_the_modules_says_how_to_get_them(
    tmp_path: Path, go_env: dict[str, str]
) -> None:
    """--offline reads the module cache already: the hint is to fill it, not --fail-open."""
    main = tmp_path / "app"
    main.mkdir()
    (main / "go.mod").write_text(
        "module example.com/app\n\ngo 1.21\n\nrequire example.com/gone v1.0.0\n"
    )
    env = {**go_env, "GOMODCACHE": str(tmp_path / "empty-cache")}
    proc = run_scan_cli(["scan", "--offline", str(main)], env, tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "example.com/gone@v1.0.0: not found" in proc.stderr
    assert "go mod download" in proc.stderr and "--fail-open" not in proc.stderr


# The foundation's fixture projects (diamonds, pruning, replacements, exclusions, ...), judged
# in-process: one start-up for all of them.
from test_buildlist import PROJECTS, Fixture, Project, _go_list  # noqa: E402
from test_buildlist import fixture as buildlist_fixture  # noqa: E402, F401


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_sbom_components_equal_go_list_on_fixture_projects(
    buildlist_fixture: Fixture,  # noqa: F811
    project: Project,
    scan_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a go.work project the scan runs in its first module: the workspace's build list."""
    fx = buildlist_fixture
    monkeypatch.setenv("XDG_CACHE_HOME", str(scan_cache))
    main_dir = fx.project_dir(project)
    if "go.work" in project.main:
        main_dir = main_dir / parse_gowork(project.main["go.work"]).uses[0].path
    flags = {"main_dir": main_dir, "proxy": fx.tree.url, "source_rules": False}
    config = load_config(flags, env={})
    result = run_scan(config, env={**fx.env, "GOPROXY": "off"})
    doc = json.loads(render_sbom(result, SbomOptions(reproducible=True)))
    listed = [line.split() for line in _go_list(fx, project).splitlines()]
    want = {tuple(f[:2]) for f in listed if len(f) > 1}  # main modules (no version) aside
    got = {(c["name"], c["version"]) for c in doc["components"] if c["name"] != "stdlib"}
    assert got == want
    graph = {d["ref"] for d in doc["dependencies"]}
    assert graph == {c["bom-ref"] for c in doc["components"]} | {
        doc["metadata"]["component"]["bom-ref"]
    }


def test_a_build_without_dependencies_names_the_policy_that_judged_its_code(
    tmp_path: Path, scan_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.policy import default_policy

    monkeypatch.setenv("XDG_CACHE_HOME", str(scan_cache))
    (tmp_path / "go.mod").write_text("module example.com/alone\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc main() {}\n")
    config = load_config({"main_dir": tmp_path, "offline": True}, env={})
    result = run_scan(config, env={"GOPROXY": "off", "HOME": str(tmp_path)})
    assert result.modules == ()
    assert result.policy_digest == default_policy().digest
