"""Go's semantic versions, exactly as golang.org/x/mod/semver: vMAJOR[.MINOR[.PATCH[-pre][+build]]].

Shorthands `v1` and `v1.2` are valid and mean v1.0.0 and v1.2.0; build metadata is ignored in
comparisons; an invalid version compares below every valid one and equal to other invalid ones.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parsed:
    major: str
    minor: str
    patch: str
    short: str  # ".0.0" or ".0" when the version was a shorthand, else ""
    prerelease: str  # including the leading "-", or ""
    build: str  # including the leading "+", or ""


def _is_num(s: str) -> bool:
    return s != "" and s.isascii() and s.isdigit()


def _is_bad_num(s: str) -> bool:
    return len(s) > 1 and s[0] == "0"


def _is_ident_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "-")


def _parse_int(v: str) -> tuple[str, str] | None:
    i = 0
    while i < len(v) and "0" <= v[i] <= "9":
        i += 1
    if i == 0 or (v[0] == "0" and i != 1):
        return None
    return v[:i], v[i:]


def _parse_prerelease(v: str) -> tuple[str, str] | None:
    # "-" followed by dot-separated identifiers; numeric ones have no leading zeros.
    if not v or v[0] != "-":
        return None
    i, start = 1, 1
    while i < len(v) and v[i] != "+":
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i or (_is_bad_num(v[start:i]) and _is_num(v[start:i])):
                return None
            start = i + 1
        i += 1
    if start == i or (_is_num(v[start:i]) and _is_bad_num(v[start:i])):
        return None
    return v[:i], v[i:]


def _parse_build(v: str) -> tuple[str, str] | None:
    if not v or v[0] != "+":
        return None
    i, start = 1, 1
    while i < len(v):
        if not _is_ident_char(v[i]) and v[i] != ".":
            return None
        if v[i] == ".":
            if start == i:
                return None
            start = i + 1
        i += 1
    if start == i:
        return None
    return v[:i], v[i:]


@functools.lru_cache(maxsize=65536)
def parse(v: str) -> Parsed | None:
    """Parse a Go semantic version; None when it is not one."""
    if not v or v[0] != "v":
        return None
    r = _parse_int(v[1:])
    if r is None:
        return None
    major, rest = r
    if rest == "":
        return Parsed(major, "0", "0", ".0.0", "", "")
    if rest[0] != ".":
        return None
    r = _parse_int(rest[1:])
    if r is None:
        return None
    minor, rest = r
    if rest == "":
        return Parsed(major, minor, "0", ".0", "", "")
    if rest[0] != ".":
        return None
    r = _parse_int(rest[1:])
    if r is None:
        return None
    patch, rest = r
    prerelease = build = ""
    if rest and rest[0] == "-":
        pr = _parse_prerelease(rest)
        if pr is None:
            return None
        prerelease, rest = pr
    if rest and rest[0] == "+":
        b = _parse_build(rest)
        if b is None:
            return None
        build, rest = b
    if rest != "":
        return None
    return Parsed(major, minor, patch, "", prerelease, build)


def is_valid(v: str) -> bool:
    return parse(v) is not None


def canonical(v: str) -> str:
    """The canonical form: v1 -> v1.0.0, build metadata dropped ("" when invalid).

    Like x/mod semver.Canonical this drops `+incompatible` too; module.canonical_version keeps it.
    """
    p = parse(v)
    if p is None:
        return ""
    return f"v{p.major}.{p.minor}.{p.patch}{p.prerelease}"


def major(v: str) -> str:
    """ "v2" for "v2.1.0"; "" when invalid."""
    p = parse(v)
    return f"v{p.major}" if p else ""


def major_minor(v: str) -> str:
    p = parse(v)
    return f"v{p.major}.{p.minor}" if p else ""


def prerelease(v: str) -> str:
    p = parse(v)
    return p.prerelease if p else ""


def build(v: str) -> str:
    p = parse(v)
    return p.build if p else ""


def _cmp_int(x: str, y: str) -> int:
    if x == y:
        return 0
    if len(x) != len(y):
        return -1 if len(x) < len(y) else 1
    return -1 if x < y else 1


def _cmp_prerelease(x: str, y: str) -> int:
    # "" (a release) sorts after any prerelease; identifiers compare numerically when both
    # are numbers, numbers sort before words, and a shorter list of equal identifiers first.
    if x == y:
        return 0
    if x == "":
        return 1
    if y == "":
        return -1
    xs, ys = x[1:].split("."), y[1:].split(".")
    for dx, dy in zip(xs, ys, strict=False):
        if dx == dy:
            continue
        nx, ny = _is_num(dx), _is_num(dy)
        if nx != ny:
            return -1 if nx else 1
        if nx:
            return _cmp_int(dx, dy)
        return -1 if dx < dy else 1
    return (len(xs) > len(ys)) - (len(xs) < len(ys))


def compare(v: str, w: str) -> int:
    """-1, 0 or +1; invalid versions are equal to each other and below all valid ones."""
    pv, pw = parse(v), parse(w)
    if pv is None and pw is None:
        return 0
    if pv is None:
        return -1
    if pw is None:
        return 1
    for a, b in ((pv.major, pw.major), (pv.minor, pw.minor), (pv.patch, pw.patch)):
        c = _cmp_int(a, b)
        if c:
            return c
    return _cmp_prerelease(pv.prerelease, pw.prerelease)


def max_version(v: str, w: str) -> str:
    """The larger of two versions, canonical (x/mod semver.Max: on a tie, w; "" if both invalid)."""
    v, w = canonical(v), canonical(w)
    return v if compare(v, w) > 0 else w


def _sort_cmp(a: str, b: str) -> int:
    # x/mod semver.Sort: by semver, ties broken by the string itself.
    c = compare(a, b)
    if c:
        return c
    return (a > b) - (a < b)


def sort_versions(versions: Iterable[str]) -> list[str]:
    return sorted(versions, key=functools.cmp_to_key(_sort_cmp))
