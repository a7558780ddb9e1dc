"""scan_sources over real trees: the content-hash cache, rescans, parse errors, workers, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from goproxytree import go_binary

from scanner.rules import scan_sources
from scanner.rules.cache import default_cache_dir
from scanner.source import confirm_with_go

FIXMOD = Path(__file__).parent / "testdata" / "fixmod"

WEAK = (
    'package p\n\nimport "crypto/md5"\n\nfunc F(b []byte) [16]byte {{ return md5.Sum(b) }} // {n}\n'
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "mod"
    shutil.copytree(FIXMOD, root)
    return root


def key(scan: object) -> list[tuple[str, int, str, str, bool]]:
    findings = getattr(scan, "findings", ())
    return [(f.path, f.line, f.rule_id, f.fingerprint, f.suppressed) for f in findings]


def test_a_rescan_reads_nothing_and_finds_the_same(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = scan_sources(tree, cache_dir=cache, jobs=1)
    assert first.files_cached == 0 and first.files_scanned > 10
    again = scan_sources(tree, cache_dir=cache, jobs=1)
    assert again.files_cached == again.files_scanned == first.files_scanned
    assert key(again) == key(first)
    assert (cache / ".gitignore").read_text().endswith("*\n")


def test_a_changed_file_is_the_only_one_analysed(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = scan_sources(tree, cache_dir=cache, jobs=1)
    target = tree / "files" / "files.go"
    text = target.read_text().replace("0o600); err", "0o666); err")  # a new finding
    target.write_text(text)
    os.utime(target, ns=(1, 1))  # an old mtime: not racy, so only size/mtime tell the change
    second = scan_sources(tree, cache_dir=cache, jobs=1)
    assert second.files_cached == second.files_scanned - 1
    added = set(key(second)) - set(key(first))
    assert [(p, line, rule) for p, line, rule, _, _ in added] == [("files/files.go", 13, "GPS111")]


def test_an_edit_that_keeps_size_and_mtime_is_caught_when_racy(tree: Path, tmp_path: Path) -> None:
    # A file written just now has its mtime inside the racy window: the index does not trust
    # it, so a same-size edit within the same mtime tick is still seen (as git does).
    cache = tmp_path / "cache"
    target = tree / "lowlevel" / "lowlevel.go"
    os.utime(target)
    stat = target.stat()
    first = scan_sources(tree, cache_dir=cache, jobs=1)
    text = target.read_text()
    assert "u.Sizeof(x)" in text
    target.write_text(text.replace("u.Sizeof(x)", "u.Add(p, 1)"))  # same size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    scan = scan_sources(tree, cache_dir=cache, jobs=1)
    added = {(p, n, r) for p, n, r, _, _ in set(key(scan)) - set(key(first))}
    assert added == {("lowlevel/lowlevel.go", 12, "GPS108")}


def test_identical_content_elsewhere_comes_from_the_object_cache(tmp_path: Path) -> None:
    one, two, cache = tmp_path / "one", tmp_path / "two", tmp_path / "cache"
    for root in (one, two):
        (root / "p").mkdir(parents=True)
        (root / "go.mod").write_text("module example.com/m\n\ngo 1.24\n")
        (root / "p" / "p.go").write_text(WEAK.format(n=0))
    assert scan_sources(one, cache_dir=cache, jobs=1).files_cached == 0
    scan = scan_sources(two, cache_dir=cache, jobs=1)
    assert scan.files_cached == 1  # another project, same bytes: not parsed again
    assert [f.rule_id for f in scan.findings] == ["GPS103"]


def test_a_damaged_cache_is_rebuilt(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = scan_sources(tree, cache_dir=cache, jobs=1)
    for path in cache.rglob("*.json"):
        path.write_text('{"broken": [1, 2')
    scan = scan_sources(tree, cache_dir=cache, jobs=1)
    assert scan.files_cached == 0
    assert key(scan) == key(first)


def test_unparsable_files_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "m"
    (root / "bad").mkdir(parents=True)
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.24\n")
    (root / "bad" / "bad.go").write_text(
        'package bad\n\nimport "crypto/md5"\n\nfunc F( {\n}\n\nvar X = md5.New()\n'
    )
    (root / "bad" / "good.go").write_text(WEAK.format(n=1))
    (root / "bad" / "binary.go").write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    scan = scan_sources(root, cache_dir=tmp_path / "cache", jobs=1)
    problems = {p.path: p for p in scan.parse_errors}
    assert set(problems) == {"bad/bad.go", "bad/binary.go"}
    assert problems["bad/bad.go"].line == 5
    assert str(problems["bad/bad.go"]).startswith("bad/bad.go:5:")
    # Findings still come from the broken file where it parses, and from the good one.
    assert {(f.path, f.rule_id) for f in scan.findings} == {
        ("bad/bad.go", "GPS103"),
        ("bad/good.go", "GPS103"),
    }


def test_worker_processes_give_the_same_result(tmp_path: Path) -> None:
    root = tmp_path / "many"
    (root).mkdir()
    (root / "go.mod").write_text("module example.com/many\n\ngo 1.24\n")
    for n in range(120):
        package = root / f"p{n}"
        package.mkdir()
        (package / "p.go").write_text(WEAK.format(n=n))
    serial = scan_sources(root, jobs=1, use_cache=False)
    parallel = scan_sources(root, jobs=2, cache_dir=tmp_path / "cache")
    assert key(parallel) == key(serial)
    assert len(parallel.findings) == 120


def test_default_cache_dir() -> None:
    assert default_cache_dir(Path("/src/app"), {}) == Path("/src/app/.goproxy-scan-cache")
    assert default_cache_dir(Path("/src/app"), {"XDG_CACHE_HOME": "/c"}) == Path("/c/goproxy-scan")


def test_command_line_entry_point(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "scanner.rules", str(tree), "--cache-dir", str(cache), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr  # high-severity findings present
    doc = json.loads(proc.stdout)
    assert doc["files_cached"] == 0 and doc["files_scanned"] > 10
    assert {"GPS101", "GPS112"} <= {f["rule_id"] for f in doc["findings"]}
    assert "from cache" in proc.stderr and "Traceback" not in proc.stderr
    quiet = subprocess.run(
        [sys.executable, "-m", "scanner.rules", str(tree / "lowlevel"), "--fail-on", "critical"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")},
    )
    assert quiet.returncode == 0
    assert "lowlevel.go:7:" in quiet.stdout
    assert (tmp_path / "xdg" / "goproxy-scan").is_dir()


def test_go_s_own_parser_tells_a_grammar_gap_from_an_error(tmp_path: Path) -> None:
    """buildkit's `new(value * 1000)` (Go 1.26's new(expr)) is valid Go that tree-sitter-go
    0.25 does not parse: it was reported as the user's "missing )". gofmt -e now says which
    files Go reads; a real error gets Go's own position and words."""
    root = tmp_path / "m"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.26\n")
    (root / "new.go").write_text(
        "package m\n\nfunc F(value int) *int {\n\treturn new(value * 1000)\n}\n"
    )
    (root / "bad.go").write_text("package m\n\nfunc G( {\n}\n")
    scan = scan_sources(root, cache_dir=tmp_path / "cache", jobs=1)
    assert {p.path for p in scan.parse_errors} == {"new.go", "bad.go"}
    tools = str(Path(go_binary()).parent)  # go and gofmt, as the Go distribution has them
    confirmed = {p.path: p for p in confirm_with_go(root, scan.parse_errors, tools)}
    assert confirmed["new.go"].go_accepts is True
    assert "Go accepts this syntax" in str(confirmed["new.go"])
    bad = confirmed["bad.go"]
    assert (bad.go_accepts, bad.line) == (False, 3)
    assert bad.message.startswith("expected")  # gofmt's words, e.g. "expected type, found '{'"
    # Without a gofmt (nor a go command to find one), the problems stay as they were.
    assert confirm_with_go(root, scan.parse_errors, str(tmp_path)) == scan.parse_errors


def test_a_file_without_a_final_newline_parses(tmp_path: Path) -> None:
    """tree-sitter-go failed a file ending in a type declaration without a final newline, at
    1:1 (gvisor-tap-vsock's test-utils/ignition_schema.go); Go reads it."""
    root = tmp_path / "m"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/m\n\ngo 1.24\n")
    (root / "c.go").write_text(
        'package m\n\nimport "crypto/md5"\n\nvar H = md5.New\n\ntype T struct{ A int }'
    )
    scan = scan_sources(root, cache_dir=tmp_path / "cache", jobs=1)
    assert scan.parse_errors == ()
    assert [(f.path, f.rule_id, f.line) for f in scan.findings] == [("c.go", "GPS103", 5)]
