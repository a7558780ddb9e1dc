"""go.mod files read as the go command reads them (golang.org/x/mod/modfile Parse and ParseLax).

`parse_gomod(data)` reads a main module's go.mod like `go mod edit -json` does: every directive is
checked and versions are made canonical (`v1.2` -> `v1.2.0`). `lax=True` reads a dependency's
go.mod like the go command during module loading: only module, go, require, retract and ignore
count; unknown or main-module-only directives (replace, exclude, toolchain, …) are skipped.

Beyond modfile, strict mode also rejects what the go command refuses as soon as it loads the main
module: a module or tool path that is not an import path, a required module path that is not
valid and not replaced, a retraction of something that is not a semantic version. A scan should
point at the line. Every error is a ParseError carrying path and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import semver
from .errors import ParseError
from .modsyntax import parse_syntax

# x/zip MaxGoMod: the go command refuses a module's go.mod larger than this, and so do we
# (the proxy's auditor parses untrusted go.mod files).
MAX_GOMOD_SIZE = 16 << 20


@dataclass(frozen=True, slots=True)
class Require:
    """`require path version`; `indirect` when the line ends in `// indirect`."""

    path: str
    version: str
    indirect: bool
    line: int


@dataclass(frozen=True, slots=True)
class Exclude:
    """`exclude path version`."""

    path: str
    version: str
    line: int


@dataclass(frozen=True, slots=True)
class Replace:
    """`replace old [old_version] => new [new_version]`.

    old_version "" replaces every version of old_path; new_version "" means new_path is a
    local directory (relative to the go.mod's directory, or absolute).
    """

    old_path: str
    old_version: str
    new_path: str
    new_version: str
    line: int

    @property
    def is_local(self) -> bool:
        return self.new_version == ""


@dataclass(frozen=True, slots=True)
class Retract:
    """`retract v` or `retract [low, high]` (closed interval) with the comment as rationale."""

    low: str
    high: str
    rationale: str
    line: int

    def covers(self, version: str) -> bool:
        return semver.compare(self.low, version) <= 0 and semver.compare(version, self.high) <= 0


@dataclass(frozen=True, slots=True)
class Godebug:
    """`godebug key=value`."""

    key: str
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class Tool:
    """`tool package/path`."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Ignore:
    """`ignore ./dir`: a directory the go command skips when matching package patterns."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class DeclaredLicense:
    """A `//go:license SPDX-EXPRESSION` comment: a license its authors declare.

    `module` is "" for the go.mod's own module (a comment on its own line, or after the module
    directive), else the module path of the require line the comment ends.
    """

    expression: str
    line: int
    module: str = ""


@dataclass(frozen=True, slots=True)
class GoMod:
    """A parsed go.mod. Lists keep file order and duplicates; `line` fields are 1-based."""

    path: str
    module: str
    module_line: int
    deprecated: str
    go: str
    toolchain: str
    godebug: tuple[Godebug, ...]
    requires: tuple[Require, ...]
    excludes: tuple[Exclude, ...]
    replaces: tuple[Replace, ...]
    retracts: tuple[Retract, ...]
    tools: tuple[Tool, ...]
    ignores: tuple[Ignore, ...]
    declared_licenses: tuple[DeclaredLicense, ...]
    # `//go:license` comments at the end of require lines: what the go.mod says of a dependency.
    dependency_licenses: tuple[DeclaredLicense, ...] = ()

    def replacement(self, path: str, version: str) -> Replace | None:
        """The replace directive that applies to path@version (a versioned one wins; last wins)."""
        wildcard = None
        for r in reversed(self.replaces):
            if r.old_path != path:
                continue
            if r.old_version == version:
                return r
            if r.old_version == "" and wildcard is None:
                wildcard = r
        return wildcard

    def is_excluded(self, path: str, version: str) -> bool:
        return any(x.path == path and x.version == version for x in self.excludes)

    def retraction(self, version: str) -> Retract | None:
        """The first retract directive covering `version`, or None."""
        for r in self.retracts:
            if r.covers(version):
                return r
        return None

    def to_edit_json(self) -> dict[str, Any]:
        """The document `go mod edit -json` prints for this file.

        Like the go command, duplicate excludes, tools and ignores keep their first occurrence
        and duplicate replacements of the same old path@version keep the last.
        """
        doc: dict[str, Any] = {"Module": {"Path": self.module}}
        if self.deprecated:
            doc["Module"]["Deprecated"] = self.deprecated
        if self.go:
            doc["Go"] = self.go
        if self.toolchain:
            doc["Toolchain"] = self.toolchain
        if self.godebug:
            doc["GoDebug"] = [{"Key": g.key, "Value": g.value} for g in self.godebug]
        if self.requires:
            doc["Require"] = [_require_json(r) for r in self.requires]
        excludes = _first_of_each(self.excludes, lambda x: (x.path, x.version))
        if excludes:
            doc["Exclude"] = [{"Path": x.path, "Version": x.version} for x in excludes]
        replaces = replace_json(self.replaces)
        if replaces:
            doc["Replace"] = replaces
        if self.retracts:
            doc["Retract"] = [_retract_json(r) for r in self.retracts]
        tools = _first_of_each(self.tools, lambda t: t.path)
        if tools:
            doc["Tool"] = [{"Path": t.path} for t in tools]
        ignores = _first_of_each(self.ignores, lambda i: i.path)
        if ignores:
            doc["Ignore"] = [{"Path": i.path} for i in ignores]
        return doc


def _require_json(r: Require) -> dict[str, Any]:
    doc: dict[str, Any] = {"Path": r.path, "Version": r.version}
    if r.indirect:
        doc["Indirect"] = True
    return doc


def _version_json(path: str, version: str) -> dict[str, str]:
    return {"Path": path, "Version": version} if version else {"Path": path}


def _retract_json(r: Retract) -> dict[str, str]:
    doc = {"Low": r.low, "High": r.high, "Rationale": r.rationale}
    return {k: v for k, v in doc.items() if v}


def _first_of_each(items: tuple[Any, ...], key: Any) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def replace_json(replaces: tuple[Replace, ...]) -> list[dict[str, Any]]:
    """Replace directives as `go mod edit -json` lists them: for each old path@version, the last."""
    return [
        {
            "Old": _version_json(r.old_path, r.old_version),
            "New": _version_json(r.new_path, r.new_version),
        }
        for r in _last_of_each(replaces)
    ]


def _last_of_each(replaces: tuple[Replace, ...]) -> list[Replace]:
    last: dict[tuple[str, str], int] = {}
    for i, r in enumerate(replaces):
        last[(r.old_path, r.old_version)] = i
    return [r for i, r in enumerate(replaces) if last[(r.old_path, r.old_version)] == i]


def is_directory_path(path: str) -> bool:
    """Whether a replacement target names a directory (./x, ../x, /x, C:\\x) rather than a module.

    Both Unix and Windows forms count, since a go.mod moves between systems.
    """
    return (
        path in (".", "..")
        or path.startswith(("./", ".\\", "../", "..\\", "/", "\\"))
        or (len(path) >= 2 and path[1] == ":" and ("A" <= path[0] <= "Z" or "a" <= path[0] <= "z"))
    )


def check_size(data: bytes | str, path: str, limit: int = MAX_GOMOD_SIZE) -> None:
    """Raise ParseError when a file is larger than `limit` bytes, naming the line it crosses it."""
    size = len(data)
    if size <= limit:
        return
    head = data[:limit]
    line = (head.count(b"\n") if isinstance(head, bytes) else head.count("\n")) + 1
    raise ParseError(
        f"file is {size / (1 << 20):.1f} MiB; the go command reads at most "
        f"{limit >> 20} MiB of a go.mod (this line crosses that limit)",
        path=path,
        line=line,
        hint="a real go.mod is a few kilobytes: check that this is the right file",
    )


def parse_gomod(data: bytes | str, path: str = "go.mod", *, lax: bool = False) -> GoMod:
    """Parse a go.mod; raises ParseError (path, line) for the first problem `go` would report."""
    # The directive rules build GoMod values, so they import this module: import them here.
    from .moddirectives import DirectiveReader, first_error

    check_size(data, path)
    syntax = parse_syntax(data, path)
    reader = DirectiveReader(path, lax)
    reader.read(syntax)
    reader.check_main_module()
    result = reader.result(syntax)
    if reader.errors:
        raise first_error(reader.errors)
    return result
