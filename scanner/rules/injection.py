"""GPS102, GPS108, GPS109, GPS112, GPS115: commands, unsafe, SQL, archive paths and templates."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..source import Captures
from .engine import Check, FileContext, arguments, package_call, scope_id, string_value

if TYPE_CHECKING:
    from tree_sitter import Node

# (import path, function) -> index of the argument that names the program.
EXEC = {
    ("os/exec", "Command"): 0,
    ("os/exec", "CommandContext"): 1,
    ("os", "StartProcess"): 0,
    ("syscall", "Exec"): 0,
    ("syscall", "ForkExec"): 0,
}
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "cmd", "cmd.exe", "powershell", "pwsh"})
SHELL_FLAGS = frozenset({"-c", "/c", "/C", "-Command", "-command"})


def _exec(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    symbol = ctx.text(caps["fn"][0])
    index = EXEC.get((package or "", symbol))
    if index is None:
        return
    args = arguments(caps["call"][0])
    if len(args) <= index:
        return
    program = args[index]
    where = f"{package}.{symbol}"
    if program.type == "variadic_argument" or not ctx.is_constant(program):
        ctx.report("GPS102", program, f"{where} runs a program chosen at run time")
        return
    name = (string_value(program, ctx.source.data) or "").rsplit("/", 1)[-1]
    if name not in SHELLS:
        return
    rest = args[index + 1 :]
    for i, arg in enumerate(rest):
        if string_value(arg, ctx.source.data) in SHELL_FLAGS:
            script = rest[i + 1] if i + 1 < len(rest) else None
            if script is not None and not ctx.is_constant(script):
                ctx.report("GPS102", script, f"{where} runs a {name} script built at run time")
            return


UNSAFE_CALLS = frozenset({"Pointer", "Slice", "String", "StringData", "SliceData", "Add"})


def _unsafe(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) == "unsafe":
        ctx.report(
            "GPS108", caps["call"][0], f"unsafe.{ctx.text(caps['fn'][0])} bypasses type safety"
        )


# SQL as people write it: upper-case keywords, or lower-case with the statement's structure.
_SQL = re.compile(
    r"^\s*(?:SELECT\s.*\sFROM\s|INSERT\s+(?:OR\s+\w+\s+)?INTO\s|UPDATE\s+\S+\s+SET\s"
    r"|DELETE\s+FROM\s|REPLACE\s+INTO\s|UPSERT\s|MERGE\s+INTO\s|WITH\s+\w+\s+AS\s*\("
    r"|(?:CREATE|DROP|ALTER|TRUNCATE)\s+(?:TABLE|DATABASE|INDEX|VIEW|SCHEMA)\s"
    r"|(?i:select\s.*\sfrom\s+\S+\s+(?:where|order|group|limit|join)\s"
    r"|insert\s+into\s+\S+\s*(?:\(|values)|update\s+\S+\s+set\s+\S+\s*="
    r"|delete\s+from\s+\S+\s+where\s))",
    re.DOTALL,
)
SQL_START = (
    r'^["`]\s*(?i:select|insert|update|delete|replace|upsert|merge|with|create|drop|alter'
    r"|truncate)\s"
)
_SQL_START_QUERY = SQL_START.replace("\\", "\\\\").replace('"', '\\"')
# Conversions whose result cannot carry SQL syntax.
_SAFE_CALLS = frozenset(
    {"Itoa", "FormatInt", "FormatUint", "FormatFloat", "FormatBool", "QuoteIdentifier", "len"}
)
_STRING_VERB = re.compile(r"%[-+# 0-9.*\[\]]*[svqxXT]")


def _concat(ctx: FileContext, caps: Captures) -> None:
    node = caps["cat"][0]
    while node.parent is not None and _is_plus(node.parent):
        node = node.parent
    text, dynamic = _flatten(ctx, node)
    if dynamic and _SQL.match(text):
        ctx.report("GPS109", node, f"SQL built by concatenating {', '.join(dynamic[:3])}")


def _is_plus(node: Node) -> bool:
    if node.type != "binary_expression":
        return False
    operator = node.child_by_field_name("operator")
    return operator is not None and operator.type == "+"


def _flatten(ctx: FileContext, node: Node) -> tuple[str, list[str]]:
    """The concatenation's text with `?` for each run-time part, and those parts' source."""
    if _is_plus(node):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        lt, ld = _flatten(ctx, left) if left else ("", [])
        rt, rd = _flatten(ctx, right) if right else ("", [])
        return lt + rt, ld + rd
    value = string_value(node, ctx.source.data)
    if value is not None:
        return value, []
    if ctx.is_constant(node) or _safe_call(ctx, node):
        return "?", []
    return "?", [ctx.text(node)]


def _safe_call(ctx: FileContext, node: Node) -> bool:
    if node.type != "call_expression":
        return False
    function = node.child_by_field_name("function")
    if function is not None and function.type == "selector_expression":
        function = function.child_by_field_name("field")
    return function is not None and ctx.text(function) in _SAFE_CALLS


def _sprintf(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) != "fmt":
        return
    call = caps["call"][0]
    args = arguments(call)
    template = string_value(caps["fmt"][0], ctx.source.data) or ""
    dynamic = [ctx.text(a) for a in args[1:] if not ctx.is_constant(a)]
    if dynamic and _STRING_VERB.search(template) and _SQL.match(template):
        ctx.report("GPS109", call, f"SQL built with fmt.Sprintf from {', '.join(dynamic[:3])}")


ARCHIVES = ("archive/zip", "archive/tar")
_SANITIZERS = {
    ("path/filepath", "IsLocal"),
    ("path/filepath", "Rel"),
    ("path/filepath", "Localize"),
    ("strings", "HasPrefix"),
    ("strings", "Contains"),
}


def _sanitizer(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    if (package or "", ctx.text(caps["fn"][0])) in _SANITIZERS:
        ctx.fact("path-checked").add(scope_id(caps["call"][0]))


def _zip_slip(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    if package not in ("path/filepath", "path"):
        return
    call = caps["call"][0]
    if scope_id(call) in ctx.fact("path-checked"):
        return
    entry = caps["arg"][0]
    ctx.report("GPS112", entry, f"{ctx.text(entry)} joined into a path unchecked ({package}.Join)")


_HTML_TAG = re.compile(
    r"<(?:!doctype|html|head|body|div|span|script|a\s|p>|form|input|table|ul|li)", re.I
)
_HTML_FILE = re.compile(r"\.(?:html?|gohtml|xhtml)\b", re.I)


def _text_template(ctx: FileContext, caps: Captures) -> None:
    if "html/template" in ctx.imported:
        return  # both imported: the names cannot tell which package a Parse belongs to
    call = caps["call"][0]
    method = ctx.text(caps["fn"][0])
    values = [string_value(a, ctx.source.data) for a in arguments(call)]
    texts = [v for v in values if v is not None]
    if method == "Parse" and any(_HTML_TAG.search(t) for t in texts):
        ctx.report("GPS115", call, "text/template parses an HTML template: values go in unescaped")
    elif method != "Parse" and any(_HTML_FILE.search(t) for t in texts):
        ctx.report("GPS115", call, f"text/template {method} loads HTML files: no escaping")


def _text_template_http(ctx: FileContext) -> None:
    if "net/http" not in ctx.imported or "html/template" in ctx.imported:
        return
    if any(h.rule_id == "GPS115" for h in ctx.hits):
        return
    for imp in ctx.source.imports:
        if imp.path == "text/template":
            ctx.report_at(
                "GPS115", imp.line, imp.column, "text/template in a file that serves HTTP"
            )


CHECKS = (
    Check(
        package_call(*sorted({function for _, function in EXEC})),
        _exec,
        imports=("os/exec", "os", "syscall"),
    ),
    Check(
        package_call(*sorted(UNSAFE_CALLS)),
        _unsafe,
        imports=("unsafe",),
    ),
    Check(
        f"""
        ((binary_expression
           left: [(interpreted_string_literal) (raw_string_literal)] @lit operator: "+") @cat
         (#match? @lit "{_SQL_START_QUERY}"))
        """,
        _concat,
    ),
    Check(
        f"""
        ((call_expression
           function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
           arguments: (argument_list . [(interpreted_string_literal) (raw_string_literal)] @fmt)
         ) @call
         (#eq? @fn "Sprintf")
         (#match? @fmt "{_SQL_START_QUERY}"))
        """,
        _sprintf,
        imports=("fmt",),
    ),
    Check(
        package_call("IsLocal", "Rel", "Localize", "HasPrefix", "Contains"),
        _sanitizer,
        imports=ARCHIVES,
        fact=True,
    ),
    Check(
        """
        ((call_expression
           function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
           arguments: (argument_list (selector_expression field: (field_identifier) @name) @arg)
         ) @call
         (#eq? @fn "Join") (#eq? @name "Name"))
        """,
        _zip_slip,
        imports=ARCHIVES,
    ),
    Check(
        """
        ((call_expression
           function: (selector_expression field: (field_identifier) @fn)
           arguments: (argument_list)) @call
         (#any-of? @fn "Parse" "ParseFiles" "ParseGlob" "ParseFS"))
        """,
        _text_template,
        imports=("text/template",),
        finish=_text_template_http,
    ),
)
