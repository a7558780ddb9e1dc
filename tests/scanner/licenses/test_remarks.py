"""Prose beside a license that only titles, scopes or introduces it adds no license of its own;
a term among it still makes the file unknown text (the gate's safety)."""

from __future__ import annotations

import pytest

from scanner.licenses import TemplateIndex, detect_text

from .corpus import render

HIGH = 0.9
MILITARY = "You may not use this for military purposes."

APACHE_NOTICE = """Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
"""


def _ids(text: str, index: TemplateIndex) -> list[str]:
    return [m.license_id for m in detect_text(text, index=index)]


def _unknown(text: str, index: TemplateIndex) -> bool:
    return any(i.startswith("LicenseRef-unknown-") for i in _ids(text, index))


@pytest.mark.parametrize(
    ("title", "unknown"),
    [
        ("tomb - support for clean goroutine termination in Go.", False),  # gopkg.in/tomb.v1
        ("# cond: condition variables you can use with select", False),
        ("tomb - support for clean goroutine termination in Go.\n" + MILITARY, True),
        ("tomb - not for commercial use.", True),  # a title's shape, a term's words
        ("tomb - free for personal use", True),
        ("Any use terminates the license granted below.", True),  # a sentence, not a title
        ("Termination of support for goroutines in Go.", True),  # no "<name> - " shape
    ],
    ids=["tomb", "markdown", "term-after-title", "not-commercial", "personal", "sentence", "shape"],
)
def test_a_project_title_on_the_first_line_adds_no_terms(
    index: TemplateIndex, title: str, unknown: bool
) -> None:
    """gopkg.in/tomb.v1's LICENSE opens with its title, "tomb - support for clean goroutine
    termination in Go.": "termination" is a word of terms, so the title read as unknown text
    and the module (in podman's and kubevirt's builds) went to review. A first line shaped
    "<name> - <tagline>" may use the words a tagline uses; a term there, or in a line after
    it, is still read."""
    text = title + "\n\nCopyright (c) 2010-2011 - Jane Doe <jane@example.org>\n\n"
    text += render("BSD-3-Clause")
    matches = detect_text(text, index=index)
    assert {m.license_id for m in matches if m.confidence >= HIGH} == {"BSD-3-Clause"}
    assert _unknown(text, index) == unknown
    # The same line anywhere but first is read as before: each holds a word of terms.
    assert _unknown(render("MIT") + "\n\n" + title + "\n\n" + render("BSD-3-Clause"), index)


@pytest.mark.parametrize(
    ("intro", "unknown"),
    [
        # linuxkit/virtsock's LICENSE, above its Apache notice.
        (
            "Unless explicitly stated at the top of the file, this code is covered\n"
            "by the following license:",
            False,
        ),
        ("Unless otherwise noted, the code in this repository is licensed under:", False),
        ("The code is licensed under:", False),
        (
            "Unless explicitly stated at the top of the file, this code is covered\n"
            "by the following license. " + MILITARY,
            True,
        ),
        ("Unless you pay a fee, this code is covered by the following license:", True),
        ("Unless used for research, this code is covered by the following license:", True),
    ],
    ids=["virtsock", "otherwise-noted", "licensed-under", "term", "fee", "use"],
)
def test_prose_introducing_the_license_adds_no_terms(
    index: TemplateIndex, intro: str, unknown: bool
) -> None:
    """linuxkit/virtsock's LICENSE says which files its Apache notice covers: "Unless explicitly
    stated at the top of the file, …": "unless" is a word of terms, so podman's build went to
    review. The idiom scopes the license; a condition in its place is still read."""
    text = intro + "\n\nCopyright 2016-2017 The authors\n\n" + APACHE_NOTICE
    assert _ids(text, index)[-1] == "Apache-2.0"
    assert _unknown(text, index) == unknown
    text = intro + "\n\n" + render("MIT") + "\n\n" + render("Apache-2.0")
    assert _unknown(text, index) == unknown


def test_prose_naming_the_licenses_below_it_adds_no_terms(index: TemplateIndex) -> None:
    intro = "This project is covered by two different licenses: Apache and MIT.\n\n"
    texts = render("MIT") + "\n\n" + render("Apache-2.0")
    assert _ids(intro + texts, index) == ["MIT", "Apache-2.0"]
    # Above the Apache notice alone, MIT is a license no text here holds.
    assert _unknown(intro + APACHE_NOTICE, index)
    assert _unknown(intro.replace(".", ". " + MILITARY) + texts, index)


@pytest.mark.parametrize(
    ("remark", "unknown"),
    [
        # fatih/structtag's LICENSE, between its BSD text and Go's.
        (
            "This software includes some portions from Go. Go is used under the terms of the\n"
            "BSD like license.",
            False,
        ),
        ("BSD License used for util/isURL.go adopted from https://example.org/govalidator", False),
        ("This software includes some portions from Go. Go is used only for testing.", True),
        ("BSD License used for util/isURL.go. " + MILITARY, True),
    ],
    ids=["used-under", "used-for", "used-only", "term"],
)
def test_a_remark_on_the_license_used_adds_no_terms(
    index: TemplateIndex, remark: str, unknown: bool
) -> None:
    """ "Go is used under the terms of the BSD like license" (fatih/structtag) and "MIT License
    used for util/isURL.go" (zmap/zcrypto) introduce the text below them; "used" read as a term."""
    text = render("BSD-3-Clause") + "\n\n" + remark + "\n\n" + render("BSD-3-Clause")
    assert _ids(text, index).count("BSD-3-Clause") == 2
    assert _unknown(text, index) == unknown


COPYING_MD = """## COPYING ##

`SPDX-License-Identifier: BSD-3-Clause AND MPL-2.0`

This project is made up of code licensed under different licenses. Which code
you use will have an impact on whether only one or both licenses apply to your
usage of this library.

Note that each file in this project has a code comment at the start describing
the license of that particular file; in case there is any conflict between this
document and the comment at the start of a file, the comment shall take
precedence. The only purpose of this document is to work around a known
technical limitation of pkg.go.dev's license checking tool when dealing with
non-trivial project licenses.

### `BSD-3-Clause` ###

At time of writing, the following files and directories are licensed under the
BSD-3-Clause license:

 * `doc.go`
 * `join*.go`
 * `internal/consts/*.go`

The text of the BSD-3-Clause license used by this project is the following (the
text is also available from the [`LICENSE.BSD`](./LICENSE.BSD) file):

```
{bsd}
```

### `MPL-2.0` ###

All other files (unless otherwise marked) are licensed under the Mozilla Public
License (version 2.0).

The text of the Mozilla Public License (version 2.0) is the following (the text
is also available from the [`LICENSE.MPL-2.0`](./LICENSE.MPL-2.0) file):

```
{mpl}
```
"""


def _copying(**replace: str) -> str:
    text = COPYING_MD
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text.replace("{bsd}", render("BSD-3-Clause")).replace("{mpl}", render("MPL-2.0"))


@pytest.mark.parametrize(
    ("replace", "unknown"),
    [
        ({}, False),
        # No SPDX line: the account is past the length a remark passes unread.
        ({"`SPDX-License-Identifier: BSD-3-Clause AND MPL-2.0`": ""}, True),
        # A line naming a license whose text is not here restates nothing.
        ({"BSD-3-Clause AND MPL-2.0`": "BSD-3-Clause AND MPL-2.0 AND MIT`"}, True),
        ({"non-trivial project licenses.": "non-trivial project licenses. " + MILITARY}, True),
        ({"usage of this library.": "usage of this library. Use only in open source."}, True),
        ({"(unless otherwise marked)": "(unless you pay a fee)"}, True),
    ],
    ids=["securejoin", "no-spdx-line", "other-license", "military", "use-only", "fee"],
)
def test_an_spdx_line_restating_the_texts_makes_the_account_commentary(
    index: TemplateIndex, replace: dict[str, str], unknown: bool
) -> None:
    """cyphar/filepath-securejoin's COPYING.md: "SPDX-License-Identifier: BSD-3-Clause AND
    MPL-2.0", an account of which files each license covers, and both texts. The line and two
    runs of the account read as unknown text beside texts matched at 1.00, and the module went
    to review in runc, umoci, containerd, podman and kubevirt. A file-level line naming exactly
    the licenses whose texts the file holds restates them, and the account beside it, without a
    word of terms, is commentary at any length; a term in it is still read."""
    matches = detect_text(_copying(**replace), index=index)
    high = {m.license_id for m in matches if m.confidence >= HIGH}
    assert high == {"BSD-3-Clause", "MPL-2.0"}
    assert unknown == any(m.kind == "unknown" for m in matches)
    if not unknown:
        assert [m.license_id for m in matches] == ["BSD-3-Clause", "MPL-2.0"]


@pytest.mark.parametrize(
    "clause",
    [
        "This software is proprietary and confidential.",
        "Portions are used under the terms of Acme's proprietary license.",
        "The source code is a confidential trade secret of Acme.",
    ],
    ids=["proprietary", "proprietary-license", "confidential"],
)
def test_a_proprietary_clause_beside_a_license_is_read(index: TemplateIndex, clause: str) -> None:
    """ "This software is proprietary and confidential." held no word of terms, so beside an MIT
    text it passed as commentary and the file was MIT. It is a term; so is a note naming a
    proprietary license, though "used under the terms of" now introduces a license."""
    for text in (clause + "\n\n" + render("MIT"), render("MIT") + "\n\n" + clause + "\n"):
        assert _ids(text, index).count("MIT") == 1
        assert _unknown(text, index)
