"""`goproxy-scan scan` in a module of a go.work workspace: the workspace's build list and sums."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from scanproject import git, publish_dependencies, run_scan_cli, scan_env

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd


def test_hashes_come_from_every_go_sum_of_the_workspace(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """Only the scanned module's go.sum was read: a module that another workspace module
    requires had no go.sum hash (empty in the result and SBOM, and a proxy verdict for it was
    never checked against the hash the build verifies)."""
    publish_dependencies(goproxy_tree)
    ws = write_files(
        tmp_path / "ws",
        {
            "a/go.mod": "module example.com/a\n\ngo 1.22\n\nrequire example.com/mit v1.1.0\n",
            "a/a.go": 'package a\n\nimport "example.com/mit"\n\nvar A = mit.Hello()\n',
            "b/go.mod": "module example.com/b\n\ngo 1.22\n\nrequire example.com/gpl v1.0.0\n",
            "b/b.go": 'package b\n\nimport "example.com/gpl"\n\nvar B = gpl.Add(1, 2)\n',
        },
    )
    env = {"GOPROXY": goproxy_tree.url}
    for module in ("a", "b"):
        run_go("mod", "tidy", cwd=ws / module, env_extra=env)
    run_go("work", "init", "./a", "./b", cwd=ws, env_extra={"GOFLAGS": ""})
    out = tmp_path / "result.json"
    proc = run_scan_cli(
        ["scan", "--no-source-rules", "--format", f"json={out}"],
        {**scan_env(go_env, goproxy_tree, scan_cache), "GOFLAGS": ""},
        ws / "a",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # b's GPL module is in the build
    modules = {m["path"]: m for m in json.loads(out.read_text())["modules"]}
    assert set(modules) == {"example.com/gpl", "example.com/mit", "example.com/util"}
    sums = (ws / "a" / "go.sum").read_text() + (ws / "b" / "go.sum").read_text()
    for path, m in modules.items():
        assert f"{path} {m['version']} {m['h1']}\n" in sums, path
        assert f"{path} {m['version']}/go.mod {m['gomod_h1']}\n" in sums, path


def _require_line(gomod: Path, module: str) -> int:
    lines = gomod.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if f"{module} v" in text)


def test_findings_point_at_the_go_mod_that_requires_the_module(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """A GPL module that only other workspace modules require was reported at the scanned
    go.mod, line 1: nothing there to change. Now at the require line of the first module in
    go.work's `use` order that names it (c before b here); the scanned module's own go.mod
    for what it requires itself."""
    publish_dependencies(goproxy_tree)
    gpl_user = 'package {0}\n\nimport "example.com/gpl"\n\nvar X = gpl.Add(1, 2)\n'
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./c\n\t./b\n)\n",
            "a/go.mod": "module example.com/a\n\ngo 1.22\n\nrequire example.com/mit v1.1.0\n",
            "a/a.go": 'package a\n\nimport "example.com/mit"\n\nvar A = mit.Hello()\n',
            "b/go.mod": "module example.com/b\n\ngo 1.22\n",
            "b/b.go": gpl_user.format("b"),
            "c/go.mod": "module example.com/c\n\ngo 1.22\n",
            "c/c.go": gpl_user.format("c"),
        },
    )
    for module in ("a", "b", "c"):
        run_go("mod", "tidy", cwd=ws / module, env_extra={"GOPROXY": goproxy_tree.url})
    git(ws, "init", "-q")  # reports name files from the repository root
    out = tmp_path / "out"
    proc = run_scan_cli(
        [
            *("scan", "--no-source-rules", "--format", f"json={out}/result.json"),
            *("--format", f"sarif={out}/scan.sarif", "--format", f"github={out}/annotations"),
            *("--format", f"gitlab={out}/codequality.json"),
        ],
        {**scan_env(go_env, goproxy_tree, scan_cache), "GOFLAGS": ""},
        ws / "a",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the GPL module is in the build
    gpl_line = _require_line(ws / "c" / "go.mod", "example.com/gpl")
    assert gpl_line > 1

    sarif = json.loads((out / "scan.sarif").read_text())["runs"][0]["results"]
    (gpl,) = [r for r in sarif if r["message"]["text"].startswith("example.com/gpl@")]
    where = gpl["locations"][0]["physicalLocation"]
    assert (where["artifactLocation"]["uri"], where["region"]["startLine"]) == (
        "c/go.mod",
        gpl_line,
    )

    annotations = (out / "annotations").read_text().splitlines()
    (gpl_annotation,) = [a for a in annotations if "example.com/gpl" in a.split("::")[1]]
    assert f"file=c/go.mod,line={gpl_line}," in gpl_annotation

    issues = json.loads((out / "codequality.json").read_text())
    (gpl_issue,) = [i for i in issues if i["description"].startswith("example.com/gpl@")]
    assert gpl_issue["location"] == {"path": "c/go.mod", "lines": {"begin": gpl_line}}

    modules = {m["path"]: m for m in json.loads((out / "result.json").read_text())["modules"]}
    gpl_module = modules["example.com/gpl"]
    assert (gpl_module["gomod_path"], gpl_module["require_line"]) == ("c/go.mod", gpl_line)
    mit = modules["example.com/mit"]  # the scanned module requires it: its own go.mod
    assert (mit["gomod_path"], mit["require_line"]) == (
        "",
        _require_line(ws / "a" / "go.mod", "example.com/mit"),
    )


def test_a_vendored_workspace_is_scanned_from_its_vendor_directory(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """`go work vendor` puts vendor/ beside go.work, and the go command in any workspace module
    builds from it, offline. The scan of a module there read modules instead (it looked for
    the module's own vendor/ only); at the workspace root, findings for what another module
    requires pointed at the scanned go.mod, line 1."""
    publish_dependencies(goproxy_tree)
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.22\n\nuse (\n\t.\n\t./b\n)\n",
            "go.mod": "module example.com/root\n\ngo 1.22\n\nrequire example.com/mit v1.1.0\n",
            "root.go": 'package root\n\nimport "example.com/mit"\n\nvar A = mit.Hello()\n',
            "b/go.mod": "module example.com/b\n\ngo 1.22\n\nrequire example.com/gpl v1.0.0\n",
            "b/b.go": 'package b\n\nimport "example.com/gpl"\n\nvar B = gpl.Add(1, 2)\n',
        },
    )
    for module in (ws, ws / "b"):
        run_go("mod", "tidy", cwd=module, env_extra={"GOPROXY": goproxy_tree.url, "GOWORK": "off"})
    run_go("work", "vendor", cwd=ws, env_extra={"GOPROXY": goproxy_tree.url, "GOFLAGS": ""})
    assert (ws / "vendor" / "modules.txt").read_text().startswith("## workspace")
    git(ws, "init", "-q")
    # Nothing to download from: only vendor/ can answer.
    offline = {
        **scan_env(go_env, goproxy_tree, scan_cache),
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOMODCACHE": str(tmp_path / "empty-modcache"),
    }
    for where in (ws, ws / "b"):
        out = tmp_path / f"result-{where.name}.json"
        proc = run_scan_cli(
            ["scan", "--no-source-rules", "--offline", "--format", f"json={out}"], offline, where
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr  # the GPL module is built
        result = json.loads(out.read_text())
        shown = "vendor" if where == ws else "../vendor"  # no machine path in the result
        assert f"modules read from {shown}/modules.txt (vendor mode)" in result["notes"], result
        modules = {m["path"]: m for m in result["modules"]}
        assert set(modules) == {"example.com/gpl", "example.com/mit", "example.com/util"}
    gpl = modules["example.com/gpl"]  # from b: its own go.mod
    assert (gpl["gomod_path"], gpl["require_line"]) == (
        "",
        _require_line(ws / "b" / "go.mod", "example.com/gpl"),
    )
    root = json.loads((tmp_path / "result-ws.json").read_text())
    gpl = {m["path"]: m for m in root["modules"]}["example.com/gpl"]
    assert (gpl["gomod_path"], gpl["require_line"]) == (
        "b/go.mod",
        _require_line(ws / "b" / "go.mod", "example.com/gpl"),
    )
    # GOWORK=off: b alone, as the go command builds it then, from modules (none here).
    out = tmp_path / "result-off.json"
    proc = run_scan_cli(
        ["scan", "--no-source-rules", "--offline", "--format", f"json={out}"],
        {**offline, "GOWORK": "off"},
        ws / "b",
    )
    assert proc.returncode == 3 and "example.com/gpl@v1.0.0: not found" in proc.stderr, proc.stderr


def test_a_module_that_go_work_does_not_use_is_refused_not_given_the_workspace_list(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """Under a go.work that does not `use` it, a module's SBOM was the workspace's build list
    (mit, replaced), without the module's own dependency, exit 0. The go command builds
    nothing there; now exit 2, saying what to do, and with GOWORK=off the module's own list."""
    publish_dependencies(goproxy_tree)
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.22\n\nuse ./svc/api\n",
            "a/go.mod": "module example.com/p1\n\ngo 1.22\n\nrequire example.com/gpl v1.0.0\n",
            "a/p1.go": 'package p1\n\nimport "example.com/gpl"\n\nvar X = gpl.Add(1, 2)\n',
            "svc/api/go.mod": "module example.com/api\n\ngo 1.22\n\n"
            "require example.com/mit v1.1.0\n\nreplace example.com/mit => ../../shared/mit\n",
            "shared/mit/go.mod": "module example.com/mit\n\ngo 1.21\n",
        },
    )
    run_go("mod", "tidy", cwd=ws / "a", env_extra={"GOPROXY": goproxy_tree.url, "GOWORK": "off"})
    go = run_go("build", "./...", cwd=ws / "a", env_extra={"GOFLAGS": ""}, check=False)
    assert "does not contain modules listed in go.work" in go.stderr, go.stderr

    env = {**scan_env(go_env, goproxy_tree, scan_cache), "GOFLAGS": ""}
    sbom = ws / "a" / "s.json"
    proc = run_scan_cli(["sbom", ".", "--offline", "-o", str(sbom)], env, ws / "a")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"the module at {(ws / 'a').resolve()} is not one of the modules listed in" in (
        proc.stderr
    )
    assert "go work use ." in proc.stderr and "GOWORK=off" in proc.stderr, proc.stderr
    assert not sbom.exists()

    proc = run_scan_cli(
        ["sbom", ".", "--offline", "-o", str(sbom)], {**env, "GOWORK": "off"}, ws / "a"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {c["name"] for c in json.loads(sbom.read_text())["components"]}
    assert "example.com/gpl" in names and "example.com/mit" not in names, names


@pytest.mark.gocmd
def test_gowork_naming_a_file_is_the_workspace_the_scan_uses(
    tmp_path: Path,
    run_go: RunGo,
    go_env: dict[str, str],
    goproxy_tree: GoProxyTree,
    scan_cache: Path,
) -> None:
    """GOWORK=/abs/other.work: that file is the workspace (any name, anywhere), as for the go
    command, and its .sum beside it; the nearest go.work above is not looked for."""
    publish_dependencies(goproxy_tree)
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.22\n\nuse ./elsewhere\n",  # the nearest one: not the one in use
            "elsewhere/go.mod": "module example.com/elsewhere\n\ngo 1.22\n",
            "a/go.mod": "module example.com/p1\n\ngo 1.22\n\nrequire example.com/gpl v1.0.0\n",
            "a/p1.go": 'package p1\n\nimport "example.com/gpl"\n\nvar X = gpl.Add(1, 2)\n',
            "conf/team.work": "go 1.22\n\nuse ../a\n",
        },
    )
    work = str(ws / "conf" / "team.work")
    run_go("mod", "tidy", cwd=ws / "a", env_extra={"GOPROXY": goproxy_tree.url, "GOWORK": "off"})
    listed = run_go(
        "list",
        "-m",
        "all",
        cwd=ws / "a",
        env_extra={"GOWORK": work, "GOFLAGS": "", "GOPROXY": goproxy_tree.url},
    )
    assert "example.com/gpl v1.0.0" in listed.stdout, listed.stdout
    env = {**scan_env(go_env, goproxy_tree, scan_cache), "GOFLAGS": "", "GOWORK": work}
    sbom = ws / "a" / "s.json"
    proc = run_scan_cli(["sbom", ".", "--offline", "-o", str(sbom)], env, ws / "a")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {c["name"] for c in json.loads(sbom.read_text())["components"]}
    assert "example.com/gpl" in names, names
