"""Reachability of a vulnerability from the main module's own (non-test) code.

Three levels, from the tree-sitter facts of the main module: CALLED (a listed vulnerable symbol
is called, matched by selector/identifier on the imported package), IMPORTED (a vulnerable
package is imported, none of its listed symbols called), REQUIRED (the module is only in the
build list). Without type information, a method `T.M` counts as called on a variable that holds
a value of the package (`c *gin.Context`, `s := &http.Server{}`, or `r := gin.Default()`, whose
type is unknown, so any `.M` of the package matches), and where a file names the type (`pkg.T`)
and calls a method `.M(...)`. Both over-approximate, as a gate should rather than miss a call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tree_sitter import Node, Query, QueryCursor

from .. import source
from .match import VulnMatch
from .osv import STDLIB, TOOLCHAIN, Package


class Reachability(enum.StrEnum):
    """How close the main module's code comes to the vulnerable code; CALLED is the closest."""

    CALLED = "called"
    IMPORTED = "imported"
    REQUIRED = "required"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Reachability.REQUIRED: 0, Reachability.IMPORTED: 1, Reachability.CALLED: 2}


class BuildReach(enum.StrEnum):
    """What the code the build compiles proves (scanner.vulndb.evidence); VEX statements are
    made from it. UNKNOWN, the default, proves nothing: no `not_affected` is claimed."""

    CALLED = "called"  # a package of the build names a vulnerable symbol, or runs it at init
    NOT_CALLED = "not-called"  # vulnerable packages are compiled, no vulnerable symbol named
    NOT_BUILT = "not-built"  # no vulnerable package is compiled
    UNKNOWN = "unknown"  # not proved either way: the note says what was missing


@dataclass(frozen=True, slots=True, order=True)
class Site:
    """A place in the main module: slash path relative to its directory, 1-based line/column."""

    path: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class MainUses:
    """What the main module's non-test code imports and calls, by import path.

    `calls[import_path]` holds `(symbol, site)` pairs: `http.Get(...)` is ("Get", site), a
    method called on a variable of a known type is ("Client.Do", site), of a type the analysis
    does not know ("?.Do", site).
    """

    imports: Mapping[str, tuple[Site, ...]] = field(default_factory=dict)
    calls: Mapping[str, tuple[tuple[str, Site], ...]] = field(default_factory=dict)
    # file -> method name -> sites of `x.M(...)` calls, for methods of named package types
    methods: Mapping[str, Mapping[str, tuple[Site, ...]]] = field(default_factory=dict)

    @classmethod
    def from_facts(
        cls,
        imports: Iterable[tuple[str, Site]],
        calls: Iterable[tuple[str, str, Site]],
        methods: Iterable[tuple[str, Site]] = (),
    ) -> MainUses:
        """From `(import_path, site)`, `(import_path, symbol, site)` and `(method, site)` facts.

        `calls` holds every `pkg.Name` reference, types included (`http.Server{}`).
        """
        by_import: dict[str, set[Site]] = {}
        for path, site in imports:
            by_import.setdefault(path, set()).add(site)
        by_call: dict[str, set[tuple[str, Site]]] = {}
        for path, symbol, site in calls:
            by_call.setdefault(path, set()).add((symbol, site))
        by_file: dict[str, dict[str, set[Site]]] = {}
        for name, site in methods:
            by_file.setdefault(site.path, {}).setdefault(name, set()).add(site)
        return cls(
            {p: tuple(sorted(s)) for p, s in sorted(by_import.items())},
            {p: tuple(sorted(s, key=lambda c: (c[1], c[0]))) for p, s in sorted(by_call.items())},
            {f: {m: tuple(sorted(s)) for m, s in sorted(ms.items())} for f, ms in by_file.items()},
        )


@dataclass(frozen=True, slots=True)
class Reach:
    """The level and the evidence: call sites (CALLED) or import sites (IMPORTED).

    `level` is the main module's own code (what the policy judges); `build` what the whole
    build's code proves, with `build_note` saying how (what calls it, or what was missing).
    """

    level: Reachability
    sites: tuple[Site, ...] = ()
    symbols: tuple[str, ...] = ()  # the vulnerable symbols found called, sorted
    build: BuildReach = BuildReach.UNKNOWN
    build_note: str = ""


@dataclass(frozen=True, slots=True)
class ReachableMatch:
    """A match with its reachability: what the policy, the reports and VEX documents read."""

    match: VulnMatch
    reach: Reach


def _packages(match: VulnMatch, uses: MainUses) -> list[Package]:
    if match.packages:
        return list(match.packages)
    if match.module in (STDLIB, TOOLCHAIN):
        return []
    # No packages listed: every package of the module is vulnerable, with all its symbols.
    prefix = match.module + "/"
    return [Package(p) for p in uses.imports if p == match.module or p.startswith(prefix)]


def _called_sites(package: Package, uses: MainUses) -> list[tuple[str, Site]]:
    """(vulnerable symbol, site) pairs where the main module calls into the package."""
    refs = uses.calls.get(package.path, ())
    if not package.symbols:
        return list(refs)
    wanted = set(package.symbols)
    by_type: dict[str, list[str]] = {}
    by_method: dict[str, list[str]] = {}
    for symbol in package.symbols:
        receiver, dot, method = symbol.partition(".")
        if dot:
            by_type.setdefault(receiver, []).append(method)
            by_method.setdefault(method, []).append(symbol)
    out = []
    for name, site in refs:
        if name in wanted:
            out.append((name, site))
        elif name.startswith(UNKNOWN_TYPE + "."):
            out.extend((symbol, site) for symbol in by_method.get(name[2:], ()))
    for name, site in refs:
        for method in by_type.get(name, ()):
            out.extend(
                (f"{name}.{method}", call)
                for call in uses.methods.get(site.path, {}).get(method, ())
            )
    return out


def reachability(match: VulnMatch, uses: MainUses) -> Reach:
    """How the main module reaches the vulnerable packages and symbols of one match."""
    if match.module == TOOLCHAIN:
        return Reach(Reachability.REQUIRED)  # the go command itself, not code that is built
    called: set[Site] = set()
    symbols: set[str] = set()
    imported: set[Site] = set()
    for package in _packages(match, uses):
        imported.update(uses.imports.get(package.path, ()))
        for symbol, site in _called_sites(package, uses):
            called.add(site)
            symbols.add(symbol)
    if called:
        return Reach(Reachability.CALLED, tuple(sorted(called)), tuple(sorted(symbols)))
    if imported:
        return Reach(Reachability.IMPORTED, tuple(sorted(imported)))
    return Reach(Reachability.REQUIRED)


def reach_all(matches: Iterable[VulnMatch], uses: MainUses) -> list[ReachableMatch]:
    return [ReachableMatch(m, reachability(m, uses)) for m in matches]


def collect_main_uses(main_dir: Path) -> MainUses:
    """Imports and calls of the main module's non-test code (tree-sitter, scanner.source).

    The files are those the go command builds for the module (source.module_go_files): no
    _test.go files, no vendor/ or testdata/, no nested modules.
    """
    query = type_and_method_query()
    imports: list[tuple[str, Site]] = []
    calls: list[tuple[str, str, Site]] = []
    methods: list[tuple[str, Site]] = []
    for file in source.module_go_files(main_dir, tests=False):
        rel = file.relative_to(main_dir).as_posix()
        parsed = source.parse_file(rel, file.read_bytes())
        for imp in parsed.imports:
            imports.append((imp.path, Site(rel, imp.line, imp.column)))
        for import_path, symbol, line, column in source.calls(parsed):
            calls.append((import_path, symbol, Site(rel, line, column)))
        calls.extend(type_and_method_facts(parsed, rel, query, methods))
    return MainUses.from_facts(imports, calls, methods)


def type_and_method_facts(
    parsed: source.SourceFile, rel: str, query: Query, methods: list[tuple[str, Site]]
) -> list[tuple[str, str, Site]]:
    """`pkg.T` type references and methods called on variables holding a package's values."""
    names = parsed.package_names()
    facts: list[tuple[str, str, Site]] = []
    variables: dict[str, tuple[str, str]] = {}  # name -> (import path, type or UNKNOWN_TYPE)
    receivers: list[tuple[str, str, Site]] = []  # (variable, method, site)
    for _, caps in QueryCursor(query).matches(parsed.tree.root_node):
        if "recv" in caps:
            node = caps["method"][0]
            receivers.append((parsed.text(caps["recv"][0]), parsed.text(node), _site(rel, node)))
        elif "method" in caps:
            node = caps["method"][0]
            methods.append((parsed.text(node), _site(rel, node)))
        elif (path := names.get(parsed.text(caps["package"][0]))) is not None:
            kind = parsed.text(caps["type"][0]) if "type" in caps else UNKNOWN_TYPE
            if "var" in caps:
                variables[parsed.text(caps["var"][0])] = (path, kind)
            elif "type" in caps:
                facts.append((path, kind, _site(rel, caps["package"][0])))
    for variable, method, site in receivers:
        if variable in variables and variable not in names:
            path, kind = variables[variable]
            facts.append((path, f"{kind}.{method}", site))
    return facts


UNKNOWN_TYPE = "?"


@cache
def type_and_method_query() -> Query:
    return source.compile_query(_TYPES_AND_METHODS)


_QUALIFIED = "(qualified_type package: (package_identifier) @package name: (type_identifier) @type)"
_FROM_CALL = "(call_expression function: (selector_expression operand: (identifier) @package))"
_FIRST = "left: (expression_list . (identifier) @var)"
# Types named from another package (`*http.Server`, `http.Client{}`), variables holding a
# package's values (parameters, `var`, `:=` of a call or composite literal), method calls.
_TYPES_AND_METHODS = f"""
{_QUALIFIED}
(parameter_declaration name: (identifier) @var type: {_QUALIFIED})
(parameter_declaration name: (identifier) @var type: (pointer_type {_QUALIFIED}))
(var_spec name: (identifier) @var type: {_QUALIFIED})
(var_spec name: (identifier) @var type: (pointer_type {_QUALIFIED}))
(var_spec name: (identifier) @var value: (expression_list . {_FROM_CALL}))
(short_var_declaration {_FIRST} right: (expression_list . {_FROM_CALL}))
(short_var_declaration {_FIRST} right: (expression_list . (composite_literal type: {_QUALIFIED})))
(short_var_declaration {_FIRST}
  right: (expression_list . (unary_expression operand: (composite_literal type: {_QUALIFIED}))))
(call_expression
  function: (selector_expression operand: (identifier) @recv field: (field_identifier) @method))
(call_expression function: (selector_expression field: (field_identifier) @method))
"""


def _site(rel: str, node: Node) -> Site:
    return Site(rel, node.start_point[0] + 1, node.start_point[1] + 1)
