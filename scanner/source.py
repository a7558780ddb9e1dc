"""Go source read with tree-sitter-go: package, imports, build constraints, one walk for rules."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser, Query, Tree

    from .rules.runner import SourceScan

K = TypeVar("K")
Captures = dict[str, list["Node"]]


@dataclass(frozen=True, slots=True)
class Import:
    """One import spec: `import name "path"`; line and column (1-based) of the path literal."""

    path: str
    name: str | None  # the explicit name: an alias, "_" or "."; None when absent
    line: int
    column: int

    @property
    def local_name(self) -> str:
        """The name the file uses for the package (explicit, or the conventional guess)."""
        return self.name if self.name is not None else package_name_guess(self.path)


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A file the grammar cannot parse: where its first error is."""

    path: str
    line: int
    column: int
    message: str = "syntax error"
    # What Go's own parser (gofmt -e) says: None when not asked, True when it reads the file.
    go_accepts: bool | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        if self.go_accepts is None:
            return (
                f"{where}: {self.message}: the file was read only as far as the Go grammar "
                "allows (fix it if `go vet` fails; else the grammar is older than this Go syntax)"
            )
        if self.go_accepts:
            return (
                f"{where}: {self.message}: Go accepts this syntax but the analyser's grammar "
                "(tree-sitter-go) does not know it yet; the file was read only as far as the "
                "grammar allows"
            )
        return (
            f"{where}: {self.message} (Go's parser); fix the file: the go command cannot build it"
        )


def confirm_with_go(
    main_dir: Path, problems: Sequence[SyntaxProblem], path_env: str | None = None
) -> tuple[SyntaxProblem, ...]:
    """Ask Go's own parser (`gofmt -e`, from PATH or beside the go command) about the files
    tree-sitter-go could not parse: a grammar older than the Go syntax is no error of the
    user's, and a real error gets Go's position and words. Unchanged without a gofmt."""
    import os
    import shutil
    import subprocess

    if not problems:
        return ()
    gofmt = shutil.which("gofmt", path=path_env)
    go = shutil.which("go", path=path_env)
    if gofmt is None and go is not None:
        try:
            goroot = subprocess.run(
                [go, "env", "GOROOT"], capture_output=True, text=True, timeout=60, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            goroot = ""
        candidate = os.path.join(goroot, "bin", "gofmt") if goroot else ""
        gofmt = candidate if candidate and os.access(candidate, os.X_OK) else None
    if gofmt is None:
        return tuple(problems)
    try:
        proc = subprocess.run(
            [gofmt, "-e", "-l", "--", *(p.path for p in problems)],
            cwd=main_dir,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return tuple(problems)
    first: dict[str, tuple[int, int, str]] = {}
    for line in proc.stderr.splitlines():
        m = _GO_ERROR.match(line)
        if m is not None and m["path"] not in first:
            first[m["path"]] = (int(m["line"]), int(m["col"]), m["message"])
    out = []
    for p in problems:
        said = first.get(p.path)
        if said is None:
            out.append(SyntaxProblem(p.path, p.line, p.column, p.message, go_accepts=True))
        else:
            out.append(SyntaxProblem(p.path, *said, go_accepts=False))
    return tuple(out)


_GO_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One parsed .go file. `tree` is a tree-sitter Tree: not picklable, parse in each process."""

    path: str  # as given to parse_file (slash-separated and relative, by convention)
    data: bytes
    package: str
    imports: tuple[Import, ...]
    build: str | None  # the `//go:build` expression, None when the file has none
    tree: Tree = field(repr=False, compare=False)
    error: SyntaxProblem | None = None

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.go")

    @property
    def error_line(self) -> int | None:
        return self.error.line if self.error else None

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def package_names(self) -> dict[str, str]:
        """Local name -> import path for every named use (`_` and `.` imports excluded)."""
        return {
            imp.local_name: imp.path for imp in self.imports if imp.local_name not in ("_", ".")
        }


@cache
def _language() -> Language:
    # Imported on first use: the CLI's start-up path stays free of the parser.
    import tree_sitter_go
    from tree_sitter import Language

    return Language(tree_sitter_go.language())


@cache
def _parser() -> Parser:
    from tree_sitter import Parser

    return Parser(_language())


def compile_query(text: str) -> Query:
    from tree_sitter import Query

    return Query(_language(), text)


@cache
def _header_query() -> Query:
    return compile_query(
        """
        (package_clause (package_identifier) @package)
        (import_spec name: (_)? @name path: (_) @path) @import
        """
    )


def package_name_guess(import_path: str) -> str:
    """The package name Go tools assume for an import path (`gopkg.in/yaml.v3` -> `yaml`).

    The last element, or the one before a `/vN` major-version suffix; a `go-` prefix dropped;
    cut at the first character that cannot be in an identifier.
    """
    elements = import_path.split("/")
    base = elements[-1]
    if len(elements) > 1 and re.fullmatch(r"v[0-9]+", base):
        base = elements[-2]
    base = base.removeprefix("go-")
    match = re.match(r"[A-Za-z0-9_]*", base)
    return match.group(0) if match else base


def parse_file(path: str, data: bytes) -> SourceFile:
    """Parse one .go file. Never raises for bad Go: the first syntax error is in `.error`."""
    # tree-sitter-go 0.25 fails a file that ends in a type declaration without a final newline
    # (at 1:1); Go reads it. The newline changes no position in the file.
    tree = _parser().parse(data if data.endswith(b"\n") or not data else data + b"\n")
    root = tree.root_node
    package = ""
    imports: list[Import] = []
    # The header query stops being useful after the imports; limit it to the file's top level.
    from tree_sitter import QueryCursor

    cursor = QueryCursor(_header_query())
    cursor.set_max_start_depth(3)
    for _, caps in cursor.matches(root):
        if "package" in caps:
            package = package or _node_text(data, caps["package"][0])
            continue
        path_node = caps["path"][0]
        names = caps.get("name")
        imports.append(
            Import(
                path=_string_value(_node_text(data, path_node)),
                name=_node_text(data, names[0]) if names else None,
                line=path_node.start_point[0] + 1,
                column=path_node.start_point[1] + 1,
            )
        )
    error = first_error(path, root) if root.has_error else None
    return SourceFile(path, data, package, tuple(imports), build_constraint(data), tree, error)


# The first top-level declaration after the imports: Go allows nothing but comments, the
# package clause and import declarations before it.
_FIRST_DECL = re.compile(rb"^(?:func|type|var|const)\b", re.MULTILINE)


def parse_header(path: str, data: bytes) -> SourceFile:
    """Like parse_file, but reads only up to the first declaration: package and imports.

    Much faster on large files. `error` then covers the header only; where the cut lands
    inside a comment or the header does not parse, the whole file is parsed instead.
    """
    cut = _FIRST_DECL.search(data)
    if cut is None:
        return parse_file(path, data)
    header = parse_file(path, data[: cut.start()])
    if header.error is not None:
        return parse_file(path, data)
    return header


def _node_text(data: bytes, node: Node) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _string_value(literal: str) -> str:
    # Import paths cannot hold escapes that matter here; strip the quotes of "x" or `x`.
    return literal[1:-1] if len(literal) >= 2 else literal


def first_error(path: str, root: Node) -> SyntaxProblem | None:
    """The first ERROR or MISSING node in source order, descending only where errors are."""
    node = root
    while True:
        if node.is_error or node.is_missing:
            what = f"missing {node.type}" if node.is_missing else "syntax error"
            return SyntaxProblem(path, node.start_point[0] + 1, node.start_point[1] + 1, what)
        child = next((c for c in node.children if c.has_error or c.is_missing), None)
        if child is None:
            return SyntaxProblem(path, node.start_point[0] + 1, node.start_point[1] + 1)
        node = child


_BUILD_LINE = re.compile(rb"^//go:build[ \t](.*)$", re.MULTILINE)
_PLUS_BUILD_LINE = re.compile(rb"^//[ \t]*\+build[ \t](.*)$", re.MULTILINE)
_PACKAGE_LINE = re.compile(rb"^[ \t]*package[ \t]", re.MULTILINE)


def build_constraint(data: bytes) -> str | None:
    """The file's build constraint: the `//go:build` expression, else old `// +build` lines.

    Only lines before the package clause count (go/build's rule); `// +build` lines are
    converted to the equivalent `//go:build` expression.
    """
    end = _PACKAGE_LINE.search(data)
    header = data[: end.start()] if end else data
    match = _BUILD_LINE.search(header)
    if match:
        return match.group(1).decode("utf-8", "replace").strip()
    plus = [
        m.group(1).decode("utf-8", "replace").split() for m in _PLUS_BUILD_LINE.finditer(header)
    ]
    if not plus:
        return None
    # Each line ORs its space-separated options, each option ANDs its comma-separated terms.
    lines = [" || ".join(" && ".join(opt.split(",")) for opt in options) for options in plus]
    return " && ".join(f"({line})" for line in lines) if len(lines) > 1 else lines[0]


_CONSTRAINT_TOKEN = re.compile(r"\s*(\|\||&&|!|\(|\)|[A-Za-z0-9_.]+)")


def constraint_allows(expression: str, tag_on: Callable[[str], bool]) -> bool:
    """Evaluate a `//go:build` expression; a malformed one allows the file (go vet reports it)."""
    tokens: list[str] = []
    pos = 0
    text = expression.strip()
    while pos < len(text):
        match = _CONSTRAINT_TOKEN.match(text, pos)
        if match is None:
            return True
        tokens.append(match.group(1))
        pos = match.end()
    result, rest = _or(tokens, tag_on)
    return True if result is None or rest else result


def _or(tokens: list[str], tag_on: Callable[[str], bool]) -> tuple[bool | None, list[str]]:
    left, tokens = _and(tokens, tag_on)
    while left is not None and tokens[:1] == ["||"]:
        right, tokens = _and(tokens[1:], tag_on)
        if right is None:
            return None, tokens
        left = left or right
    return left, tokens


def _and(tokens: list[str], tag_on: Callable[[str], bool]) -> tuple[bool | None, list[str]]:
    left, tokens = _not(tokens, tag_on)
    while left is not None and tokens[:1] == ["&&"]:
        right, tokens = _not(tokens[1:], tag_on)
        if right is None:
            return None, tokens
        left = left and right
    return left, tokens


def _not(tokens: list[str], tag_on: Callable[[str], bool]) -> tuple[bool | None, list[str]]:
    if not tokens:
        return None, tokens
    head, rest = tokens[0], tokens[1:]
    if head == "!":
        value, rest = _not(rest, tag_on)
        return (None if value is None else not value), rest
    if head == "(":
        value, rest = _or(rest, tag_on)
        if rest[:1] != [")"]:
            return None, rest
        return value, rest[1:]
    if head in ("||", "&&", ")"):
        return None, tokens
    return tag_on(head), rest


class Walk(Generic[K]):
    """One tree-sitter query made of every hook's patterns, run once over each file's tree.

    Each hook registers query text under a key; `matches(source)` yields `(key, captures)` for
    every match in source order, so N rules cost one traversal, not N.
    """

    def __init__(self, hooks: Iterable[tuple[K, str]]) -> None:
        keys: list[K] = []
        starts: list[int] = []
        text = ""
        for key, patterns in hooks:
            keys.append(key)
            starts.append(len(text.encode()))
            text += patterns + "\n"
        self.query = compile_query(text)
        self._keys = keys
        self._starts = starts
        # Pattern index -> key, from where each pattern starts in the combined text.
        self._key_of = [
            keys[_last_le(starts, self.query.start_byte_for_pattern(i))]
            for i in range(self.query.pattern_count)
        ]

    def matches(self, source: SourceFile) -> Iterator[tuple[K, Captures]]:
        from tree_sitter import QueryCursor

        for index, captures in QueryCursor(self.query).matches(source.tree.root_node):
            yield self._key_of[index], captures


def _last_le(starts: Sequence[int], offset: int) -> int:
    index = 0
    for i, start in enumerate(starts):
        if start <= offset:
            index = i
    return index


@cache
def _calls_query() -> Query:
    return compile_query(
        "(selector_expression operand: (identifier) @package field: (field_identifier) @symbol)"
    )


def calls(source: SourceFile) -> list[tuple[str, str, int, int]]:
    """Every `pkg.Symbol` reference on an imported package: (import path, symbol, line, column).

    Calls and function values alike (`http.Get(u)`, `hmac.New(sha1.New, k)`), resolved through
    the file's import names and aliases; position is the selector's start, 1-based.
    """
    from tree_sitter import QueryCursor

    names = source.package_names()
    out: list[tuple[str, str, int, int]] = []
    for _, caps in QueryCursor(_calls_query()).matches(source.tree.root_node):
        package = names.get(source.text(caps["package"][0]))
        if package is None:
            continue
        node = caps["package"][0]
        out.append(
            (
                package,
                source.text(caps["symbol"][0]),
                node.start_point[0] + 1,
                node.start_point[1] + 1,
            )
        )
    return out


# --- the main module's files and what they import ----------------------------------------------


def skip_dir(name: str) -> bool:
    """Directories the go command never treats as packages of the module."""
    return name in ("vendor", "testdata") or name.startswith(("_", "."))


def module_go_files(main_dir: Path, *, tests: bool = True) -> list[Path]:
    """The main module's .go files as the go command sees them, sorted.

    Skips vendor/, testdata/, directories starting with `_` or `.`, nested modules (a
    directory with its own go.mod), files starting with `_` or `.`, and the directories the
    go.mod's `ignore` directives name (see IgnoredDirs) - except a package there that the
    module's own code imports, which the go command builds like any other.
    """
    module, ignored = _module_ignores(main_dir)
    out, skipped = _walk_go_files(main_dir, ignored, tests)
    if skipped and module:
        out += _imported_from(main_dir, module, skipped, out)
    return sorted(out)


@dataclass(frozen=True, slots=True)
class IgnoredDirs:
    """A go.mod's `ignore` directives, applied as the go command applies them when it matches
    package patterns (`./...`, `all`, `go mod tidy`; cmd/go/internal/search.IgnorePatterns).

    `ignore ./x` skips the directory x at the module root; `ignore x` (also `x/y`) skips every
    directory whose path ends in those elements, at any depth; either skips all below it too.
    No wildcards; the module root itself is never skipped (`all` keeps it).
    """

    at_root: tuple[str, ...] = ()  # "/x/y/": a prefix of "/" + the directory's path + "/"
    anywhere: tuple[str, ...] = ()  # "/x/y/": anywhere in it

    @classmethod
    def of(cls, paths: Iterable[str]) -> IgnoredDirs:
        at_root: list[str] = []
        anywhere: list[str] = []
        for path in paths:
            rest = path.removeprefix("./")
            (at_root if rest != path else anywhere).append(_slashed(rest))
        return cls(tuple(at_root), tuple(anywhere))

    def __bool__(self) -> bool:
        return bool(self.at_root or self.anywhere)

    def covers(self, rel_dir: str) -> bool:
        """Is this directory (slash-separated, relative to the module root) ignored?"""
        if not rel_dir:
            return False
        where = _slashed(rel_dir)
        return where.startswith(self.at_root) or any(p in where for p in self.anywhere)


def _slashed(path: str) -> str:
    """`a/b` as `/a/b/`, so that matching stops at element boundaries (`node_modules` does
    not ignore `node_modules_x`)."""
    path = path.replace("\\", "/")
    path = path if path.startswith("/") else "/" + path
    return path if path.endswith("/") else path + "/"


def _module_ignores(main_dir: Path) -> tuple[str, IgnoredDirs]:
    """The module path and `ignore` directives of main_dir's go.mod. As with the go command,
    a go.mod that is missing or does not parse ignores nothing (scan reports its error)."""
    from .errors import ParseError
    from .gomod import parse_gomod

    path = Path(main_dir, "go.mod")
    try:
        gomod = parse_gomod(path.read_bytes(), str(path))
    except (OSError, ParseError):
        return "", IgnoredDirs()
    return gomod.module, IgnoredDirs.of(i.path for i in gomod.ignores)


def _walk_go_files(
    main_dir: Path, ignored: IgnoredDirs, tests: bool
) -> tuple[list[Path], list[str]]:
    """The .go files of the directories pattern matching reaches, and the ignored directories
    it did not enter (relative, slash-separated)."""
    out: list[Path] = []
    skipped: list[str] = []
    root = str(main_dir)
    for directory, dirs, files in os.walk(root):
        if directory != root and "go.mod" in files:
            dirs[:] = []
            continue
        rel = Path(directory).relative_to(root).as_posix().removeprefix(".")
        kept = []
        for d in sorted(dirs):
            if skip_dir(d):
                continue
            below = f"{rel}/{d}" if rel else d
            if ignored and ignored.covers(below):
                skipped.append(below)
                continue
            kept.append(d)
        dirs[:] = kept
        out.extend(Path(directory, name) for name in files if go_file(name, tests))
    return out, skipped


def go_file(name: str, tests: bool) -> bool:
    """A .go file the go command reads (not `_x.go` or `.x.go`; `_test.go` only for tests)."""
    if not name.endswith(".go") or name.startswith(("_", ".")):
        return False
    return tests or not name.endswith("_test.go")


def _imported_from(
    main_dir: Path, module: str, skipped: Sequence[str], files: Sequence[Path]
) -> list[Path]:
    """The files of packages in ignored directories that `files` import, directly or through
    each other: `ignore` hides a directory from patterns, not from an import, so code there
    that the module imports is built into it (and is scanned)."""
    # Only a file that spells such an import path is parsed: most name none.
    needles = [f"{module}/{d}".encode() for d in skipped]
    out: list[Path] = []
    entered: set[str] = set()
    todo = list(files)
    while todo:
        file = todo.pop()
        data = file.read_bytes()
        if not any(n in data for n in needles):
            continue
        parsed = parse_header(file.name, data)
        if parsed.build is not None and not constraint_allows(parsed.build, _tidy_tag):
            continue
        for imp in parsed.imports:
            rel = imp.path.removeprefix(module + "/")
            if rel == imp.path or rel in entered or not _inside(rel, skipped):
                continue
            entered.add(rel)
            if _in_nested_module(main_dir, rel):
                continue
            package = Path(main_dir, rel)
            found = sorted(
                package / name
                for name in (os.listdir(package) if package.is_dir() else ())
                if go_file(name, False) and (package / name).is_file()
            )
            out.extend(found)
            todo.extend(found)
    return out


def _inside(rel: str, dirs: Sequence[str]) -> bool:
    return any(rel == d or rel.startswith(d + "/") for d in dirs)


def _in_nested_module(main_dir: Path, rel: str) -> bool:
    """Does a go.mod below the module root hold this directory (another module's package)?"""
    parts = rel.split("/")
    return any(Path(main_dir, *parts[:n], "go.mod").is_file() for n in range(1, len(parts) + 1))


@dataclass(frozen=True, slots=True)
class ImportSite:
    """Where the main module imports a package of a required module."""

    path: str  # file, slash-separated, relative to the main module's directory
    line: int
    column: int
    import_path: str
    test: bool


@dataclass(frozen=True, slots=True)
class ImportUse:
    """How the main module uses its required modules (module paths).

    `used` are imported by non-test code; `test_only` only by _test.go files; `tool_only` only
    by `tool` directives (and perhaps tests). A required module in none of them is not imported
    by the main module at all (it is needed by other dependencies, or not at all).
    """

    used: frozenset[str]
    test_only: frozenset[str]
    tool_only: frozenset[str]
    sites: Mapping[str, tuple[ImportSite, ...]]  # module path -> where it is imported
    parse_errors: tuple[SyntaxProblem, ...] = ()

    @property
    def optional(self) -> frozenset[str]:
        """Modules an SBOM lists with scope `optional`: used only by tests or tools."""
        return self.test_only | self.tool_only


class _HasModules(Protocol):
    @property
    def modules(self) -> Sequence[Any]: ...


def project_imports(
    main_dir: Path,
    module_paths: Iterable[str] | _HasModules,
    *,
    main_path: str | None = None,
    tools: Iterable[str] | None = None,
) -> ImportUse:
    """Which required modules the main module's code, tests and tools import.

    `module_paths` are the required module paths (or a build list: its non-main modules). An
    import belongs to the module with the longest path that is a prefix of it at a `/`
    boundary; imports of the main module itself (`main_path`) and of the standard library do
    not count. `tools` are the go.mod `tool` package paths; both default to what main_dir's
    go.mod says. Files excluded by `//go:build ignore` are skipped, as `go mod tidy` does.
    """
    main_dir = Path(main_dir)
    if isinstance(module_paths, Iterable) and not hasattr(module_paths, "modules"):
        paths = set(module_paths)
    else:
        modules = module_paths.modules
        paths = {m.path for m in modules if not getattr(m, "main", False)}
        main_path = main_path or next((m.path for m in modules if getattr(m, "main", False)), None)
    if main_path is None or tools is None:
        gomod = _read_gomod(main_dir)
        main_path = main_path if main_path is not None else gomod[0]
        tools = tools if tools is not None else gomod[1]
    if main_path:
        paths.add(main_path)
    owner = _prefix_matcher(paths)
    sites: dict[str, list[ImportSite]] = {}
    code: set[str] = set()
    tests: set[str] = set()
    problems: list[SyntaxProblem] = []
    for file in module_go_files(main_dir):
        rel = file.relative_to(main_dir).as_posix()
        parsed = parse_header(rel, file.read_bytes())
        if parsed.error is not None:
            problems.append(parsed.error)
        if parsed.build is not None and not constraint_allows(parsed.build, _tidy_tag):
            continue
        for imp in parsed.imports:
            module = owner(imp.path)
            if module is None or module == main_path:
                continue
            (tests if parsed.is_test else code).add(module)
            sites.setdefault(module, []).append(
                ImportSite(rel, imp.line, imp.column, imp.path, parsed.is_test)
            )
    tool_modules = {m for m in map(owner, tools) if m is not None and m != main_path}
    return ImportUse(
        used=frozenset(code),
        test_only=frozenset(tests - code - tool_modules),
        tool_only=frozenset(tool_modules - code),
        sites={m: tuple(s) for m, s in sorted(sites.items())},
        parse_errors=tuple(problems),
    )


def _tidy_tag(tag: str) -> bool:
    # `go mod tidy` and `go mod vendor` consider every build tag except "ignore".
    return tag != "ignore"


tidy_tag = _tidy_tag  # public: scan walks vendor/ by the same rule


def _prefix_matcher(module_paths: Iterable[str]) -> Callable[[str], str | None]:
    known = set(module_paths)

    def owner(import_path: str) -> str | None:
        first = import_path.split("/", 1)[0]
        if "." not in first:
            return None  # the standard library (and "C")
        candidate = import_path
        while True:
            if candidate in known:
                return candidate
            cut = candidate.rfind("/")
            if cut < 0:
                return None
            candidate = candidate[:cut]

    return owner


def _read_gomod(main_dir: Path) -> tuple[str, list[str]]:
    # Lazy: the go.mod parser is only needed when the caller did not say.
    from .gomod import parse_gomod

    path = main_dir / "go.mod"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "", []
    gomod = parse_gomod(data, str(path))
    return gomod.module, [t.path for t in gomod.tools]


def scan_sources(main_dir: Path, **options: Any) -> SourceScan:
    """The source rules over the main module: see `scanner.rules.scan_sources`."""
    from .rules.runner import scan_sources as run

    return run(main_dir, **options)
