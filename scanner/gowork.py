"""go.work files read as the go command reads them (golang.org/x/mod/modfile ParseWork).

A workspace names its main modules (`use ./dir`) and may replace modules for all of them; it
shares go.mod's line syntax, and its replace directive has go.mod's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .gomod import MAX_GOMOD_SIZE, Godebug, Replace, check_size, replace_json
from .moddirectives import DIRECTIVES, DirectiveReader, first_error
from .modsyntax import Block, Line, parse_syntax

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
