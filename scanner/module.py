"""Module identity as golang.org/x/mod/module: paths, versions and their case-encoding (`!x`)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidModuleError


@dataclass(frozen=True, slots=True, order=True)
class ModuleVersion:
    """A module path at a version (`example.com/m@v1.2.3`); version "" means the main module."""

    path: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.path}@{self.version}" if self.version else self.path


def _escape(s: str, what: str) -> str:
    # Upper-case ASCII letters become "!" + lower-case; "!" itself is not allowed unescaped.
    out = []
    for c in s:
        if c == "!":
            raise InvalidModuleError(f"invalid {what} {s!r}: contains '!'")
        if "A" <= c <= "Z":
            out.append("!" + c.lower())
        else:
            out.append(c)
    return "".join(out)


def _unescape(s: str) -> str | None:
    out = []
    bang = False
    for c in s:
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
    """`github.com/Azure/x` -> `github.com/!azure/x` (the form used in proxy URLs and caches)."""
    return _escape(path, "module path")


def unescape_path(escaped: str) -> str:
    """Inverse of escape_path; raises InvalidModuleError on a malformed escape."""
    path = _unescape(escaped)
    if path is None:
        raise InvalidModuleError(f"invalid escaped module path {escaped!r}")
    return path


def escape_version(version: str) -> str:
    return _escape(version, "version")


def unescape_version(escaped: str) -> str:
    version = _unescape(escaped)
    if version is None:
        raise InvalidModuleError(f"invalid escaped version {escaped!r}")
    return version
