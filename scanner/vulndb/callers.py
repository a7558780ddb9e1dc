"""Which declarations of a package reach its vulnerable symbols, by name, inside the package.

A database entry lists the vulnerable functions and methods; another package reaches them
also through any exported function of the package that calls them (`Hello` calling `name`).
Without type information a declaration reaches a listed function when its body names it
(`name(...)`, or `name` as a value) and a listed method `T.M` when it selects `.M` on anything
but what the syntax shows to be another package's (scanner.vulndb.reach.ExprTypes: `pkg.F`,
`cmd := exec.Command(...)`, `var c exec.Cmd`, a field typed `*exec.Cmd`, a method expression
`(*exec.Cmd).Run`), whose methods cannot be the package's own (another package cannot embed
them: it would import this one): an over-approximation, as proof of absence needs. Selecting
counts whether the method is called or not: a method value `f := s.M` and a method expression
`(*T).M` or `T.M` reach `T.M` as a call does. `init` functions and package-level variable
initialisers run whenever the package is linked in.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from .. import source
from .reach import ExprTypes


@dataclass(frozen=True, slots=True)
class Decl:
    """One top-level declaration: `names` it declares ("F", "T.M", or a variable's names),
    the identifiers and selected fields its text uses; `runs` for init and variables."""

    names: tuple[str, ...]
    identifiers: frozenset[str]
    fields: frozenset[str]
    runs: bool


@dataclass(frozen=True, slots=True)
class PackageDefs:
    decls: tuple[Decl, ...]


@cache
def _query() -> Query:
    return source.compile_query(
        """
        (source_file (function_declaration name: (identifier) @func) @decl)
        (source_file (method_declaration
          receiver: (parameter_list (parameter_declaration type: (_) @recv))
          name: (field_identifier) @method) @decl)
        (source_file (var_declaration) @var)
        """
    )


@cache
def _names_query() -> Query:
    return source.compile_query(
        "(identifier) @id (selector_expression field: (field_identifier) @field)"
    )


def _receiver(text: str) -> str:
    return text.lstrip("*( ").split("[", 1)[0].rstrip(") ")


def package_defs(files: Sequence[source.SourceFile]) -> PackageDefs:
    """The top-level functions, methods and variables of one package's files."""
    decls: list[Decl] = []
    for file in files:
        spans: list[tuple[int, int, tuple[str, ...], bool]] = []
        for _, caps in QueryCursor(_query()).matches(file.tree.root_node):
            if "var" in caps:
                node = caps["var"][0]
                names = tuple(
                    file.text(n)
                    for n in _descendants(node)
                    if n.type == "identifier"
                    and n.parent is not None
                    and n.parent.type == "var_spec"
                )
                spans.append((node.start_byte, node.end_byte, names, True))
            elif "func" in caps:
                node, name = caps["decl"][0], file.text(caps["func"][0])
                spans.append((node.start_byte, node.end_byte, (name,), name == "init"))
            else:
                node = caps["decl"][0]
                name = f"{_receiver(file.text(caps['recv'][0]))}.{file.text(caps['method'][0])}"
                spans.append((node.start_byte, node.end_byte, (name,), False))
        spans.sort()
        starts = [s[0] for s in spans]
        identifiers: list[set[str]] = [set() for _ in spans]
        fields: list[set[str]] = [set() for _ in spans]
        types = ExprTypes(file, file.package_names())
        for _, caps in QueryCursor(_names_query()).matches(file.tree.root_node):
            node = (caps.get("id") or caps["field"])[0]
            i = bisect.bisect_right(starts, node.start_byte) - 1
            if i < 0 or node.end_byte > spans[i][1]:
                continue  # outside any function or variable: type and const declarations
            if "field" in caps and _of_another_package(types, node):
                continue
            (identifiers if "id" in caps else fields)[i].add(file.text(node))
        decls.extend(
            Decl(names, frozenset(ids), frozenset(fs), runs)
            for (_, _, names, runs), ids, fs in zip(spans, identifiers, fields, strict=True)
        )
    return PackageDefs(tuple(decls))


def _of_another_package(types: ExprTypes, field: Node) -> bool:
    """`.M` selected on an imported package or on a value of another package's type."""
    operand = field.parent.child_by_field_name("operand") if field.parent is not None else None
    if operand is None:
        return False
    if operand.type == "identifier" and types.is_package(operand):
        return True
    # `(*pkg.T).M`, `pkg.T.M`: a method expression on another package's type, or a method of a
    # package variable of another package (of that package's type, or of a third's)
    if types.method_expression(operand) is not None:
        return True
    return types.of(operand) is not None


def _descendants(node: Node) -> Iterable[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


@dataclass(frozen=True, slots=True)
class Reaching:
    """The package's names that reach a vulnerable symbol (listed ones included), and
    whether code that runs when the package is linked in (init, variables) reaches one."""

    names: frozenset[str]
    on_init: bool


def reaching(defs: PackageDefs, symbols: Iterable[str]) -> Reaching:
    """Grow the listed `symbols` by every declaration that names one, until nothing changes."""
    names = set(symbols)
    on_init = False
    changed = True
    while changed:
        changed = False
        functions = {n for n in names if "." not in n}
        methods = {n.rpartition(".")[2] for n in names if "." in n}
        for decl in defs.decls:
            if decl.identifiers & functions or decl.fields & methods:
                on_init = on_init or decl.runs
                new = set(decl.names) - names - {"init", "_"}
                if new:
                    names |= new
                    changed = True
    return Reaching(frozenset(names), on_init)
