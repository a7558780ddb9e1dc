"""The build list equals `go list -m all` on projects with real graph shapes."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from goproxytree import (
    GoProxyTree,
    go_binary,
    go_command_env,
    json_stream,
    scanner_cli,
    write_files,
)

from scanner.buildlist import load_build_list
from scanner.dirhash import hash_gomod, hash_zip
from scanner.errors import InputError, NotFoundError, OperationalError
from scanner.modfetch import ModCacheSource, ProxySource


def gomod(path: str, *requires: str, go: str = "1.21", extra: str = "") -> str:
    """A go.mod text: requires are "path version" strings."""
    text = f"module {path}\n\ngo {go}\n"
    if requires:
        text += "\nrequire (\n" + "".join(f"\t{r}\n" for r in requires) + ")\n"
    return text + extra


@dataclass
class Project:
    """A main module (or go.work workspace) and the modules its proxy serves."""

    name: str
    main: dict[str, str]
    modules: list[tuple[str, str, str | None]] = field(default_factory=list)
    # path -> go.mod text for modules published without a go.mod file in their zip
    run_in: str = "."


def _mods(*specs: tuple[str, str, str | None]) -> list[tuple[str, str, str | None]]:
    return list(specs)


E = "example.com"
PROJECTS: list[Project] = [
    Project(
        "diamond_pruned",
        {"go.mod": gomod(f"{E}/main", f"{E}/d1/a v1.0.0", f"{E}/d1/b v1.0.0")},
        _mods(
            (f"{E}/d1/a", "v1.0.0", gomod(f"{E}/d1/a", f"{E}/d1/c v1.1.0")),
            (f"{E}/d1/b", "v1.0.0", gomod(f"{E}/d1/b", f"{E}/d1/c v1.2.0")),
            (f"{E}/d1/c", "v1.1.0", gomod(f"{E}/d1/c")),
            (f"{E}/d1/c", "v1.2.0", gomod(f"{E}/d1/c", f"{E}/d1/d v1.0.0")),
            (f"{E}/d1/d", "v1.0.0", gomod(f"{E}/d1/d")),
        ),
    ),
    Project(
        "diamond_unpruned",
        {"go.mod": gomod(f"{E}/main", f"{E}/d1/a v1.0.0", f"{E}/d1/b v1.0.0", go="1.16")},
    ),
    Project(
        "upgrade_through_indirect",
        {"go.mod": gomod(f"{E}/main", f"{E}/u/a v1.0.0", f"{E}/u/b v1.0.0 // indirect")},
        _mods(
            (f"{E}/u/a", "v1.0.0", gomod(f"{E}/u/a")),
            (f"{E}/u/a", "v1.1.0", gomod(f"{E}/u/a", f"{E}/u/e v1.0.0", f"{E}/u/f v1.3.0")),
            (f"{E}/u/b", "v1.0.0", gomod(f"{E}/u/b", f"{E}/u/a v1.1.0")),
            (f"{E}/u/e", "v1.0.0", gomod(f"{E}/u/e", f"{E}/u/f v1.2.0")),
            (f"{E}/u/f", "v1.2.0", gomod(f"{E}/u/f")),
            (f"{E}/u/f", "v1.3.0", gomod(f"{E}/u/f")),
        ),
    ),
    Project(
        "exclude",
        {
            "go.mod": gomod(
                f"{E}/main",
                f"{E}/x/a v1.0.0",
                f"{E}/x/c v1.0.0",
                f"{E}/x/gone v1.0.0",
                extra=f"\nexclude (\n\t{E}/x/c v1.1.0\n\t{E}/x/gone v1.0.0\n)\n",
            )
        },
        _mods(
            (f"{E}/x/a", "v1.0.0", gomod(f"{E}/x/a", f"{E}/x/c v1.1.0")),
            (f"{E}/x/c", "v1.0.0", gomod(f"{E}/x/c")),
            (f"{E}/x/c", "v1.1.0", gomod(f"{E}/x/c", f"{E}/x/never v1.0.0")),
            (f"{E}/x/gone", "v1.0.0", gomod(f"{E}/x/gone")),
            (f"{E}/x/never", "v1.0.0", gomod(f"{E}/x/never")),
        ),
    ),
    Project(
        "replace_module",
        {
            "go.mod": gomod(
                f"{E}/main",
                f"{E}/r/a v1.0.0",
                f"{E}/r/b v1.0.0",
                extra=(
                    f"\nreplace {E}/r/a => {E}/r/fork v1.5.0\n"
                    f"replace {E}/r/b v1.0.0 => {E}/r/b v1.1.0\n"
                ),
            )
        },
        _mods(
            (f"{E}/r/a", "v1.0.0", gomod(f"{E}/r/a", f"{E}/r/never v1.0.0")),
            (f"{E}/r/fork", "v1.5.0", gomod(f"{E}/r/fork", f"{E}/r/f v1.0.0")),
            (f"{E}/r/b", "v1.0.0", gomod(f"{E}/r/b", f"{E}/r/never v1.0.0")),
            (f"{E}/r/b", "v1.1.0", gomod(f"{E}/r/b", f"{E}/r/g v1.0.0")),
            (f"{E}/r/f", "v1.0.0", gomod(f"{E}/r/f")),
            (f"{E}/r/g", "v1.0.0", gomod(f"{E}/r/g")),
            (f"{E}/r/never", "v1.0.0", gomod(f"{E}/r/never")),
        ),
    ),
    Project(
        "replace_local_dir",
        {
            "main/go.mod": gomod(
                f"{E}/main",
                f"{E}/l/local v1.0.0",
                f"{E}/l/sib v0.0.0-00010101000000-000000000000",
                extra=f"\nreplace {E}/l/local => ./local\nreplace {E}/l/sib => ../sibling\n",
            ),
            "main/local/go.mod": gomod(f"{E}/l/local", f"{E}/l/z v1.0.0"),
            "sibling/go.mod": gomod(f"{E}/l/sib", f"{E}/l/z v1.1.0", go="1.16"),
        },
        _mods(
            (f"{E}/l/z", "v1.0.0", gomod(f"{E}/l/z")),
            (f"{E}/l/z", "v1.1.0", gomod(f"{E}/l/z", f"{E}/l/y v1.0.0")),
            (f"{E}/l/y", "v1.0.0", gomod(f"{E}/l/y")),
        ),
        run_in="main",
    ),
    Project(
        "pruned_and_unpruned",
        {"go.mod": gomod(f"{E}/main", f"{E}/pu/old v1.0.0", f"{E}/pu/new v1.0.0")},
        _mods(
            (f"{E}/pu/old", "v1.0.0", gomod(f"{E}/pu/old", f"{E}/pu/mid v1.0.0", go="1.16")),
            (f"{E}/pu/mid", "v1.0.0", gomod(f"{E}/pu/mid", f"{E}/pu/leaf v1.0.0")),
            (f"{E}/pu/leaf", "v1.0.0", gomod(f"{E}/pu/leaf", f"{E}/pu/leaf2 v1.0.0")),
            (f"{E}/pu/leaf2", "v1.0.0", gomod(f"{E}/pu/leaf2")),
            (f"{E}/pu/new", "v1.0.0", gomod(f"{E}/pu/new", f"{E}/pu/old2 v1.0.0")),
            (f"{E}/pu/old2", "v1.0.0", gomod(f"{E}/pu/old2", f"{E}/pu/hidden v1.0.0", go="1.14")),
            (f"{E}/pu/hidden", "v1.0.0", gomod(f"{E}/pu/hidden")),
        ),
    ),
    Project(
        "incompatible_and_major",
        {
            "go.mod": gomod(
                f"{E}/main",
                f"{E}/i/legacy v2.0.0+incompatible",
                f"{E}/i/user v1.0.0",
                f"{E}/i/mod/v2 v2.1.0",
                "gopkg.in/yaml.v3 v3.0.1",
            )
        },
        _mods(
            (f"{E}/i/legacy", "v2.0.0+incompatible", None),
            (f"{E}/i/legacy", "v3.1.0+incompatible", None),
            (f"{E}/i/user", "v1.0.0", gomod(f"{E}/i/user", f"{E}/i/legacy v3.1.0+incompatible")),
            (f"{E}/i/mod/v2", "v2.1.0", gomod(f"{E}/i/mod/v2", f"{E}/i/mod v1.4.0")),
            (f"{E}/i/mod", "v1.4.0", gomod(f"{E}/i/mod")),
            ("gopkg.in/yaml.v3", "v3.0.1", gomod("gopkg.in/yaml.v3", go="1.16")),
        ),
    ),
    Project(
        "pseudo_versions",
        {
            "go.mod": gomod(
                f"{E}/main",
                f"{E}/ps/p v0.0.0-20240101000000-abcdefabcdef",
                f"{E}/ps/q v1.2.3",
                f"{E}/ps/user v1.0.0",
            )
        },
        _mods(
            (f"{E}/ps/p", "v0.0.0-20240101000000-abcdefabcdef", gomod(f"{E}/ps/p")),
            (f"{E}/ps/p", "v0.1.0", gomod(f"{E}/ps/p")),
            (f"{E}/ps/q", "v1.2.3", gomod(f"{E}/ps/q")),
            (f"{E}/ps/q", "v1.2.4-0.20240301000000-123456789abc", gomod(f"{E}/ps/q")),
            (
                f"{E}/ps/user",
                "v1.0.0",
                gomod(
                    f"{E}/ps/user",
                    f"{E}/ps/p v0.1.0",
                    f"{E}/ps/q v1.2.4-0.20240301000000-123456789abc",
                ),
            ),
        ),
    ),
    Project(
        "workspace_two_modules",
        {
            "go.work": "go 1.21\n\nuse (\n\t./m1\n\t./m2\n)\n\n"
            f"replace {E}/w/c => {E}/w/cfork v1.0.0\n",
            "m1/go.mod": gomod(f"{E}/w/m1", f"{E}/w/a v1.0.0", f"{E}/w/c v1.0.0"),
            "m2/go.mod": gomod(
                f"{E}/w/m2",
                f"{E}/w/a v1.1.0",
                f"{E}/w/b v1.0.0",
                f"{E}/w/m1 v1.0.0",
                extra=f"\nexclude {E}/w/b v1.1.0\n",
            ),
        },
        _mods(
            (f"{E}/w/a", "v1.0.0", gomod(f"{E}/w/a")),
            (f"{E}/w/a", "v1.1.0", gomod(f"{E}/w/a", f"{E}/w/d v1.0.0")),
            (f"{E}/w/b", "v1.0.0", gomod(f"{E}/w/b", f"{E}/w/d v1.1.0", f"{E}/w/b2 v1.0.0")),
            (f"{E}/w/b2", "v1.0.0", gomod(f"{E}/w/b2", f"{E}/w/b v1.1.0")),
            (f"{E}/w/b", "v1.1.0", gomod(f"{E}/w/b")),
            (f"{E}/w/c", "v1.0.0", gomod(f"{E}/w/c")),
            (f"{E}/w/cfork", "v1.0.0", gomod(f"{E}/w/cfork", f"{E}/w/e v1.0.0")),
            (f"{E}/w/d", "v1.0.0", gomod(f"{E}/w/d")),
            (f"{E}/w/d", "v1.1.0", gomod(f"{E}/w/d")),
            (f"{E}/w/e", "v1.0.0", gomod(f"{E}/w/e")),
            (f"{E}/w/m1", "v1.0.0", gomod(f"{E}/w/m1", f"{E}/w/e v1.1.0")),
            (f"{E}/w/e", "v1.1.0", gomod(f"{E}/w/e")),
        ),
    ),
    Project(
        "cycles_unpruned",
        {"go.mod": gomod(f"{E}/cy/main", f"{E}/cy/a v1.0.0", go="1.16")},
        _mods(
            (f"{E}/cy/a", "v1.0.0", gomod(f"{E}/cy/a", f"{E}/cy/b v1.0.0", go="1.16")),
            (f"{E}/cy/b", "v1.0.0", gomod(f"{E}/cy/b", f"{E}/cy/a v1.1.0", go="1.16")),
            (
                f"{E}/cy/a",
                "v1.1.0",
                gomod(f"{E}/cy/a", f"{E}/cy/b v1.0.0", f"{E}/cy/main v1.0.0", go="1.16"),
            ),
            (f"{E}/cy/main", "v1.0.0", gomod(f"{E}/cy/main", f"{E}/cy/z v1.0.0", go="1.16")),
            (f"{E}/cy/z", "v1.0.0", gomod(f"{E}/cy/z")),
        ),
    ),
    Project(
        "uppercase_and_duplicates",
        {
            "go.mod": gomod(
                f"{E}/main",
                "github.com/Azure/Go-Thing v1.0.0",
                "github.com/Azure/Go-Thing v1.1.0",
                f"{E}/up/a v1.0.0",
            )
        },
        _mods(
            ("github.com/Azure/Go-Thing", "v1.0.0", gomod("github.com/Azure/Go-Thing")),
            (
                "github.com/Azure/Go-Thing",
                "v1.1.0",
                gomod("github.com/Azure/Go-Thing", f"{E}/up/b v1.0.0"),
            ),
            (f"{E}/up/a", "v1.0.0", gomod(f"{E}/up/a", "github.com/Azure/Go-Thing v1.2.0")),
            (
                "github.com/Azure/Go-Thing",
                "v1.2.0",
                gomod("github.com/Azure/Go-Thing", f"{E}/up/c v1.0.0"),
            ),
            (f"{E}/up/b", "v1.0.0", gomod(f"{E}/up/b")),
            (f"{E}/up/c", "v1.0.0", gomod(f"{E}/up/c")),
        ),
    ),
]


PROJECTS += [
    Project(
        "workspace_local_replace",
        {
            "go.work": f"go 1.21\n\nuse ./m\nuse ./n\n\nreplace {E}/wl/a => ./loc\n",
            "m/go.mod": gomod(f"{E}/wl/m", f"{E}/wl/a v1.0.0"),
            "n/go.mod": gomod(
                f"{E}/wl/n", f"{E}/wl/c v1.0.0", extra=f"\nreplace {E}/wl/c => ../cdir\n"
            ),
            "loc/go.mod": gomod(f"{E}/wl/a", f"{E}/wl/b v1.1.0"),
            "cdir/go.mod": gomod(f"{E}/wl/c", f"{E}/wl/b v1.0.0", go="1.16"),
        },
        _mods(
            (f"{E}/wl/b", "v1.0.0", gomod(f"{E}/wl/b")),
            (f"{E}/wl/b", "v1.1.0", gomod(f"{E}/wl/b")),
        ),
    ),
    Project(
        # Two modules replace one module by one directory, spelled from where each go.mod is:
        # go compares the directories, not the strings (the scan said "conflicting").
        "workspace_same_directory_two_spellings",
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./svc/api\n)\n",
            "a/go.mod": gomod(
                f"{E}/sd/a",
                f"{E}/sd/mit v1.1.0",
                extra=f"\nreplace {E}/sd/mit => ./../shared/mit\n",
            ),
            "svc/api/go.mod": gomod(
                f"{E}/sd/api",
                f"{E}/sd/mit v1.1.0",
                extra=f"\nreplace {E}/sd/mit => ../../shared/mit\n",
            ),
            "shared/mit/go.mod": gomod(f"{E}/sd/mit"),
        },
    ),
    Project(
        # go.work's replacement of every version wins over a module's of one version; among
        # the modules, the later one in `use` order wins, and a module may differ from
        # another for a path go.work replaces at some version (the scan had the first module's
        # version-specific replacement win, and refused z as conflicting).
        "workspace_replacement_precedence",
        {
            "go.work": "go 1.22\n\nuse ./a\nuse ./b\n\n"
            f"replace {E}/rp/x => ./wx\nreplace {E}/rp/z v1.0.0 => ./wz\n",
            "a/go.mod": gomod(
                f"{E}/rp/a",
                f"{E}/rp/x v1.1.0",
                f"{E}/rp/y v1.1.0",
                f"{E}/rp/z v1.1.0",
                extra=f"\nreplace (\n\t{E}/rp/x v1.1.0 => ../ax\n\t{E}/rp/y v1.1.0 => ../ay\n"
                f"\t{E}/rp/z => ../az\n)\n",
            ),
            "b/go.mod": gomod(
                f"{E}/rp/b", extra=f"\nreplace {E}/rp/y => ../by\nreplace {E}/rp/z => ../bz\n"
            ),
            **{
                f"{d}/go.mod": gomod(f"{E}/rp/{d[1]}") for d in ("wx", "ax", "ay", "by", "az", "bz")
            },
        },
    ),
    Project(
        # go.work uses its own directory, listed before a module whose path sorts first: go
        # lists main modules by path (the scan listed them in `use` order).
        "workspace_uses_its_own_directory",
        {
            "go.work": "go 1.22\n\nuse (\n\t.\n\t./b\n)\n",
            "go.mod": gomod(
                f"{E}/wr/root", f"{E}/wr/x v1.0.0", extra=f"\nreplace {E}/wr/x => ./x\n"
            ),
            "x/go.mod": gomod(f"{E}/wr/x"),
            "b/go.mod": gomod(f"{E}/wr/b", f"{E}/wr/x v1.0.0"),
        },
        run_in="b",
    ),
    Project(
        "dependency_directives_ignored",
        {"go.mod": gomod(f"{E}/main", f"{E}/dd/tool v1.0.0", f"{E}/dd/b v1.0.0")},
        _mods(
            (
                f"{E}/dd/tool",
                "v1.0.0",
                gomod(
                    f"{E}/dd/tool",
                    f"{E}/dd/b v1.1.0",
                    extra=(
                        "toolchain go1.21.0\nretract v1.0.0\n"
                        f"replace {E}/dd/b => {E}/dd/evil v1.0.0\nexclude {E}/dd/b v1.1.0\n"
                    ),
                ),
            ),
            (f"{E}/dd/b", "v1.0.0", gomod(f"{E}/dd/b")),
            (f"{E}/dd/b", "v1.1.0", gomod(f"{E}/dd/b")),
            (f"{E}/dd/evil", "v1.0.0", gomod(f"{E}/dd/evil")),
        ),
    ),
    Project(
        "local_replace_keeps_its_own_directives_out",
        {
            "go.mod": gomod(f"{E}/main", f"{E}/lo/a v1.0.0", extra=f"replace {E}/lo/a => ./loc\n"),
            "loc/go.mod": gomod(
                f"{E}/lo/a", f"{E}/lo/b v1.0.0", extra=f"replace {E}/lo/b => {E}/lo/b v1.2.0\n"
            ),
        },
        _mods(
            (f"{E}/lo/b", "v1.0.0", gomod(f"{E}/lo/b")),
            (f"{E}/lo/b", "v1.2.0", gomod(f"{E}/lo/b")),
        ),
    ),
    Project(
        "retracted_versions_still_selected",
        {"go.mod": gomod(f"{E}/main", f"{E}/rt/r v1.0.0", f"{E}/rt/s v1.0.0")},
        _mods(
            (f"{E}/rt/r", "v1.0.0", gomod(f"{E}/rt/r")),
            (f"{E}/rt/r", "v1.1.0", gomod(f"{E}/rt/r", extra="\nretract v1.0.0 // broken\n")),
            (f"{E}/rt/s", "v1.0.0", gomod(f"{E}/rt/s", extra="\nretract [v1.0.0, v1.9.9]\n")),
        ),
    ),
    Project("no_requirements", {"go.mod": gomod(f"{E}/alone")}),
    Project(
        "main_without_go_directive",
        {"go.mod": f"module {E}/main\n\nrequire {E}/d1/a v1.0.0\nrequire {E}/d1/b v1.0.0\n"},
    ),
]


@dataclass
class Fixture:
    tree: GoProxyTree
    root: Path
    env: dict[str, str]

    def project_dir(self, project: Project) -> Path:
        return self.root / "projects" / project.name / project.run_in


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("buildlist")
    tree = GoProxyTree(root / "proxy")
    published: set[tuple[str, str]] = set()
    for project in PROJECTS:
        for path, version, text in project.modules:
            if (path, version) in published:
                continue
            published.add((path, version))
            files = {"go.mod": text, "x.go": "package x\n"} if text else {"x.go": "package x\n"}
            tree.add_module(path, version, files)
        pdir = write_files(root / "projects" / project.name, project.main)
        if "go.work" in project.main:
            # Workspace mode is read-only: the go command wants go.mod sums; ours compute them.
            sums = "".join(
                f"{p} {v}/go.mod {hash_gomod(tree.artifacts(p, v).mod.read_bytes())}\n"
                for p, v in sorted(published)
            )
            (pdir / "go.work.sum").write_text(sums)
    env = go_command_env(root / "home", tree.url)
    return Fixture(tree, root, env)


def _go_list(fx: Fixture, project: Project, *extra: str) -> str:
    """`go list -m all` on a copy (with -mod=mod the go command may rewrite go.mod)."""
    src = fx.root / "projects" / project.name
    copy = fx.root / "go-copies" / project.name / str(len(extra))
    if not copy.exists():
        shutil.copytree(src, copy)
    env = dict(fx.env)
    if "go.work" in project.main:
        env["GOFLAGS"] = ""  # -mod=mod is refused in workspace mode
    proc = subprocess.run(
        [go_binary(), "list", "-m", *extra, "all"],
        cwd=copy / project.run_in,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _ours(fx: Fixture, project: Project, *extra: str) -> subprocess.CompletedProcess[str]:
    scanner = scanner_cli()
    env = {**fx.env, "GOPROXY": "off"}  # our --proxy, not the environment, must be used
    return subprocess.run(
        [scanner, "graph", str(fx.project_dir(project)), "--proxy", fx.tree.url, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.gocmd
@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_graph_equals_go_list_m_all(fixture: Fixture, project: Project) -> None:
    ours = _ours(fixture, project)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == _go_list(fixture, project).splitlines()


def _comparable(doc: dict[str, object]) -> dict[str, object]:
    keep = {k: doc[k] for k in ("Path", "Version", "Main", "Indirect", "GoVersion") if k in doc}
    rep = doc.get("Replace")
    if isinstance(rep, dict):
        keep["Replace"] = {k: rep[k] for k in ("Path", "Version") if k in rep}
    return keep


@pytest.mark.gocmd
@pytest.mark.parametrize(
    "name",
    [
        "replace_module",
        "replace_local_dir",
        "upgrade_through_indirect",
        "exclude",
        "workspace_two_modules",
        "pruned_and_unpruned",
        "incompatible_and_major",
    ],
)
def test_json_matches_go_list_m_json(fixture: Fixture, name: str) -> None:
    project = next(p for p in PROJECTS if p.name == name)
    ours = _ours(fixture, project, "--json")
    assert ours.returncode == 0, ours.stderr
    go = [_comparable(d) for d in json_stream(_go_list(fixture, project, "-json"))]
    assert [_comparable(d) for d in json.loads(ours.stdout)] == go


def test_pruning_hides_what_go_hides(fixture: Fixture) -> None:
    """Library-level facts the comparisons above rely on, stated plainly."""
    src = ProxySource(fixture.tree.url)
    pruned = load_build_list(fixture.project_dir(PROJECTS[0]), src)
    unpruned = load_build_list(fixture.project_dir(PROJECTS[1]), src)
    assert pruned.selected(f"{E}/d1/d") is None
    assert unpruned.selected(f"{E}/d1/d") == "v1.0.0"
    assert pruned.selected(f"{E}/d1/c") == unpruned.selected(f"{E}/d1/c") == "v1.2.0"
    assert pruned.main.main and pruned.main.path == f"{E}/main"


def test_why_names_the_requirement_chain(fixture: Fixture) -> None:
    project = next(p for p in PROJECTS if p.name == "upgrade_through_indirect")
    bl = load_build_list(fixture.project_dir(project), ProxySource(fixture.tree.url))
    chain = bl.why(f"{E}/u/e")
    assert [str(m) for m in chain or []] == [
        f"{E}/main",
        f"{E}/u/a@v1.1.0",
        f"{E}/u/e@v1.0.0",
    ]
    assert bl.why(f"{E}/u/nothing") is None
    out = _ours(fixture, project, "--why", f"{E}/u/f")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"# {E}/u/f",
        f"{E}/main",
        f"{E}/u/a@v1.1.0",
        f"{E}/u/f@v1.3.0",
    ]


@pytest.mark.gocmd
def test_module_cache_source_gives_the_same_list(fixture: Fixture) -> None:
    project = PROJECTS[0]
    go_out = _go_list(fixture, project)  # fills the module cache with the go.mod files
    bl = load_build_list(
        fixture.project_dir(project), ModCacheSource(fixture.env["GOMODCACHE"]), concurrency=2
    )
    assert [str(m) for m in bl.modules] == go_out.splitlines()


def test_missing_module_names_the_chain(tmp_path: Path, goproxy_tree: GoProxyTree) -> None:
    goproxy_tree.add_module(
        f"{E}/m/a", "v1.0.0", {"go.mod": gomod(f"{E}/m/a", f"{E}/m/gone v1.0.0", go="1.16")}
    )
    main = write_files(
        tmp_path / "main", {"go.mod": gomod(f"{E}/main", f"{E}/m/a v1.0.0", go="1.16")}
    )
    with pytest.raises(NotFoundError) as err:
        load_build_list(main, ProxySource(goproxy_tree.url))
    assert str(err.value).startswith(
        f"{E}/m/gone@v1.0.0: {E}/m/a@v1.0.0 requires {E}/m/gone@v1.0.0"
    )


def test_wrong_module_path_is_refused(tmp_path: Path, goproxy_tree: GoProxyTree) -> None:
    goproxy_tree.add_module(f"{E}/m/a", "v1.0.0", {"go.mod": gomod(f"{E}/m/other")})
    main = write_files(tmp_path / "main", {"go.mod": gomod(f"{E}/main", f"{E}/m/a v1.0.0")})
    with pytest.raises(InputError, match="declares its path as"):
        load_build_list(main, ProxySource(goproxy_tree.url))


def test_missing_module_line_is_refused(tmp_path: Path, goproxy_tree: GoProxyTree) -> None:
    goproxy_tree.add_module(f"{E}/m/a", "v1.0.0", gomod="go 1.21\n")
    main = write_files(tmp_path / "main", {"go.mod": gomod(f"{E}/main", f"{E}/m/a v1.0.0")})
    with pytest.raises(InputError, match="missing module line"):
        load_build_list(main, ProxySource(goproxy_tree.url))


def test_no_go_mod(tmp_path: Path, goproxy_tree: GoProxyTree) -> None:
    with pytest.raises(InputError, match=r"go\.mod file not found"):
        load_build_list(tmp_path, ProxySource(goproxy_tree.url), use_workspace=False)


def _random_project(rng: random.Random, k: int, tree: GoProxyTree, root: Path) -> Path:
    """A random graph: pruned and unpruned modules, cycles, excludes, replaces, duplicates."""
    n = rng.randint(6, 14)
    base = f"{E}/rnd{k}"
    versions = {i: [f"v1.{j}.0" for j in range(rng.randint(1, 3))] for i in range(n)}
    names = {i: f"{base}/m{i}" for i in range(n)}
    for i in range(n):
        for v in versions[i]:
            reqs = {
                (t, rng.choice(versions[t]))
                for t in rng.sample(range(n), rng.randint(0, 3))
                if t != i or rng.random() < 0.1
            }
            go = rng.choice(["1.16", "1.17", "1.21", "1.14"])
            text = gomod(names[i], *(f"{names[t]} {tv}" for t, tv in sorted(reqs)), go=go)
            tree.add_module(names[i], v, {"go.mod": text})
    roots = rng.sample(range(n), rng.randint(1, min(4, n)))
    lines = [f"{names[t]} {rng.choice(versions[t])}" for t in roots]
    if rng.random() < 0.3:  # a duplicate requirement at another version
        t = rng.choice(roots)
        lines.append(f"{names[t]} {rng.choice(versions[t])}")
    extra = ""
    for _ in range(rng.randint(0, 2)):
        t = rng.randrange(n)
        extra += f"exclude {names[t]} {rng.choice(versions[t])}\n"
    if rng.random() < 0.5:
        t, u = rng.randrange(n), rng.randrange(n)
        if t != u:
            extra += f"replace {names[t]} => {names[u]} {rng.choice(versions[u])}\n"
    main_go = rng.choice(["1.16", "1.21"])
    text = gomod(f"{base}/main", *lines, go=main_go, extra="\n" + extra if extra else "")
    return write_files(root / f"rnd{k}", {"go.mod": text})


@pytest.mark.gocmd
def test_random_graphs_equal_go_list_m_all(tmp_path: Path) -> None:
    """Seeded random graphs: whatever the go command lists (or refuses), we list (or refuse).

    (bench-style runs of the same generator over 200+ graphs found no difference.)
    """
    rng = random.Random(20261126)
    tree = GoProxyTree(tmp_path / "proxy")
    projects = [_random_project(rng, k, tree, tmp_path / "projects") for k in range(10)]
    env = go_command_env(tmp_path / "home", tree.url)
    src = ProxySource(tree.url)
    compared = 0
    for project in projects:
        try:
            ours: list[str] | None = [str(m) for m in load_build_list(project, src).modules]
        except InputError:
            ours = None
        copy = tmp_path / "copies" / project.name
        shutil.copytree(project, copy)
        go = subprocess.run(
            [go_binary(), "list", "-m", "all"],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        go_lines = go.stdout.splitlines() if go.returncode == 0 else None
        assert ours == go_lines, (
            f"{project}/go.mod:\n{(project / 'go.mod').read_text()}\n{go.stderr}"
        )
        compared += ours is not None
    assert compared >= 8


@pytest.mark.gocmd
def test_h1_of_every_fixture_module_equals_go(fixture: Fixture) -> None:
    """Every module these projects use: our h1: equals go mod download's Sum and GoModSum."""
    published = sorted({(p, v) for project in PROJECTS for p, v, _text in project.modules})
    env = {**fixture.env, "GOFLAGS": "", "GOMODCACHE": str(fixture.root / "h1-modcache")}
    proc = subprocess.run(
        [go_binary(), "mod", "download", "-json", *(f"{p}@{v}" for p, v in published)],
        cwd=fixture.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    got = {(d["Path"], d["Version"]): d for d in json_stream(proc.stdout)}
    assert len(got) == len(published)
    for p, v in published:
        art = fixture.tree.artifacts(p, v)
        assert hash_zip(art.zip) == got[p, v]["Sum"], f"{p}@{v}"
        assert hash_gomod(art.mod.read_bytes()) == got[p, v]["GoModSum"], f"{p}@{v}"


def _random_workspace(rng: random.Random, k: int, tree: GoProxyTree, root: Path) -> Path:
    """Two main modules in a go.work, requiring each other and a random published graph."""
    n = rng.randint(5, 10)
    names = {i: f"{E}/rws{k}/m{i}" for i in range(n)}
    versions = {i: [f"v1.{j}.0" for j in range(rng.randint(1, 3))] for i in range(n)}
    for i in range(n):
        for v in versions[i]:
            reqs = {
                (t, rng.choice(versions[t]))
                for t in rng.sample(range(n), rng.randint(0, 3))
                if t != i
            }
            text = gomod(
                names[i],
                *(f"{names[t]} {tv}" for t, tv in sorted(reqs)),
                go=rng.choice(["1.16", "1.17", "1.21"]),
            )
            tree.add_module(names[i], v, {"go.mod": text})
    files: dict[str, str] = {}
    for mm in (0, 1):
        reqs = [
            f"{names[t]} {rng.choice(versions[t])}"
            for t in rng.sample(range(2, n), rng.randint(1, 3))
        ]
        if rng.random() < 0.5:
            reqs.append(f"{names[1 - mm]} {rng.choice(versions[1 - mm])}")
        extra = ""
        if rng.random() < 0.4:
            t = rng.randrange(2, n)
            extra = f"\nexclude {names[t]} {rng.choice(versions[t])}\n"
        files[f"m{mm}/go.mod"] = gomod(
            names[mm], *reqs, go=rng.choice(["1.16", "1.21"]), extra=extra
        )
    work = "go 1.21\n\nuse (\n\t./m0\n\t./m1\n)\n"
    t, u = rng.randrange(2, n), rng.randrange(2, n)
    if t != u and rng.random() < 0.5:
        work += f"\nreplace {names[t]} => {names[u]} {rng.choice(versions[u])}\n"
    files["go.work"] = work
    return write_files(root / f"rws{k}", files)


@pytest.mark.gocmd
def test_random_workspaces_equal_go_list_m_all(tmp_path: Path) -> None:
    """Seeded random go.work workspaces (runs over 160 more found no difference)."""
    rng = random.Random(515)
    tree = GoProxyTree(tmp_path / "proxy")
    workspaces = [_random_workspace(rng, k, tree, tmp_path / "ws") for k in range(6)]
    # Workspace mode is read-only: the go command wants go.mod sums; ours compute them.
    sums = "".join(
        f"{mod.parent.parent.relative_to(tree.root).as_posix()} {mod.stem}/go.mod "
        f"{hash_gomod(mod.read_bytes())}\n"
        for mod in sorted(tree.root.rglob("*.mod"))
    )
    env = go_command_env(tmp_path / "home", tree.url, goflags="")
    src = ProxySource(tree.url)
    for ws in workspaces:
        (ws / "go.work.sum").write_text(sums)
        ours = [str(m) for m in load_build_list(ws, src).modules]
        go = subprocess.run(
            [go_binary(), "list", "-m", "all"],
            cwd=ws,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert go.returncode == 0, go.stderr
        assert ours == go.stdout.splitlines(), (ws / "go.work").read_text()


def test_fetches_run_concurrently_and_bounded(tmp_path: Path) -> None:
    """go.mod files are fetched several at a time, never more than --concurrency at once."""
    tree = GoProxyTree(tmp_path / "proxy")
    deps = [f"{E}/cc/m{i} v1.0.0" for i in range(12)]
    for i in range(12):
        tree.add_module(f"{E}/cc/m{i}", "v1.0.0", {"go.mod": gomod(f"{E}/cc/m{i}")})
    main = write_files(tmp_path / "main", {"go.mod": gomod(f"{E}/main", *deps)})
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    class Slow(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                state["now"] += 1
                state["max"] = max(state["max"], state["now"])
            time.sleep(0.05)
            # Counted down before the reply is written: once the client has the bytes it may
            # start its next fetch before this thread would get past super().do_GET().
            with lock:
                state["now"] -= 1
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Slow, directory=str(tree.root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        bl = load_build_list(main, ProxySource(url), concurrency=3)
    finally:
        server.shutdown()
        server.server_close()
    assert len(bl.modules) == 13
    assert 1 < state["max"] <= 3


def test_an_unreachable_proxy_stops_the_load_at_its_first_failure(tmp_path: Path) -> None:
    """A proxy that fails (5xx, no connection) fails every fetch alike: the load reports the
    first failure instead of waiting out one per module (with an unreachable proxy, minutes)."""
    deps = [f"{E}/down/m{i:02d} v1.0.0" for i in range(60)]
    main = write_files(tmp_path / "main", {"go.mod": gomod(f"{E}/main", *deps)})
    hits = []

    class Failing(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            time.sleep(0.1)
            self.send_error(503, "upstream down")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(OperationalError, match=r"answered 503") as info:
            load_build_list(main, ProxySource(url), concurrency=4)
    finally:
        server.shutdown()
        server.server_close()
    assert not isinstance(info.value, NotFoundError)
    assert info.value.module is not None and info.value.module.startswith(f"{E}/down/m")
    assert len(hits) <= 12  # the fetches under way, not all 60
