"""parse_gowork reads go.work files as the go command does (compared with `go work edit -json`)."""

from __future__ import annotations

import json
import random
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scanner.errors import ParseError
from scanner.gowork import GoWork, Use, parse_gowork

RunGo = Callable[..., subprocess.CompletedProcess[str]]


def gen_gowork(seed: int) -> bytes:
    rng = random.Random(seed)
    sections: list[list[str]] = []
    if rng.random() < 0.9:
        sections.append([f"go {rng.choice(['1.18', '1.21.0', '1.22rc1', '1.23.4'])}"])
    if rng.random() < 0.3:
        sections.append([f"toolchain {rng.choice(['go1.22.1', 'default'])}"])
    if rng.random() < 0.3:
        sections.append(["godebug (", "\tpanicnil=1", "\thttp2client=0", ")"])
    dirs = rng.sample(["./a", "./b", ".", "../other", '"./with space"', "./c/d", "/abs/e"], 3)
    if rng.random() < 0.5:
        sections.append([f"use {d}" + rng.choice(["", " // main"]) for d in dirs])
    else:
        sections.append(["use (", *(f"\t{d}" for d in dirs), ")"])
    replaces = [
        "example.com/a => ./fork",
        "example.com/a v1.2.3 => example.com/b v1.3.0",
        '"example.com/c/v2" v2.0.0 => ../c',
        "example.com/a => ./fork",  # the same replacement twice: listed once
        "gopkg.in/yaml.v3 => gopkg.in/yaml.v3 v3.0.1",
    ]
    chosen = rng.sample(replaces, rng.randint(0, 4))
    if chosen and rng.random() < 0.5:
        sections.append(["replace (", *(f"\t{r}" for r in chosen), ")"])
    else:
        sections.append([f"replace {r}" for r in chosen])
    rng.shuffle(sections)
    lines = [line for section in sections for line in [*section, ""]]
    if rng.random() < 0.3:
        lines.insert(0, "// workspace for the monorepo")
    eol = "\r\n" if rng.random() < 0.25 else "\n"
    return eol.join(lines).encode()


BAD_GOWORKS: list[tuple[str, bytes, int]] = [
    ("module in go.work", b"go 1.21\nmodule example.com/m\n", 2),
    ("require in go.work", b"go 1.21\nrequire example.com/a v1.0.0\n", 2),
    ("use arity", b"go 1.21\nuse ./a ./b\n", 2),
    ("repeated go", b"go 1.21\ngo 1.22\n", 2),
    ("lax go version is still wrong here", b"go 1.21-custom\n", 1),
    ("replace without version", b"go 1.21\nreplace example.com/a => example.com/b\n", 2),
    ("unterminated use block", b"go 1.21\nuse (\n\t./a\n", 4),
    ("unknown block", b"go 1.21\nrequire (\n)\n", 2),
]


def _go_work_json(run_go: RunGo, workdir: Path, name: str, data: bytes) -> tuple[int, str]:
    (workdir / name).write_bytes(data)
    proc = run_go("work", "edit", "-json", name, cwd=workdir, check=False)
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


@pytest.mark.gocmd
def test_gowork_parse_equals_go_work_edit_json(run_go: RunGo, tmp_path: Path) -> None:
    good = {f"g{seed:02d}.work": gen_gowork(seed) for seed in range(40)}
    bad = {f"b{i:02d}.work": data for i, (_, data, _) in enumerate(BAD_GOWORKS)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(_go_work_json, run_go, tmp_path, name, data)
            for name, data in {**good, **bad}.items()
        }
        results = {name: f.result() for name, f in futures.items()}
    for name, data in good.items():
        code, out = results[name]
        assert code == 0, f"{name} rejected by go: {out}\n{data!r}"
        assert parse_gowork(data, name).to_edit_json() == json.loads(out), data.decode()
    for i, (label, data, line) in enumerate(BAD_GOWORKS):
        name = f"b{i:02d}.work"
        code, out = results[name]
        go_lines = re.findall(rf"{re.escape(name)}:(\d+)", out)
        assert code != 0 and go_lines and int(go_lines[0]) == line, (label, out)
        with pytest.raises(ParseError) as info:
            parse_gowork(data, name)
        assert str(info.value).startswith(f"{name}:{line}: "), (label, str(info.value))


def test_gowork_fields() -> None:
    work = parse_gowork(
        b"go 1.22\n\nuse (\n\t./api\n\t./svc // the service\n)\n"
        b"replace example.com/lib v1.0.0 => ../lib\n",
        "repo/go.work",
    )
    assert isinstance(work, GoWork)
    assert work.go == "1.22" and work.toolchain == ""
    assert work.uses == (Use("./api", 4), Use("./svc", 5))
    (replace,) = work.replaces
    assert (replace.old_path, replace.old_version, replace.new_path, replace.line) == (
        "example.com/lib",
        "v1.0.0",
        "../lib",
        7,
    )
    assert replace.is_local


@pytest.mark.gocmd
def test_conflicting_replacements_fail_as_in_go_list(run_go: RunGo, tmp_path: Path) -> None:
    work = b"go 1.21\nuse .\nreplace example.com/a => ./x\n\nreplace example.com/a => ./y\n"
    (tmp_path / "go.work").write_bytes(work)
    (tmp_path / "go.mod").write_bytes(b"module example.com/m\n")
    go = run_go("list", "-m", "all", cwd=tmp_path, env_extra={"GOFLAGS": ""}, check=False)
    assert go.returncode != 0 and "conflicting replacements for example.com/a" in go.stderr
    with pytest.raises(ParseError, match=r"^go.work:5: conflicting replacements for example.com/a"):
        parse_gowork(work)
