"""Rule ids where users write them: a wrong id in a suppression is said, with the id meant."""

from __future__ import annotations

from pathlib import Path

from scanner.rules import scan_sources
from scanner.rules.catalog import BY_ID, did_you_mean, unknown_rule_hint

SOURCE = """\
package p

import (
\t"crypto/md5"
\t"os"
)

func F(data []byte) error {
\t//goproxy-scan:ignore GPS111, GPS103 both reviewed: a public checksum file
\t_ = os.WriteFile("sum.txt", md5.New().Sum(data), 0o644)
\t//goproxy-scan:ignore GPS111, because the file is public
\t_ = os.WriteFile("b.txt", data, 0o644)
\t_ = md5.Sum(data) //goproxy-scan:ignore GPS013 a typo for GPS103
\t_ = md5.Sum(data) //goproxy-scan:ignore gps103 lower case
\treturn nil
}
"""


def _scan(tmp_path: Path) -> dict[int, list[tuple[str, bool, str]]]:
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (module / "p.go").write_text(SOURCE)
    scan = scan_sources(module, cache_dir=tmp_path / "cache", jobs=1)
    by_line: dict[int, list[tuple[str, bool, str]]] = {}
    for f in scan.findings:
        by_line.setdefault(f.line, []).append((f.rule_id, f.suppressed, f.message))
    return by_line


def test_ids_after_a_comma_and_a_space_are_all_suppressed(tmp_path: Path) -> None:
    """`GPS111, GPS103 why` suppressed GPS111 alone and took "GPS103 why" as the reason."""
    found = _scan(tmp_path)
    assert sorted((rule, suppressed) for rule, suppressed, _ in found[10]) == [
        ("GPS103", True),
        ("GPS111", True),
    ]
    # A word without a digit after the comma is the reason, as it was.
    assert [(rule, suppressed) for rule, suppressed, _ in found[12]] == [("GPS111", True)]
    assert 11 not in found  # no GPS100 for that comment


def test_an_unknown_id_in_a_suppression_names_the_rule_meant(tmp_path: Path) -> None:
    found = _scan(tmp_path)
    typo = next(m for rule, _, m in found[13] if rule == "GPS100")
    assert "unknown rule GPS013 (did you mean GPS103 weak-hash or GPS113" in typo
    lower = next(m for rule, _, m in found[14] if rule == "GPS100")
    assert "unknown rule gps103 (did you mean GPS103 weak-hash?)" in lower
    assert [r for r, suppressed, _ in found[13] + found[14] if r == "GPS103" and suppressed] == []


def test_hints() -> None:
    assert did_you_mean("GPS013") == "did you mean GPS103 weak-hash or GPS113 decompression-bomb?"
    assert did_you_mean("GPS001") == "did you mean GPS101 hardcoded-credential?"
    assert did_you_mean("GPS1033") == "did you mean GPS103 weak-hash?"
    assert did_you_mean("GPS10") == ""  # one slip from ten ids: no guess
    assert did_you_mean("GPS999") == ""
    assert unknown_rule_hint("GPS999") == "rule ids: " + ", ".join(BY_ID)
