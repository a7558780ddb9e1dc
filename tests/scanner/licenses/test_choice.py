"""Statements of choice between licenses: "X OR Y", stated in prose by SPDX id or on an
`SPDX-License-Identifier:` line, beside (or instead of) the texts it offers."""

from __future__ import annotations

from datetime import UTC, datetime

from scanner.licenses import TemplateIndex, detect_files
from scanner.licenses.detect import LicenseReport
from scanner.policy import ModuleFacts, default_policy, evaluate
from scanner.verdict import Decision

from .corpus import render

APACHE = render("Apache-2.0")
MIT = render("MIT")
GPL2 = render("GPL-2.0-only")

# spdx/tools-golang's LICENSE.code and LICENSE.docs, above their full texts.
TOOLS_GOLANG = """\
The tools-golang source code is provided and may be used, at your option,
under either:
* Apache License, version 2.0 (Apache-2.0), OR
* GNU General Public License, version 2.0 or later (GPL-2.0-or-later).

Copies of both licenses are included below.

"""
# (Its documentation is under CC-BY-4.0; here MIT, whose rendered template has no preamble.)
TOOLS_GOLANG_DOCS = """\
The tools-golang documentation is provided under the MIT
license (MIT), a copy of which is provided below.

"""
# ipfs/boxo's LICENSE.md (the "Permissive License Stack" of Protocol Labs' projects).
BOXO = """\
The contents of this repository are Copyright (c) corresponding authors and
contributors, licensed under the `Permissive License Stack` meaning either of:

- Apache-2.0 Software License: https://www.apache.org/licenses/LICENSE-2.0
  ([...4tr2kfsq](https://dweb.link/ipfs/bafkreiankqxazcae4onkp436wag2lj3ccso4nawxqkkfckd6cg4tr2kfsq))

- MIT Software License: https://opensource.org/licenses/MIT
  ([...vljevcba](https://dweb.link/ipfs/bafkreiepofszg4gfe2gzuhojmksgemsub2h4uy2gewdnr35kswvljevcba))

You may not use the contents of this repository except in compliance
with one of the listed Licenses. For an extended clarification of the
intent behind the choice of Licensing please refer to
https://protocol.ai/blog/announcing-the-permissive-license-stack/

Unless required by applicable law or agreed to in writing, software
distributed under the terms listed in this notice is distributed on
an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See each License for the specific language
governing permissions and limitations under that License.

<!--- SPDX-License-Identifier: Apache-2.0 OR MIT -->
`SPDX-License-Identifier: Apache-2.0 OR MIT`

Verbatim copies of both licenses are included below:

<details><summary>Apache-2.0 Software License</summary>

```
{apache}
```
</details>

<details><summary>MIT Software License</summary>

```
{mit}
```
</details>
"""
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def detect(index: TemplateIndex, files: dict[str, str]) -> LicenseReport:
    return detect_files({k: v.encode() for k, v in files.items()}, index=index)


def kinds(report: LicenseReport, path: str) -> list[tuple[str, str]]:
    (file,) = [f for f in report.files if f.path == path]
    return [(m.license_id, m.kind) for m in file.matches]


def test_a_stated_choice_offers_its_licenses_whose_texts_follow(index: TemplateIndex) -> None:
    report = detect(
        index,
        {
            "LICENSE.code": TOOLS_GOLANG + APACHE + "\n\n" + GPL2,
            "LICENSE.docs": TOOLS_GOLANG_DOCS + MIT,
        },
    )
    # The texts stay as evidence; the choice, not their AND, is the file's license.
    assert kinds(report, "LICENSE.code") == [
        ("Apache-2.0 OR GPL-2.0-or-later", "choice"),
        ("Apache-2.0", "text"),
        ("GPL-2.0-only", "text"),
    ]
    # "is provided under …, a copy of which is provided below" sets no terms.
    assert kinds(report, "LICENSE.docs") == [("MIT", "text")]
    assert report.expression == "MIT AND (Apache-2.0 OR GPL-2.0-or-later)"
    verdict = evaluate(
        default_policy(), ModuleFacts("example.com/m", "v1.0.0", licenses=report), NOW
    )
    # Before: Apache-2.0 AND GPL-2.0-only beside unknown text, a REJECT.
    assert verdict.decision is Decision.PASS


def test_an_spdx_line_with_or_beside_the_texts_is_the_choice(index: TemplateIndex) -> None:
    report = detect(index, {"LICENSE.md": BOXO.format(apache=APACHE, mit=MIT)})
    assert kinds(report, "LICENSE.md") == [
        ("Apache-2.0 OR MIT", "choice"),
        ("Apache-2.0", "text"),
        ("MIT", "text"),
    ]
    assert report.expression == "Apache-2.0 OR MIT"
    verdict = evaluate(
        default_policy(), ModuleFacts("example.com/m", "v1.0.0", licenses=report), NOW
    )
    assert verdict.decision is Decision.PASS
    # Its confidence is the texts': the choice names, the texts hold.
    assert {f.expression: f.confidence for f in verdict.licenses}["Apache-2.0"] == 1.0


def test_a_choice_in_one_root_file_covers_the_copies_beside_it(index: TemplateIndex) -> None:
    report = detect(
        index,
        {
            "LICENSE": "SPDX-License-Identifier: Apache-2.0 OR MIT\n",
            "LICENSE-APACHE": APACHE,
            "LICENSE-MIT": MIT,
            # Code of a sub-directory is under its own license, whatever the root offers.
            "third_party/x/LICENSE": render("BSD-3-Clause"),
        },
    )
    assert report.root_expression == "Apache-2.0 OR MIT"
    assert report.expression == "BSD-3-Clause AND (Apache-2.0 OR MIT)"


def test_terms_beside_a_choice_are_still_read(index: TemplateIndex) -> None:
    restricted = BOXO.replace(
        "Verbatim copies",
        "This software must not be used for military purposes.\n\nVerbatim copies",
    )
    report = detect(index, {"LICENSE.md": restricted.format(apache=APACHE, mit=MIT)})
    assert any(k == "unknown" for _, k in kinds(report, "LICENSE.md"))
    stated = TOOLS_GOLANG.replace("may be used,", "may be used for noncommercial purposes only,")
    report = detect(index, {"LICENSE": stated + APACHE + "\n\n" + GPL2})
    assert [k for _, k in kinds(report, "LICENSE")] == ["unknown", "text", "text"]
    condition = "The documentation is provided that you register with us first.\n\n"
    report = detect(index, {"LICENSE": condition + MIT})
    assert [k for _, k in kinds(report, "LICENSE")] == ["unknown", "text"]


def test_a_choice_must_offer_every_text_and_say_or(index: TemplateIndex) -> None:
    # A text the choice does not offer: the choice does not stand, the statement is unknown.
    report = detect(index, {"LICENSE": TOOLS_GOLANG + render("BSD-3-Clause")})
    assert [k for _, k in kinds(report, "LICENSE")] == ["unknown", "text"]
    tagged = "SPDX-License-Identifier: Apache-2.0 OR MIT\n\n" + render("BSD-3-Clause")
    report = detect(index, {"LICENSE": tagged})
    # The line names licenses no text here holds: no choice, and no remark either.
    assert report.expression.startswith("BSD-3-Clause AND LicenseRef-unknown-")
    # "and" between the ids, and no phrase of choice in words: no choice.
    both = "The source code is provided under Apache-2.0 and GPL-2.0-or-later, both apply.\n\n"
    report = detect(index, {"LICENSE": both + APACHE + "\n\n" + GPL2})
    assert report.expression == "Apache-2.0 AND GPL-2.0-only"
    # No cue ("either", "at your option"): a remark on the licenses, not a choice.
    listed = "This project holds Apache-2.0 or MIT code, see the files below for details.\n\n"
    report = detect(index, {"LICENSE": listed + APACHE + "\n\n" + MIT})
    assert report.expression == "Apache-2.0 AND MIT"


# oracle/oci-go-sdk's LICENSE.txt: a choice in words above both texts.
OCI = """\
Copyright (c) 2016, 2023, Oracle and/or its affiliates.  All rights reserved.
This software is dual-licensed to you under the Universal Permissive License (UPL) 1.0 as shown \
at https://oss.oracle.com/licenses/upl
or Apache License 2.0 as shown at http://www.apache.org/licenses/LICENSE-2.0. You may choose \
either license.
 ____________________________

"""


def test_a_choice_in_words_offers_the_texts_it_names(index: TemplateIndex) -> None:
    upl = render("UPL-1.0")
    report = detect(index, {"LICENSE.txt": OCI + upl + "\n\n" + APACHE})
    assert report.expression == "UPL-1.0 OR Apache-2.0"
    assert kinds(report, "LICENSE.txt")[0] == ("UPL-1.0 OR Apache-2.0", "choice")
    # A license the words do not name: no choice (the statement is read as unknown text).
    report = detect(index, {"LICENSE.txt": OCI + upl + "\n\n" + MIT})
    assert report.expression.startswith("LicenseRef-unknown-")
    # A bare "either" is no phrase of choice ("either way").
    remark = (
        "This project holds Apache-2.0 and MIT code from Universal Permissive friends, "
        "either way you get both.\n\n"
    )
    report = detect(index, {"LICENSE": remark + upl + "\n\n" + APACHE})
    assert " OR " not in report.expression


def test_a_root_file_may_state_the_choice_between_the_texts_beside_it(
    index: TemplateIndex,
) -> None:
    """alecthomas/go-check-sumtype: COPYING only says "dual-licensed under the Unlicense and
    MIT licenses … either license"; the texts are LICENSE-MIT and UNLICENSE. COPYING read as
    unknown text, and the module went to review."""
    copying = (
        "This project is dual-licensed under the Unlicense and MIT licenses.\n\n"
        "You may use this code under the terms of either license.\n"
    )
    files = {"COPYING": copying, "LICENSE-MIT": MIT, "UNLICENSE": render("Unlicense")}
    report = detect(index, files)
    assert kinds(report, "COPYING") == [("MIT OR Unlicense", "choice")]
    assert report.expression == "MIT OR Unlicense"
    # A license it does not name stays ANDed, and the statement is unknown text again.
    report = detect(index, {**files, "LICENSE-APACHE": APACHE})
    assert kinds(report, "COPYING")[0][1] == "unknown"
    # The statement of a sub-directory is not the root's.
    report = detect(
        index, {"sub/COPYING": copying, "LICENSE-MIT": MIT, "UNLICENSE": files["UNLICENSE"]}
    )
    assert kinds(report, "sub/COPYING")[0][1] == "unknown"


def test_the_words_of_an_spdx_id_set_no_terms(index: TemplateIndex) -> None:
    """ "either MIT or GPL-3.0-only": the "only" of the id read as a word of terms, and the
    statement as unknown text."""
    stated = "The code may be used, at your option, under either MIT or GPL-3.0-only.\n\n"
    report = detect(index, {"LICENSE": stated + MIT + "\n\n" + render("GPL-3.0-only")})
    assert report.expression == "MIT OR GPL-3.0-only"
    only = stated.replace("either", "either, for evaluation only,")  # words of terms are read
    report = detect(index, {"LICENSE": only + MIT + "\n\n" + render("GPL-3.0-only")})
    assert "LicenseRef-unknown-" in report.expression


def test_spdx_lines_without_texts_are_read_beside_their_prose(index: TemplateIndex) -> None:
    """multiformats/go-base36's LICENSE.md: the Permissive License Stack notice ending in
    `SPDX-License-Identifier: Apache-2.0 OR MIT`, no license text. Past 12 words the whole file
    was unknown text and the line was never read; so were two tag lines, or one long one."""
    notice = BOXO.split("Verbatim copies")[0]
    report = detect(index, {"LICENSE.md": notice})
    assert {(lid, kind) for lid, kind in kinds(report, "LICENSE.md")} == {
        ("Apache-2.0 OR MIT", "reference")
    }
    assert report.expression == "Apache-2.0 OR MIT"
    line = "SPDX-License-Identifier: GPL-2.0-or-later WITH Linux-syscall-note\n"
    report = detect(index, {"LICENSE": line})
    assert report.expression == "GPL-2.0-or-later WITH Linux-syscall-note"
    # Prose that sets terms, or names another license, is still read beside the lines.
    for extra in (
        "Not for use in weapons systems of any kind whatsoever.\n",
        "Parts of it are distributed under the GNU GPL, version 2.\n",
    ):
        report = detect(index, {"LICENSE.md": notice + extra})
        assert "LicenseRef-unknown-" in report.expression, extra
