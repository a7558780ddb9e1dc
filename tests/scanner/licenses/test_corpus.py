"""The labelled corpus: every case from the SPDX texts must come out as labelled."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scanner.licenses import TemplateIndex, detect_text

from .corpus import COMMON, Case, Style, corpus, reflow, render

CASES = corpus()
HIGH = 0.9


def _outcome(index: TemplateIndex, case: Case) -> tuple[set[str], bool]:
    matches = detect_text(case.text, index=index)
    high = {m.license_id for m in matches if m.confidence >= HIGH}
    unknown = any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)
    return high, unknown


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if not c.expected) >= 60  # modified, truncated, custom


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(index: TemplateIndex, case: Case) -> None:
    high, unknown = _outcome(index, case)
    assert high == case.expected
    assert unknown == case.unknown


def test_precision_and_recall(index: TemplateIndex, capsys: pytest.CaptureFixture[str]) -> None:
    tp = fp = fn = 0
    for case in CASES:
        high, _ = _outcome(index, case)
        tp += len(high & case.expected)
        fp += len(high - case.expected)
        fn += len(case.expected - high)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    with capsys.disabled():
        print(
            f"\nlicense corpus: {len(CASES)} cases, precision {precision:.3f}, "
            f"recall {recall:.3f} (tp={tp} fp={fp} fn={fn})"
        )
    # A wrong id with high confidence is the one mistake a policy cannot recover from.
    assert fp == 0
    assert recall >= 0.98


def test_modified_text_names_its_nearest_license(index: TemplateIndex) -> None:
    case = next(c for c in CASES if c.name == "Apache-2.0/modified")
    matches = detect_text(case.text, index=index)
    (match,) = [m for m in matches if m.license_id.startswith("LicenseRef-unknown-")]
    # The appendix's standard notice still names Apache-2.0, but only as a notice.
    assert all(m.confidence < HIGH for m in matches)
    assert match.nearest == "Apache-2.0"
    assert match.confidence <= 0.5


def test_a_bsd_text_with_its_own_third_clause_is_nearest_to_bsd_3_clause(
    index: TemplateIndex,
) -> None:
    """modernc.org/libc's "Neither the names of the authors nor the names of the contributors":
    strict matching leaves it unknown (a reviewer decides), and the hint named
    BSD-3-Clause-Attribution, whose extra words the holders' names outweighed."""
    text = render("BSD-3-Clause")
    start = text.index("Neither the name of")
    end = text.index("may\nbe used", start)
    text = (
        text[:start]
        + "Neither the names of the authors nor the names of the contributors "
        + text[end:]
    )
    (match,) = detect_text(text, index=index)
    assert (match.kind, match.nearest) == ("unknown", "BSD-3-Clause")


def test_span_covers_the_license_and_not_the_preamble(index: TemplateIndex) -> None:
    text = "Some project\n\nSee below for the license.\n\n" + next(
        c.text for c in CASES if c.name == "MIT/minimal"
    )
    (match,) = detect_text(text, index=index)
    assert match.license_id == "MIT"
    assert match.start_line >= 5
    assert match.end_line == len(text.rstrip("\n").splitlines())


def test_layout_and_holder_never_change_the_license(index: TemplateIndex) -> None:
    # The same examples on every run (CI must not depend on the draw). Known gap, erring on
    # the safe side: a title line, then a holder wrapped onto lines of its own ("mit no
    # attribution" / "Copyright (c) 2024" / "Jane Doe"), reads as unknown text beside the
    # license (REVIEW); telling a wrapped holder from a clause there needs more than layout.
    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(
        lid=st.sampled_from(COMMON),
        width=st.integers(min_value=20, max_value=400),
        holder=st.text(st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=40),
    )
    def check(lid: str, width: int, holder: str) -> None:
        style = Style(random.Random(width), optional_p=0.5, holder=holder.strip() or "X")
        found = {m.license_id for m in detect_text(reflow(render(lid, style), width), index=index)}
        assert found == {lid}

    check()


def test_a_clause_between_sentences_is_never_read_as_the_license(index: TemplateIndex) -> None:
    @settings(max_examples=40, deadline=None)
    @given(lid=st.sampled_from(COMMON), seed=st.integers(0, 10_000))
    def check(lid: str, seed: int) -> None:
        rng = random.Random(seed)
        text = render(lid, Style(rng, optional_p=0.0))
        # Between two sentences: inside one, a template's free-text slot (a holder's name)
        # may rightly take any words.
        ends = [m.end() for m in re.finditer(r"[A-Za-z]{3}[.:]\s+(?=[A-Z])", text)][:-1]
        assume(ends)
        at = rng.choice(ends)
        clause = "This license does not apply to any use by a government or military agency. "
        matches = detect_text(text[:at] + clause + text[at:], index=index)
        # Either the text no longer matches, or the clause stands beside it as unknown text:
        # the file never reads as plain `lid` (the policy then reviews or rejects it).
        assert any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)

    check()


VIEWS = (
    "The views and conclusions contained in the software and documentation are those of the\n"
    "authors and should not be interpreted as representing official policies, either expressed\n"
    "or implied, of {}.\n"
)


@pytest.mark.parametrize(
    ("after", "unknown"),
    [
        (VIEWS.format("Andrea Leofreddi"), False),  # pprof's third_party/svgpan/LICENSE
        (VIEWS.format("the FreeBSD Project"), False),
        (VIEWS.format("Andrea Leofreddi. Not for use in weapons systems"), True),
        (VIEWS.format("Andrea Leofreddi") + "\nYou must pay a fee to use this software.\n", True),
    ],
    ids=["holder", "project", "term-after-the-name", "term-paragraph"],
)
def test_the_bsd_views_paragraph_adds_no_terms(
    index: TemplateIndex, after: str, unknown: bool
) -> None:
    """BSD-2-Clause-Views' last paragraph below a BSD-3-Clause text, as pprof vendors svgpan's
    license: it disclaims official endorsement, so the file is BSD-3-Clause (it read as unknown
    text beside the license, and every module vendoring pprof went to review). Anything more
    after it is still read."""
    text = render("BSD-3-Clause") + "\n\n" + after
    found = {m.license_id for m in detect_text(text, index=index) if m.confidence >= HIGH}
    assert found == {"BSD-3-Clause"}
    assert unknown == any(
        m.license_id.startswith("LicenseRef-unknown-") for m in detect_text(text, index=index)
    )
    alone = detect_text(VIEWS.format("Andrea Leofreddi"), index=index)  # no license: unknown
    assert [m.license_id.startswith("LicenseRef-unknown-") for m in alone] == [True]


@pytest.mark.parametrize(
    ("scope", "unknown"),
    [
        ("Files: snappy/*\nFiles: internal/snapref/*\n", False),  # klauspost/compress's LICENSE
        ("Files: s2/cmd/internal/readahead/* zstd/*.go\n", False),
        ("Files: for internal use only\n", True),  # not paths: read as text
        ("Files: snappy/*\nFor internal use only, no resale.\n", True),
    ],
    ids=["two-lines", "globs", "words-not-paths", "term-after"],
)
def test_a_files_line_scoping_a_license_adds_no_terms(
    index: TemplateIndex, scope: str, unknown: bool
) -> None:
    """A multi-license LICENSE puts "Files: path/*" above each license (Debian copyright style):
    it read as unknown text ("internal" is a word of terms), and klauspost/compress, in most Go
    builds, went to review. Path-like items only; anything else there is still read."""
    text = "\n\n".join(
        ["-" * 18, scope, render("MIT"), "-" * 18, "Files: snappy/*\n", render("BSD-3-Clause")]
    )
    matches = detect_text(text, index=index)
    assert {m.license_id for m in matches if m.confidence >= HIGH} == {"MIT", "BSD-3-Clause"}
    assert unknown == any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)


GOGO = """Copyright (c) 2013, The GoGo Authors. All rights reserved.

Protocol Buffers for Go with Gadgets

Go support for Protocol Buffers - Google's data interchange format

Copyright 2010 The Go Authors.  All rights reserved.
https://github.com/golang/protobuf

"""


def test_a_project_name_among_copyright_lines_adds_no_terms(index: TemplateIndex) -> None:
    """gogo/protobuf's LICENSE: two copyright lines around the project's name and tagline. The
    holders made the remark too long to be one, so it read as unknown text and the module went
    to review. Its length now counts the words off copyright lines; words of terms still count."""
    text = GOGO + render("BSD-3-Clause")
    matches = detect_text(text, index=index)
    assert [m.license_id for m in matches] == ["BSD-3-Clause"]
    restricted = GOGO.replace("Gadgets", "Gadgets, not to be used by any government agency")
    matches = detect_text(restricted + render("BSD-3-Clause"), index=index)
    assert any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)


def test_words_inside_paths_set_no_terms(index: TemplateIndex) -> None:
    """gopsutil's LICENSE says between two BSD-3-Clause texts which file was copied from Go:
    "internal/common/binary.go … is copied and modified from golang/encoding/binary.go". The
    path's "internal" read as a word of terms ("internal use"), and a module in most Go
    builds went to review. Inside paths and URLs a word names; outside them it is still read."""
    remark = (
        "-------\ninternal/common/binary.go in the gopsutil is copied and modified from "
        "golang/encoding/binary.go.\n\n"
    )
    text = render("BSD-3-Clause") + "\n\n" + remark + render("BSD-3-Clause")
    assert [m.license_id for m in detect_text(text, index=index)] == ["BSD-3-Clause"] * 2
    internal = remark.replace("is copied", "is for internal use and is copied")
    text = render("BSD-3-Clause") + "\n\n" + internal + render("BSD-3-Clause")
    matches = detect_text(text, index=index)
    assert any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)


def test_a_c_in_parentheses_is_the_copyright_sign(index: TemplateIndex) -> None:
    """gnu.org's GPL-3.0 COPYING says "Copyright (C) 2007 Free Software Foundation" where the
    SPDX template has "©": the whole text read as unknown (depguard, and every module that ships
    the file). The SPDX matching guidelines make "©", "(c)" and "Copyright" one."""
    text = render("GPL-3.0-only").replace("Copyright ©", "Copyright (C)", 1)
    assert [(m.license_id, m.exact) for m in detect_text(text, index=index)] == [
        ("GPL-3.0-only", True)
    ]
    # A "(c)" list marker goes too: Apache-2.0's section 4 (c) still matches.
    apache = render("Apache-2.0")
    assert "(c)" in apache
    assert [m.license_id for m in detect_text(apache, index=index)] == ["Apache-2.0"]


def test_notices_restating_the_license_beside_them_add_no_terms(index: TemplateIndex) -> None:
    """Go's source file header above the Go authors' BSD text (clbanning/mxj), and a file list
    scoping a license (yaml.v2's LICENSE.libyaml): words of terms ("use"), file names and URLs
    made them unknown text. A term beside them is still read."""
    go_header = (
        "Go Language Copyright & License -\n\nCopyright 2009 The Go Authors. All rights reserved."
        "\nUse of this source code is governed by a BSD-style\nlicense that can be found in the "
        "LICENSE file.\n\n"
    )
    text = render("MIT") + "\n\n" + go_header + render("BSD-3-Clause")
    assert [m.license_id for m in detect_text(text, index=index)] == ["MIT", "BSD-3-Clause"]
    ported = (
        "The following files were ported to Go from C files of libyaml, and thus\nare still "
        "covered by their original copyright and license:\n\n    apic.go\n    emitterc.go\n"
        "    parserc.go\n    readerc.go\n    scannerc.go\n    writerc.go\n    yamlh.go\n"
        "    yamlprivateh.go\n\n"
    )
    assert [m.license_id for m in detect_text(ported + render("MIT"), index=index)] == ["MIT"]
    paid = go_header.replace("LICENSE file.", "LICENSE file, for a fee.")
    matches = detect_text(render("MIT") + "\n\n" + paid + render("BSD-3-Clause"), index=index)
    assert any(m.license_id.startswith("LicenseRef-unknown-") for m in matches)


def test_the_ofl_s_own_notice_above_its_text_adds_no_terms(index: TemplateIndex) -> None:
    """alecthomas/chroma/v2's COPYING: MIT, then a font's copyright lines and the OFL's notice
    ("This Font Software is licensed under the SIL Open Font License, Version 1.1. This license
    is copied below, …") above the OFL-1.1 text. The notice read as unknown text."""
    font = (
        "// formatters/svg/font_liberation_mono.go\n\n"
        "Digitized data copyright (c) 2010 Google Corporation\n"
        "with Reserved Font Arimo, Tinos and Cousine.\nCopyright (c) 2012 Red Hat, Inc.\n"
        "with Reserved Font Name Liberation.\n\n"
        "This Font Software is licensed under the SIL Open Font License, Version 1.1.\n"
        "This license is copied below, and is also available with a FAQ at:\n"
        "https://openfontlicense.org\n\n"
    )
    text = render("MIT") + "\n\n" + font + render("OFL-1.1")
    assert [m.license_id for m in detect_text(text, index=index)] == ["MIT", "OFL-1.1"]


@pytest.mark.parametrize(
    "remark",
    [
        "Portions of this code are distributed under the GNU General Public License version 2.",
        "The parser in this package is licensed under the Mozilla Public License 2.0.",
        "The files in third_party/ are covered by the Eclipse license.",
    ],
)
def test_a_remark_naming_another_license_is_read(index: TemplateIndex, remark: str) -> None:
    """A short remark without words of terms passed as commentary, even when it named a
    license no text beside it holds: MIT plus "portions … under the GNU GPL" was MIT, a PASS.
    A license family named in a remark must be one of those found beside it."""
    matches = detect_text(render("MIT") + "\n\n" + remark + "\n", index=index)
    assert (len(matches), matches[0].license_id) == (2, "MIT")
    assert matches[1].license_id.startswith("LicenseRef-unknown-")
    # Naming the license that is there is commentary, as before.
    ok = "This project is licensed under the MIT license, reproduced below.\n\n"
    assert [m.license_id for m in detect_text(ok + render("MIT"), index=index)] == ["MIT"]


def test_a_long_scoping_note_without_terms_is_commentary(index: TemplateIndex) -> None:
    """sigs.k8s.io/yaml's note on which files of its go-yaml fork the MIT text below covers runs
    past 30 words without a word of terms, naming only the licenses the file holds; it read as
    unknown text and put the module (in every Kubernetes build) in review."""
    note = (
        "# The forked go-yaml.v3 library under this project is covered by two\n"
        "different licenses (MIT and Apache):\n\n#### MIT License ####\n\n"
        "The following files were ported to Go from C files of libyaml, and thus\n"
        "are still covered by their original MIT license, with the additional\n"
        "copyright staring in 2011 when the project was ported over:\n\n"
        "    apic.go emitterc.go parserc.go readerc.go scannerc.go\n"
        "    writerc.go yamlh.go yamlprivateh.go\n\n"
    )
    text = note + render("MIT") + "\n\n" + render("Apache-2.0")
    assert [m.license_id for m in detect_text(text, index=index)] == ["MIT", "Apache-2.0"]
    # The same note naming a license that is not here is read.
    other = note.replace("(MIT and Apache)", "(MIT and GPL)")
    matches = detect_text(other + render("MIT") + "\n\n" + render("Apache-2.0"), index=index)
    assert matches[0].license_id.startswith("LicenseRef-unknown-")
