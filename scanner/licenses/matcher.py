"""Match one document against the template index: exact SPDX matches, headers, and leftovers.

A region matches a license only when its normalised words satisfy the whole SPDX template
(confidence 1.0); a standard license notice matches with a lower confidence (it names the
license without containing it). Text that no template covers - a custom license, a modified or
truncated one - becomes `LicenseRef-unknown-<digest>` with a low confidence and the nearest
template named for the reader, never a guess at an SPDX id.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate, chain, pairwise
from typing import Any

from .. import spdx
from .templates import Template, TemplateIndex
from .text import Document, words

HEADER_CONFIDENCE = 0.8
# Uncovered text shorter than this (titles, "see below", a URL) is not a license of its own.
LEFTOVER_MIN_WORDS = 12
# Beside a matched license, text this long is read: it may add terms ("not for military use").
BESIDE_MIN_WORDS = 5
# Unknown text is at most this sure of anything: never high enough to pass as a match.
UNKNOWN_CONFIDENCE_CAP = 0.5
_NEAREST_MIN = 0.5
_LATER = "at your option any later version "
_LATER_WORDS = 6
_NOTE_MAX_WORDS = 30
# A remark without a word of terms is commentary up to this long: scoping notes that list which
# files a license covers run past 30 words (sigs.k8s.io/yaml's, above its MIT text).
_REMARK_MAX_WORDS = 60
# Words that make a sentence a term of use; a short remark without any of them adds no terms.
# fmt: off
_TERMS_WORDS = frozenset((
    "not", "no", "never", "nor", "except", "excluding", "exclusively", "only", "unless",
    "without", "provided", "condition", "conditions", "conditional", "must", "shall", "required",
    "requires", "require", "prohibited", "prohibit", "forbidden", "restrict", "restricted",
    "restriction", "restrictions", "commercial", "noncommercial", "military", "government", "fee",
    "fees", "royalty", "royalties", "pay", "payment", "paid", "purchase", "sell", "sale",
    "terminate", "termination", "revoke", "revoked", "may", "permission", "permitted", "grant",
    "granted", "grants", "use", "used", "using", "profit", "nonprofit", "personal", "educational",
    "academic", "evaluation", "internal", "evil", "harm", "weapons", "surveillance",
    "proprietary", "confidential", "confidentiality",
))
# fmt: on
_UNCOVERED = re.compile(b"\x00+")
# `SPDX-License-Identifier: EXPR`, alone on its line or in a comment (`/* */`, `<!-- -->`, `#`,
# markdown code).
_SPDX_TAG = re.compile(
    r"SPDX-License-Identifier:\s*([^\n*#`]+?)\s*(?:\*/|-->|`)?\s*$", re.IGNORECASE
)
# A statement of choice between licenses, by SPDX id: "may be used, at your option, under
# either: Apache License, version 2.0 (Apache-2.0), OR GNU General Public License, version 2.0
# or later (GPL-2.0-or-later)" (spdx/tools-golang). Its cue, and the only words of terms it
# may hold ("is provided and may be used").
_CHOICE_CUES = frozenset(("either", "option", "choice", "choose"))
_CHOICE_TERMS = frozenset(("may", "use", "used", "using"))
# Words that name a license family, and the SPDX ids of the family: a remark that names one
# no license beside it belongs to names a license of its own.
_LICENSE_FAMILIES: dict[str, tuple[str, ...]] = {
    "gpl": ("GPL", "LGPL", "AGPL"),
    "gnu": ("GPL", "LGPL", "AGPL", "GFDL"),
    "lgpl": ("LGPL",),
    "agpl": ("AGPL",),
    "gfdl": ("GFDL",),
    "copyleft": ("GPL", "LGPL", "AGPL", "MPL", "EPL", "CDDL", "EUPL", "OSL", "CECILL"),
    "mozilla": ("MPL",),
    "mpl": ("MPL",),
    "eclipse": ("EPL",),
    "epl": ("EPL",),
    "cddl": ("CDDL",),
    "sspl": ("SSPL",),
    "eupl": ("EUPL",),
    "osl": ("OSL",),
    "cecill": ("CECILL",),
    "artistic": ("Artistic",),
    "creative": ("CC",),
    "apache": ("Apache",),
    "mit": ("MIT",),
    "bsd": ("BSD", "0BSD"),
    "isc": ("ISC",),
    "unlicense": ("Unlicense",),
    "wtfpl": ("WTFPL",),
    "zlib": ("Zlib",),
    "busl": ("BUSL",),
    "elastic": ("Elastic",),
    "polyform": ("PolyForm",),
}
# A choice in words, beside the texts it offers: these phrases, never a bare "either".
_CHOICE_PHRASE = re.compile(
    r" (?:either of|either license|at your option|at the option of|your choice|may choose"
    r"|choose either|choose between|choose one of) "
)
# Words of license names that name no license in particular.
_GENERIC_NAME_WORDS = frozenset(
    (
        "license",
        "licenses",
        "version",
        "the",
        "or",
        "and",
        "later",
        "only",
        "new",
        "revised",
        "public",
        "general",
        "clause",
        "software",
        "open",
        "source",
        "free",
        "international",
    )
)
# A file path or URL: a word with a slash in it, or a Go file's name.
_PATH = re.compile(r"[^\s()\[\]<>\"'`]*/[^\s()\[\]<>\"'`]*|[\w.-]+\.go\b")
_ID_CANDIDATE = re.compile(r"(?<![\w.+-])[a-z0-9][a-z0-9.+-]*[a-z0-9+]")
# Notices that send the reader to the license beside them and add no terms of their own: Go's
# source file header (clbanning/mxj, above the Go authors' BSD text), Apache-style sentences
# (ipfs/boxo's "Permissive License Stack", for the licenses of its choice) and the OFL's own
# notice (alecthomas/chroma, above the font's OFL-1.1 text).
_RESTATED = re.compile(
    r"use of this source code is governed by (?:\S+ ){1,4}?license that can be found in the "
    r"(?:\S+ ){1,3}?file "
    r"|you may not use (?:\S+ ){1,10}?except in compliance with (?:\S+ ){0,6}?licenses? "
    r"|you may obtain a copy of the license at "
    r"|this font software is licensed under the sil open font license version 1 1 "
    r"this license is copied below and is also available with a faq at "
    r"|unless required by applicable law or agreed to in writing (?:\S+ ){1,24}?"
    r"without warranties or conditions of any kind either express or implied "
    r"see (?:\S+ ){1,6}?for the specific language governing permissions and limitations "
    r"under (?:\S+ ){0,3}?licenses? "
    # Phrases that scope or introduce the license beside them: "Unless explicitly stated at the
    # top of the file, this code is covered by the following license" (linuxkit/virtsock),
    # "All other files (unless otherwise marked) are licensed under", "The text of the
    # BSD-3-Clause license used by this project is the following" (cyphar/filepath-securejoin),
    # "Go is used under the terms of the BSD like license" (fatih/structtag), "MIT License used
    # for util/isURL.go" (zmap/zcrypto); and a multi-license file's account of itself ("Which
    # code you use will have an impact on whether only one or both licenses apply", "the comment
    # shall take precedence", "The only purpose of this document is", filepath-securejoin).
    r"|unless (?:(?:explicitly|expressly|specifically|otherwise) )?"
    r"(?:stated|noted|marked|specified|indicated|mentioned) (?:otherwise )?"
    r"(?:(?:at the (?:top|start|head) of|in the header of|in) (?:the|a|each|that|this) "
    r"(?:source )?files? )?"
    r"|(?:licen[cs]es?|text) used (?:by|for|in) "
    r"|(?:is|are) used under (?:the terms of )?"
    r"|which (?:code|files?|parts?|packages?) you use "
    r"|whether only one or (?:both|all|more) (?:of (?:the|these|its) )?licenses apply "
    r"|the (?:comment|header|notice) (?:at the (?:top|start) of (?:a|the|each) file )?"
    r"(?:shall|will) take precedence "
    r"|the only purpose of this (?:document|file|notice) is "
)


@dataclass(frozen=True)
class LicenseMatch:
    """One license found in one file.

    `license_id` is an SPDX id or `LicenseRef-unknown-…` (for a `reference`, the expression an
    `SPDX-License-Identifier:` line names); `start_line`/`end_line` give the
    covered part of the file (1-based, inclusive); `exact` is true when the text satisfied the
    SPDX template; `nearest` names the closest template for unknown text.
    """

    license_id: str
    confidence: float
    start_line: int
    end_line: int
    exact: bool
    nearest: str | None = None
    kind: str = "text"

    def to_json(self) -> dict[str, object]:
        return {
            "license_id": self.license_id,
            "confidence": round(self.confidence, 4),
            "start_line": self.start_line,
            "end_line": self.end_line,
            "exact": self.exact,
            "nearest": self.nearest,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LicenseMatch:
        return cls(
            license_id=str(data["license_id"]),
            confidence=float(data["confidence"]),
            start_line=int(data["start_line"]),
            end_line=int(data["end_line"]),
            exact=bool(data["exact"]),
            nearest=data.get("nearest"),
            kind=str(data.get("kind", "text")),
        )


@dataclass(frozen=True)
class _Span:
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    template: int


def match_document(
    index: TemplateIndex, doc: Document, *, notice: bool = False
) -> list[LicenseMatch]:
    """Every license in a document, in file order.

    `notice=True` (a NOTICE file) keeps uncovered text out of the result: attribution text
    is not a license.
    """
    if not doc.tokens:
        return []
    present = set(doc.tokens)
    postings = index.postings
    hits: Counter[int] = Counter(chain.from_iterable(postings.get(w, ()) for w in present))
    templates = index.templates
    exact = [i for i, n in hits.items() if n == templates[i].informative]
    exact += [i for i in index.uninformative if templates[i].required <= present]
    joined = doc.joined
    starts = _token_offsets(doc)
    spans: list[_Span] = []
    for i in exact:
        if not templates[i].required <= present:
            continue
        for m in index.regex(i).finditer(joined):
            s = bisect.bisect_left(starts, m.start())
            e = bisect.bisect_left(starts, m.end())
            if e > s:
                spans.append(_Span(s, e, i))
    # Full texts first, each extended over its optional title and appendix; a standard notice
    # counts only outside them (Apache-2.0's appendix holds its own notice).
    texts = _choose(index, [sp for sp in spans if templates[sp.template].kind == "text"], [])
    covered = bytearray(len(doc.tokens))
    for sp in texts:
        covered[sp.start : sp.end] = b"\x01" * (sp.end - sp.start)
    edges = _Edges.of(doc, joined, starts)
    texts = [_absorb_edges(index, doc, sp, covered, edges) for sp in texts]
    headers = [
        sp
        for sp in spans
        if templates[sp.template].kind != "text" and not any(covered[sp.start : sp.end])
    ]
    chosen = _choose(index, headers, texts)
    for sp in chosen:
        covered[sp.start : sp.end] = b"\x01" * (sp.end - sp.start)
    # Without a license text, `SPDX-License-Identifier:` lines name the licenses: references
    # (the authors name them without including them), and the text beside them is read as
    # beside a license. Beside texts, a line naming exactly the licenses whose texts the file
    # holds restates them, as a notice does (cyphar/filepath-securejoin's COPYING.md:
    # "SPDX-License-Identifier: BSD-3-Clause AND MPL-2.0" above both texts).
    tag_lines = _tag_lines(doc)
    found_templates = [templates[sp.template] for sp in chosen]
    tags = [] if chosen else tag_lines
    restating = [t for t in tag_lines if chosen and _restates(t[2], found_templates)]
    for at, end, _ in (*tags, *restating):
        covered[at:end] = b"\x01" * (end - at)
    beside = bool(chosen or tags)
    leftover = _leftover_runs(doc, covered, BESIDE_MIN_WORDS if beside else LEFTOVER_MIN_WORDS)
    if any(templates[sp.template].license_id.endswith("-only") for sp in chosen):
        # "version 2 or (at your option) any later version" beside a GPL text: the notice
        # that makes it -or-later, not text of another license.
        leftover = [
            (s, e)
            for s, e in leftover
            if e - s > _NOTE_MAX_WORDS or _LATER not in " ".join(doc.tokens[s:e]) + " "
        ]
    later = _mentions_later_version(joined, starts, covered, leftover) or any(
        templates[sp.template].license_id.endswith("-or-later") for sp in chosen
    )
    out: list[tuple[int, LicenseMatch]] = []
    for sp in chosen:
        t = templates[sp.template]
        license_id = t.license_id
        if later and license_id.endswith("-only"):
            license_id = license_id.removesuffix("-only") + "-or-later"
        confidence = 1.0 if t.kind == "text" else HEADER_CONFIDENCE
        out.append(
            (
                sp.start,
                LicenseMatch(
                    license_id=license_id,
                    confidence=confidence,
                    start_line=doc.lines[sp.start],
                    end_line=doc.lines[sp.end - 1],
                    exact=t.kind == "text",
                    kind=t.kind,
                ),
            )
        )
    for at, _, expression in tags:
        line = doc.lines[at]
        out.append(
            (at, LicenseMatch(expression, HEADER_CONFIDENCE, line, line, False, None, "reference"))
        )
    names = {w for sp in chosen for w in _name_words(templates[sp.template])}
    if not notice:
        choice = _choice(doc, leftover, found_templates, tag_lines)
        if choice is not None:
            out.append((choice.at, choice.match))
        found = [templates[sp.template].license_id for sp in chosen]
        found += [t.license_id for _, _, x in tags for t in spdx.terms(x)]
        tagged_or = any(" OR " in x for _, _, x in tags)
        for s, e in leftover:
            region = doc.tokens[s:e]
            if choice is not None and choice.region == (s, e):
                continue
            terms, prose = _remark(doc, s, e)
            if _names_another_license(doc, s, e, found):
                pass  # "portions are under the GNU GPL": a license no text here holds
            elif (choice is not None or tagged_or) and terms <= _CHOICE_TERMS:
                continue  # beside a choice, text without terms but "may be used" adds none
            elif restating and not terms:
                continue  # the file states its licenses: its account of them, at any length
            elif beside and (
                _is_commentary(terms, prose)
                or _is_title(region, names)
                or _is_project_title(doc, s, e, terms)
                or _is_views_disclaimer(region)
            ):
                continue
            out.append((s, _unknown(index, doc, s, e, hits)))
    out.sort(key=lambda p: p[0])
    return [m for _, m in out]


def _token_offsets(doc: Document) -> list[int]:
    """Char offset of each token in Document.joined, plus the total length at the end."""
    return list(accumulate(map((1).__add__, map(len, doc.tokens)), initial=0))


def _choose(index: TemplateIndex, spans: list[_Span], taken: list[_Span]) -> list[_Span]:
    """Non-overlapping spans: the longest first; then full texts over notices, the most
    specific template, and `-only` over `-or-later` (the text alone does not grant "later")."""

    def rank(sp: _Span) -> tuple[int, int, int, bool, str]:
        t = index.templates[sp.template]
        return (
            -(sp.end - sp.start),
            t.kind != "text",
            -t.required_count,
            t.license_id.endswith("-or-later"),
            t.license_id,
        )

    chosen: list[_Span] = list(taken)
    for sp in sorted(spans, key=rank):
        if all(sp.end <= c.start or sp.start >= c.end for c in chosen):
            chosen.append(sp)
    return sorted(chosen, key=lambda sp: sp.start)


def _absorb_edges(
    index: TemplateIndex, doc: Document, sp: _Span, covered: bytearray, edges: _Edges
) -> _Span:
    """Extend a match over its template's optional title before it and appendix after it,
    stepping over copyright lines and list markers that sit between them."""
    n = len(covered)
    lead = index.edge_regex(sp.template, "lead")
    i = sp.start  # first covered token; walk backwards
    for _ in range(3):
        while i > 0 and not covered[i - 1] and doc.copyright[i - 1]:
            i -= 1
        found = False
        for pos in range(i, max(i - 4, 0), -1):  # try past up to three list markers
            if covered[pos - 1]:
                break
            m = lead.match(edges.reversed_joined, edges.rev_offset(pos))
            if m is not None and m.end() > m.start():
                i, found = edges.rev_token(m.end()), True
                break
            if not _is_marker(doc.tokens[pos - 1]):
                break
        if not found:
            break
    covered[i : sp.start] = b"\x01" * (sp.start - i)
    trail = index.edge_regex(sp.template, "trail")
    j = sp.end  # first token after the match; walk forwards
    for _ in range(3):
        while j < n and not covered[j] and doc.copyright[j]:
            j += 1
        found = False
        for pos in range(j, min(j + 4, n)):
            if covered[pos]:
                break
            m = trail.match(edges.joined, edges.offsets[pos])
            if m is not None and m.end() > m.start():
                j, found = bisect.bisect_left(edges.offsets, m.end()), True
                break
            if not _is_marker(doc.tokens[pos]):
                break
        if not found:
            break
    covered[sp.end : j] = b"\x01" * (j - sp.end)
    return _Span(i, j, sp.template)


def _is_marker(tok: str) -> bool:
    """A list marker's word: `1`, `a`, `iv`."""
    return len(tok) <= 3 and (tok.isdigit() or len(tok) == 1 or set(tok) <= set("ivx"))


@dataclass
class _Edges:
    """The document forwards and backwards, with word offsets, for matching optional edges."""

    joined: str
    offsets: list[int]  # Document.joined offsets, total length last
    reversed_joined: str

    @classmethod
    def of(cls, doc: Document, joined: str, offsets: list[int]) -> _Edges:
        return cls(joined, offsets, " ".join(reversed(doc.tokens)) + " ")

    def rev_offset(self, i: int) -> int:
        """Char offset in the reversed text of the word just before token i."""
        # Reversed word j is forward word n-1-j; it starts where the forward text after it ends.
        return self.offsets[-1] - self.offsets[i]

    def rev_token(self, char: int) -> int:
        """Forward index of the first token covered by a backwards match ending at `char`."""
        return bisect.bisect_left(self.offsets, self.offsets[-1] - char)


def _leftover_runs(doc: Document, covered: bytearray, min_words: int) -> list[tuple[int, int]]:
    """Runs of uncovered words (copyright lines aside) long enough to be license text."""
    on_copyright = list(accumulate(doc.copyright, initial=0))
    runs = []
    for m in _UNCOVERED.finditer(covered):
        s, e = m.span()
        if (e - s) - (on_copyright[e] - on_copyright[s]) >= min_words:
            runs.append((s, e))
    return runs


def _naming_words(t: Template) -> set[str]:
    """The words of a license's name that name it ("apache"; "universal", "permissive")."""
    return {
        w
        for w in (*words(t.license_id), *words(t.name))
        if len(w) > 1 and w not in _GENERIC_NAME_WORDS and not w.strip("v").isdigit()
    }


def _name_words(t: Template) -> set[str]:
    return {*words(t.license_id), *words(t.name), "license", "the", "version", "v"}


def _is_title(region: tuple[str, ...], names: set[str]) -> bool:
    """A heading naming the matched license ("# GPL-2.0-only License")."""
    return len(region) < _NOTE_MAX_WORDS and names.issuperset(region)


# A project's title on a license file's first line, "<name> - <tagline>": its words are read, and
# a tagline may hold these words of terms, which there say what the software does
# ("tomb - support for clean goroutine termination in Go.", gopkg.in/tomb.v1).
_TITLE_LINE = re.compile(r"^[\W_]*[\w.-]+(?: +[-\u2013\u2014]| *:) +\w")
_TAGLINE_WORDS = frozenset(
    ("use", "used", "using", "terminate", "termination", "condition", "conditions", "conditional")
)


def _is_project_title(doc: Document, s: int, e: int, terms: set[str]) -> bool:
    """The file's first line alone (copyright lines aside), shorter than a license could be,
    shaped "<name> - <tagline>", with no words of terms but a tagline's."""
    own = [doc.lines[i] for i in range(s, e) if not doc.copyright[i]]
    return (
        s == 0
        and 0 < len(own) < LEFTOVER_MIN_WORDS
        and set(own) == {doc.lines[0]}
        and _TITLE_LINE.match(doc.folded_lines[doc.lines[0] - 1]) is not None
        and terms <= _TAGLINE_WORDS
    )


def _is_commentary(terms: set[str], prose: int) -> bool:
    """A short remark beside a license ("X is licensed under the MIT license, reproduced
    below"; a project's name and tagline): no words that grant, restrict or condition
    anything, so it adds no terms. `prose`: its words off copyright lines, which set the
    length (the holders a remark names do not make it longer)."""
    return prose < _REMARK_MAX_WORDS and not terms


def _remark(doc: Document, s: int, e: int) -> tuple[set[str], int]:
    """A run as a remark: its words of terms and its length, both without the words of notices
    that restate the license beside them (`_RESTATED`) and of file paths, URLs and SPDX ids,
    which name and set nothing ("internal/common/binary.go … is copied from …", gopsutil's
    LICENSE; the "only" of GPL-3.0-only). The length counts no copyright line either."""
    region = _RESTATED.sub("", " ".join(doc.tokens[s:e]) + " ").split()
    found = _terms_in(region)
    length = len(region) - sum(doc.copyright[s:e])
    if not found and length < _REMARK_MAX_WORDS:
        return found, length  # a short remark already: paths cannot change what it is
    text = "\n".join(doc.folded_lines[doc.lines[s] - 1 : doc.lines[e - 1]])
    known = spdx.licensing().known_symbols_lowercase
    names = [*_PATH.findall(text), *(i for i in _ID_CANDIDATE.findall(text) if i in known)]
    in_names = Counter(w for name in names for w in words(name))
    counts = Counter(region)
    found = {w for w in found if counts[w] > in_names[w]}
    naming = sum(min(n, counts[w]) for w, n in in_names.items())
    return found, max(length - naming, 0)


def _names_another_license(doc: Document, s: int, e: int, found: list[str]) -> bool:
    """Whether a run, off its copyright lines, names a license family that none of the
    licenses `found` beside it belongs to ("Portions are distributed under the GNU General
    Public License" beside MIT): then it is no remark on them but a license of its own."""
    named = {doc.tokens[i] for i in range(s, e) if not doc.copyright[i]}.intersection(
        _LICENSE_FAMILIES
    )
    return any(not any(i.startswith(_LICENSE_FAMILIES[w]) for i in found) for w in named)


def _terms_in(region: Iterable[str]) -> set[str]:
    """The words of terms in a run. "provided" is one only as "provided that" (a condition);
    "is provided under the X license, a copy of which is provided below" sets none."""
    tokens = tuple(region)
    found = set(_TERMS_WORDS.intersection(tokens))
    if "provided" in found and ("provided", "that") not in pairwise(tokens):
        found.discard("provided")
    return found


# The closing paragraph of BSD-2-Clause-Views (FreeBSD's license), which BSD-3-Clause texts
# carry too (pprof's third_party/svgpan): it disclaims official endorsement and sets no term.
# Only that sentence is passed over, ending in a short name without a word of terms in it.
_VIEWS = tuple(
    words(
        "The views and conclusions contained in the software and documentation are those of "
        "the authors and should not be interpreted as representing official policies, either "
        "expressed or implied, of"
    )
)
_VIEWS_NAME_MAX_WORDS = 8


def _is_views_disclaimer(region: tuple[str, ...]) -> bool:
    name = region[len(_VIEWS) :]
    return (
        region[: len(_VIEWS)] == _VIEWS
        and 0 < len(name) <= _VIEWS_NAME_MAX_WORDS
        and _TERMS_WORDS.isdisjoint(name)
    )


@dataclass(frozen=True)
class _Choice:
    """A choice between licenses the file states; `region`: the leftover run stating it
    (None for an `SPDX-License-Identifier:` line); `at`: its first token."""

    match: LicenseMatch
    at: int
    region: tuple[int, int] | None


def family(license_id: str) -> str:
    """`GPL-2.0` for GPL-2.0-only and GPL-2.0-or-later: the same text, either grant."""
    return license_id.removesuffix("-only").removesuffix("-or-later")


def offered(match: LicenseMatch) -> frozenset[str]:
    """The license families a choice offers: a statement of choice's, or an
    `SPDX-License-Identifier:` reference's with OR (empty for any other match)."""
    if match.kind not in ("choice", "reference") or " OR " not in match.license_id:
        return frozenset()
    return frozenset(family(t.license_id) for t in spdx.terms(match.license_id))


def _restates(expression: str, found: list[Template]) -> bool:
    """Whether an `SPDX-License-Identifier:` expression names, without a choice or an
    exception, exactly the licenses `found` (as families: the texts do not say -or-later)."""
    if " OR " in expression or not found:
        return False
    named = spdx.terms(expression)
    if any(t.exception is not None for t in named):
        return False
    return {family(t.license_id) for t in named} == {family(t.license_id) for t in found}


def _tag_lines(doc: Document) -> list[tuple[int, int, str]]:
    """The `SPDX-License-Identifier:` lines naming a valid expression: (first token, token
    after the line, expression)."""
    out = []
    for n, line in enumerate(doc.folded_lines, start=1):
        m = _SPDX_TAG.search(line) if "spdx-license-identifier" in line else None
        if m is None:
            continue
        try:
            expression = spdx.normalize(m.group(1))
        except spdx.ExpressionError:
            continue
        at = bisect.bisect_left(doc.lines, n)
        out.append((at, bisect.bisect_right(doc.lines, n), expression))
    return out


def _choice(
    doc: Document,
    leftover: list[tuple[int, int]],
    found: list[Template],
    tag_lines: list[tuple[int, int, str]],
) -> _Choice | None:
    """The file's statement of choice between licenses: an `SPDX-License-Identifier:` line
    with OR, else a leftover run that states one (`_stated_choice`). It stands only when it
    offers every license whose text the file holds (their copies, "included below"); its own
    text is then no unknown license."""
    families = {family(t.license_id) for t in found}
    # In a file without texts, the line is a reference, not a choice.
    for at, _, expression in tag_lines if found else ():
        if " OR " in expression:
            line = doc.lines[at]
            choice = _Choice(_choice_match(expression, line, line), at, None)
            return choice if families <= offered(choice.match) else None
    for s, e in leftover:
        stated = _stated_choice(doc, s, e, found)
        if stated is not None:
            choice = _Choice(_choice_match(stated, doc.lines[s], doc.lines[e - 1]), s, (s, e))
            if families <= offered(choice.match):
                return choice
    return None


def _choice_match(expression: str, start_line: int, end_line: int) -> LicenseMatch:
    # It names licenses without holding their texts: a notice's confidence. Texts of the same
    # licenses in the module give their terms full confidence.
    return LicenseMatch(expression, HEADER_CONFIDENCE, start_line, end_line, False, None, "choice")


def _stated_choice(doc: Document, s: int, e: int, found: list[Template]) -> str | None:
    """ "X OR Y" when the run states a choice, with no words of terms but "may be used":
    between SPDX ids, with a cue ("either", "at your option") and "or" (never "and") between
    each id named and the next; else in words ("dual-licensed … under the Universal Permissive
    License 1.0 … or Apache License 2.0 … You may choose either license", oracle/oci-go-sdk),
    with a phrase of choice, between the licenses `found` (whose texts the file holds), each
    named by a word of its name."""
    present = set(doc.tokens[s:e])
    if present.isdisjoint(_CHOICE_CUES) or not _remark(doc, s, e)[0] <= _CHOICE_TERMS:
        return None
    text = "\n".join(doc.folded_lines[doc.lines[s] - 1 : doc.lines[e - 1]])
    known = spdx.licensing().known_symbols_lowercase
    ids: dict[str, None] = {}
    last = -1
    for m in _ID_CANDIDATE.finditer(text):
        symbol = known.get(m.group())
        if symbol is None or symbol.is_exception:
            continue
        if last >= 0:
            between = set(words(text[last : m.start()]))
            if "or" not in between or "and" in between:
                ids.clear()  # not "X or Y" by id; in words, maybe
                break
        ids[str(symbol.key)] = None
        last = m.end()
    if len(ids) >= 2 and "or" in present:
        return spdx.normalize(" OR ".join(ids))
    # "dual-licensed under the Unlicense and MIT licenses. You may use this code under the
    # terms of either license." (alecthomas/go-check-sumtype): a phrase of choice, each
    # license named.
    offered = dict.fromkeys(t.license_id for t in found)
    joined = " " + " ".join(doc.tokens[s:e]) + " "
    if len(offered) < 2 or not _CHOICE_PHRASE.search(joined):
        return None
    if any(present.isdisjoint(_naming_words(t)) for t in found):
        return None
    return spdx.normalize(" OR ".join(offered))


def stated_choice(doc: Document, found: list[Template]) -> LicenseMatch | None:
    """A file that only states a choice between the licenses `found` in the files beside it
    (COPYING, beside LICENSE-MIT and UNLICENSE), as a choice match; None otherwise."""
    if not doc.tokens:
        return None
    expression = _stated_choice(doc, 0, len(doc.tokens), found)
    if expression is None:
        return None
    return _choice_match(expression, doc.lines[0], doc.lines[-1])


def _mentions_later_version(
    joined: str, offsets: list[int], covered: bytearray, leftover: list[tuple[int, int]]
) -> bool:
    """A short "or (at your option) any later version" notice beside the license text.

    The phrase inside a matched text (GPL's own "How to Apply" appendix) or inside unknown
    text (a modified license) says nothing about this file's license.
    """
    at = joined.find(_LATER)
    while at != -1:
        if at == 0 or joined[at - 1] == " ":
            i = bisect.bisect_left(offsets, at)
            inside_unknown = any(s <= i < e for s, e in leftover)
            if not inside_unknown and not any(covered[i : i + _LATER_WORDS]):
                return True
        at = joined.find(_LATER, at + 1)
    return False


def _unknown(
    index: TemplateIndex, doc: Document, s: int, e: int, hits: Counter[int]
) -> LicenseMatch:
    region = doc.tokens[s:e]
    present = set(region)
    best_id: str | None = None
    best = 0.0
    candidates = [*hits.items(), *((i, 0) for i in index.uninformative)]
    for i, n in candidates:
        t = index.templates[i]
        if t.kind != "text" or n < _NEAREST_MIN * t.informative:
            continue
        common = len(t.required & present)
        recall = common / len(t.required)
        precision = common / len(present)
        if recall + precision == 0:
            continue
        # F2: recall weighs more. A text holding every word a template requires is that
        # license changed, even when the words of its optional parts (a holder's name, an
        # alternative wording) are counted against it (modernc.org/libc's BSD-3-Clause was
        # nearest to BSD-3-Clause-Attribution by F1).
        score = 5 * recall * precision / (4 * precision + recall)
        if score > best:
            best, best_id = score, t.license_id
    digest = hashlib.sha256(" ".join(region).encode()).hexdigest()[:12]
    nearest = best_id if best >= _NEAREST_MIN else None
    return LicenseMatch(
        license_id=f"LicenseRef-unknown-{digest}",
        confidence=round(min(best, 1.0) * UNKNOWN_CONFIDENCE_CAP, 4) if nearest else 0.0,
        start_line=doc.lines[s],
        end_line=doc.lines[e - 1],
        exact=False,
        nearest=nearest,
        kind="unknown",
    )
