"""parse_modules_txt reads what `go mod vendor` writes and points at lines it cannot read."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream, write_files

from scanner.errors import ParseError
from scanner.gomod import parse_gomod
from scanner.modulestxt import VendoredModule, inconsistencies, parse_modules_txt

RunGo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.gocmd
def test_go_mod_vendor_output(run_go: RunGo, goproxy_tree: GoProxyTree, tmp_path: Path) -> None:
    goproxy_tree.add_module(
        "example.com/a",
        "v1.1.0",
        {
            "go.mod": "module example.com/a\n\ngo 1.20\n\nrequire example.com/c v1.0.0\n",
            "a.go": 'package a\n\nimport _ "example.com/c/sub"\n',
        },
    )
    goproxy_tree.add_module(
        "example.com/c",
        "v1.0.0",
        {"go.mod": "module example.com/c\n", "sub/sub.go": "package sub\n"},
    )
    goproxy_tree.add_module(
        "example.com/fork",
        "v1.3.0",
        {"go.mod": "module example.com/fork\n\ngo 1.21\n", "b.go": "package b\n"},
    )
    main = write_files(
        tmp_path / "main",
        {
            "go.mod": "module example.com/main\n\ngo 1.21\n\n"
            "require (\n\texample.com/a v1.1.0\n\texample.com/b v1.0.0\n"
            "\texample.com/local v0.0.0\n)\n\n"
            "require example.com/c v1.0.0 // indirect\n\n"
            "replace example.com/b v1.0.0 => example.com/fork v1.3.0\n"
            "replace example.com/local => ./local\n"
            "replace example.com/unused => ./nowhere\n",
            "main.go": 'package main\n\nimport (\n\t_ "example.com/a"\n\t_ "example.com/b"\n'
            '\t_ "example.com/local/x"\n)\n\nfunc main() {}\n',
            "local/go.mod": "module example.com/local\n\ngo 1.21\n",
            "local/x/x.go": "package x\n",
        },
    )
    env = {"GOPROXY": goproxy_tree.url}
    run_go("mod", "tidy", cwd=main, env_extra=env)
    run_go("mod", "vendor", cwd=main, env_extra=env)
    vendor = parse_modules_txt((main / "vendor" / "modules.txt").read_bytes())

    listed = list(json_stream(run_go("list", "-m", "-json", "all", cwd=main, env_extra=env).stdout))
    expected = {}
    for m in listed:
        if m.get("Main"):
            continue
        replace = m.get("Replace") or {}
        assert isinstance(replace, dict)
        expected[m["Path"]] = (m["Version"], replace.get("Path", ""), replace.get("Version", ""))
    ours = {m.path: (m.version, m.replace_path, m.replace_version) for m in vendor.build_list()}
    assert ours == expected

    pkgs = run_go(
        "list",
        "-deps",
        "-f",
        "{{if and .Module (not .Module.Main)}}{{.ImportPath}} {{.Module.Path}}{{end}}",
        "./...",
        cwd=main,
        env_extra=env,
    ).stdout.split("\n")
    for line in filter(None, pkgs):
        pkg, mod = line.split()
        found = vendor.module_for_package(pkg)
        assert found is not None and found.path == mod, pkg

    a = vendor.get("example.com/a")
    assert a is not None and a.explicit and a.go_version == "1.20"
    c = vendor.get("example.com/c")
    assert c is not None and c.explicit and c.go_version == ""  # in go.mod, as indirect
    unused = vendor.get("example.com/unused")
    assert unused is not None and unused.version == "" and unused.replace_path == "./nowhere"
    assert not unused.packages
    # The go command builds from this vendor/: nothing in it disagrees with go.mod.
    assert inconsistencies(vendor, parse_gomod((main / "go.mod").read_bytes())) == []


def test_annotations_and_replacements() -> None:
    text = (
        "## workspace\n"
        "# example.com/a v1.2.0\n"
        "## explicit; go 1.21\n"
        "example.com/a\n"
        "example.com/a/sub\n"
        "# example.com/b v1.0.0 => example.com/fork v1.1.0\n"
        "## explicit\n"
        "## go 1.19\n"
        "example.com/b\n"
        "# example.com/w => ../w\r\n"
    )
    vendor = parse_modules_txt(text)
    assert vendor.workspace
    assert vendor.modules[0] == VendoredModule(
        "example.com/a",
        "v1.2.0",
        "",
        "",
        True,
        "1.21",
        ("example.com/a", "example.com/a/sub"),
        2,
    )
    b = vendor.modules[1]
    assert (b.replace_path, b.replace_version, b.explicit, b.go_version) == (
        "example.com/fork",
        "v1.1.0",
        True,
        "1.19",
    )
    w = vendor.modules[2]
    assert w.replaced and w.replace_path == "../w" and w.version == "" and w.line == 10
    assert [m.path for m in vendor.build_list()] == ["example.com/a", "example.com/b"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("## explicit\n# example.com/a v1.0.0\n", 1, "annotation before the first module line"),
        ("example.com/a\n", 1, "unexpected line"),
        ("# example.com/a v1.0.0\nexample.com/a extra\n", 2, "unexpected line"),
        ("# example.com/a master\n", 1, "not a canonical semantic version"),
        ("# example.com/a v1.0\n", 1, "not a canonical semantic version"),
        ("# example.com/a v1.0.0 => \n", 1, "a replacement is"),
        ("# example.com/a v1.0.0 => x vbad\n", 1, "not a canonical semantic version"),
        ("# example.com/a v1.0.0\nexample.com/a b\n", 2, "unexpected line"),
        ("# example.com/a v1.0.0\nexample.com//a\n", 2, "malformed import path"),
        ("# \n", 1, "no module path"),
        ("# example.com/a v1.0.0\n# example.com/b\nexample.com/b\n", 2, "no version"),
    ],
)
def test_bad_lines(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_modules_txt(text)
    assert str(info.value).startswith(f"vendor/modules.txt:{line}: ")
    assert message in str(info.value)


@pytest.mark.gocmd
def test_go_work_vendor_output(run_go: RunGo, tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "go.work": "go 1.22\n\nuse (\n\t./a\n\t./b\n)\n\nreplace example.com/c v1.0.0 => ./c\n",
            "a/go.mod": "module example.com/a\n\ngo 1.22\n\nrequire example.com/c v1.0.0\n",
            "a/a.go": 'package a\n\nimport (\n\t_ "example.com/b"\n\t_ "example.com/c/sub"\n)\n',
            "b/go.mod": "module example.com/b\n\ngo 1.22\n",
            "b/b.go": "package b\n",
            "c/go.mod": "module example.com/c\n\ngo 1.21\n",
            "c/sub/sub.go": "package sub\n",
        },
    )
    run_go("work", "vendor", cwd=tmp_path, env_extra={"GOFLAGS": ""})
    vendor = parse_modules_txt((tmp_path / "vendor" / "modules.txt").read_bytes())
    assert vendor.workspace
    (c,) = vendor.build_list()
    assert (c.path, c.version, c.replace_path, c.replace_version) == (
        "example.com/c",
        "v1.0.0",
        "./c",
        "",
    )
    assert c.explicit and c.go_version == "1.21" and c.packages == ("example.com/c/sub",)
