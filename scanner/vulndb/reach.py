"""Reachability of a vulnerability from the main module's own (non-test) code.

Three levels, from the tree-sitter facts of the main module: CALLED (a listed vulnerable symbol
is called, matched by selector/identifier on the imported package), IMPORTED (a vulnerable
package is imported, none of its listed symbols called), REQUIRED (the module is only in the
build list). A method is used when it is called and when it is taken as a value: a method
value `x.M` (`f := s.Run`, called later through `f`) counts as a call of it, as a function
value `pkg.F` does, and a method expression `(*pkg.T).M` or `pkg.T.M` as a call of `T.M`.
Without type information, a method call `x.M(...)` or value `x.M` is judged by what the
syntax tells of its receiver `x` (`ExprTypes`: the declaration in scope, a composite literal,
a struct field of the file):

- a type of the package, `pkg.T` (`c *gin.Context`, `s := &http.Server{}`): a call of `T.M`;
- a value of the package whose type is unknown (`r := gin.Default()`): of any `.M` of it;
- another package's type or value (`cmd := exec.Command(...)`, `var c exec.Cmd`): not a call
  of the package's methods at all;
- unknown (a local type, a call on a variable, a name declared elsewhere): of `T.M` wherever
  the file names the type `pkg.T`.

The unknown cases over-approximate, as a gate should rather than miss a call; the reported
call sites of a symbol are those whose receiver is known to be of its type when there are any.
A variable declared with another package's interface type counts as that type: a call
through an interface is not followed (scanner.vulndb.evidence says so for the build).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
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
    method called (or taken as a value) on a variable of a known type is ("Client.Do", site),
    of a type the analysis does not know ("?.Do", site); a method expression `(*http.Client).Do`
    is ("Client.Do", site).
    """

    imports: Mapping[str, tuple[Site, ...]] = field(default_factory=dict)
    calls: Mapping[str, tuple[tuple[str, Site], ...]] = field(default_factory=dict)
    # file -> method name -> sites of `x.M(...)` calls and `x.M` values on receivers of unknown
    # type, for methods of named package types
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


def _called_sites(package: Package, uses: MainUses) -> list[tuple[str, Site, bool]]:
    """(vulnerable symbol, site, certain) where the main module calls into the package.

    `certain`: the call names the symbol, or its receiver is known to be of the symbol's
    type; else the receiver's type is unknown and the call may be another type's method.
    """
    refs = uses.calls.get(package.path, ())
    if not package.symbols:
        return [(name, site, True) for name, site in refs]
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
            out.append((name, site, True))
        elif name.startswith(UNKNOWN_TYPE + "."):
            out.extend((symbol, site, False) for symbol in by_method.get(name[2:], ()))
    for name, site in refs:
        for method in by_type.get(name, ()):
            out.extend(
                (f"{name}.{method}", call, False)
                for call in uses.methods.get(site.path, {}).get(method, ())
            )
    return list(dict.fromkeys(out))


def preferred(calls: Iterable[tuple[str, Site, bool]]) -> list[tuple[str, Site]]:
    """The calls to report: for each symbol the certain ones when there are any, else every
    possible one (a receiver of unknown type)."""
    by_symbol: dict[str, tuple[list[Site], list[Site]]] = {}
    for symbol, site, sure in calls:
        by_symbol.setdefault(symbol, ([], []))[0 if sure else 1].append(site)
    return [
        (symbol, site)
        for symbol, (certain, possible) in by_symbol.items()
        for site in certain or possible
    ]


def reachability(match: VulnMatch, uses: MainUses) -> Reach:
    """How the main module reaches the vulnerable packages and symbols of one match."""
    if match.module == TOOLCHAIN:
        return Reach(Reachability.REQUIRED)  # the go command itself, not code that is built
    calls: list[tuple[str, Site, bool]] = []
    imported: set[Site] = set()
    for package in _packages(match, uses):
        imported.update(uses.imports.get(package.path, ()))
        calls.extend(_called_sites(package, uses))
    chosen = preferred(calls)
    called = {site for _, site in chosen}
    symbols = {symbol for symbol, _ in chosen}
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
    """`pkg.T` type references, and methods selected `x.M` by what is known of `x`.

    A method is used when it is called (`x.M(...)`) and when it is taken as a value (`f :=
    x.M`, called later through `f`): the syntax cannot tell a method value from a field, so
    every `x.M` counts. A receiver of a known package's type or value is a fact of that package
    (`T.M`, or `?.M` when only the package is known); one of unknown type goes to `methods`,
    matched against the types the file names. A method expression `(*pkg.T).M` or `pkg.T.M`
    is a fact `T.M` of the package; as the syntax does not tell `pkg.T.M` from a method value
    on a package variable (`pkg.V.M`, of a type not told), that counts as one of unknown type
    too. The site is the method's name in the selector.
    """
    names = parsed.package_names()
    types = ExprTypes(parsed, names)
    facts: list[tuple[str, str, Site]] = []
    for _, caps in QueryCursor(query).matches(parsed.tree.root_node):
        if "method" in caps:
            node = caps["method"][0]
            operand = caps["operand"][0]
            if operand.type == "identifier" and types.is_package(operand):
                continue  # `pkg.F(...)`, `pkg.F`: source.calls has it
            site = _site(rel, node)
            method = parsed.text(node)
            expression = types.method_expression(operand)
            if expression is not None:
                facts.append((expression[0], f"{expression[1]}.{method}", site))
                if expression[2]:
                    continue  # `(*pkg.T).M`: of pkg.T, and of no other type
            known = types.of(operand)
            if known is None:
                methods.append((method, site))
            else:
                facts.append((known[0], f"{known[1]}.{method}", site))
        elif (path := names.get(parsed.text(caps["package"][0]))) is not None:
            facts.append((path, parsed.text(caps["type"][0]), _site(rel, caps["package"][0])))
    return facts


UNKNOWN_TYPE = "?"

# What a name is bound to in a scope: its type as (import path, type name or UNKNOWN_TYPE),
# or None when the syntax does not tell.
_Type = tuple[str, str] | None
# A name's declaration: (where it ends, its type or value expression, which of the two).
_Bound = tuple[int, Node | None, bool]
_FUNCTIONS = ("function_declaration", "method_declaration", "func_literal")
_STATEMENTS = ("statement_list", "source_file")
_SCOPES = (
    *_FUNCTIONS,
    *_STATEMENTS,
    "if_statement",
    "for_statement",
    "expression_switch_statement",
    "type_switch_statement",
    "communication_case",
)


class ExprTypes:
    """What the syntax of one file tells of an expression's type, without type checking.

    `of(node)` is (import path, type) for a type of another package (`pkg.T`, `*pkg.T`, a
    composite literal `pkg.T{}`, `new(pkg.T)`), (import path, UNKNOWN_TYPE) for the result of a
    call `pkg.F(...)`, and None when it cannot be told: a local type (which may embed the
    vulnerable one), a call on a variable, a name declared in another file. An identifier is
    resolved to its declaration in scope (parameters, `var`, `:=`, if/for/switch initialisers;
    `range`, type-switch and `select` bindings are unknown); `x.f` by the fields of that name
    the file's structs declare, when they all have the same known type.
    """

    def __init__(self, parsed: source.SourceFile, names: Mapping[str, str]) -> None:
        self.parsed = parsed
        self.names = names
        self._scopes: dict[int, dict[str, list[_Bound]]] = {}
        self._values: dict[int, _Type] = {}
        self._fields: dict[str, _Type] | None = None

    def is_package(self, identifier: Node) -> bool:
        """An imported package's name, not shadowed by a declaration in scope."""
        name = self.parsed.text(identifier)
        return name in self.names and self._lookup(identifier) is None

    def method_expression(self, operand: Node) -> tuple[str, str, bool] | None:
        """The type `pkg.T` of a method expression `(*pkg.T).M` or `pkg.T.M`, by the operand of
        its selector (parentheses, `*` and type arguments dropped): (import path, type name,
        whether a `*` makes it a type), else None. Without the `*` the syntax does not tell it
        from a method value on a package variable (`pkg.V.M`, `(pkg.V).M`), whose type is not
        told; `(*pkg.V).M` on a pointer variable is taken to be rare enough to be a type."""
        node: Node | None = operand
        star = False
        while node is not None and node.type != "selector_expression":
            if node.type == "parenthesized_expression":
                inner = node.named_children
                node = inner[0] if len(inner) == 1 else None
            elif node.type == "unary_expression":
                op = node.child_by_field_name("operator")
                if op is None or self.parsed.text(op) != "*":
                    return None
                node = node.child_by_field_name("operand")
                star = True
            elif node.type == "index_expression":  # `(*pkg.T[int]).M`
                node = node.child_by_field_name("operand")
            elif node.type == "generic_type":
                known = self.type_of(node.child_by_field_name("type"))
                return None if known is None else (*known, True)
            else:
                return None
        if node is None:
            return None
        package = node.child_by_field_name("operand")
        name = node.child_by_field_name("field")
        if package is None or name is None or package.type != "identifier":
            return None
        if not self.is_package(package):
            return None
        return (self.names[self.parsed.text(package)], self.parsed.text(name), star)

    def of(self, node: Node) -> _Type:
        kind = node.type
        if kind == "parenthesized_expression":
            inner = node.named_children
            return self.of(inner[0]) if len(inner) == 1 else None
        if kind == "unary_expression":
            operand = node.child_by_field_name("operand")
            op = node.child_by_field_name("operator")
            if operand is not None and op is not None and self.parsed.text(op) == "&":
                return self.of(operand) if operand.type == "composite_literal" else None
            return None
        if kind == "composite_literal":
            return self.type_of(node.child_by_field_name("type"))
        if kind == "call_expression":
            return self._call(node)
        if kind == "identifier":
            found = self._lookup(node)
            return found[0] if found is not None else None
        if kind == "selector_expression":
            operand = node.child_by_field_name("operand")
            field = node.child_by_field_name("field")
            if operand is None or field is None:
                return None
            if operand.type == "identifier" and self.is_package(operand):
                return None  # a package's variable: its type is not told here
            return self.fields().get(self.parsed.text(field))
        return None

    def type_of(self, node: Node | None) -> _Type:
        """A type expression: `pkg.T` or `*pkg.T` of an imported package, else None."""
        while node is not None and node.type in ("pointer_type", "parenthesized_type"):
            node = node.named_children[0] if node.named_children else None
        if node is None or node.type != "qualified_type":
            return None
        package = node.child_by_field_name("package")
        name = node.child_by_field_name("name")
        if package is None or name is None:
            return None
        path = self.names.get(self.parsed.text(package))
        return None if path is None else (path, self.parsed.text(name))

    def _call(self, node: Node) -> _Type:
        function = node.child_by_field_name("function")
        if function is None:
            return None
        if function.type == "identifier" and self.parsed.text(function) == "new":
            arguments = node.child_by_field_name("arguments")
            given = arguments.named_children if arguments is not None else []
            if len(given) == 1 and self._lookup(function) is None:
                return self.type_of(given[0])
            return None
        if function.type == "selector_expression":
            operand = function.child_by_field_name("operand")
            if operand is not None and operand.type == "identifier" and self.is_package(operand):
                return (self.names[self.parsed.text(operand)], UNKNOWN_TYPE)
        return None

    def _lookup(self, identifier: Node) -> tuple[_Type] | None:
        """The declaration in scope of an identifier: (its type,), or None when none is."""
        name = self.parsed.text(identifier)
        at = identifier.start_byte
        node = identifier
        while node.parent is not None:
            scope = node.parent
            declared = self._declared(scope).get(name) if scope.type in _SCOPES else None
            if declared:
                if scope.type == "source_file":
                    visible = declared  # package level: declared in any order
                elif scope.type in _FUNCTIONS:
                    visible = declared if node.type == "block" else []  # in the body
                else:
                    visible = [d for d in declared if d[0] <= at]
                if visible:
                    return (self._resolve(visible[-1]),)
            node = scope
        return None

    def _resolve(self, bound: _Bound) -> _Type:
        _, node, is_type = bound
        if node is None:
            return None
        if is_type:
            return self.type_of(node)
        if node.id not in self._values:
            self._values[node.id] = None  # while it is worked out: a cycle is unknown
            self._values[node.id] = self.of(node)
        return self._values[node.id]

    def _declared(self, scope: Node) -> dict[str, list[_Bound]]:
        """Names the scope declares itself: name -> [(end of the declaration, source)]."""
        cached = self._scopes.get(scope.id)
        if cached is not None:
            return cached
        out: dict[str, list[_Bound]] = {}

        def bind(identifier: Node, node: Node | None, is_type: bool, end: int) -> None:
            out.setdefault(self.parsed.text(identifier), []).append((end, node, is_type))

        if scope.type in _FUNCTIONS:
            for field in ("receiver", "parameters", "result"):
                params = scope.child_by_field_name(field)
                for param in params.named_children if params is not None else ():
                    variadic = param.type == "variadic_parameter_declaration"
                    kind = None if variadic else param.child_by_field_name("type")
                    for n in param.children_by_field_name("name"):
                        bind(n, kind, True, 0)
        elif scope.type in _STATEMENTS:
            for statement in scope.named_children:
                self._bind_statement(statement, bind)
        else:  # if, for, switch, select case: an initializer, range, alias or receive
            bound: list[Node] = []
            for child in scope.named_children:
                if child.type == "for_clause":
                    child = child.child_by_field_name("initializer") or child
                if child.type == "short_var_declaration":
                    self._bind_statement(child, bind)
                elif child.type in ("range_clause", "receive_statement"):
                    left = child.child_by_field_name("left")
                    bound += left.named_children if left is not None else []
            alias = scope.child_by_field_name("alias")
            bound += alias.named_children if alias is not None else []
            for n in bound:
                if n.type == "identifier":
                    bind(n, None, False, 0)  # an element's, a received value's, a case's type
        self._scopes[scope.id] = out
        return out

    def _bind_statement(
        self, statement: Node, bind: Callable[[Node, Node | None, bool, int], None]
    ) -> None:
        end = statement.end_byte
        if statement.type == "short_var_declaration":
            left = statement.child_by_field_name("left")
            right = statement.child_by_field_name("right")
            targets = left.named_children if left is not None else []
            values = right.named_children if right is not None else []
            for i, n in enumerate(targets):
                if n.type != "identifier":
                    continue
                if len(values) == len(targets):
                    bind(n, values[i], False, end)
                elif i == 0 and len(values) == 1:  # `x, err := pkg.F()`: F's first result
                    bind(n, values[0], False, end)
                else:
                    bind(n, None, False, end)
        elif statement.type == "var_declaration":
            for spec in _var_specs(statement):
                declared = spec.child_by_field_name("type")
                value = spec.child_by_field_name("value")
                values = value.named_children if value is not None else []
                spec_names = spec.children_by_field_name("name")
                for i, n in enumerate(spec_names):
                    if declared is not None:
                        bind(n, declared, True, end)
                    elif len(values) == len(spec_names):
                        bind(n, values[i], False, end)
                    else:
                        bind(n, None, False, end)

    def fields(self) -> dict[str, _Type]:
        """Struct field name -> its type, when every field of that name in the file has it."""
        if self._fields is None:
            seen: dict[str, set[_Type]] = {}
            for _, caps in QueryCursor(_fields_query()).matches(self.parsed.tree.root_node):
                declaration = caps["field"][0]
                kind = self.type_of(declaration.child_by_field_name("type"))
                for n in declaration.children_by_field_name("name"):
                    seen.setdefault(self.parsed.text(n), set()).add(kind)
            self._fields = {
                name: next(iter(kinds))
                for name, kinds in seen.items()
                if len(kinds) == 1 and None not in kinds
            }
        return self._fields


def _var_specs(declaration: Node) -> Iterable[Node]:
    for child in declaration.named_children:
        if child.type == "var_spec":
            yield child
        elif child.type == "var_spec_list":
            yield from (c for c in child.named_children if c.type == "var_spec")


@cache
def _fields_query() -> Query:
    return source.compile_query("(field_declaration) @field")


@cache
def type_and_method_query() -> Query:
    return source.compile_query(_TYPES_AND_METHODS)


# Types named from another package (`*http.Server`, `http.Client{}`) and selectors `x.M`:
# method calls, method values and method expressions (fields too: the syntax cannot tell).
_TYPES_AND_METHODS = """
(qualified_type package: (package_identifier) @package name: (type_identifier) @type)
(selector_expression operand: (_) @operand field: (field_identifier) @method)
"""


def _site(rel: str, node: Node) -> Site:
    return Site(rel, node.start_point[0] + 1, node.start_point[1] + 1)
