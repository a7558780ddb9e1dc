"""`goproxy-scan graph` as a user runs it: exit codes, messages, --json, --why, progress."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from goproxytree import GoProxyTree, scanner_cli, write_files

RunGo = Callable[..., subprocess.CompletedProcess[str]]
E = "example.com"


def _scan(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = scanner_cli()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(env_extra or {})
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tree(goproxy_tree: GoProxyTree) -> GoProxyTree:
    goproxy_tree.add_module(
        f"{E}/a", "v1.0.0", {"go.mod": f"module {E}/a\n\ngo 1.21\n\nrequire {E}/b v1.1.0\n"}
    )
    goproxy_tree.add_module(f"{E}/b", "v1.1.0", {"go.mod": f"module {E}/b\n\ngo 1.21\n"})
    return goproxy_tree


def _main(tmp_path: Path, gomod: str | bytes) -> Path:
    return write_files(tmp_path / "main", {"go.mod": gomod})


GOOD = f"module {E}/main\n\ngo 1.21\n\nrequire (\n\t{E}/a v1.0.0\n\t{E}/b v1.1.0 // indirect\n)\n"

# Bad main go.mod files: each must exit 2 with "<file>:<line>:" and no traceback.
BAD: dict[str, tuple[bytes, int]] = {
    "truncated": (f"module {E}/main\n\ngo 1.21\n\nrequire (\n\t{E}/a v1.0.0\n".encode(), 7),
    "binary": (b"\x00\x01\x02\xff\xfe module", 1),
    "unknown_directive": (f"module {E}/main\n\ngo 1.21\nfrobnicate x\n".encode(), 4),
    "bad_version": (f"module {E}/main\n\ngo 1.21\nrequire {E}/a vX.Y\n".encode(), 4),
    "bad_path": (f"module {E}/main\n\ngo 1.21\nrequire exa mple/a v1.0.0\n".encode(), 4),
    "bom": (b"\xef\xbb\xbf" + GOOD.encode(), 1),
}


@pytest.mark.gocmd
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_go_mod_exits_2_with_file_line(
    tree: GoProxyTree, tmp_path: Path, run_go: RunGo, case: str
) -> None:
    data, line = BAD[case]
    main = _main(tmp_path, data)
    out = _scan("graph", str(main), "--proxy", tree.url)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"go.mod:{line}:" in out.stderr
    assert "Traceback" not in out.stderr
    # The go command refuses the same file.
    go = run_go("list", "-m", "all", cwd=main, env_extra={"GOPROXY": tree.url}, check=False)
    assert go.returncode != 0


@pytest.mark.gocmd
def test_crlf_go_mod_is_fine(tree: GoProxyTree, tmp_path: Path, run_go: RunGo) -> None:
    main = _main(tmp_path, GOOD.replace("\n", "\r\n"))
    out = _scan("graph", str(main), "--proxy", tree.url)
    assert out.returncode == 0, out.stderr
    go = run_go("list", "-m", "all", cwd=main, env_extra={"GOPROXY": tree.url})
    assert out.stdout == go.stdout


@pytest.mark.slow
def test_huge_go_mod_exits_2(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, GOOD + "// padding\n" * (20 * 1024 * 1024 // 11))
    out = _scan("graph", str(main), "--proxy", tree.url)
    assert out.returncode == 2, out.stderr
    assert re.search(r"go\.mod:\d+: file is 20\.0 MiB", out.stderr), out.stderr
    assert "Traceback" not in out.stderr


def test_missing_module_exits_3_naming_it(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, f"module {E}/main\n\ngo 1.21\n\nrequire {E}/nope v1.0.0\n")
    out = _scan("graph", str(main), "--proxy", tree.url)
    assert out.returncode == 3, out.stderr
    assert f"{E}/nope@v1.0.0" in out.stderr and "Traceback" not in out.stderr


def test_unreachable_proxy_exits_3(tree: GoProxyTree, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = _scan("graph", str(_main(tmp_path, GOOD)), "--proxy", f"http://127.0.0.1:{port}")
    assert out.returncode == 3
    assert "cannot reach" in out.stderr


def test_bad_proxy_flag_exits_2(tmp_path: Path) -> None:
    out = _scan("graph", str(_main(tmp_path, GOOD)), "--proxy", "direct")
    assert out.returncode == 2
    assert "direct" in out.stderr


def test_goproxy_environment_is_the_default(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, GOOD)
    # The usual GOPROXY ends in ",direct": the proxies before it are used.
    out = _scan("graph", str(main), env_extra={"GOPROXY": f"{tree.url},direct"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{E}/main", f"{E}/a v1.0.0", f"{E}/b v1.1.0"]


def test_json_and_why(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, GOOD)
    out = _scan("graph", str(main), "--proxy", tree.url, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        {"Path": f"{E}/main", "Main": True, "GoVersion": "1.21"},
        {"Path": f"{E}/a", "Version": "v1.0.0", "GoVersion": "1.21"},
        {"Path": f"{E}/b", "Version": "v1.1.0", "Indirect": True, "GoVersion": "1.21"},
    ]
    why = _scan("graph", str(main), "--proxy", tree.url, "--why", f"{E}/zzz", "--json")
    assert json.loads(why.stdout) == {"module": f"{E}/zzz", "path": None, "imports": []}
    why = _scan("graph", str(main), "--proxy", tree.url, "--why", f"{E}/zzz")
    assert why.stdout.splitlines() == [f"# {E}/zzz", f"({E}/main does not need module {E}/zzz)"]


def test_why_shows_the_requirement_chain_and_the_import(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, GOOD)
    write_files(
        main,
        {
            "cmd/tool/main.go": f'package main\n\nimport (\n\t"fmt"\n\t"{E}/a/pkg"\n)\n',
            "x_test.go": f'package main\n\nimport _ "{E}/a"\n',
        },
    )
    # b is required `// indirect` by main, but a is who needs it; run from a subdirectory.
    why = _scan("graph", str(main / "cmd"), "--proxy", tree.url, "--why", f"{E}/b")
    assert why.returncode == 0, why.stderr
    assert why.stdout.splitlines() == [
        f"# {E}/b",
        f"{E}/main",
        f"{E}/a@v1.0.0",
        f"{E}/b@v1.1.0",
        f"imported as {E}/a/pkg at cmd/tool/main.go:5:2",
        f"imported as {E}/a at x_test.go:3:10 (test)",
    ]
    doc = json.loads(
        _scan("graph", str(main), "--proxy", tree.url, "--why", f"{E}/b", "--json").stdout
    )
    assert doc["path"] == [f"{E}/main", f"{E}/a@v1.0.0", f"{E}/b@v1.1.0"]
    assert doc["imports"][0] == {
        "file": "cmd/tool/main.go",
        "line": 5,
        "column": 2,
        "import": f"{E}/a/pkg",
        "test": False,
    }


@pytest.mark.gocmd
def test_json_go_version_matches_go(tree: GoProxyTree, tmp_path: Path, run_go: RunGo) -> None:
    main = _main(tmp_path, GOOD)
    ours = json.loads(_scan("graph", str(main), "--proxy", tree.url, "--json").stdout)
    go = run_go("list", "-m", "-json", "all", cwd=main, env_extra={"GOPROXY": tree.url}).stdout
    decoder = json.JSONDecoder()
    go_docs, text = [], go.strip()
    while text:
        doc, end = decoder.raw_decode(text)
        go_docs.append(doc)
        text = text[end:].lstrip()
    assert [d.get("GoVersion") for d in ours] == [d.get("GoVersion") for d in go_docs]


@pytest.mark.gocmd
def test_modcache_flag(tree: GoProxyTree, tmp_path: Path, run_go: RunGo) -> None:
    main = _main(tmp_path, GOOD)
    go = run_go("list", "-m", "all", cwd=main, env_extra={"GOPROXY": tree.url})
    modcache = run_go("env", "GOMODCACHE", cwd=main).stdout.strip()
    out = _scan("graph", str(main), "--modcache", modcache)
    assert out.returncode == 0, out.stderr
    assert out.stdout == go.stdout


def test_progress_only_on_a_terminal(tree: GoProxyTree, tmp_path: Path) -> None:
    main = _main(tmp_path, GOOD)
    quiet = _scan("graph", str(main), "--proxy", tree.url)
    assert quiet.stderr == ""
    exe = scanner_cli()
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [exe, "graph", str(main), "--proxy", tree.url],
            stdout=subprocess.PIPE,
            stderr=secondary,
            timeout=120,
        )
        os.close(secondary)
        secondary = -1
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(primary)
        if secondary != -1:
            os.close(secondary)
    assert proc.returncode == 0
    assert b"go.mod files" in seen
    assert proc.stdout.decode().splitlines()[0] == f"{E}/main"


def test_gowork_off_reads_the_module_alone(tree: GoProxyTree, tmp_path: Path) -> None:
    ws = write_files(
        tmp_path / "ws",
        {
            "go.work": "go 1.21\n\nuse (\n\t./m1\n\t./m2\n)\n",
            "m1/go.mod": f"module {E}/m1\n\ngo 1.21\n",
            "m2/go.mod": f"module {E}/m2\n\ngo 1.21\n\nrequire {E}/a v1.0.0\n",
        },
    )
    both = _scan("graph", str(ws / "m1"), "--proxy", tree.url)
    assert both.stdout.splitlines() == [f"{E}/m1", f"{E}/m2", f"{E}/a v1.0.0", f"{E}/b v1.1.0"]
    alone = _scan("graph", str(ws / "m1"), "--proxy", tree.url, env_extra={"GOWORK": "off"})
    assert alone.stdout.splitlines() == [f"{E}/m1"]
