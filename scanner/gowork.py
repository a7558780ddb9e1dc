"""go.work files read as the go command reads them (golang.org/x/mod/modfile ParseWork).

A workspace names its main modules (`use ./dir`) and may replace modules for all of them; it
shares go.mod's line syntax, and its replace directive has go.mod's rules.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .gomod import MAX_GOMOD_SIZE, Godebug, Replace, check_size, replace_json
from .moddirectives import DIRECTIVES, DirectiveReader, first_error
from .modsyntax import Block, Line, parse_syntax

_BLOCK_VERBS = frozenset(["godebug", "use", "replace"])

# cmd/go/internal/gover: what a file without a go line is taken to say, and the version from
# which a go line is a requirement the toolchain enforces.
DEFAULT_GO_MOD_VERSION = "1.16"
DEFAULT_GO_WORK_VERSION = "1.18"
GO_STRICT_VERSION = "1.21"

# internal/gover.Parse: 1, 1.21, 1.21.3, 1.21rc1 (no prerelease of a patch release).
_GOVER = re.compile(
    r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)|([a-z]+)(0|[1-9][0-9]*)?)?)?"
)


@dataclass(frozen=True, slots=True)
class Use:
    """`use ./dir`: a directory (relative to the go.work file) holding a main module."""

    path: str
    line: int


@dataclass(frozen=True, slots=True)
class GoWork:
    """A parsed go.work. Lists keep file order; `go`/`toolchain` are "" when absent."""

    path: str
    go: str
    toolchain: str
    godebug: tuple[Godebug, ...]
    uses: tuple[Use, ...]
    replaces: tuple[Replace, ...]

    def to_edit_json(self) -> dict[str, Any]:
        """The document `go work edit -json` prints (duplicate replacements: the last wins)."""
        doc: dict[str, Any] = {}
        if self.go:
            doc["Go"] = self.go
        if self.toolchain:
            doc["Toolchain"] = self.toolchain
        if self.godebug:
            doc["Godebug"] = [{"Key": g.key, "Value": g.value} for g in self.godebug]
        if self.uses:
            doc["Use"] = [{"DiskPath": u.path} for u in self.uses]
        replaces = replace_json(self.replaces)
        if replaces:
            doc["Replace"] = replaces
        return doc


def _add_use(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if len(args) != 1:
        r.error(line.line, "usage: use local/dir")
        return
    path = r.string(line, args[0], "use")
    if path is not None:
        assert isinstance(r, _WorkReader)
        r.uses.append(Use(path, line.line))


class _WorkReader(DirectiveReader):
    def __init__(self, path: str) -> None:
        super().__init__(path, lax=False)
        self.uses: list[Use] = []

    def add_work(self, block: Block | None, line: Line, verb: str, args: list[str]) -> None:
        handler = _DIRECTIVES.get(verb)
        if handler is None:
            self.error(
                line.line,
                f"unknown directive: {verb}",
                hint="go.work knows go, toolchain, godebug, use and replace",
            )
            return
        handler(self, verb, block, line, args)


# go.work's go, toolchain, godebug and replace follow go.mod's rules (modfile shares them too).
_DIRECTIVES = {verb: DIRECTIVES[verb] for verb in ("go", "toolchain", "godebug", "replace")}
_DIRECTIVES["use"] = _add_use


def parse_gowork(data: bytes | str, path: str = "go.work") -> GoWork:
    """Parse a go.work; raises ParseError (path, line) for the first problem `go` would report."""
    check_size(data, path, MAX_GOMOD_SIZE)
    syntax = parse_syntax(data, path)
    r = _WorkReader(path)
    for stmt in syntax.statements:
        if isinstance(stmt, Line):
            r.add_work(None, stmt, stmt.tokens[0], list(stmt.tokens[1:]))
        elif len(stmt.tokens) > 1 or stmt.tokens[0] not in _BLOCK_VERBS:
            r.error(stmt.line, f"unknown block type: {' '.join(stmt.tokens)}")
        else:
            for line in stmt.lines:
                r.add_work(stmt, line, stmt.tokens[0], list(line.tokens))
    r.check_replacements()
    if r.errors:
        raise first_error(r.errors)
    return GoWork(
        path=path,
        go=r.go or "",
        toolchain=r.toolchain or "",
        godebug=tuple(r.godebug),
        uses=tuple(r.uses),
        replaces=tuple(r.replaces),
    )


def use_dirs(work: GoWork) -> list[tuple[Use, Path]]:
    """The directory of each `use`, each once (cmd/go LoadWorkFile).

    A relative path is joined to the go.work's directory and cleaned, so `./a`, `a` and `a/`
    are one directory: naming it twice is the error the go command reports (`path ... appears
    multiple times in workspace`), at the later line.
    """
    base = os.path.dirname(os.path.abspath(work.path))
    seen: dict[str, Use] = {}
    dirs: list[tuple[Use, Path]] = []
    for use in work.uses:
        directory = os.path.normpath(os.path.join(base, use.path))
        first = seen.setdefault(directory, use)
        if first is not use:
            raise InputError(
                f"path {directory} appears multiple times in workspace "
                f"(use {first.path} on line {first.line}, use {use.path} here)",
                path=work.path,
                line=use.line,
                hint="remove one of the use directives",
            )
        dirs.append((use, Path(directory)))
    return dirs


def _gover_key(version: str) -> tuple[int, int, int, str, int]:
    # A missing field sorts below 0 (internal/gover.CmpInt); a malformed version below all.
    m = _GOVER.fullmatch(version)
    if m is None:
        return (-1, -1, -1, "", -1)
    major, minor, patch, kind, pre = m.groups()
    if minor is None:
        minor, patch = "0", "0"  # "1" is 1.0.0
    elif patch is None and kind is None and int(minor) < 21:
        patch = "0"  # before Go 1.21, 1.20 meant 1.20.0; from 1.21 on, 1.21 < 1.21rc1 < 1.21.0
    return (
        int(major),
        int(minor),
        -1 if patch is None else int(patch),
        kind or "",
        -1 if pre is None else int(pre),
    )


def compare_go_versions(x: str, y: str) -> int:
    """internal/gover.Compare: -1, 0 or 1 as Go version x is below, equal to or above y."""
    kx, ky = _gover_key(x), _gover_key(y)
    return (kx > ky) - (kx < ky)


def toolchain_go_version(name: str) -> str:
    """The Go version of a toolchain name (internal/gover.FromToolchain): `go1.30.0-custom`
    is 1.30.0; "" for a name the go command refuses (`default`, a path)."""
    if "/" in name or "\\" in name:
        return ""
    if name.startswith("go"):
        version = name[2:]
    elif "-go" in name:
        version = name[name.index("-go") + 3 :]
    else:
        return ""
    version = re.split(r"[ \t-]", version, maxsplit=1)[0]
    return version if _GOVER.fullmatch(version) else ""


def go_release(go: str, toolchain: str = "") -> str:
    """The Go release (`go1.23.2`) a go.mod's `go` and `toolchain` lines ask to build with: the
    newer of the two, as cmd/go's toolchain selection takes them; a `go 1.22` line names its
    first release go1.22.0 (Go 1.21 on; `1.20` stays go1.20, `1.21rc1` go1.21rc1). "" when
    neither line is a Go version."""
    go = go.removeprefix("go")  # also taken as a release name ("go1.19")
    from_go = go if go and _GOVER.fullmatch(go) else ""
    if from_go and re.fullmatch(r"\d+\.\d+", from_go) and compare_go_versions(from_go, "1.21") >= 0:
        from_go += ".0"
    from_toolchain = toolchain_go_version(toolchain) if toolchain else ""
    chosen = max(
        (v for v in (from_go, from_toolchain) if v),
        key=functools.cmp_to_key(compare_go_versions),
        default="",
    )
    return f"go{chosen}" if chosen else ""


def too_old_for(work: GoWork, module_go: str) -> str | None:
    """Why go.work's go line cannot hold a module whose go.mod says `go module_go`, or None.

    The go command refuses a workspace whose go version is below one of its modules' from go
    1.21 on (cmd/go errWorkTooOld): that module's go line is a toolchain requirement, and the
    workspace's go version is what the whole workspace is built with.
    """
    needed = module_go or DEFAULT_GO_MOD_VERSION
    have = work.go or DEFAULT_GO_WORK_VERSION
    if compare_go_versions(needed, have) <= 0:
        return None
    if compare_go_versions(needed, GO_STRICT_VERSION) < 0:
        return None
    verb = "lists" if work.go else "implicitly requires"
    return f"requires go >= {needed}, but go.work {verb} go {have}"
