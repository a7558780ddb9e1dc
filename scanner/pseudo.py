"""Pseudo-versions (x/mod module pseudo.go): versions the go command makes up for commits.

A pseudo-version names a revision by time and commit hash, ordered just after the nearest tag
before it. Three forms, depending on that tag:

    vX.0.0-yyyymmddhhmmss-abcdefabcdef        no earlier tag for this major version
    vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef…      the earlier tag is the release vX.Y.Z
    vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef…      the earlier tag is the prerelease vX.Y.Z-pre

Any of them may end in `+incompatible`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from . import semver
from .errors import InvalidModuleError
from .module import go_quote

_PSEUDO = re.compile(
    r"v[0-9]+\.(0\.0-|[0-9]+\.[0-9]+-([^+]*\.)?0\.)[0-9]{14}-[A-Za-z0-9]+"
    r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"  # Go's "20060102150405"


def is_pseudo_version(v: str) -> bool:
    """Whether v has the form of a pseudo-version (x/mod IsPseudoVersion)."""
    return v.count("-") >= 2 and semver.is_valid(v) and _PSEUDO.fullmatch(v) is not None


def _timestamp(t: datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    # strftime's %Y does not zero-pad years before 1000 on every platform; Go's format does.
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


def pseudo_version(major: str, older: str, time: datetime, rev: str) -> str:
    """The pseudo-version for commit `rev` made at `time`, after tag `older` ("" for none).

    `major` ("v2"; "" means "v0") is used only when there is no older tag. A naive `time` is
    taken as UTC.
    """
    major = major or "v0"
    segment = f"{_timestamp(time)}-{rev}"
    build = semver.build(older)
    older = semver.canonical(older)
    if older == "":
        return f"{major}.0.0-{segment}"
    if semver.prerelease(older) != "":
        return f"{older}.0.{segment}{build}"
    head, _, patch = older.rpartition(".")
    return f"{head}.{_inc_decimal(patch)}-0.{segment}{build}"


def zero_pseudo_version(major: str) -> str:
    """The pseudo-version the go command writes for an unknown revision: v0.0.0-00010101000000-…"""
    return pseudo_version(major, "", datetime(1, 1, 1, tzinfo=UTC), "000000000000")


def is_zero_pseudo_version(v: str) -> bool:
    return v == zero_pseudo_version(semver.major(v))


def _inc_decimal(decimal: str) -> str:
    # On the digit string, as x/mod does: a patch number may be longer than int() accepts.
    digits = decimal.rstrip("9")
    nines = len(decimal) - len(digits)
    if digits == "":
        return "1" + "0" * len(decimal)
    return digits[:-1] + chr(ord(digits[-1]) + 1) + "0" * nines


def _dec_decimal(decimal: str) -> str:
    digits = decimal.rstrip("0")
    zeros = len(decimal) - len(digits)
    if digits == "":
        return ""
    if len(digits) == 1 and digits == "1" and len(decimal) > 1:
        return "9" * zeros
    return digits[:-1] + chr(ord(digits[-1]) - 1) + "9" * zeros


def _invalid(v: str, why: str) -> InvalidModuleError:
    return InvalidModuleError(f"pseudo-version {go_quote(v)} invalid: {why}", version=v)


def _split(v: str) -> tuple[str, str, str, str]:
    """(base, timestamp, rev, build) of a pseudo-version (x/mod parsePseudoVersion)."""
    if not is_pseudo_version(v):
        raise _invalid(v, "syntax error")
    build = semver.build(v)
    if build:
        v = v[: -len(build)]
    v, _, rev = v.rpartition("-")
    i = v.rfind("-")
    j = v.rfind(".")
    if j > i:
        return v[:j], v[j + 1 :], rev, build  # "vX.Y.Z-pre.0" or "vX.Y.(Z+1)-0"
    return v[:i], v[i + 1 :], rev, build  # "vX.0.0"


def pseudo_version_time(v: str) -> datetime:
    """The commit time a pseudo-version records (UTC); raises InvalidModuleError if malformed."""
    _, ts, _, _ = _split(v)
    try:
        return datetime(
            int(ts[0:4]),
            int(ts[4:6]),
            int(ts[6:8]),
            int(ts[8:10]),
            int(ts[10:12]),
            int(ts[12:14]),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise _invalid(v, f"malformed time {go_quote(ts)}") from e


def pseudo_version_rev(v: str) -> str:
    """The revision (commit hash prefix) a pseudo-version names."""
    return _split(v)[2]


def pseudo_version_base(v: str) -> str:
    """The tag a pseudo-version builds on ("" for the vX.0.0- form), with its build suffix."""
    base, _, _, build = _split(v)
    pre = semver.prerelease(base)
    if pre == "":
        if build:
            raise _invalid(v, f"lacks base version, but has build metadata {go_quote(build)}")
        return ""
    if pre == "-0":
        base = base[: -len(pre)]
        head, _, patch = base.rpartition(".")
        previous = _dec_decimal(patch)
        if previous == "":
            raise _invalid(v, f"version before {base} would have negative patch number")
        return f"{head}.{previous}{build}"
    return base[: -len(".0")] + build
