"""GPS110, GPS111, GPS113, GPS114, GPS116: servers, listeners, pprof, file modes, decompression."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..source import Captures
from .engine import (
    Check,
    FileContext,
    arguments,
    assigned_names,
    package_call,
    scope_id,
    string_value,
)

if TYPE_CHECKING:
    from tree_sitter import Node

NO_TIMEOUT_FUNCS = frozenset({"ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS"})
TIMEOUT_FIELDS = ("ReadHeaderTimeout", "ReadTimeout")


def _server_call(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) == "net/http":
        symbol = ctx.text(caps["fn"][0])
        ctx.report("GPS110", caps["call"][0], f"http.{symbol} serves without any timeout")


def _timeout_set(ctx: FileContext, caps: Captures) -> None:
    target = ctx.text(caps["obj"][0]).rsplit(".", 1)[-1]
    ctx.fact("timeout-set").add(target)


def _server_literal(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) != "net/http":
        return
    keys = set()
    for element in caps["body"][0].named_children:
        key = element.child_by_field_name("key") if element.type == "keyed_element" else None
        if key is not None:
            keys.add(ctx.text(key))
    if keys.intersection(TIMEOUT_FIELDS):
        return
    literal = caps["lit"][0]
    if set(assigned_names(literal)) & ctx.fact("timeout-set"):
        return  # srv := &http.Server{...}; srv.ReadHeaderTimeout = ...
    ctx.report("GPS110", literal, "http.Server without ReadHeaderTimeout or ReadTimeout")


# (import path, function) -> (argument index of the address)
LISTEN = {
    ("net", "Listen"): 1,
    ("net", "ListenPacket"): 1,
    ("crypto/tls", "Listen"): 1,
    ("net/http", "ListenAndServe"): 0,
    ("net/http", "ListenAndServeTLS"): 0,
}
_ALL_INTERFACES = re.compile(r"(?:0\.0\.0\.0|\[::\]|::)?:[0-9A-Za-z]*")


def _listen(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    symbol = ctx.text(caps["fn"][0])
    index = LISTEN.get((package or "", symbol))
    args = arguments(caps["call"][0])
    if index is None or len(args) <= index:
        return
    _check_address(ctx, args[index], f"{package}.{symbol}")


def _server_addr(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) == "net/http":
        _check_address(ctx, caps["v"][0], "http.Server")


def _check_address(ctx: FileContext, node: Node, where: str) -> None:
    address = string_value(node, ctx.source.data)
    if address is not None and _ALL_INTERFACES.fullmatch(address):
        ctx.report("GPS114", node, f"{where} listens on every interface ({address!r})")


def _pprof(ctx: FileContext) -> None:
    if ctx.source.is_test:
        return
    for imp in ctx.source.imports:
        if imp.path == "net/http/pprof":
            ctx.report_at(
                "GPS116", imp.line, imp.column, "net/http/pprof registers /debug/pprof/ handlers"
            )


# (import path, function) -> (argument index of the mode, the widest mode that is fine)
MODES = {
    ("os", "WriteFile"): (2, 0o600),
    ("io/ioutil", "WriteFile"): (2, 0o600),
    ("os", "OpenFile"): (2, 0o600),
    ("os", "Chmod"): (1, 0o600),
    ("os", "Mkdir"): (1, 0o750),
    ("os", "MkdirAll"): (1, 0o750),
}
_MODE_PERM = {("os", "ModePerm"), ("io/fs", "ModePerm")}


def _file_mode(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    symbol = ctx.text(caps["fn"][0])
    rule = MODES.get((package or "", symbol))
    args = arguments(caps["call"][0])
    if rule is None or len(args) <= rule[0]:
        return
    node = args[rule[0]]
    mode = _mode_value(ctx, node)
    if mode is not None and mode & 0o777 & ~rule[1]:
        ctx.report(
            "GPS111", node, f"{package}.{symbol} with mode 0{mode & 0o777:o} (at most 0{rule[1]:o})"
        )


def _mode_value(ctx: FileContext, node: Node) -> int | None:
    if node.type == "int_literal":
        text = ctx.text(node).replace("_", "")
        try:
            # Go reads a leading 0 as octal: 0644 == 0o644.
            if re.fullmatch(r"0[0-7]+", text):
                return int(text, 8)
            return int(text, 0)
        except ValueError:
            return None
    if node.type == "call_expression":  # os.FileMode(0644), fs.FileMode(0644)
        args = arguments(node)
        return _mode_value(ctx, args[0]) if len(args) == 1 else None
    if node.type == "selector_expression":
        operand = ctx.package_of(node.child_by_field_name("operand"))
        field = node.child_by_field_name("field")
        if field is not None and (operand or "", ctx.text(field)) in _MODE_PERM:
            return 0o777
    return None


DECOMPRESSORS = frozenset(
    {
        "compress/gzip",
        "compress/zlib",
        "compress/flate",
        "compress/bzip2",
        "compress/lzw",
        "github.com/klauspost/compress/gzip",
        "github.com/klauspost/compress/zlib",
        "github.com/klauspost/compress/flate",
        "github.com/klauspost/compress/zstd",
        "github.com/klauspost/compress/s2",
    }
)
# (import path, function) -> argument index of the reader
READ_ALL = {("io", "Copy"): 1, ("io", "CopyBuffer"): 1, ("io", "ReadAll"): 0}
READ_ALL[("io/ioutil", "ReadAll")] = 0


def _decompressor(ctx: FileContext, call: Node) -> bool:
    function = call.child_by_field_name("function")
    if call.type != "call_expression" or function is None:
        return False
    if function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    package = ctx.package_of(operand)
    symbol = ctx.text(field) if field is not None else ""
    if package in DECOMPRESSORS:
        return symbol.startswith("NewReader")
    # (*zip.File).Open() hands out the decompressed entry.
    return (
        package is None
        and symbol == "Open"
        and "archive/zip" in ctx.imported
        and not arguments(call)
    )


def _reader_made(ctx: FileContext, caps: Captures) -> None:
    call = caps["call"][0]
    if _decompressor(ctx, call):
        names = assigned_names(call)
        if names:
            ctx.fact("decompressed").add((scope_id(call), names[0]))


def _read_all(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    symbol = ctx.text(caps["fn"][0])
    index = READ_ALL.get((package or "", symbol))
    call = caps["call"][0]
    args = arguments(call)
    if index is None or len(args) <= index:
        return
    reader = args[index]
    unbounded = _decompressor(ctx, reader) or (
        reader.type == "identifier"
        and (scope_id(call), ctx.text(reader)) in ctx.fact("decompressed")
    )
    if unbounded:
        ctx.report(
            "GPS113", call, f"{package}.{symbol} reads decompressed {ctx.text(reader)} unbounded"
        )


_GATE_DECOMPRESS = (*sorted(DECOMPRESSORS), "archive/zip")

CHECKS = (
    Check(
        package_call(*sorted(NO_TIMEOUT_FUNCS)),
        _server_call,
        imports=("net/http",),
    ),
    Check(
        """
        ((assignment_statement
           left: (expression_list (selector_expression operand: (_) @obj field: (_) @k)))
         (#any-of? @k "ReadHeaderTimeout" "ReadTimeout"))
        """,
        _timeout_set,
        imports=("net/http",),
        fact=True,
    ),
    Check(
        """
        ((composite_literal
           type: (qualified_type package: (package_identifier) @pkg name: (type_identifier) @type)
           body: (literal_value) @body) @lit
         (#eq? @type "Server"))
        """,
        _server_literal,
        imports=("net/http",),
    ),
    Check(
        package_call("Listen", "ListenPacket", "ListenAndServe", "ListenAndServeTLS"),
        _listen,
        imports=("net", "crypto/tls", "net/http"),
    ),
    Check(
        """
        ((composite_literal
           type: (qualified_type package: (package_identifier) @pkg name: (type_identifier) @type)
           body: (literal_value
             (keyed_element
               key: (literal_element (identifier) @key)
               value: (literal_element (interpreted_string_literal) @v))))
         (#eq? @type "Server") (#eq? @key "Addr"))
        """,
        _server_addr,
        imports=("net/http",),
    ),
    Check("", lambda ctx, caps: None, imports=("net/http/pprof",), finish=_pprof),
    Check(
        package_call("WriteFile", "OpenFile", "Chmod", "Mkdir", "MkdirAll"),
        _file_mode,
        imports=("os", "io/ioutil"),
    ),
    Check(
        package_call("NewReader", "NewReaderDict", "Open"),
        _reader_made,
        imports=_GATE_DECOMPRESS,
        fact=True,
    ),
    Check(
        package_call("Copy", "CopyBuffer", "ReadAll"),
        _read_all,
        imports=_GATE_DECOMPRESS,
    ),
)
