"""Text normalisation shared by templates and documents (SPDX matching guidelines).

Both sides go through `words()`: case folded, punctuation, quotes, dashes and markup dropped,
whitespace collapsed, British spellings mapped to one form. Documents also lose HTML tags and
markdown link targets; every token keeps the line it came from, so a match can name its span.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

# SPDX matching guidelines, "equivalent words": variants of one word are the same word.
VARIANTS: dict[str, str] = {
    "acknowledgement": "acknowledgment",
    "analogue": "analog",
    "analyse": "analyze",
    "artefact": "artifact",
    "authorisation": "authorization",
    "authorised": "authorized",
    "calibre": "caliber",
    "cancelled": "canceled",
    "capitalisations": "capitalizations",
    "catalogue": "catalog",
    "categorise": "categorize",
    "centre": "center",
    "emphasised": "emphasized",
    "favour": "favor",
    "favourite": "favorite",
    "fulfil": "fulfill",
    "fulfilment": "fulfillment",
    "initialise": "initialize",
    "judgement": "judgment",
    "labelling": "labeling",
    "labour": "labor",
    "licence": "license",
    "licences": "licenses",
    "licenced": "licensed",
    "licencee": "licensee",
    "licencor": "licensor",
    "licencing": "licensing",
    "maximise": "maximize",
    "modelled": "modeled",
    "modelling": "modeling",
    "offence": "offense",
    "optimise": "optimize",
    "organisation": "organization",
    "organise": "organize",
    "practise": "practice",
    "programme": "program",
    "realise": "realize",
    "recognise": "recognize",
    "signalling": "signaling",
    "utilisation": "utilization",
    "whilst": "while",
    "wilful": "wilfull",
    "https": "http",
}

_WORD = re.compile(r"[^\W_]+")
# "Copyright (C) 2007 Free Software Foundation" is GPL-3.0's own text as gnu.org ships it
# (the SPDX template has "Copyright ©"); a "(c)" list marker goes too, which a template's
# bullet slot (zero to three markers) still takes.
_C_SIGN = re.compile(r"\(c\)")
_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|a|h[1-6]|ul|ol|li|pre|code|em|strong|b|i|u|tt|blockquote|html|head|"
    r"body|title|table|tbody|thead|tr|td|th|hr|sup|sub|center|font|dl|dt|dd|section|article|"
    r"main|nav|header|footer|meta|link|small|big|cite|q|abbr|s|del|ins)\b[^<>]*/?>",
    re.IGNORECASE,
)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*\)")
_COPYRIGHT_LINE = re.compile(
    r"^\W*(?:copyright\b|\(c\)|©|all rights reserved|portions copyright)", re.IGNORECASE
)
# "Files: snappy/* internal/snapref/*" (Debian copyright style, klauspost/compress's LICENSE):
# scopes the license below it to paths. Every item must look like a path or a glob.
_FILES_LINE = re.compile(r"^\W*files:(?:\s+\S*[/*.]\S*)+\s*$", re.IGNORECASE)


def _fold(text: str) -> str:
    """Case and Unicode compatibility forms folded, text otherwise kept."""
    return unicodedata.normalize("NFKC", text).casefold()


def _sign_dropped(folded: str) -> str:
    """ "(c)" dropped as "©" is: the SPDX matching guidelines make "©", "(c)" and "Copyright"
    one."""
    return _C_SIGN.sub(" ", folded) if "(c)" in folded else folded


def _variants(tokens: list[str]) -> list[str]:
    if VARIANTS.keys().isdisjoint(tokens):
        return tokens
    return [VARIANTS.get(t, t) for t in tokens]


def words(text: str) -> list[str]:
    """The normalised words of a piece of template or document text."""
    return _variants(_WORD.findall(_sign_dropped(_fold(text))))


@dataclass(frozen=True)
class Document:
    """A document's normalised words, the line of each, and which lines are copyright lines."""

    tokens: tuple[str, ...]
    lines: tuple[int, ...]  # 1-based line of each token
    # token sits on a copyright line, or a Files: line scoping the license to paths: words that
    # name or place, never terms, so they count as no license text
    copyright: tuple[bool, ...]
    line_count: int
    # the case-folded lines themselves (markup dropped), for what words lose: SPDX ids' dots and
    # dashes ("Apache-2.0") in a statement of choice
    folded_lines: tuple[str, ...] = ()

    @property
    def joined(self) -> str:
        """Tokens joined the way compiled templates expect: each followed by one space."""
        return " ".join(self.tokens) + " "


def document(text: str) -> Document:
    """Tokenise a license file: markup dropped, each token tagged with its line."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    tokens: list[str] = []
    lines: list[int] = []
    copyright_flags: list[bool] = []
    raw_lines = _fold(text).splitlines()
    findall = _WORD.findall
    for n, line in enumerate(raw_lines, start=1):
        found = findall(_sign_dropped(line))
        if not found:
            continue
        tokens += found
        lines += [n] * len(found)
        naming = _COPYRIGHT_LINE.match(line) or _FILES_LINE.match(line)
        copyright_flags += [naming is not None] * len(found)
    return Document(
        tuple(_variants(tokens)),
        tuple(lines),
        tuple(copyright_flags),
        len(raw_lines),
        tuple(raw_lines),
    )
