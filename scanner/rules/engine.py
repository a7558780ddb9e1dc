"""The per-file rule engine: one parse, one walk, every rule's hooks, then suppressions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from ..source import Captures, SourceFile, Walk, parse_file
from .suppression import Hit, apply_suppressions

if TYPE_CHECKING:
    from tree_sitter import Node

FUNCTION_TYPES = frozenset({"function_declaration", "method_declaration"})
STRING_TYPES = frozenset({"interpreted_string_literal", "raw_string_literal"})
_LITERAL_TYPES = STRING_TYPES | {
    "int_literal",
    "float_literal",
    "rune_literal",
    "imaginary_literal",
    "true",
    "false",
    "nil",
    "iota",
}


@dataclass(slots=True)
class FileContext:
    """What the hooks of one file share: imports, facts collected first, and the hits."""

    source: SourceFile
    names: dict[str, str]  # local package name -> import path
    imported: frozenset[str]
    consts: set[str] = field(default_factory=set)
    # Facts that checks consult, keyed by a name the rule module chooses (e.g. assignments of
    # timeouts, decompressing readers): collected in the first phase, read in the second.
    facts: dict[str, set[object]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)

    def text(self, node: Node) -> str:
        return self.source.text(node)

    def package_of(self, node: Node | None) -> str | None:
        """The import path an identifier names in this file (`c` -> "crypto/md5"), else None."""
        if node is None or node.type not in ("identifier", "package_identifier"):
            return None
        return self.names.get(self.text(node))

    def fact(self, name: str) -> set[object]:
        return self.facts.setdefault(name, set())

    def report(self, rule_id: str, node: Node, message: str) -> None:
        line = node.start_point[0] + 1
        self.hits.append(
            Hit(
                rule_id=rule_id,
                line=line,
                column=node.start_point[1] + 1,
                end_line=node.end_point[0] + 1,
                end_column=node.end_point[1] + 1,
                message=message,
                anchor=_line_text(self.source.data, node.start_byte),
            )
        )

    def report_at(self, rule_id: str, line: int, column: int, message: str) -> None:
        """A hit at a position the tree does not hand over as a node (an import's path)."""
        start = _line_offset(self.source.data, line) + column - 1
        self.hits.append(
            Hit(rule_id, line, column, line, column, message, _line_text(self.source.data, start))
        )

    def is_constant(self, node: Node) -> bool:
        """A compile-time constant as far as one file can tell (literals, consts, pkg.Name)."""
        kind = node.type
        if kind in _LITERAL_TYPES:
            return True
        if kind == "identifier":
            return self.text(node) in self.consts
        if kind == "parenthesized_expression":
            return all(self.is_constant(c) for c in node.named_children)
        if kind == "binary_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            return (
                left is not None
                and right is not None
                and (self.is_constant(left) and self.is_constant(right))
            )
        if kind == "selector_expression":
            # A package-level name of another package (`paths.Git`) is usually a constant.
            return self.package_of(node.child_by_field_name("operand")) is not None
        return False


def _line_offset(data: bytes, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        offset = data.find(b"\n", offset) + 1
    return offset


def _line_text(data: bytes, offset: int) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    line = data[start : end if end >= 0 else len(data)]
    return " ".join(line.decode("utf-8", "replace").split())


Handler = Callable[[FileContext, Captures], None]


@dataclass(frozen=True, slots=True)
class Check:
    """One hook into the walk: query patterns and what to do with each match.

    `fact=True` hooks run before all checks, so a check can consult facts from anywhere in the
    file (an assignment after the literal it excuses). `imports` gates a hook to files that
    import one of those paths (a trailing `/` matches a path prefix). `finish` runs once per
    file after every match was handled.
    """

    patterns: str
    handle: Handler
    imports: tuple[str, ...] = ()
    fact: bool = False
    finish: Callable[[FileContext], None] | None = None

    def applies(self, imported: frozenset[str]) -> bool:
        if not self.imports:
            return True
        return any(
            (p in imported) if not p.endswith("/") else any(i.startswith(p) for i in imported)
            for p in self.imports
        )


# --- query and node helpers shared by the rule modules ---------------------------------------

# `pkg.Fn(args)`: captures @pkg (the package's local name), @fn, @args and @call.
PACKAGE_CALL = """(call_expression
  function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
  arguments: (argument_list) @args) @call"""


def package_call(*functions: str) -> str:
    """A query for calls `x.F(...)` with F one of `functions` (x resolved by the handler)."""
    names = " ".join(f'"{f}"' for f in functions)
    return f"(({PACKAGE_CALL}) (#any-of? @fn {names}))"


def string_value(node: Node | None, data: bytes) -> str | None:
    """The value of a Go string literal node (escapes left as written), else None."""
    if node is None or node.type not in STRING_TYPES:
        return None
    raw = data[node.start_byte + 1 : node.end_byte - 1]
    return raw.decode("utf-8", "replace")


def enclosing_function(node: Node) -> Node | None:
    """The top-level function or method declaration around a node (closures included)."""
    found = None
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            found = current
        current = current.parent
    return found


def scope_id(node: Node) -> int:
    """An id for the declaration a node sits in: its top-level function, else the file (0)."""
    function = enclosing_function(node)
    return function.id if function is not None else 0


def arguments(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    return list(args.named_children) if args is not None else []


def assigned_names(expression: Node) -> list[str]:
    """Names on the left of the assignment/declaration whose right side holds `expression`."""
    node = expression
    while node.parent is not None and node.parent.type in (
        "expression_list",
        "unary_expression",
        "parenthesized_expression",
    ):
        node = node.parent
    return left_names(node.parent) if node.parent is not None else []


def left_names(holder: Node) -> list[str]:
    """The names an assignment, short declaration or var/const spec assigns (fields by name)."""
    if holder.type in ("short_var_declaration", "assignment_statement"):
        left = holder.child_by_field_name("left")
        targets = left.named_children if left is not None else []
    elif holder.type in ("var_spec", "const_spec"):
        targets = holder.children_by_field_name("name")
    else:
        return []
    out = []
    for target in targets:
        if target.type == "selector_expression":
            target = target.child_by_field_name("field") or target
        if target.type in ("identifier", "field_identifier") and target.text:
            out.append(target.text.decode())
    return out


def identifier_words(name: str) -> set[str]:
    """`apiKeyV2` -> {"api", "key", "v2"}: camelCase and snake_case words, lower-cased."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return {w.lower() for w in re.split(r"[\s_\-.]+", spaced) if w}


# --- the engine ---------------------------------------------------------------------------------


def _const_names(ctx: FileContext, caps: Captures) -> None:
    for node in caps.get("name", ()):
        ctx.consts.add(ctx.text(node))


_CONSTS = Check("(const_spec name: (identifier) @name)", _const_names, fact=True)


class Engine:
    """Every check of every rule module, compiled into one Walk (build once per process)."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self.checks = (_CONSTS, *checks)
        self.walk: Walk[int] = Walk((i, c.patterns) for i, c in enumerate(self.checks))

    def analyse(self, source: SourceFile) -> list[Hit]:
        """The hits of one parsed file, suppressions applied (see suppression.py)."""
        names = source.package_names()
        imported = frozenset(imp.path for imp in source.imports)
        ctx = FileContext(source, names, imported)
        active = [c.applies(imported) for c in self.checks]
        later: list[tuple[Check, Captures]] = []
        for index, caps in self.walk.matches(source):
            if not active[index]:
                continue
            check = self.checks[index]
            if check.fact:
                check.handle(ctx, caps)
            else:
                later.append((check, caps))
        for check, caps in later:
            check.handle(ctx, caps)
        for i, check in enumerate(self.checks):
            if check.finish is not None and active[i]:
                check.finish(ctx)
        return apply_suppressions(source, ctx.hits)

    def analyse_bytes(self, path: str, data: bytes) -> tuple[list[Hit], SourceFile]:
        source = parse_file(path, data)
        return self.analyse(source), source


@cache
def default_engine() -> Engine:
    """The engine with every rule of the catalogue (one per process: tree-sitter objects)."""
    from . import credentials, crypto, exposure, injection

    return Engine((*credentials.CHECKS, *crypto.CHECKS, *injection.CHECKS, *exposure.CHECKS))
