"""A go.work workspace is loaded where the go command loads it and refused where it refuses it.

Each case runs the real go command first (the reference), then load_build_list, which must
refuse with an InputError (exit 2) at the file and line to fix.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from goproxytree import write_files

from scanner.buildlist import load_build_list
from scanner.errors import InputError
from scanner.gowork import compare_go_versions
from scanner.modfetch import ModCacheSource

RunGo = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.gocmd

E = "example.com"


def _gomod(path: str, go: str = "1.22", extra: str = "") -> str:
    return f"module {path}\n\ngo {go}\n{extra}"


def _requiring_mit(path: str, replace: str) -> str:
    return _gomod(path, extra=f"\nrequire {E}/mit v1.1.0\n\nreplace {E}/mit => {replace}\n")


@dataclass
class Refused:
    """A workspace the go command refuses: what go says, and where and what the scan says."""

    name: str
    files: dict[str, str]
    go_says: list[str]
    where: tuple[str, int]  # file relative to the workspace, line
    we_say: list[str]
    run_in: str = "a"
    # the go command's own words a user would search for, in our message too
    shared: list[str] = field(default_factory=list)


MIT_DIRS = {"shared/mit/go.mod": _gomod(f"{E}/mit"), "other/go.mod": _gomod(f"{E}/mit")}

REFUSED = [
    Refused(
        "one directory used twice",
        {"go.work": "go 1.22\n\nuse ./a\nuse a/\n", "a/go.mod": _gomod(f"{E}/a")},
        ["go.work:4: path", "appears multiple times in workspace"],
        ("go.work", 4),
        ["(use ./a on line 3, use a/ here)"],
        shared=["appears multiple times in workspace"],
    ),
    Refused(
        "one module path used twice",
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./b\n\t./c\n)\n",
            "a/go.mod": _gomod(f"{E}/a"),
            "b/go.mod": _gomod(f"{E}/b"),
            "c/go.mod": _gomod(f"{E}/b"),
        },
        [f"module {E}/b appears multiple times in workspace"],
        ("go.work", 6),
        [f"module {E}/b appears multiple times in workspace", "use ./b on line 5"],
    ),
    Refused(
        "go.work's go line below a module's",
        {"go.work": "go 1.21\n\nuse ./a\n", "a/go.mod": _gomod(f"{E}/a", go="1.22")},
        ["requires go >= 1.22, but go.work lists go 1.21", "go work use"],
        ("go.work", 3),
        ["module ./a listed in go.work requires go >= 1.22, but go.work lists go 1.21"],
        shared=["go work use"],
    ),
    Refused(
        "go.work without a go line, a module at go 1.21.0",
        {"go.work": "use ./a\n", "a/go.mod": _gomod(f"{E}/a", go="1.21.0")},
        ["requires go >= 1.21.0, but go.work implicitly requires go 1.18"],
        ("go.work", 1),
        ["requires go >= 1.21.0, but go.work implicitly requires go 1.18"],
    ),
    Refused(
        "a used directory that does not exist",
        {"go.work": "go 1.22\n\nuse ./a\nuse ./missing\n", "a/go.mod": _gomod(f"{E}/a")},
        ["cannot load module ../missing listed in go.work file"],
        ("go.work", 4),
        ["cannot load module ./missing listed in go.work: no directory", "-dropuse=./missing"],
    ),
    Refused(
        "a used directory without go.mod",
        {
            "go.work": "go 1.22\n\nuse ./a\nuse ./nomod\n",
            "a/go.mod": _gomod(f"{E}/a"),
            "nomod/x.go": "package x\n",
        },
        ["cannot load module ../nomod listed in go.work file"],
        ("go.work", 4),
        ["cannot load module ./nomod listed in go.work:", "nomod/go.mod", "go mod init"],
    ),
    Refused(
        "a used go.mod without a module line",
        {"go.work": "go 1.22\n\nuse ./a\nuse ./b\n", "a/go.mod": _gomod(f"{E}/a"), "b/go.mod": ""},
        ["cannot load module ../b listed in go.work file", "missing module declaration"],
        ("go.work", 4),
        ["cannot load module ./b listed in go.work:", "has no module directive"],
    ),
    Refused(
        "two modules replace one module by different versions",
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./svc/api\n)\n",
            "a/go.mod": _requiring_mit(f"{E}/a", f"{E}/mit v1.0.0"),
            "svc/api/go.mod": _requiring_mit(f"{E}/api", f"{E}/mit v1.2.0"),
        },
        [f"conflicting replacements for {E}/mit:\n\t{E}/mit@v1.0.0\n\t{E}/mit@v1.2.0"],
        ("svc/api/go.mod", 7),
        [f"{E}/mit@v1.2.0 here, {E}/mit@v1.0.0 at {{ws}}/a/go.mod:7", "go work edit -replace"],
        shared=[f"conflicting replacements for {E}/mit"],
    ),
    Refused(
        "two modules replace one module by different directories",
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./svc/api\n)\n",
            "a/go.mod": _requiring_mit(f"{E}/a", "../other"),
            "svc/api/go.mod": _requiring_mit(f"{E}/api", "../../shared/mit"),
            **MIT_DIRS,
        },
        [f"conflicting replacements for {E}/mit:\n\t{{ws}}/other\n\t{{ws}}/shared/mit"],
        ("svc/api/go.mod", 7),
        ["../../shared/mit ({ws}/shared/mit) here, ../other ({ws}/other) at {ws}/a/go.mod:7"],
        shared=[f"conflicting replacements for {E}/mit"],
    ),
    Refused(
        "a later module replaces the selected version, an earlier one every version",
        {
            "go.work": "go 1.22\n\nuse ./a\nuse ./b\n",
            "a/go.mod": _requiring_mit(f"{E}/a", "../other"),
            "b/go.mod": _gomod(f"{E}/b", extra=f"\nreplace {E}/mit v1.1.0 => ../shared/mit\n"),
            **MIT_DIRS,
        },
        [f"conflicting replacements found for {E}/mit@v1.1.0 in workspace modules"],
        ("b/go.mod", 5),
        ["../shared/mit ({ws}/shared/mit) here, ../other ({ws}/other) at {ws}/a/go.mod:7"],
        shared=[f"conflicting replacements for {E}/mit@v1.1.0"],
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_workspaces_go_refuses_are_refused_at_their_line(
    case: Refused, tmp_path: Path, run_go: RunGo
) -> None:
    ws = write_files(tmp_path / "ws", case.files).resolve()
    go = run_go("list", "-m", "all", cwd=ws / case.run_in, env_extra={"GOFLAGS": ""}, check=False)
    assert go.returncode != 0, go.stdout
    for words in case.go_says:
        assert words.format(ws=ws) in go.stderr, go.stderr

    with pytest.raises(InputError) as info:
        load_build_list(ws / case.run_in, ModCacheSource(tmp_path / "no-modcache"))
    err = info.value
    assert (err.path, err.line) == (str(ws / case.where[0]), case.where[1]), str(err)
    for words in [*case.we_say, *case.shared]:
        assert words.format(ws=ws) in str(err), str(err)


@pytest.mark.parametrize(
    ("work_go", "module_go"),
    [
        ("1.21", "1.22"),
        ("1.22", "1.22"),
        ("1.22", "1.21"),
        ("1.21", "1.21.0"),
        ("1.21", "1.21rc1"),
        ("1.21.0", "1.21rc2"),
        ("1.18", "1.20"),  # below go 1.21 a module's go line is no requirement
        ("", "1.20.5"),
        ("", "1.21"),
        ("1.22", ""),
        ("1.22.1", "1.22.0"),
        ("1.23", "1.22.9"),
    ],
)
def test_go_work_go_version_is_checked_as_go_checks_it(
    work_go: str, module_go: str, tmp_path: Path, run_go: RunGo
) -> None:
    go_line = f"go {work_go}\n\n" if work_go else ""
    mod_go = f"\ngo {module_go}\n" if module_go else ""
    ws = write_files(
        tmp_path / "ws",
        {"go.work": f"{go_line}use ./a\n", "a/go.mod": f"module {E}/a\n{mod_go}"},
    )
    go = run_go("list", "-m", "all", cwd=ws / "a", env_extra={"GOFLAGS": ""}, check=False)
    source = ModCacheSource(tmp_path / "no-modcache")
    if go.returncode == 0:
        assert [str(m) for m in load_build_list(ws / "a", source).modules] == [f"{E}/a"]
        return
    assert "listed in go.work file requires go >=" in go.stderr, go.stderr
    with pytest.raises(InputError, match=r"listed in go\.work requires go >="):
        load_build_list(ws / "a", source)


def test_go_versions_compare_as_internal_gover() -> None:
    """The order go uses: 1.21 < 1.21rc1 < 1.21.0, but 1.20 == 1.20.0."""
    order = ["1.9", "1.20", "1.20.1", "1.21", "1.21beta1", "1.21rc1", "1.21rc2", "1.21.0", "1.22"]
    for i, lower in enumerate(order):
        for higher in order[i + 1 :]:
            assert compare_go_versions(lower, higher) == -1, (lower, higher)
            assert compare_go_versions(higher, lower) == 1, (higher, lower)
    assert compare_go_versions("1.20", "1.20.0") == 0
    assert compare_go_versions("1", "1.0.0") == 0


def _outside_workspace(root: Path) -> Path:
    """QA's workspace: go.work uses svc/api (replacing mit), not the module in `a`."""
    return write_files(
        root,
        {
            "go.work": "go 1.22\n\nuse ./svc/api\n",
            "a/go.mod": _gomod(f"{E}/p1", extra=f"\nrequire {E}/dep v1.0.0\n"),
            "a/p1.go": "package p1\n",
            "a/sub/x.go": "package sub\n",
            "svc/api/go.mod": _requiring_mit(f"{E}/api", "../../shared/mit"),
            "svc/api/api.go": "package api\n",
            **MIT_DIRS,
        },
    ).resolve()


def test_a_module_go_work_does_not_use_has_no_build_list_there(
    tmp_path: Path, run_go: RunGo
) -> None:
    """The scan of a module under a go.work that does not `use` it gave the workspace's build
    list (mit only, not the module's own dependency), exit 0; the go command builds nothing
    there."""
    ws = _outside_workspace(tmp_path / "ws")
    for where in (ws / "a", ws / "a" / "sub"):
        go = run_go("build", "./...", cwd=where, env_extra={"GOFLAGS": ""}, check=False)
        assert go.returncode != 0
        assert "does not contain modules listed in go.work" in go.stderr, go.stderr
        with pytest.raises(InputError) as info:
            load_build_list(where, ModCacheSource(tmp_path / "no-modcache"))
        text = str(info.value)
        assert f"the module at {ws / 'a'}" in text, text
        assert f"not one of the modules listed in {ws / 'go.work'}" in text, text
        assert f"run `go work use .` in {ws / 'a'}" in text and "GOWORK=off" in text, text
    go = run_go("build", ".", cwd=ws / "a", env_extra={"GOFLAGS": ""}, check=False)
    assert "go work use ." in go.stderr, go.stderr
    # In the workspace's own modules, and in the go.work directory (no module), all is well.
    for where in (ws / "svc" / "api", ws):
        go = run_go("list", "-m", "all", cwd=where, env_extra={"GOFLAGS": ""})
        ours = load_build_list(where, ModCacheSource(tmp_path / "no-modcache"))
        assert [str(m) for m in ours.modules] == go.stdout.splitlines()


def test_gowork_names_the_go_work_file_as_the_go_command_reads_it(
    tmp_path: Path, run_go: RunGo
) -> None:
    """GOWORK=off: no workspace; GOWORK=/abs/file: that file, whatever its name and wherever
    the scan runs; a relative GOWORK is refused."""
    ws = _outside_workspace(tmp_path / "ws")
    (ws / "go.work").rename(ws / "services.work")
    api, source = ws / "svc" / "api", ModCacheSource(tmp_path / "no-modcache")
    gowork = {"GOWORK": str(ws / "services.work"), "GOFLAGS": ""}

    go = run_go("list", "-m", "all", cwd=api, env_extra=gowork)
    ours = load_build_list(api, source, env=gowork)
    assert [str(m) for m in ours.modules] == go.stdout.splitlines()
    assert go.stdout.splitlines() == [f"{E}/api", f"{E}/mit v1.1.0 => ./shared/mit"]
    assert ours.workspace and ours.work_file == ws / "services.work"
    # Found by walking up, no go.work: the module alone (its replace relative to itself).
    alone = load_build_list(api, source)
    assert [str(m) for m in alone.modules] == [f"{E}/api", f"{E}/mit v1.1.0 => ../../shared/mit"]
    assert not alone.workspace and alone.work_file is None

    go = run_go("build", ".", cwd=ws / "a", env_extra=gowork, check=False)
    assert "not one of the workspace modules listed in go.work" in go.stderr, go.stderr
    with pytest.raises(InputError, match="not one of the modules listed in"):
        load_build_list(ws / "a", source, env=gowork)

    relative = {"GOWORK": "../../services.work", "GOFLAGS": ""}
    go = run_go("list", "-m", "all", cwd=api, env_extra=relative, check=False)
    assert "invalid GOWORK: not an absolute path" in go.stderr, go.stderr
    with pytest.raises(
        InputError, match=r"invalid GOWORK=\.\./\.\./services\.work: not an absolute"
    ):
        load_build_list(api, source, env=relative)

    (ws / "services.work").rename(ws / "go.work")
    off = {"GOWORK": "off", "GOFLAGS": ""}
    go = run_go("list", "-m", "all", cwd=api, env_extra=off)
    ours = load_build_list(api, source, env=off)
    assert [str(m) for m in ours.modules] == go.stdout.splitlines() and not ours.workspace
