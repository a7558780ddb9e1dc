"""go.sum (and go.work.sum) files: the expected `h1:` hashes of module zips and go.mod files.

Each line is `path version hash` (the module's zip) or `path version/go.mod hash` (its go.mod
alone). Like the go command we skip blank lines and the empty-go.mod hash an old Go wrote by
mistake, and refuse a line without exactly three fields. We are stricter in two places where
the go command would only fail later, when it verifies a download: a hash that is not a
well-formed `h1:` value, and two different `h1:` hashes for the same module version.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ParseError
from .modsyntax import decode
from .module import go_quote

# What Go 1.11 wrote for a module without go.mod; the go command drops these lines on read.
EMPTY_GOMOD_HASH = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="
_GOMOD_SUFFIX = "/go.mod"


@dataclass(frozen=True, slots=True)
class SumLine:
    """One go.sum line; `gomod` is True for the `version/go.mod` kind."""

    path: str
    version: str
    gomod: bool
    hash: str
    line: int


@dataclass(frozen=True, slots=True)
class GoSum:
    """A parsed go.sum: its lines in file order (duplicates kept) and lookups by module version."""

    path: str
    lines: tuple[SumLine, ...]
    # (path, version, gomod) -> first h1: hash; built once, so lookups over a build list are O(1).
    _h1: Mapping[tuple[str, str, bool], str] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def h1(self, path: str, version: str) -> str | None:
        """The recorded `h1:` hash of path@version's zip, or None."""
        return self._find(path, version, gomod=False)

    def gomod_h1(self, path: str, version: str) -> str | None:
        """The recorded `h1:` hash of path@version's go.mod, or None."""
        return self._find(path, version, gomod=True)

    def line_of(self, path: str, version: str, *, gomod: bool = False) -> int | None:
        """The line recording path@version (its go.mod with gomod=True), for messages."""
        for s in self.lines:
            if s.path == path and s.version == version and s.gomod == gomod:
                return s.line
        return None

    def modules(self) -> list[tuple[str, str]]:
        """Every (path, version) with a zip hash, in file order, once each."""
        seen: dict[tuple[str, str], None] = {}
        for s in self.lines:
            if not s.gomod:
                seen.setdefault((s.path, s.version), None)
        return list(seen)

    def _find(self, path: str, version: str, *, gomod: bool) -> str | None:
        return self._h1.get((path, version, gomod))


def _check_hash(value: str) -> str | None:
    """Why a hash field is malformed, or None."""
    alg, sep, digest = value.partition(":")
    if not sep or not alg:
        return f"hash {go_quote(value)} is not of the form h1:BASE64"
    if alg != "h1":
        return None  # a future hash kind: kept, never compared
    try:
        raw = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        return f"hash {go_quote(value)} is not valid base64"
    if len(raw) != 32:
        return f"hash {go_quote(value)} is not a SHA-256 (h1:) hash"
    return None


def parse_gosum(data: bytes | str, path: str = "go.sum") -> GoSum:
    """Parse a go.sum; raises ParseError (path, line) for a malformed or conflicting line."""
    text = decode(data)
    lines: list[SumLine] = []
    first_seen: dict[tuple[str, str, bool], SumLine] = {}
    for lineno, raw in enumerate(text.split("\n"), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ParseError(
                f"malformed go.sum line: wrong number of fields {len(fields)}",
                path=path,
                line=lineno,
                hint="each line is 'module version h1:hash'; `go mod tidy` rewrites go.sum",
            )
        mod_path, version, hash_ = fields
        if hash_ == EMPTY_GOMOD_HASH:
            continue
        why = _check_hash(hash_)
        if why is not None:
            raise ParseError(
                f"malformed go.sum line for {mod_path}@{version}: {why}",
                path=path,
                line=lineno,
                hint="`go mod tidy` rewrites go.sum",
            )
        gomod = version.endswith(_GOMOD_SUFFIX)
        if gomod:
            version = version[: -len(_GOMOD_SUFFIX)]
        entry = SumLine(mod_path, version, gomod, hash_, lineno)
        key = (mod_path, version, gomod)
        previous = first_seen.get(key)
        if previous is None:
            first_seen[key] = entry
        elif previous.hash != hash_ and hash_.startswith("h1:") and previous.hash.startswith("h1:"):
            what = f"{mod_path}@{version}{_GOMOD_SUFFIX if gomod else ''}"
            raise ParseError(
                f"conflicting hashes for {what}: {hash_} here, {previous.hash} on line "
                f"{previous.line}",
                path=path,
                line=lineno,
                hint=f"the go command takes the first (line {previous.line}) and refuses a "
                "download that differs from it; find out which is right "
                "(GOFLAGS=-mod=mod go mod download) before you delete a line",
            )
        lines.append(entry)
    h1: dict[tuple[str, str, bool], str] = {}
    for entry in lines:
        if entry.hash.startswith("h1:"):
            h1.setdefault((entry.path, entry.version, entry.gomod), entry.hash)
    return GoSum(path, tuple(lines), h1)
