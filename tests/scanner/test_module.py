"""Module identity: path checks, case-encoding and major versions agree with the go command."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream, write_files
from hypothesis import given
from hypothesis import strategies as st

from scanner.errors import InvalidModuleError
from scanner.module import (
    WINDOWS_RESERVED_NAMES,
    ModuleVersion,
    canonical_version,
    check,
    check_file_path,
    check_import_path,
    check_path,
    check_path_major,
    escape_path,
    escape_version,
    is_valid_path,
    path_major_mismatch,
    path_major_prefix,
    sort_module_versions,
    split_path_version,
    unescape_path,
    unescape_version,
)

RunGo = Callable[..., subprocess.CompletedProcess[str]]

EDGE_PATHS = [
    "example.com/a",
    "example.com",
    "Example.com/a",
    "example.com/Upper/Case",
    "example.com/a/v1",
    "example.com/a/v2",
    "example.com/a/v02",
    "example.com/a/v2.1",
    "example.com/a/v0",
    "example.com/a/vX",
    "gopkg.in/yaml.v3",
    "gopkg.in/yaml.v0",
    "gopkg.in/yaml.v03",
    "gopkg.in/yaml",
    "gopkg.in/user/pkg.v1-unstable",
    "gopkg.in/v1",
    "foo",
    "foo/bar",
    "-example.com/a",
    "exa-mple.com/a",
    "exa_mple.com/a",
    "example.com/-a",
    "example.com//a",
    "example.com/a/",
    "/example.com/a",
    "example.com/.a",
    "example.com/a.",
    "example.com/a..b",
    "example.com/..",
    "example.com/a~1",
    "example.com/a~b",
    "example.com/~",
    "example.com/a~",
    "example.com/con",
    "example.com/CON",
    "example.com/con.txt",
    "example.com/conx",
    "example.com/com1",
    "example.com/Com9.d",
    "example.com/com0",
    "example.com/lpt5",
    "example.com/nul/x",
    "example.com/aux~1",
    "example.com/a+b",
    "example.com/a b",
    "example.com/a@b",
    "example.com/a%20b",
    "example.com/ä",
    "exämple.com/a",
    "example.com/a!b",
    "example.com/a:b",
    "example.com:8080/a",
    "1.2.3.4/a",
    "example..com/a",
    ".example.com/a",
]


def _random_paths(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcxyzAZ019-._~+/"
    firsts = ["example.com", "golang.org", "a.b", "x.io", "k8s.io", "gopkg.in", "EXAMPLE.com"]
    out = []
    for _ in range(n):
        tail = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        out.append(f"{rng.choice(firsts)}/{tail}")
    return out


def _go_check_paths(run_go: RunGo, cwd: Path, paths: list[str]) -> dict[str, str]:
    """path -> "" when the go command accepts it as a module path, else its message."""
    proc = run_go("mod", "download", "-json", *(f"{p}@v1.0.0" for p in paths), cwd=cwd, check=False)
    verdicts: dict[str, str] = {}
    for obj in json_stream(proc.stdout):
        error = str(obj.get("Error", ""))
        prefix = f"{obj['Path']}@v1.0.0: "
        assert error.startswith(prefix), error
        message = error[len(prefix) :]
        verdicts[obj["Path"]] = "" if "lookup disabled" in message else message
    return verdicts


@pytest.mark.gocmd
def test_check_path_agrees_with_the_go_command(run_go: RunGo, tmp_path: Path) -> None:
    # "@" would split the argument and "..." makes it a package pattern: not module paths to go.
    paths = [
        p
        for p in dict.fromkeys(EDGE_PATHS + _random_paths(250, 7))
        if "@" not in p and "..." not in p
    ]
    verdicts = _go_check_paths(run_go, tmp_path, paths)
    assert set(verdicts) == set(paths)
    mismatches = []
    for p in paths:
        try:
            check_path(p)
            ours = ""
        except InvalidModuleError as e:
            ours = e.message
        if ours != verdicts[p]:
            mismatches.append(f"{p!r}: ours {ours!r}, go {verdicts[p]!r}")
        assert is_valid_path(p) == (ours == "")
    assert not mismatches, "\n".join(mismatches)
    # Both outcomes are exercised.
    assert sum(1 for v in verdicts.values() if v == "") > 30
    assert sum(1 for v in verdicts.values() if v) > 30


def _go_import_path_verdict(run_go: RunGo, cwd: Path, path: str) -> str:
    proc = run_go("mod", "edit", f"-droprequire={path}", cwd=cwd, check=False)
    if proc.returncode == 0:
        return ""
    prefix = f"go: -droprequire={path}: invalid path: "
    assert proc.stderr.startswith(prefix), proc.stderr
    return proc.stderr[len(prefix) :].strip()


@pytest.mark.gocmd
def test_check_import_path_agrees_with_the_go_command(run_go: RunGo, tmp_path: Path) -> None:
    write_files(tmp_path, {"go.mod": "module example.com/m\n"})
    paths = [p for p in dict.fromkeys(EDGE_PATHS + _random_paths(15, 11)) if "@" not in p]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = pool.map(lambda p: _go_import_path_verdict(run_go, tmp_path, p), paths)
        verdicts = dict(zip(paths, answers, strict=True))
    mismatches = []
    for p in paths:
        try:
            check_import_path(p)
            ours = ""
        except InvalidModuleError as e:
            ours = str(e)
        if ours != verdicts[p]:
            mismatches.append(f"{p!r}: ours {ours!r}, go {verdicts[p]!r}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("name", sorted(WINDOWS_RESERVED_NAMES))
def test_windows_reserved_names_in_any_case(name: str) -> None:
    for element in (name, name.lower(), name.title(), f"{name.lower()}.go", f"{name}.tar.gz"):
        with pytest.raises(InvalidModuleError, match="disallowed as path element component"):
            check_path(f"example.com/{element}")
        with pytest.raises(InvalidModuleError, match="disallowed as path element component"):
            check_import_path(f"example.com/x/{element}")
        with pytest.raises(InvalidModuleError, match="disallowed as path element component"):
            check_file_path(f"dir/{element}")
    # Only the part before the first dot counts, and only whole names.
    check_file_path(f"{name}x.go")
    check_file_path(f"x{name}")
    check_file_path(f"x.{name}")


def test_file_paths() -> None:
    for ok in (
        "a.go",
        "dir/sub/file name.txt",
        "ünïcode/файл.go",
        "a/b~1",
        "(x)/[y]{z}.go",
        "!#$%&",
    ):
        check_file_path(ok)
    for bad, why in [
        ("", "empty string"),
        ("a//b", "double slash"),
        ("a/", "trailing slash"),
        ("a/../b", "invalid path element"),
        ("a/b.", "trailing dot"),
        ("a*b", "invalid char '*'"),
        ("a\\b", "invalid char"),
        ("a:b", "invalid char ':'"),
        ("a\u00a0b", "invalid char"),
        ("a\x00", "invalid char"),
    ]:
        with pytest.raises(InvalidModuleError, match=why.replace("*", r"\*")):
            check_file_path(bad)
    # A file path may start with a dash or a dot (module paths may not).
    check_file_path("-flag/.hidden")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("example.com/a", ("example.com/a", "", True)),
        ("example.com/a/v2", ("example.com/a", "/v2", True)),
        ("example.com/a/v10", ("example.com/a", "/v10", True)),
        ("example.com/a/v1", ("example.com/a/v1", "", False)),
        ("example.com/a/v0", ("example.com/a/v0", "", False)),
        ("example.com/a/v02", ("example.com/a/v02", "", False)),
        ("example.com/a/v2.0", ("example.com/a/v2.0", "", False)),
        ("example.com/v2", ("example.com", "/v2", True)),
        ("v2", ("v2", "", True)),
        ("example.com/a/vv2", ("example.com/a/vv2", "", True)),
        ("gopkg.in/yaml.v2", ("gopkg.in/yaml", ".v2", True)),
        ("gopkg.in/yaml.v0", ("gopkg.in/yaml", ".v0", True)),
        ("gopkg.in/yaml.v01", ("gopkg.in/yaml.v01", "", False)),
        ("gopkg.in/yaml", ("gopkg.in/yaml", "", False)),
        ("gopkg.in/u/p.v1-unstable", ("gopkg.in/u/p", ".v1-unstable", True)),
    ],
)
def test_split_path_version(path: str, expected: tuple[str, str, bool]) -> None:
    assert split_path_version(path) == expected


@pytest.mark.parametrize(
    ("version", "path_major", "why"),
    [
        ("v1.2.3", "", None),
        ("v0.1.0", "", None),
        ("v2.0.0", "", "should be v0 or v1, not v2"),
        ("v2.0.0+incompatible", "", None),
        ("v2.0.0", "/v2", None),
        ("v3.0.0", "/v2", "should be v2, not v3"),
        ("v1.0.0", "/v2", "should be v2, not v1"),
        ("v2.1.0-pre", "/v2", None),
        ("v1.5.0", ".v1", None),
        ("v0.0.0-20161208181325-20d25e280405", ".v1", None),  # the gopkg.in exception
        ("v2.0.0", ".v1", "should be v1, not v2"),
        ("v1.0.0", ".v1-unstable", None),
        ("v0.3.0", ".v0", None),
    ],
)
def test_path_major(version: str, path_major: str, why: str | None) -> None:
    assert path_major_mismatch(version, path_major) == why
    assert check_path_major(version, path_major) == (why is None)


def test_path_major_prefix_canonical_and_check() -> None:
    assert path_major_prefix("/v2") == "v2"
    assert path_major_prefix(".v1-unstable") == "v1"
    assert path_major_prefix("") == ""
    assert canonical_version("v2.0+incompatible") == ""  # a shorthand cannot carry build metadata
    assert canonical_version("v2.0.0+incompatible") == "v2.0.0+incompatible"
    assert canonical_version("v1.2.3+build") == "v1.2.3"
    assert canonical_version("v1.2") == "v1.2.0"
    check("example.com/a/v2", "v2.3.4")
    with pytest.raises(InvalidModuleError, match="should be v2, not v1"):
        check("example.com/a/v2", "v1.0.0")
    with pytest.raises(InvalidModuleError, match="not a semantic version"):
        check("example.com/a", "latest")
    assert str(ModuleVersion("example.com/a", "v1.0.0")) == "example.com/a@v1.0.0"
    assert str(ModuleVersion("example.com/main")) == "example.com/main"


# Valid module paths: a lower-case domain, then elements of the allowed characters.
_ELEM = st.text("abcXYZ0129-_~.", min_size=1, max_size=10).filter(
    lambda e: not e.startswith(".") and not e.endswith(".")
)
_PATHS = st.builds(
    lambda host, elems: "/".join([host, *elems]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8})\.[a-z]{2,5}", fullmatch=True),
    st.lists(_ELEM, max_size=4),
).filter(is_valid_path)


@given(_PATHS)
def test_escape_path_round_trip(path: str) -> None:
    escaped = escape_path(path)
    assert escaped == escaped.lower()
    assert unescape_path(escaped) == path
    assert (escaped == path) == (path == path.lower())


@given(
    st.from_regex(
        r"v[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-[A-Za-z0-9]{1,6}(\.[A-Za-z0-9]{1,6}){0,2})?",
        fullmatch=True,
    )
)
def test_escape_version_round_trip(version: str) -> None:
    escaped = escape_version(version)
    assert escaped == escaped.lower()
    assert unescape_version(escaped) == version


@given(st.text("abcXYZ!./-", max_size=16))
def test_unescape_rejects_what_escape_cannot_produce(escaped: str) -> None:
    try:
        path = unescape_version(escaped)
    except InvalidModuleError:
        return
    assert escape_version(path) == escaped


@pytest.mark.parametrize(
    ("bad", "func"),
    [
        ("example.com/!", unescape_path),
        ("example.com/!A", unescape_path),
        ("example.com/Azure", unescape_path),
        ("example.com/!!a", unescape_path),
        ("Example.com/a", escape_path),
        ("example.com/a!b", escape_path),
        ("v1.0.0!", escape_version),
        ("v1/0", escape_version),
        ("", escape_version),
    ],
)
def test_escape_errors(bad: str, func: Callable[[str], str]) -> None:
    with pytest.raises(InvalidModuleError):
        func(bad)


@pytest.mark.gocmd
def test_the_go_command_reads_our_escaped_layout(
    run_go: RunGo, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    # goproxytree lays files out with escape_path/escape_version; go must find them.
    goproxy_tree.add_module(
        "github.com/Azure/Go-Kit", "v1.0.0-RC1", {"go.mod": "module github.com/Azure/Go-Kit\n"}
    )
    assert (Path(goproxy_tree.url.removeprefix("file://")) / "github.com/!azure/!go-!kit").is_dir()
    out = run_go(
        "mod",
        "download",
        "-json",
        "github.com/Azure/Go-Kit@v1.0.0-RC1",
        cwd=tmp_path,
        env_extra={"GOPROXY": goproxy_tree.url},
    ).stdout
    info = json.loads(out)
    assert info["Version"] == "v1.0.0-RC1" and "Error" not in info
    assert "!azure/!go-!kit@v1.0.0-!r!c1" in info["Dir"]


def test_sort_module_versions_is_x_mod_module_sort() -> None:
    mods = [
        ModuleVersion("example.com/b", "v1.0.0"),
        ModuleVersion("example.com/a", "v1.10.0"),
        ModuleVersion("example.com/a", "v1.9.0/go.mod"),
        ModuleVersion("example.com/a", "v1.9.0"),
        ModuleVersion("example.com/a", "v1.10.0-pre"),
        ModuleVersion("example.com/a", "v1.2"),
    ]
    assert [str(m) for m in sort_module_versions(mods)] == [
        "example.com/a@v1.2",
        "example.com/a@v1.9.0",
        "example.com/a@v1.9.0/go.mod",
        "example.com/a@v1.10.0-pre",
        "example.com/a@v1.10.0",
        "example.com/b@v1.0.0",
    ]
