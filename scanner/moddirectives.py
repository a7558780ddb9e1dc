"""How go.mod and go.work directives are checked and read (golang.org/x/mod/modfile's rules).

A DirectiveReader walks the statements of a parsed file (modsyntax.FileSyntax), checks each
directive's arguments as modfile does, and collects the values and every error with its line.
gomod.parse_gomod and gowork.parse_gowork drive it; go.work shares go.mod's go, toolchain,
godebug and replace rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import semver
from .errors import ParseError
from .gomod import (
    DeclaredLicense,
    Exclude,
    Godebug,
    GoMod,
    Ignore,
    Replace,
    Require,
    Retract,
    Tool,
    is_directory_path,
)
from .modsyntax import Block, Comment, FileSyntax, Line, comment_text, unquote
from .module import (
    canonical_version,
    go_quote,
    import_path_problem,
    module_path_problem,
    path_major_mismatch,
    split_path_version,
)

_GO_VERSION = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?")
# Dependencies written for old or odd toolchains ("1.18beta", "v1.17") still load in lax mode.
_LAX_GO_VERSION = re.compile(r"v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)", re.DOTALL)
# A Go version as internal/gover parses it: 1, 1.21, 1.21.3, 1.21rc1 (no prerelease of a patch).
_GOVER = re.compile(
    r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)|[a-z]+(0|[1-9][0-9]*)?)?)?"
)
_TOOLCHAIN = re.compile(r"default|go1(\..*)?", re.DOTALL)
_DEPRECATED = re.compile(r"(?:^|\n\n)Deprecated: *(.*?)(?:\Z|\n\n)", re.DOTALL)
_LICENSE_PREFIX = "//go:license"

_BLOCK_VERBS = frozenset(
    ["module", "godebug", "require", "exclude", "replace", "retract", "tool", "ignore"]
)
# A dependency's go.mod only contributes these; the rest applies to a main module alone.
_LAX_VERBS = frozenset(["go", "module", "retract", "require", "ignore"])


def _target(r: Replace) -> str:
    return f"{r.new_path} {r.new_version}" if r.new_version else r.new_path


def valid_go_version(version: str) -> bool:
    """A `go` directive's version as a main module must write it: 1.21, 1.21.3, 1.22rc1."""
    return _GO_VERSION.fullmatch(version) is not None


def valid_toolchain(name: str) -> bool:
    """A `toolchain` directive's name: go1.21.3, go1.22rc1, go1.21.0-custom or default."""
    return _TOOLCHAIN.fullmatch(name) is not None


def is_indirect(suffix: Comment | None) -> bool:
    """`// indirect` or `// indirect; other words` at the end of a require line."""
    if suffix is None:
        return False
    words = suffix.text[2:].split()
    return (len(words) == 1 and words[0] == "indirect") or (
        len(words) > 1 and words[0] == "indirect;"
    )


def directive_comment(block: Block | None, line: Line) -> str:
    """A directive's comment: the lines above it plus its suffix, else its block's comments."""
    comments: tuple[Comment, ...] = line.before + ((line.suffix,) if line.suffix else ())
    if block is not None and not comments:
        comments = block.before
    return "\n".join(comment_text(c) for c in comments if c.text)


class DirectiveReader:
    """Turns statements into a GoMod, collecting every error (the first one is raised).

    gowork.py reuses its argument checks (`string`, `version`, `path_major`, `error`) and
    `parse_replace`, since go.work's replace has go.mod's syntax and rules.
    """

    def __init__(self, path: str, lax: bool) -> None:
        self.path = path
        self.lax = lax
        self.errors: list[ParseError] = []
        self.module: str | None = None
        self.module_line = 0
        self.deprecated = ""
        self.go: str | None = None
        self.toolchain: str | None = None
        self.godebug: list[Godebug] = []
        self.requires: list[Require] = []
        self.excludes: list[Exclude] = []
        self.replaces: list[Replace] = []
        self.retracts: list[Retract] = []
        self.tools: list[Tool] = []
        self.ignores: list[Ignore] = []

    def error(self, line: int, message: str, hint: str | None = None) -> None:
        self.errors.append(ParseError(message, path=self.path, line=line, hint=hint))

    def read(self, syntax: FileSyntax) -> None:
        for stmt in syntax.statements:
            if isinstance(stmt, Line):
                self.add(None, stmt, stmt.tokens[0], list(stmt.tokens[1:]))
                continue
            if len(stmt.tokens) > 1 or stmt.tokens[0] not in _BLOCK_VERBS:
                if not self.lax:
                    self.error(stmt.line, f"unknown block type: {' '.join(stmt.tokens)}")
                continue
            for line in stmt.lines:
                self.add(stmt, line, stmt.tokens[0], list(line.tokens))

    def add(self, block: Block | None, line: Line, verb: str, args: list[str]) -> None:
        if self.lax and verb not in _LAX_VERBS:
            return
        handler = DIRECTIVES.get(verb)
        if handler is None:
            self.error(
                line.line,
                f"unknown directive: {verb}",
                hint="go.mod knows module, go, toolchain, godebug, require, exclude, replace, "
                "retract, tool and ignore",
            )
            return
        handler(self, verb, block, line, args)

    def string(self, line: Line, token: str, what: str) -> str | None:
        value = unquote(token)
        if value is None:
            if not token.startswith('"') and any(q in token for q in "\"'`"):
                self.error(line.line, f"{what}: unquoted string cannot contain quote: {token}")
            else:
                self.error(line.line, f"{what}: invalid quoted string: {token}")
        return value

    def version(self, line: Line, verb: str, path: str, token: str) -> str | None:
        value = unquote(token)
        if value is None:
            self.error(
                line.line, f"{verb} {path}: version {go_quote(token)} invalid: invalid syntax"
            )
            return None
        cv = canonical_version(value)
        if cv == "":
            self.error(
                line.line,
                f"{verb} {path}: version {go_quote(value)} invalid: must be of the form v1.2.3",
            )
            return None
        return cv

    def path_major(self, line: Line, verb: str, path: str) -> str | None:
        _, path_major, ok = split_path_version(path)
        if not ok:
            self.error(
                line.line,
                f"{verb} {go_quote(path)}: invalid module path",
                hint="a major-version suffix is /v2 or higher (gopkg.in: .v0 or higher)",
            )
            return None
        return path_major

    def import_path(self, line: Line, verb: str, path: str) -> bool:
        """Strict mode: module and tool paths must be import paths, as the go command checks
        when it loads the main module ("malformed module path", "malformed tool path")."""
        if self.lax:
            return True
        why = import_path_problem(path)
        if why is not None:
            self.error(line.line, f"{verb}: malformed {verb} path {go_quote(path)}: {why}")
            return False
        return True

    def check_main_module(self) -> None:
        """Strict mode: what the go command checks across lines when it loads a main module."""
        if not self.lax:
            self.check_replacements()
            self.check_required_paths()

    def check_replacements(self) -> None:
        """Two replacements of the same module (version) must agree (go.mod and go.work)."""
        first: dict[tuple[str, str], Replace] = {}
        for r in self.replaces:
            earlier = first.setdefault((r.old_path, r.old_version), r)
            if (earlier.new_path, earlier.new_version) != (r.new_path, r.new_version):
                what = f"{r.old_path}@{r.old_version}" if r.old_version else r.old_path
                self.error(
                    r.line,
                    f"conflicting replacements for {what}: "
                    f"{_target(earlier)} (line {earlier.line}) and {_target(r)}",
                    hint="keep one of them",
                )

    def check_required_paths(self) -> None:
        """A requirement that no replace directive covers is fetched by its path, so it must be
        a valid module path (the go command stops at `malformed module path`)."""
        replaced = {(r.old_path, r.old_version) for r in self.replaces}
        for req in self.requires:
            if (req.path, "") in replaced or (req.path, req.version) in replaced:
                continue
            why = module_path_problem(req.path)
            if why is not None:
                self.error(
                    req.line,
                    f"require {req.path}: malformed module path {go_quote(req.path)}: {why}",
                    hint="fix the path, or add a replace directive that points it elsewhere",
                )

    def result(self, syntax: FileSyntax) -> GoMod:
        licenses = []
        dependency_licenses = []
        required_on = {r.line: r.path for r in self.requires}
        for c in syntax.comments:
            if not c.text.startswith(_LICENSE_PREFIX):
                continue
            rest = c.text[len(_LICENSE_PREFIX) :]
            if rest and not rest[0].isspace():
                continue  # "//go:licenses" or similar: some other annotation
            expression = rest.strip()
            if expression and c.line in required_on:
                # On a require line the comment follows the requirement (a whole-line comment
                # has no line of its own in required_on).
                dependency_licenses.append(DeclaredLicense(expression, c.line, required_on[c.line]))
            elif expression:
                licenses.append(DeclaredLicense(expression, c.line))
            elif not self.lax:
                self.error(
                    c.line,
                    "//go:license needs an SPDX license expression",
                    hint="for example: //go:license Apache-2.0",
                )
        return GoMod(
            path=self.path,
            module=self.module or "",
            module_line=self.module_line,
            deprecated=self.deprecated,
            go=self.go or "",
            toolchain=self.toolchain or "",
            godebug=tuple(self.godebug),
            requires=tuple(self.requires),
            excludes=tuple(self.excludes),
            replaces=tuple(self.replaces),
            retracts=tuple(self.retracts),
            tools=tuple(self.tools),
            ignores=tuple(self.ignores),
            declared_licenses=tuple(licenses),
            dependency_licenses=tuple(dependency_licenses),
        )


def _add_go(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if r.go is not None:
        r.error(line.line, "repeated go statement")
        return
    if len(args) != 1:
        r.error(line.line, "go directive expects exactly one argument")
        return
    version = args[0]
    if not valid_go_version(version):
        m = _LAX_GO_VERSION.fullmatch(version) if r.lax else None
        if m is None:
            r.error(line.line, f"invalid go version '{version}': must match format 1.23.0")
            return
        version = m.group(1)
    r.go = version


def _add_toolchain(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if r.toolchain is not None:
        r.error(line.line, "repeated toolchain statement")
        return
    if len(args) != 1:
        r.error(line.line, "toolchain directive expects exactly one argument")
        return
    if not valid_toolchain(args[0]):
        r.error(
            line.line,
            f"invalid toolchain version '{args[0]}': must match format go1.23.0 or default",
        )
        return
    r.toolchain = args[0]


def _add_module(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if r.module is not None:
        r.error(line.line, "repeated module statement")
        return
    r.module = ""
    r.module_line = line.line
    m = _DEPRECATED.search(directive_comment(block, line))
    r.deprecated = m.group(1) if m else ""
    if len(args) != 1:
        r.error(line.line, "usage: module module/path")
        return
    path = r.string(line, args[0], "module")
    if path is None:
        return
    r.module = path
    r.import_path(line, "module", path)


def _add_godebug(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if len(args) != 1 or any(q in args[0] for q in "\"`',") or "=" not in args[0]:
        r.error(line.line, "usage: godebug key=value")
        return
    key, _, value = args[0].partition("=")
    # What the go command checks when it loads the module, apart from whether it knows the key
    # (that list belongs to each Go release).
    if key == "":
        r.error(line.line, 'unknown godebug ""')
        return
    if key == "default" and not (value.startswith("go") and _GOVER.fullmatch(value[2:])):
        r.error(
            line.line, "value for default= must be goVERSION", hint="for example default=go1.21"
        )
        return
    r.godebug.append(Godebug(key, value, line.line))


def _add_require_or_exclude(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if len(args) != 2:
        r.error(line.line, f"usage: {verb} module/path v1.2.3")
        return
    path = r.string(line, args[0], verb)
    if path is None:
        return
    version = r.version(line, verb, path, args[1])
    if version is None:
        return
    path_major = r.path_major(line, verb, path)
    if path_major is None:
        return
    why = path_major_mismatch(version, path_major)
    if why is not None:
        r.error(line.line, f"{verb} {path}: version {go_quote(version)} invalid: {why}")
        return
    if verb == "require":
        r.requires.append(Require(path, version, is_indirect(line.suffix), line.line))
    else:
        r.excludes.append(Exclude(path, version, line.line))


def _add_replace(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    replace = parse_replace(r, line, args)
    if replace is not None:
        r.replaces.append(replace)


def parse_replace(r: DirectiveReader, line: Line, args: list[str]) -> Replace | None:
    """One replace directive (also used for go.work); on a problem records it, returns None."""
    arrow = 1 if len(args) >= 2 and args[1] == "=>" else 2
    if len(args) < arrow + 2 or len(args) > arrow + 3 or args[arrow] != "=>":
        r.error(
            line.line,
            "usage: replace module/path [v1.2.3] => other/module v1.4 "
            "or replace module/path [v1.2.3] => ../local/directory",
        )
        return None
    old = r.string(line, args[0], "replace")
    if old is None:
        return None
    path_major = r.path_major(line, "replace", old)
    if path_major is None:
        return None
    old_version = ""
    if arrow == 2:
        v = r.version(line, "replace", old, args[1])
        if v is None:
            return None
        why = path_major_mismatch(v, path_major)
        if why is not None:
            r.error(line.line, f"replace {old}: version {go_quote(v)} invalid: {why}")
            return None
        old_version = v
    new = r.string(line, args[arrow + 1], "replace")
    if new is None:
        return None
    new_version = ""
    if len(args) == arrow + 2:
        if not is_directory_path(new):
            if "@" in new:
                r.error(
                    line.line,
                    "replacement module must match format 'path version', not 'path@version'",
                )
            else:
                r.error(
                    line.line,
                    "replacement module without version must be directory path "
                    "(rooted or starting with . or ..)",
                )
            return None
        if "\\" in new:
            r.error(
                line.line,
                "replacement directory appears to be Windows path (on a non-windows system)",
            )
            return None
    else:
        v = r.version(line, "replace", new, args[arrow + 2])
        if v is None:
            return None
        if is_directory_path(new):
            r.error(
                line.line, f"replacement module directory path {go_quote(new)} cannot have version"
            )
            return None
        new_version = v
    return Replace(old, old_version, new, new_version, line.line)


def _add_retract(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    rationale = directive_comment(block, line)
    interval = _version_interval(args)
    if isinstance(interval, str):
        # A dependency may use interval syntax from a later Go; only the main module must parse.
        if not r.lax:
            r.error(line.line, f"retract: {interval}")
        return
    low, high, rest = interval
    if not r.lax:
        if rest:
            r.error(line.line, f"retract: unexpected token after version: {go_quote(rest[0])}")
            return
        for v in (low, high):
            if not semver.is_valid(v):
                r.error(
                    line.line,
                    f"retract: version {go_quote(v)} invalid: must be of the form v1.2.3",
                )
                return
    r.retracts.append(Retract(low, high, rationale, line.line))


def _version_interval(args: list[str]) -> tuple[str, str, list[str]] | str:
    """(low, high, remaining tokens) of `v` or `[low, high]`, or what is wrong with it."""
    if not args or args[0] == "(":
        return "expected '[' or version"
    if args[0] != "[":
        v = unquote(args[0])
        if v is None:
            return f"version {go_quote(args[0])} invalid: invalid syntax"
        return v, v, args[1:]
    toks = args[1:]
    if not toks:
        return "expected version after '['"
    low = unquote(toks[0])
    if low is None:
        return f"version {go_quote(toks[0])} invalid: invalid syntax"
    toks = toks[1:]
    if not toks or toks[0] != ",":
        return "expected ',' after version"
    toks = toks[1:]
    if not toks:
        return "expected version after ','"
    high = unquote(toks[0])
    if high is None:
        return f"version {go_quote(toks[0])} invalid: invalid syntax"
    toks = toks[1:]
    if not toks or toks[0] != "]":
        return "expected ']' after version"
    return low, high, toks[1:]


def _add_tool(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if len(args) != 1:
        r.error(line.line, "tool directive expects exactly one argument")
        return
    path = r.string(line, args[0], "tool")
    if path is not None and r.import_path(line, "tool", path):
        r.tools.append(Tool(path, line.line))


def _add_ignore(
    r: DirectiveReader, verb: str, block: Block | None, line: Line, args: list[str]
) -> None:
    if len(args) != 1:
        r.error(line.line, "ignore directive expects exactly one argument")
        return
    path = r.string(line, args[0], "ignore")
    if path is not None:
        r.ignores.append(Ignore(path, line.line))


# verb -> handler(reader, verb, block, line, args); gowork.py reuses go, toolchain, godebug
# and replace.
Handler = Callable[["DirectiveReader", str, Block | None, Line, list[str]], None]
DIRECTIVES: dict[str, Handler] = {
    "go": _add_go,
    "toolchain": _add_toolchain,
    "module": _add_module,
    "godebug": _add_godebug,
    "require": _add_require_or_exclude,
    "exclude": _add_require_or_exclude,
    "replace": _add_replace,
    "retract": _add_retract,
    "tool": _add_tool,
    "ignore": _add_ignore,
}


def first_error(errors: list[ParseError]) -> ParseError:
    """The error on the earliest line, saying how many more the file has."""
    first = min(errors, key=lambda e: e.line or 0)
    if len(errors) > 1:
        more = len(errors) - 1
        first.message += f" (and {more} more error{'s' if more > 1 else ''} in this file)"
    return first
