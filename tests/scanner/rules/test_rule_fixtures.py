"""Every source rule over fixture Go code whose `// want` comments say exactly what must be found.

The fixture module (testdata/fixmod) is real Go: the go command type-checks it (go vet) and its
own parser accepts it (gofmt -e). Markers: `// want GPSnnn ...` at the end of a line expects
active findings on that line, `// want-suppressed GPSnnn` a suppressed one, and a line
`// want-next GPSnnn` expects findings on the line after it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.rules import RULES, Severity, SourceScan, describe, scan_sources

FIXMOD = Path(__file__).parent / "testdata" / "fixmod"
CHEAP_PACKAGES = ("./secrets", "./commands", "./files", "./lowlevel", "./suppress")
MARK = re.compile(r"//\s*(want|want-suppressed|want-next)((?:\s+GPS\d{3})+)")


def expected(root: Path) -> tuple[Counter[tuple[str, int, str]], Counter[tuple[str, int, str]]]:
    """(active, suppressed) expectations as counters of (path, line, rule)."""
    active: Counter[tuple[str, int, str]] = Counter()
    suppressed: Counter[tuple[str, int, str]] = Counter()
    for file in sorted(root.rglob("*.go")):
        rel = file.relative_to(root).as_posix()
        if rel.startswith("xcrypto/"):
            continue
        for number, text in enumerate(file.read_text().splitlines(), start=1):
            for kind, ids in MARK.findall(text):
                line = number + 1 if kind == "want-next" else number
                target = suppressed if kind == "want-suppressed" else active
                for rule in ids.split():
                    target[(rel, line, rule)] += 1
    return active, suppressed


@pytest.fixture(scope="module")
def fixture_scan(tmp_path_factory: pytest.TempPathFactory) -> SourceScan:
    cache = tmp_path_factory.mktemp("rules-cache")
    return scan_sources(FIXMOD, cache_dir=cache, jobs=1, tests=True)


def test_findings_equal_the_want_comments(fixture_scan: SourceScan) -> None:
    want_active, want_suppressed = expected(FIXMOD)
    found = fixture_scan.findings
    got_active = Counter((f.path, f.line, f.rule_id) for f in found if not f.suppressed)
    got_suppressed = Counter((f.path, f.line, f.rule_id) for f in found if f.suppressed)
    assert sorted((got_active - want_active).elements()) == [], "unexpected findings"
    assert sorted((want_active - got_active).elements()) == [], "missed findings"
    # The trailing-comment suppression in suppress.go cannot carry a marker: counted here.
    assert got_suppressed - want_suppressed == Counter({("suppress/suppress.go", 11, "GPS111"): 1})
    assert not want_suppressed - got_suppressed
    assert fixture_scan.parse_errors == ()


def test_every_rule_has_a_positive_fixture(fixture_scan: SourceScan) -> None:
    found = {f.rule_id for f in fixture_scan.findings}
    assert found == {r.id for r in RULES}


def test_findings_carry_rule_metadata(fixture_scan: SourceScan) -> None:
    by_rule = {f.rule_id: f for f in fixture_scan.findings}
    credential = by_rule["GPS101"]
    assert credential.severity is Severity.HIGH
    assert credential.cwe == "CWE-798"
    assert "environment" in credential.fix
    assert by_rule["GPS109"].cwe == "CWE-89"
    for finding in fixture_scan.findings:
        assert finding.column >= 1 and finding.end_line >= finding.line
        assert len(finding.fingerprint) == 32
    info = describe("GPS112")
    assert info.name == "zip-slip" and "IsLocal" in info.help and info.cwe == "CWE-22"


def test_aliases_resolve_to_the_imported_package(fixture_scan: SourceScan) -> None:
    messages: dict[tuple[str, int], list[str]] = {}
    for f in fixture_scan.findings:
        messages.setdefault((f.path, f.line), []).append(f.message)
    assert "crypto/md5.Sum" in messages[("cryptos/cryptos.go", 19)][0]  # import c "crypto/md5"
    assert sorted(messages[("lowlevel/lowlevel.go", 7)]) == [  # import u "unsafe"
        "unsafe.Slice bypasses type safety",
        "unsafe.StringData bypasses type safety",
    ]


def test_suppressions_say_why(fixture_scan: SourceScan) -> None:
    suppressed = {f.line: f for f in fixture_scan.findings if f.suppressed}
    assert suppressed[8].suppression_reason == (
        "the report must be readable by the web server's group"
    )
    assert suppressed[11].suppression_reason == "public download"
    bad = [f for f in fixture_scan.findings if f.rule_id == "GPS100"]
    assert {f.line for f in bad} == {15, 24}
    assert "no reason" in bad[0].message and "GPS999" in bad[1].message


def test_test_files_are_skipped_unless_asked(tmp_path: Path) -> None:
    scan = scan_sources(FIXMOD, cache_dir=tmp_path, jobs=1)
    assert not any(f.path.endswith("_test.go") for f in scan.findings)
    assert scan.files_scanned == len(
        [p for p in FIXMOD.rglob("*.go") if "xcrypto" not in p.parts and "_test" not in p.name]
    )


@pytest.fixture(scope="module")
def fixture_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("fixmod") / "fixmod"
    shutil.copytree(FIXMOD, target)
    return target


def test_fixture_code_parses_with_gofmt(
    fixture_copy: Path, run_go: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    goroot = run_go("env", "GOROOT", cwd=fixture_copy).stdout.strip()
    gofmt = Path(goroot) / "bin" / "gofmt"
    proc = subprocess.run(
        [str(gofmt), "-e", "-l", "."], cwd=fixture_copy, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.gocmd
@pytest.mark.slow
def test_fixture_code_type_checks_with_go_vet(
    fixture_copy: Path, run_go: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    # vet type-checks each package and its analyzers must not object. Only the packages whose
    # standard-library dependencies compile quickly: net/http and crypto/tls would cost a
    # minute of compiling on a cold build cache (gofmt -e above covers every file's syntax).
    run_go("vet", *CHEAP_PACKAGES, cwd=fixture_copy)
