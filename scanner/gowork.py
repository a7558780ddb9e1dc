"""go.work files read as the go command reads them (golang.org/x/mod/modfile ParseWork).

A workspace names its main modules (`use ./dir`) and may replace modules for all of them; it
shares go.mod's line syntax, and its replace directive has go.mod's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .gomod import (
    MAX_GOMOD_SIZE,
    DirectiveReader,
    Godebug,
    Replace,
    check_size,
    first_error,
    parse_replace,
    replace_json,
    valid_go_version,
    valid_toolchain,
)
from .modsyntax import Line, parse_syntax

_BLOCK_VERBS = frozenset(["godebug", "use", "replace"])


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


class _WorkReader(DirectiveReader):
    def __init__(self, path: str) -> None:
        super().__init__(path, lax=False)
        self.uses: list[Use] = []

    def add_work(self, line: Line, verb: str, args: list[str]) -> None:
        if verb == "go":
            if self.go is not None:
                self.error(line.line, "repeated go statement")
            elif len(args) != 1:
                self.error(line.line, "go directive expects exactly one argument")
            elif not valid_go_version(args[0]):
                self.error(line.line, f"invalid go version '{args[0]}': must match format 1.23.0")
            else:
                self.go = args[0]
        elif verb == "toolchain":
            if self.toolchain is not None:
                self.error(line.line, "repeated toolchain statement")
            elif len(args) != 1:
                self.error(line.line, "toolchain directive expects exactly one argument")
            elif not valid_toolchain(args[0]):
                self.error(
                    line.line,
                    f"invalid toolchain version '{args[0]}': must match format go1.23.0 or default",
                )
            else:
                self.toolchain = args[0]
        elif verb == "godebug":
            if len(args) != 1 or any(q in args[0] for q in "\"`',") or "=" not in args[0]:
                self.error(line.line, "usage: godebug key=value")
            else:
                key, _, value = args[0].partition("=")
                self.godebug.append(Godebug(key, value, line.line))
        elif verb == "use":
            if len(args) != 1:
                self.error(line.line, "usage: use local/dir")
                return
            path = self.string(line, args[0], "use")
            if path is not None:
                self.uses.append(Use(path, line.line))
        elif verb == "replace":
            replace = parse_replace(self, line, args)
            if replace is not None:
                self.replaces.append(replace)
        else:
            self.error(
                line.line,
                f"unknown directive: {verb}",
                hint="go.work knows go, toolchain, godebug, use and replace",
            )


def parse_gowork(data: bytes | str, path: str = "go.work") -> GoWork:
    """Parse a go.work; raises ParseError (path, line) for the first problem `go` would report."""
    check_size(data, path, MAX_GOMOD_SIZE)
    syntax = parse_syntax(data, path)
    r = _WorkReader(path)
    for stmt in syntax.statements:
        if isinstance(stmt, Line):
            r.add_work(stmt, stmt.tokens[0], list(stmt.tokens[1:]))
        elif len(stmt.tokens) > 1 or stmt.tokens[0] not in _BLOCK_VERBS:
            r.error(stmt.line, f"unknown block type: {' '.join(stmt.tokens)}")
        else:
            for line in stmt.lines:
                r.add_work(line, stmt.tokens[0], list(line.tokens))
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
