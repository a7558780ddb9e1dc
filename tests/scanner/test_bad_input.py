"""Bad Go project files end in a `file:line: what is wrong` message and exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, write_files
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.cli import cli, run
from scanner.errors import ParseError
from scanner.gomod import parse_gomod
from scanner.gosum import parse_gosum
from scanner.gowork import parse_gowork
from scanner.modulestxt import parse_modules_txt

GOOD = b"module example.com/m\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n"
_REQUIRE_LINE = b"require example.com/some/long/module/path/for/size v1.2.3 // indirect\n"
HUGE = b"module example.com/m\n" + _REQUIRE_LINE * (20 * (1 << 20) // len(_REQUIRE_LINE))

# (case, go.mod bytes, line the message must name)
BAD_GOMODS: list[tuple[str, bytes, int]] = [
    ("truncated in a block", GOOD[:-1].replace(b"require ", b"require (\n\t"), 6),
    ("truncated in a string", b'module example.com/m\n\nrequire "example.com/a', 3),
    ("binary", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00", 1),
    ("random bytes", bytes(range(256)) * 4, 1),
    ("unknown directive", GOOD + b"requires example.com/b v1.0.0\n", 6),
    ("bad version", GOOD.replace(b"v1.0.0", b"v1.0.0.0"), 5),
    ("bad path", GOOD.replace(b"example.com/a", b"example.com/a/v1"), 5),
    ("bad path characters", GOOD.replace(b"example.com/a", b'"example.com/a b"'), 5),
    ("BOM", b"\xef\xbb\xbf" + GOOD, 1),
    ("CRLF with a bad line", GOOD.replace(b"\n", b"\r\n") + b"exclude x\r\n", 6),
    ("UTF-16", GOOD.decode().encode("utf-16"), 1),
    # The line holding byte 16 MiB: the module line, then whole require lines before it.
    ("20 MB", HUGE, 2 + ((16 << 20) - len(b"module example.com/m\n")) // len(_REQUIRE_LINE)),
]


@pytest.mark.parametrize(("case", "data", "line"), BAD_GOMODS, ids=[c for c, _, _ in BAD_GOMODS])
def test_parse_gomod_names_the_line(case: str, data: bytes, line: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_gomod(data, "proj/go.mod")
    assert info.value.path == "proj/go.mod"
    assert info.value.line == line
    assert str(info.value).startswith(f"proj/go.mod:{line}: ")


def test_crlf_is_accepted_like_the_go_command_does() -> None:
    assert parse_gomod(GOOD.replace(b"\n", b"\r\n")) == parse_gomod(GOOD)


@pytest.mark.parametrize(
    ("parse", "name", "data", "line"),
    [
        (parse_gowork, "go.work", b"go 1.21\nuse (\n\t./a\n", 4),
        (parse_gowork, "go.work", b"\xef\xbb\xbfgo 1.21\n", 1),
        (parse_gowork, "go.work", b"go 1.21\nuse ./a\x00\n", 2),
        (parse_gowork, "go.work", b"go 1.21\r\nuse ./a ./b\r\n", 2),
        (parse_gosum, "go.sum", b"example.com/a v1.0.0 h1:", 1),
        (parse_gosum, "go.sum", b"\x00\x01\x02\n", 1),
        (parse_gosum, "go.sum", b"example.com/a v1.0.0\r\n", 1),
        (parse_modules_txt, "vendor/modules.txt", b"# example.com/a v1.0.0\n\x00\x01\n", 2),
        (parse_modules_txt, "vendor/modules.txt", b"\xef\xbb\xbf# example.com/a v1.0.0\n", 1),
        (parse_modules_txt, "vendor/modules.txt", b"# example.com/a v1.0", 1),
    ],
)
def test_other_parsers_name_the_line(
    parse: Callable[[bytes, str], object], name: str, data: bytes, line: int
) -> None:
    with pytest.raises(ParseError) as info:
        parse(data, name)
    assert str(info.value).startswith(f"{name}:{line}: ")


def test_huge_files_are_refused_quickly_by_every_parser() -> None:
    for parse, name in ((parse_gomod, "go.mod"), (parse_gowork, "go.work")):
        with pytest.raises(ParseError, match="16 MiB"):
            parse(HUGE, name)


def _graph_process(directory: Path, proxy_url: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a CI job runs it."""
    env = {"PATH": os.environ["PATH"], "HOME": str(directory)}
    if not (directory.parent / "go.work").exists():
        env["GOWORK"] = "off"
    return subprocess.run(
        ["goproxy-scan", "graph", str(directory), "--proxy", proxy_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.gocmd
def test_graph_exits_2_with_file_and_line(
    goproxy_tree: GoProxyTree,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    goproxy_tree.add_module("example.com/a", "v1.0.0", {"go.mod": "module example.com/a\n"})
    goproxy_tree.add_module(
        "example.com/broken", "v1.0.0", gomod="module example.com/broken\nrequire (\n"
    )
    monkeypatch.setenv("GOWORK", "off")

    def graph(directory: Path) -> tuple[int, str, str]:
        # In-process, as the console script runs it (scanner.cli.run): an exception that
        # escaped as a traceback would fail this test with that exception.
        code = run(cli, ["graph", str(directory), "--proxy", goproxy_tree.url], "goproxy-scan")
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    problems = []
    for i, (case, data, line) in enumerate(BAD_GOMODS):
        project = write_files(tmp_path / f"p{i}", {"go.mod": data})
        code, _, err = graph(project)
        if code != 2 or not err.startswith(f"error: {project / 'go.mod'}:{line}: "):
            problems.append(f"{case}: exit {code}, stderr {err[:300]!r}")
    assert not problems, "\n".join(problems)

    code, out, err = graph(write_files(tmp_path / "crlf", {"go.mod": GOOD.replace(b"\n", b"\r\n")}))
    assert code == 0, err
    assert out.split("\n")[:2] == ["example.com/m", "example.com/a v1.0.0"]

    code, out, err = graph(
        write_files(
            tmp_path / "dep",
            {"go.mod": b"module example.com/m\nrequire example.com/broken v1.0.0\n"},
        )
    )
    assert code == 2 and "example.com/broken@v1.0.0/go.mod:3: " in err, err


@pytest.mark.gocmd
def test_console_script_prints_no_traceback(goproxy_tree: GoProxyTree, tmp_path: Path) -> None:
    binary = write_files(tmp_path / "bin", {"go.mod": BAD_GOMODS[2][1]})
    work = write_files(
        tmp_path / "work", {"go.work": b"go 1.21\nuse ./m\nfrobnicate\n", "m/go.mod": GOOD}
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda d: _graph_process(d, goproxy_tree.url), [binary, work / "m"]))
    for proc in procs:
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert procs[0].stderr.startswith(f"error: {binary / 'go.mod'}:1: unexpected input character")
    assert procs[1].stderr.startswith(f"error: {work / 'go.work'}:3: unknown directive: frobnicate")


# Fragments of real go.mod syntax, so that random files get past the first token often.
_PIECES = st.sampled_from(
    [
        "module",
        "go",
        "require",
        "replace",
        "exclude",
        "retract",
        "tool",
        "ignore",
        "godebug",
        "toolchain",
        "use",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=>",
        "//",
        "// indirect",
        "/*",
        '"',
        "`",
        "\\",
        "example.com/a",
        "example.com/a/v2",
        "gopkg.in/x.v1",
        "./dir",
        "v1.2.3",
        "v2.0.0",
        "v1",
        "1.21",
        "go1.22",
        "a=b",
        " ",
        "\t",
        "\r",
        "\n",
        "\n",
        "\n",
        "\ufeff",
        "\x00",
        "ü",
        "# example.com/a v1.0.0",
        "## explicit",
        "h1:" + "A" * 43 + "=",
    ]
)
_FILES = st.one_of(
    st.binary(max_size=300),
    st.lists(_PIECES, max_size=60).map(lambda parts: " ".join(parts).encode()),
    st.lists(_PIECES, max_size=60).map(lambda parts: "".join(parts).encode()),
)


@given(_FILES)
@settings(max_examples=300, deadline=None)
def test_any_bytes_parse_or_fail_with_a_line(data: bytes) -> None:
    lines = data.count(b"\n") + 1
    for parse in (
        parse_gomod,
        lambda d, p: parse_gomod(d, p, lax=True),
        parse_gowork,
        parse_gosum,
        parse_modules_txt,
    ):
        try:
            parse(data, "f")
        except ParseError as e:
            assert e.line is not None and 1 <= e.line <= lines, (e, data)
            assert str(e).startswith(f"f:{e.line}: ")
