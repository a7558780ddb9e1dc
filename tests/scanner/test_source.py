"""Go source with tree-sitter: package, imports, build constraints, errors, calls, import use.

Where the go command can answer the same question (`go list`), its answer is the reference.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.source import (
    IgnoredDirs,
    Import,
    build_constraint,
    calls,
    constraint_allows,
    module_go_files,
    package_name_guess,
    parse_file,
    parse_header,
    project_imports,
    scan_sources,
)

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def test_package_imports_and_positions() -> None:
    src = textwrap.dedent(
        """\
        //go:build linux && !cgo

        // Package demo shows every import form.
        package demo

        import "fmt"

        import (
        \tc "crypto/md5"
        \t_ "net/http/pprof"
        \t. "strings"
        \tyaml "gopkg.in/yaml.v3"
        \t"example.com/mod/v2"
        )
        """
    ).encode()
    parsed = parse_file("demo/demo.go", src)
    assert parsed.package == "demo"
    assert parsed.build == "linux && !cgo"
    assert parsed.error is None
    assert parsed.imports == (
        Import("fmt", None, 6, 8),
        Import("crypto/md5", "c", 9, 4),
        Import("net/http/pprof", "_", 10, 4),
        Import("strings", ".", 11, 4),
        Import("gopkg.in/yaml.v3", "yaml", 12, 7),
        Import("example.com/mod/v2", None, 13, 2),
    )
    assert parsed.package_names() == {
        "fmt": "fmt",
        "c": "crypto/md5",
        "yaml": "gopkg.in/yaml.v3",
        "mod": "example.com/mod/v2",
    }


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("fmt", "fmt"),
        ("math/rand/v2", "rand"),
        ("gopkg.in/yaml.v3", "yaml"),
        ("github.com/mattn/go-sqlite3", "sqlite3"),
        ("github.com/go-chi/chi/v5", "chi"),
        ("example.com/v2", "example"),
    ],
)
def test_package_name_guess(path: str, name: str) -> None:
    assert package_name_guess(path) == name


def test_build_constraints() -> None:
    assert build_constraint(b"package x\n//go:build ignore\n") is None  # after the package
    assert build_constraint(b"// +build linux,amd64 darwin\n// +build !cgo\n\npackage x\n") == (
        "(linux && amd64 || darwin) && (!cgo)"
    )
    tags = {"linux", "amd64"}.__contains__
    assert constraint_allows("linux && (amd64 || arm64)", tags)
    assert not constraint_allows("linux && !amd64", tags)
    assert not constraint_allows("ignore", lambda t: t != "ignore")
    assert constraint_allows("!ignore", lambda t: t != "ignore")
    assert constraint_allows("linux &&", tags)  # malformed: the file is kept


def test_the_first_syntax_error_is_reported_and_the_rest_still_parses() -> None:
    src = (
        b'package broken\n\nimport "os"\n\nfunc f() {\n\tx := (1 +\n}\n\nfunc g() { os.Exit(1) }\n'
    )
    parsed = parse_file("broken.go", src)
    assert parsed.error is not None
    assert parsed.error.line in (6, 7)
    assert str(parsed.error).startswith(f"broken.go:{parsed.error.line}:")
    assert parsed.imports == (Import("os", None, 3, 8),)
    assert ("os", "Exit", 9, 12) in calls(parsed)


def test_parse_header_reads_imports_even_past_a_tricky_comment() -> None:
    src = b'package p\n\n/*\nfunc not code\n*/\nimport "os"\n\nfunc F() { os.Exit(0) }\n'
    header = parse_header("p.go", src)
    assert header.package == "p" and header.imports == (Import("os", None, 6, 8),)
    quick = parse_header("q.go", b'package q\n\nimport "fmt"\n\nfunc F() { fmt.Println( }\n')
    assert quick.imports == (Import("fmt", None, 3, 8),) and quick.error is None  # header only


def test_calls_resolve_aliases_and_ignore_local_values() -> None:
    src = textwrap.dedent(
        """\
        package p

        import (
        \th "net/http"
        \t"crypto/hmac"
        \t"crypto/sha1"
        )

        func f(c *h.Client, key []byte) {
        \th.Get("https://example.com")
        \tc.Do(nil)
        \t_ = hmac.New(sha1.New, key)
        }
        """
    ).encode()
    assert calls(parse_file("p.go", src)) == [
        ("net/http", "Get", 10, 2),
        ("crypto/hmac", "New", 12, 6),
        ("crypto/sha1", "New", 12, 15),
    ]


def test_imports_agree_with_go_list_on_the_standard_library(run_go: RunGo, tmp_path: Path) -> None:
    packages = ["net/http", "encoding/json", "os/exec", "crypto/tls", "archive/zip"]
    out = run_go("list", "-json", *packages, cwd=tmp_path).stdout
    decoder = json.JSONDecoder()
    pos = 0
    seen = 0
    while pos < len(out.strip()):
        info, pos = decoder.raw_decode(out, pos)
        pos += len(out[pos:]) - len(out[pos:].lstrip())
        ours: set[str] = set()
        for name in info["GoFiles"]:
            data = (Path(info["Dir"]) / name).read_bytes()
            parsed = parse_file(name, data)
            assert parsed.error is None
            assert parse_header(name, data).imports == parsed.imports
            assert parsed.package == info["Name"]
            ours.update(i.path for i in parsed.imports)
        # The standard library's vendored imports are listed resolved (vendor/golang.org/x/…).
        resolved = {info.get("ImportMap", {}).get(p, p) for p in ours}
        assert resolved == set(info["Imports"]), info["ImportPath"]
        seen += 1
    assert seen == len(packages)


APP = {
    "go.mod": """
        module example.com/app

        go 1.24

        require (
        \texample.com/used v1.0.0
        \texample.com/used/sub v1.0.0
        \texample.com/testonly v1.0.0
        \texample.com/tool v1.0.0
        \texample.com/unused v1.0.0
        )

        tool example.com/tool/cmd/gen

        replace (
        \texample.com/used => ../deps/used
        \texample.com/used/sub => ../deps/usedsub
        \texample.com/testonly => ../deps/testonly
        \texample.com/tool => ../deps/tool
        \texample.com/unused => ../deps/unused
        )
        """,
    "main.go": """
        package main

        import (
        \t"fmt"

        \t"example.com/app/internal/lib"
        \t"example.com/used/pkg"
        \t"example.com/used/sub/x"
        )

        func main() { fmt.Println(pkg.V, x.V, lib.V) }
        """,
    "internal/lib/lib.go": "package lib\n\nconst V = 1\n",
    "main_test.go": """
        package main

        import (
        \t"testing"

        \t"example.com/testonly"
        )

        func TestMain(t *testing.T) { _ = testonly.V }
        """,
    "internal/lib/lib_x_test.go": """
        package lib_test

        import "example.com/testonly"

        var _ = testonly.V
        """,
    "gen.go": """
        //go:build ignore

        package main

        import "example.com/unused"

        var _ = unused.V
        """,
    "testdata/t.go": 'package t\n\nimport "example.com/unused"\n\nvar _ = unused.V\n',
    "_hidden/h.go": 'package h\n\nimport "example.com/unused"\n\nvar _ = unused.V\n',
    "nested/go.mod": "module example.com/app/nested\n\ngo 1.24\n",
    "nested/n.go": 'package nested\n\nimport "example.com/unused"\n\nvar _ = unused.V\n',
}


def _dep(module: str, packages: list[str]) -> dict[str, str]:
    files = {"go.mod": f"module {module}\n\ngo 1.24\n"}
    for package in packages:
        name = package.rsplit("/", 1)[-1] if package else module.rsplit("/", 1)[-1]
        prefix = f"{package}/" if package else ""
        body = "func main() {}\n" if name == "gen" else "const V = 1\n"
        files[f"{prefix}{name}.go"] = f"package {'main' if name == 'gen' else name}\n\n{body}"
    return files


@pytest.fixture
def app(tmp_path: Path) -> Path:
    write(tmp_path / "app", APP)
    write(tmp_path / "deps" / "used", _dep("example.com/used", ["pkg"]))
    write(tmp_path / "deps" / "usedsub", _dep("example.com/used/sub", ["x"]))
    write(tmp_path / "deps" / "testonly", _dep("example.com/testonly", [""]))
    write(tmp_path / "deps" / "tool", _dep("example.com/tool", ["cmd/gen"]))
    write(tmp_path / "deps" / "unused", _dep("example.com/unused", [""]))
    return tmp_path / "app"


REQUIRED = [
    "example.com/used",
    "example.com/used/sub",
    "example.com/testonly",
    "example.com/tool",
    "example.com/unused",
]


def test_project_imports_sorts_modules_by_use(app: Path) -> None:
    use = project_imports(app, REQUIRED)
    assert use.used == {"example.com/used", "example.com/used/sub"}
    assert use.test_only == {"example.com/testonly"}
    assert use.tool_only == {"example.com/tool"}
    assert use.optional == {"example.com/testonly", "example.com/tool"}
    assert "example.com/unused" not in use.sites  # ignore-tagged, testdata, _dir, nested module
    sites = use.sites["example.com/used/sub"]
    assert [(s.path, s.line, s.import_path, s.test) for s in sites] == [
        ("main.go", 8, "example.com/used/sub/x", False)
    ]


def test_project_imports_equals_go_list(app: Path, run_go: RunGo) -> None:
    go_used, go_tests = _go_list_use(app, run_go)
    use = project_imports(app, REQUIRED)
    assert use.used == go_used
    assert use.test_only == go_tests


def _go_list_use(app: Path, run_go: RunGo, pattern: str = "./...") -> tuple[set[str], set[str]]:
    """The required modules `go list PATTERN` says the module's code, and only its tests, import."""
    out = run_go(
        "list", "-e", "-json=ImportPath,Module,Imports,TestImports,XTestImports", pattern, cwd=app
    )
    decoder = json.JSONDecoder()
    text, pos = out.stdout, 0
    code: set[str] = set()
    tests: set[str] = set()
    while text[pos:].strip():
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        info, pos = decoder.raw_decode(text, pos)
        if (info.get("Module") or {}).get("Path") != "example.com/app":
            continue  # `all` lists the dependencies' packages too
        code.update(info.get("Imports", []))
        tests.update(info.get("TestImports", []) + info.get("XTestImports", []))

    def owner(path: str) -> str | None:
        matches = [m for m in REQUIRED if path == m or path.startswith(m + "/")]
        return max(matches, key=len) if matches else None

    go_used = {m for m in map(owner, code) if m}
    return go_used, {m for m in map(owner, tests) if m} - go_used


def test_imports_from_ignored_directories_are_not_uses(app: Path, run_go: RunGo) -> None:
    """go.mod `ignore` (Go 1.25) hides a directory from `./...` and from `go mod tidy`: a
    module imported only there is not used, as `go list` and `go mod tidy` have it."""
    with (app / "go.mod").open("a") as f:
        f.write("\nignore (\n\t./web\n\tnode_modules\n)\n")
    uses_unused = 'package p\n\nimport "example.com/unused"\n\nvar _ = unused.V\n'
    write(app, {"web/w.go": uses_unused, "internal/node_modules/n/n.go": uses_unused})
    use = project_imports(app, REQUIRED)
    assert "example.com/unused" not in use.sites
    for pattern in ("./...", "all"):
        assert (use.used, use.test_only) == _go_list_use(app, run_go, pattern)
    # Imported by the module's own code, an ignored package is built, and so are its imports.
    main = (app / "main.go").read_text()
    (app / "main.go").write_text(main.replace('"fmt"', '"fmt"\n\n\t_ "example.com/app/web"'))
    use = project_imports(app, REQUIRED)
    assert "example.com/unused" in use.used
    assert [s.path for s in use.sites["example.com/unused"]] == ["web/w.go"]
    assert (use.used, use.test_only) == _go_list_use(app, run_go, "all")


def test_project_imports_reads_tools_and_main_path_from_go_mod(app: Path) -> None:
    # With an explicit empty tool list, the tool's module is simply not imported.
    assert project_imports(app, REQUIRED, tools=[]).tool_only == frozenset()
    assert project_imports(app, REQUIRED).tool_only == {"example.com/tool"}


def test_project_imports_takes_a_build_list(app: Path, tmp_path: Path) -> None:
    from scanner.buildlist import load_build_list
    from scanner.modfetch import ProxySource

    # Every dependency is replaced by a local directory: the (empty) proxy is never asked.
    empty = tmp_path / "proxy"
    empty.mkdir()
    build_list = load_build_list(app, ProxySource(empty.as_uri()))
    assert {m.path for m in build_list.modules} == {"example.com/app", *REQUIRED}
    assert project_imports(app, build_list) == project_imports(app, REQUIRED)


# --- go.mod `ignore` -----------------------------------------------------------------------------

IGNORE_TREE = [
    "node_modules/x",
    "a/node_modules/y",
    "a/b/node_modules",
    "z/node_modules_x",
    "foo/bar/q",
    "a/foo/bar/r",
    "foo/bar2",
    "sub/foo/bar",
    "web/static",
]


@pytest.mark.parametrize(
    "ignore",
    [
        "./node_modules",  # that directory at the root only
        "node_modules",  # a directory of that name at any depth, not node_modules_x
        "./foo/bar",
        "foo/bar",  # `foo/bar` at any depth: sub/foo/bar too, not foo/bar2
        "a/",
        "/node_modules",  # a leading slash is no anchor: any depth, as without it
        "./",  # every directory below the root; the root package stays (as `all` has it)
        ".",  # no directory is named `.`: nothing
        "../elsewhere",  # outside the module: nothing
        "./web ./a/b",  # two directives
    ],
)
def test_module_go_files_skip_what_the_go_command_ignores(
    tmp_path: Path, run_go: RunGo, ignore: str
) -> None:
    directives = "".join(f"ignore {path}\n" for path in ignore.split())
    write(tmp_path, {"go.mod": f"module example.com/ign\n\ngo 1.25\n\n{directives}"})
    write(tmp_path, {"main.go": "package main\n\nfunc main() {}\n"})
    write(tmp_path, {f"{d}/f.go": "package p\n" for d in IGNORE_TREE})
    # `all`, not `./...`: the root package is in `all` (and in `go mod tidy`) even under
    # `ignore ./`, which `./...` alone drops.
    listed = run_go("list", "-e", "-f", "{{.Dir}}", "all", cwd=tmp_path).stdout.split()
    theirs = {
        Path(d).relative_to(tmp_path).as_posix() for d in listed if d.startswith(str(tmp_path))
    }
    ours = {p.parent.relative_to(tmp_path).as_posix() for p in module_go_files(tmp_path)}
    assert ours == theirs
    assert "." in ours


def test_an_ignored_package_the_module_imports_is_still_its_code(
    tmp_path: Path, run_go: RunGo
) -> None:
    """`ignore` hides a directory from patterns, not from imports: a package there that the
    module imports (directly or through another such package) is built into it."""
    write(
        tmp_path,
        {
            "go.mod": "module example.com/ign\n\ngo 1.25\n\nignore ./node_modules\n",
            "main.go": 'package main\n\nimport _ "example.com/ign/node_modules/x"\n',
            "node_modules/x/x.go": 'package x\n\nimport _ "example.com/ign/node_modules/y"\n',
            "node_modules/x/x_test.go": "package x\n",
            "node_modules/y/y.go": "package y\n",
            "node_modules/z/z.go": "package z\n",
        },
    )
    listed = run_go("list", "-deps", "-f", "{{.Dir}}", "./...", cwd=tmp_path).stdout.split()
    theirs = {
        Path(d).relative_to(tmp_path).as_posix() for d in listed if d.startswith(str(tmp_path))
    }
    files = module_go_files(tmp_path)
    assert {p.parent.relative_to(tmp_path).as_posix() for p in files} == theirs
    assert theirs == {".", "node_modules/x", "node_modules/y"}
    assert tmp_path / "node_modules/x/x_test.go" not in files  # its tests are not the module's


def test_ignored_dirs_match_whole_path_elements() -> None:
    ignored = IgnoredDirs.of(["./web", "node_modules", "a/b"])
    assert ignored.covers("web") and ignored.covers("web/static")
    assert not ignored.covers("x/web") and not ignored.covers("website")
    assert ignored.covers("node_modules") and ignored.covers("x/y/node_modules/z")
    assert not ignored.covers("node_modules_x") and not ignored.covers("my_node_modules")
    assert ignored.covers("x/a/b/c") and not ignored.covers("x/a/bc")
    assert not ignored.covers("")  # the module root
    assert not IgnoredDirs.of([])


def test_source_rules_skip_an_ignored_directory(tmp_path: Path, run_go: RunGo) -> None:
    """QA's case: `go list ./...` prints only the root package; node_modules/x is no code of
    the module, so its MD5 is no finding of it."""
    md5 = 'package x\n\nimport "crypto/md5"\n\nvar _ = md5.Sum(nil)\n'
    write(
        tmp_path / "m",
        {
            "go.mod": "module example.com/ign\n\ngo 1.25\n\nignore ./node_modules\n",
            "main.go": "package main\n\nfunc main() {}\n",
            "node_modules/x/x.go": md5,
            "web/node_modules/y/y.go": md5,  # `./node_modules` is the root's alone
        },
    )
    assert run_go("list", "./...", cwd=tmp_path / "m").stdout.split() == [
        "example.com/ign",
        "example.com/ign/web/node_modules/y",
    ]
    scan = scan_sources(tmp_path / "m", cache_dir=tmp_path / "cache", jobs=1)
    assert [(f.rule_id, f.path) for f in scan.findings] == [("GPS103", "web/node_modules/y/y.go")]
