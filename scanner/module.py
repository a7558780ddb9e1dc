"""Module identity as golang.org/x/mod/module: paths, versions and their case-encoding (`!x`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from . import semver
from .errors import InvalidModuleError


@dataclass(frozen=True, slots=True, order=True)
class ModuleVersion:
    """A module path at a version (`example.com/m@v1.2.3`); version "" means the main module."""

    path: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.path}@{self.version}" if self.version else self.path


def _module_sort_key(m: ModuleVersion) -> tuple[str, Any, str]:
    # A version may carry a "/go.mod" suffix (as in go.sum): semver order first, then the suffix.
    version, slash, suffix = m.version.partition("/")
    return (m.path, functools.cmp_to_key(semver.compare)(version), slash + suffix)


def sort_module_versions(mods: Iterable[ModuleVersion]) -> list[ModuleVersion]:
    """Sorted by path, then by semantic version (x/mod module.Sort), e.g. for go.sum order."""
    return sorted(mods, key=_module_sort_key)


class PathKind(Enum):
    """Which of x/mod's three path rules applies: module, import (package) or file path."""

    MODULE = "module"
    IMPORT = "import"
    FILE = "file"


# Reserved device names on Windows: no path element may be one of these before its first dot,
# in any case, or a module could not be extracted on Windows.
WINDOWS_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)

_MODULE_PUNCT = frozenset("-._~")
# Every ASCII punctuation character except " ' * < > ? ` | / \ and : (shell or OS meaning).
_FILE_PUNCT = frozenset("!#$%&()+,-.=@[]^_{}~ ")

# Elements made only of these characters need no per-character check.
_PLAIN_ELEM = {
    PathKind.MODULE: re.compile(r"[A-Za-z0-9._~-]*"),
    PathKind.IMPORT: re.compile(r"[A-Za-z0-9._~+-]*"),
    PathKind.FILE: re.compile(r"[A-Za-z0-9!#$%&()+,.=@\[\]^_{}~ -]*"),
}

# The common case, checked with a few string operations: letters, digits, "_", "-", "." and "/",
# no empty element, no element starting or ending with a dot, no reserved Windows name.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_RESERVED_ELEM = re.compile(
    r"(?:^|/)(?:con|prn|aux|nul|com[1-9]|lpt[1-9])(?:[./]|$)", re.IGNORECASE
)
# What our UTF-8 decoding leaves where the bytes were not UTF-8.
_NOT_UTF8 = re.compile("[\ud800-\udfff\ufffd]")


def _is_plainly_valid(path: str) -> bool:
    return (
        _PLAIN_PATH.fullmatch(path) is not None
        and path[0] not in "-./"
        and path[-1] not in "./"
        and "//" not in path
        and "/." not in path
        and "./" not in path
        and _RESERVED_ELEM.search(path) is None
    )


def _is_ascii_alnum(c: str) -> bool:
    return "0" <= c <= "9" or "a" <= c <= "z" or "A" <= c <= "Z"


def _char_ok(c: str, kind: PathKind) -> bool:
    if kind is PathKind.FILE:
        if c < "\x80":
            return _is_ascii_alnum(c) or c in _FILE_PUNCT
        return c.isalpha()
    if c >= "\x80":
        return False
    return _is_ascii_alnum(c) or c in _MODULE_PUNCT or (kind is PathKind.IMPORT and c == "+")


def _check_elem(elem: str, kind: PathKind) -> str | None:
    """Why a path element breaks the rules of `kind`, or None when it is fine."""
    if elem == "":
        return "empty path element"
    if elem.count(".") == len(elem):
        return f"invalid path element {go_quote(elem)}"
    if elem[0] == "." and kind is PathKind.MODULE:
        return "leading dot in path element"
    if elem[-1] == ".":
        return "trailing dot in path element"
    if _PLAIN_ELEM[kind].fullmatch(elem) is None:
        for c in elem:
            if not _char_ok(c, kind):
                return f"invalid char {go_quote_rune(c)}"
    short = elem.split(".", 1)[0]
    if short.upper() in WINDOWS_RESERVED_NAMES:
        return f"{go_quote(short)} disallowed as path element component on Windows"
    if kind is PathKind.FILE:
        return None
    # Elements like "abc~1" look like Windows 8.3 short names and could alias another file.
    tilde = short.rfind("~")
    if (
        0 <= tilde < len(short) - 1
        and short[tilde + 1 :].isascii()
        and short[tilde + 1 :].isdigit()
    ):
        return "trailing tilde and digits in path element"
    return None


@functools.lru_cache(maxsize=16384)
def _check_path(path: str, kind: PathKind) -> str | None:
    # Cached: a build list checks the same few hundred paths in every go.mod it reads.
    if kind is not PathKind.FILE and _is_plainly_valid(path):
        return None
    if not path.isascii() and _NOT_UTF8.search(path):
        return "invalid UTF-8"
    if path == "":
        return "empty string"
    if path[0] == "-" and kind is not PathKind.FILE:
        return "leading dash"
    if "//" in path:
        return "double slash"
    if path[-1] == "/":
        return "trailing slash"
    for elem in path.split("/"):
        why = _check_elem(elem, kind)
        if why is not None:
            return why
    return None


def _module_path_problem(path: str) -> str | None:
    why = _check_path(path, PathKind.MODULE)
    if why is not None:
        return why
    first = path.split("/", 1)[0]
    if first == "":
        return "leading slash"
    if "." not in first:
        return "missing dot in first path element"
    if path[0] == "-":
        return "leading dash in first path element"
    for c in first:
        if not (c == "-" or c == "." or "0" <= c <= "9" or "a" <= c <= "z"):
            return f"invalid char {go_quote_rune(c)} in first path element"
    if not split_path_version(path)[2]:
        return "invalid version"
    return None


def module_path_problem(path: str) -> str | None:
    """Why `path` is not a valid module path (the text after `malformed module path "…": `)."""
    return _module_path_problem(path)


def import_path_problem(path: str) -> str | None:
    """Why `path` is not a valid import path, or None."""
    return _check_path(path, PathKind.IMPORT)


def check_path(path: str) -> None:
    """Raise InvalidModuleError unless `path` is a valid module path (x/mod CheckPath).

    An import path whose first element is a lower-case domain name with a dot, no element
    starting with a dot, and a well-formed major-version suffix (`/vN`, N ≥ 2, or `gopkg.in/x.vN`).
    """
    why = _module_path_problem(path)
    if why is not None:
        raise InvalidModuleError(
            f"malformed module path {go_quote(path)}: {why}",
            module=path,
            hint="module paths look like example.com/name or example.com/name/v2",
        )


def check_import_path(path: str) -> None:
    """Raise InvalidModuleError unless `path` is a valid import path (x/mod CheckImportPath)."""
    why = _check_path(path, PathKind.IMPORT)
    if why is not None:
        raise InvalidModuleError(f"malformed import path {go_quote(path)}: {why}")


def check_file_path(path: str) -> None:
    """Raise InvalidModuleError unless `path` may name a file in a module (x/mod CheckFilePath)."""
    why = _check_path(path, PathKind.FILE)
    if why is not None:
        raise InvalidModuleError(f"malformed file path {go_quote(path)}: {why}")


def is_valid_path(path: str) -> bool:
    """True when check_path would accept `path`."""
    return _module_path_problem(path) is None


def split_path_version(path: str) -> tuple[str, str, bool]:
    """(prefix, path_major, ok) with prefix + path_major == path (x/mod SplitPathVersion).

    path_major is "" or "/vN" (N ≥ 2), or ".vN" for gopkg.in paths (any N, "-unstable" allowed);
    ok is False for a malformed suffix such as "/v1", "/v0", "/v2.1" or a gopkg.in path without one.
    """
    if path.startswith("gopkg.in/"):
        return _split_gopkg_in(path)
    i = len(path)
    dot = False
    while i > 0 and ("0" <= path[i - 1] <= "9" or path[i - 1] == "."):
        if path[i - 1] == ".":
            dot = True
        i -= 1
    if i <= 1 or i == len(path) or path[i - 1] != "v" or path[i - 2] != "/":
        return path, "", True
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if dot or len(path_major) <= 2 or path_major[2] == "0" or path_major == "/v1":
        return path, "", False
    return prefix, path_major, True


def _split_gopkg_in(path: str) -> tuple[str, str, bool]:
    i = len(path)
    if path.endswith("-unstable"):
        i -= len("-unstable")
    while i > 0 and "0" <= path[i - 1] <= "9":
        i -= 1
    if i <= 1 or path[i - 1] != "v" or path[i - 2] != ".":
        return path, "", False
    prefix, path_major = path[: i - 2], path[i - 2 :]
    if len(path_major) <= 2 or (path_major[2] == "0" and path_major != ".v0"):
        return path, "", False
    return prefix, path_major, True


def path_major_mismatch(version: str, path_major: str) -> str | None:
    """Why `version` cannot be a version of a path ending in `path_major`, or None when it can.

    The message reads like the go command's: `should be v2, not v1`.
    """
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major[: -len("-unstable")]
    # gopkg.in/yaml.v2 once required gopkg.in/check.v1 at a v0.0.0- pseudo-version; Go allows it.
    if version.startswith("v0.0.0-") and path_major == ".v1":
        return None
    m = semver.major(version)
    if path_major == "":
        if m in ("v0", "v1") or semver.build(version) == "+incompatible":
            return None
        want = "v0 or v1"
    elif path_major[0] in "/.":
        if m == path_major[1:]:
            return None
        want = path_major[1:]
    else:
        want = path_major
    return f"should be {want}, not {m}"


def check_path_major(version: str, path_major: str) -> bool:
    """True when `version` fits a path whose major suffix is `path_major` (x/mod MatchPathMajor)."""
    return path_major_mismatch(version, path_major) is None


def path_major_prefix(path_major: str) -> str:
    """The tag prefix a major suffix implies: "/v2" -> "v2", ".v1-unstable" -> "v1", "" -> ""."""
    if path_major == "":
        return ""
    if path_major.startswith(".v") and path_major.endswith("-unstable"):
        path_major = path_major[: -len("-unstable")]
    return path_major[1:]


def canonical_version(version: str) -> str:
    """semver.canonical, but keeping the `+incompatible` build suffix (x/mod CanonicalVersion)."""
    cv = semver.canonical(version)
    if cv and semver.build(version) == "+incompatible":
        cv += "+incompatible"
    return cv


def check(path: str, version: str) -> None:
    """Raise InvalidModuleError unless path@version is a valid module version (x/mod Check)."""
    check_path(path)
    if not semver.is_valid(version):
        raise InvalidModuleError(
            f"version {go_quote(version)} invalid: not a semantic version",
            module=path,
            version=version,
        )
    why = path_major_mismatch(version, split_path_version(path)[1])
    if why is not None:
        raise InvalidModuleError(
            f"version {go_quote(version)} invalid: {why}", module=path, version=version
        )


def _escape(s: str) -> str:
    # Upper-case ASCII letters become "!" + lower-case, so that paths stay distinct on
    # case-insensitive file systems; callers have already rejected "!" and non-ASCII.
    if not any("A" <= c <= "Z" for c in s):
        return s
    return "".join("!" + c.lower() if "A" <= c <= "Z" else c for c in s)


def _unescape(s: str) -> str | None:
    out = []
    bang = False
    for c in s:
        if c >= "\x80":
            return None
        if bang:
            if not ("a" <= c <= "z"):
                return None
            out.append(c.upper())
            bang = False
        elif c == "!":
            bang = True
        elif "A" <= c <= "Z":
            return None
        else:
            out.append(c)
    return None if bang else "".join(out)


def escape_path(path: str) -> str:
    """`github.com/Azure/x` -> `github.com/!azure/x` (the form used in proxy URLs and caches).

    Raises InvalidModuleError unless `path` is a valid module path (x/mod EscapePath).
    """
    check_path(path)
    return _escape(path)


def unescape_path(escaped: str) -> str:
    """Inverse of escape_path; raises InvalidModuleError on a malformed escape or path."""
    path = _unescape(escaped)
    if path is None:
        raise InvalidModuleError(f"invalid escaped module path {go_quote(escaped)}")
    why = _module_path_problem(path)
    if why is not None:
        raise InvalidModuleError(f"invalid escaped module path {go_quote(escaped)}: {why}")
    return path


def _version_problem(version: str) -> str | None:
    if "!" in version or _check_elem(version, PathKind.FILE) is not None:
        return "disallowed version string"
    return None


def escape_version(version: str) -> str:
    """`v1.0.0-RC1` -> `v1.0.0-!r!c1`; a version must be a valid file name without '!'."""
    why = _version_problem(version)
    if why is not None:
        raise InvalidModuleError(f"version {go_quote(version)} invalid: {why}", version=version)
    return _escape(version)


def unescape_version(escaped: str) -> str:
    """Inverse of escape_version; raises InvalidModuleError on a malformed escape or version."""
    version = _unescape(escaped)
    if version is None:
        raise InvalidModuleError(f"invalid escaped version {go_quote(escaped)}")
    why = _check_elem(version, PathKind.FILE)
    if why is not None:
        raise InvalidModuleError(f"invalid escaped version {go_quote(version)}: {why}")
    return version


def go_quote(s: str) -> str:
    """Go's %q for messages: double quotes, backslash escapes for quotes and control chars."""
    out = ['"']
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c, f"\\x{ord(c):02x}"))
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append('"')
    return "".join(out)


def go_quote_rune(c: str) -> str:
    return "'" + go_quote(c)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"
