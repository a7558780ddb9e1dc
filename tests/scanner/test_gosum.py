"""parse_gosum reads the go.sum the go command writes and refuses malformed or conflicting lines."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, json_stream, write_files

from scanner.errors import ParseError
from scanner.gosum import EMPTY_GOMOD_HASH, SumLine, parse_gosum
from scanner.module import ModuleVersion, sort_module_versions

RunGo = Callable[..., subprocess.CompletedProcess[str]]

H1 = "h1:" + "A" * 43 + "="
H1_OTHER = "h1:" + "B" * 43 + "="


@pytest.mark.gocmd
def test_hashes_equal_go_mod_download(
    run_go: RunGo, goproxy_tree: GoProxyTree, tmp_path: Path
) -> None:
    goproxy_tree.add_module(
        "example.com/a", "v1.0.0", {"go.mod": "module example.com/a\n", "a.go": "package a\n"}
    )
    goproxy_tree.add_module(
        "example.com/b/v2",
        "v2.1.0",
        {
            "go.mod": "module example.com/b/v2\n\nrequire example.com/a v1.0.0\n",
            "b.go": "package b\n",
        },
    )
    goproxy_tree.add_module("example.com/Upper", "v0.1.0", {"go.mod": "module example.com/Upper\n"})
    main = write_files(
        tmp_path / "main",
        {
            "go.mod": "module example.com/main\n\ngo 1.21\n\nrequire (\n"
            "\texample.com/Upper v0.1.0\n\texample.com/b/v2 v2.1.0\n)\n",
        },
    )
    env = {"GOPROXY": goproxy_tree.url}
    run_go("mod", "download", cwd=main, env_extra=env)
    downloads = run_go("mod", "download", "-json", "all", cwd=main, env_extra=env).stdout
    infos = list(json_stream(downloads))
    gosum = parse_gosum((main / "go.sum").read_bytes(), "go.sum")
    assert {(s.path, s.gomod) for s in gosum.lines} >= {
        ("example.com/b/v2", True),
        ("example.com/b/v2", False),
        ("example.com/Upper", False),
    }
    # The go command writes go.sum in x/mod module.Sort order.
    written = [
        ModuleVersion(s.path, s.version + ("/go.mod" if s.gomod else "")) for s in gosum.lines
    ]
    assert written == sort_module_versions(reversed(written))
    checked = 0
    for info in infos:
        if info.get("Main"):
            continue
        if gosum.gomod_h1(info["Path"], info["Version"]) is not None:
            assert gosum.gomod_h1(info["Path"], info["Version"]) == info["GoModSum"]
            checked += 1
        if gosum.h1(info["Path"], info["Version"]) is not None:
            assert gosum.h1(info["Path"], info["Version"]) == info["Sum"]
            checked += 1
    assert checked >= 4


def test_both_line_kinds_blank_lines_crlf_and_duplicates() -> None:
    data = (
        f"example.com/a v1.0.0 {H1}\r\n"
        f"example.com/a v1.0.0/go.mod {H1_OTHER}\r\n"
        "\r\n"
        f"example.com/a v1.0.0 {H1}\r\n"  # an identical duplicate is harmless
        f"example.com/old v1.0.0/go.mod {EMPTY_GOMOD_HASH}\r\n"  # dropped, as go does
    ).encode()
    gosum = parse_gosum(data)
    assert gosum.h1("example.com/a", "v1.0.0") == H1
    assert gosum.gomod_h1("example.com/a", "v1.0.0") == H1_OTHER
    assert gosum.h1("example.com/a", "v1.0.1") is None
    assert gosum.gomod_h1("example.com/old", "v1.0.0") is None
    assert gosum.lines[0] == SumLine("example.com/a", "v1.0.0", False, H1, 1)
    assert len(gosum.lines) == 3
    assert gosum.modules() == [("example.com/a", "v1.0.0")]
    assert gosum.line_of("example.com/a", "v1.0.0", gomod=True) == 2


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (f"example.com/a v1.0.0 {H1}\nexample.com/b v1.0.0\n", 2, "wrong number of fields 2"),
        (f"example.com/a v1.0.0 {H1} extra\n", 1, "wrong number of fields 4"),
        ("example.com/a v1.0.0 h1:not-base64!\n", 1, "not valid base64"),
        ("example.com/a v1.0.0 h1:AAAA\n", 1, "not a SHA-256"),
        ("example.com/a v1.0.0 deadbeef\n", 1, "not of the form h1:BASE64"),
        (f"example.com/a v1.0.0 {H1}\n\nexample.com/a v1.0.0 {H1_OTHER}\n", 3, "conflicting"),
        (b"example.com/a v1.0.0 \x00\x01\n", 1, "not of the form"),
    ],
)
def test_malformed_lines_name_their_line(data: str | bytes, line: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_gosum(data, "sub/go.sum")
    assert info.value.line == line
    assert str(info.value).startswith(f"sub/go.sum:{line}: ")
    assert message in str(info.value)


def test_other_hash_kinds_are_kept_but_not_h1() -> None:
    gosum = parse_gosum(f"example.com/a v1.0.0 h2:xyz\nexample.com/a v1.0.0 {H1}\n")
    assert gosum.h1("example.com/a", "v1.0.0") == H1
    assert len(gosum.lines) == 2


def test_conflicting_hashes_say_the_go_command_takes_the_first() -> None:
    # go's haveModSumLocked accepts a download equal to a line, and stops at the first h1:
    # line that differs: the first line is the one it checks against.
    with pytest.raises(ParseError) as info:
        parse_gosum(f"example.com/a v1.0.0 {H1}\nexample.com/a v1.0.0 {H1_OTHER}\n")
    assert info.value.hint is not None
    assert "takes the first (line 1)" in info.value.hint
