"""GPS103–GPS107, GPS117: weak hashes and ciphers, math/rand secrets, TLS and SSH trust settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..source import Captures
from .engine import FUNCTION_TYPES, Check, FileContext, identifier_words, left_names

if TYPE_CHECKING:
    from tree_sitter import Node

WEAK = {
    ("crypto/md5", "New"): ("GPS103", "MD5"),
    ("crypto/md5", "Sum"): ("GPS103", "MD5"),
    ("crypto/sha1", "New"): ("GPS103", "SHA-1"),
    ("crypto/sha1", "Sum"): ("GPS103", "SHA-1"),
    ("crypto/des", "NewCipher"): ("GPS104", "DES"),
    ("crypto/des", "NewTripleDESCipher"): ("GPS104", "3DES"),
    ("crypto/rc4", "NewCipher"): ("GPS104", "RC4"),
}


def _weak(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    symbol = ctx.text(caps["fn"][0])
    found = WEAK.get((package or "", symbol))
    if found:
        rule, algorithm = found
        kind = "hash" if rule == "GPS103" else "cipher"
        ctx.report(rule, caps["sel"][0], f"weak {kind} {algorithm} ({package}.{symbol})")


# Words in nearby names that say a random value is meant to be unguessable.
_SECRET_WORDS_TEXT = """
    token secret password passwd pwd passphrase nonce salt key otp csrf session sessionid
    apikey iv auth credential credentials cookie
    """
SECRET_WORDS = frozenset(_SECRET_WORDS_TEXT.split())
MATH_RAND = ("math/rand", "math/rand/v2")


def _math_rand(ctx: FileContext, caps: Captures) -> None:
    package = ctx.package_of(caps["pkg"][0])
    if package not in MATH_RAND:
        return
    symbol = ctx.text(caps["fn"][0])
    call = caps["call"][0]
    if symbol == "Read":
        ctx.report("GPS105", call, f"{package}.Read fills bytes from a predictable generator")
        return
    names = _context_names(call)
    hint = next((n for n in names if identifier_words(n) & SECRET_WORDS), None)
    if hint is not None:
        ctx.report("GPS105", call, f"{package}.{symbol} used for {hint!r}: it is predictable")


def _context_names(node: Node) -> list[str]:
    """Names around a call: what it is assigned to, the keyed field, the enclosing functions."""
    names: list[str] = []
    current = node.parent
    while current is not None:
        if current.type == "keyed_element":
            key = current.child_by_field_name("key")
            if key is not None and key.text:
                names.append(key.text.decode())
        elif current.type in FUNCTION_TYPES:
            name = current.child_by_field_name("name")
            if name is not None and name.text:
                names.append(name.text.decode())
        else:
            names.extend(left_names(current))
        current = current.parent
    return names


def _skip_verify(ctx: FileContext, caps: Captures) -> None:
    ctx.report("GPS106", caps["at"][0], "InsecureSkipVerify: true turns off certificate checks")


_OLD_TLS = {"VersionSSL30": "SSL 3.0", "VersionTLS10": "TLS 1.0", "VersionTLS11": "TLS 1.1"}
_OLD_TLS_NUMBERS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1"}


def _tls_version(ctx: FileContext, caps: Captures) -> None:
    value = caps["v"][0]
    which = ctx.text(caps["k"][0])
    old = None
    if value.type == "selector_expression":
        field = value.child_by_field_name("field")
        if ctx.package_of(value.child_by_field_name("operand")) == "crypto/tls" and field:
            old = _OLD_TLS.get(ctx.text(field))
    elif value.type == "int_literal":
        try:
            old = _OLD_TLS_NUMBERS.get(int(ctx.text(value).replace("_", ""), 0))
        except ValueError:
            old = None
    if old:
        ctx.report("GPS107", value, f"{which} allows {old}")


def _ssh_ignore(ctx: FileContext, caps: Captures) -> None:
    if ctx.package_of(caps["pkg"][0]) == "golang.org/x/crypto/ssh":
        ctx.report("GPS117", caps["sel"][0], "ssh.InsecureIgnoreHostKey accepts any server")


def _ssh_callback(ctx: FileContext, caps: Captures) -> None:
    body = caps["body"][0]
    if " ".join(ctx.text(body).split()) in ("{ return nil }", "{return nil}"):
        ctx.report("GPS117", caps["at"][0], "HostKeyCallback accepts every host key")


_SELECTOR = "(selector_expression operand: (identifier) @pkg field: (field_identifier) @fn) @sel"

CHECKS = (
    Check(
        f'(({_SELECTOR}) (#any-of? @fn "New" "Sum" "NewCipher" "NewTripleDESCipher"))',
        _weak,
        imports=tuple(sorted({p for p, _ in WEAK})),
    ),
    Check(
        """
        ((call_expression
           function: (selector_expression operand: (identifier) @pkg field: (field_identifier) @fn)
         ) @call
         (#any-of? @fn "Int" "Intn" "Int31" "Int31n" "Int63" "Int63n" "Uint32" "Uint64" "Read"
            "Perm" "N" "IntN" "Int32" "Int32N" "Int64" "Int64N" "Uint" "UintN" "Uint32N"
            "Uint64N" "Float64" "Float32"))
        """,
        _math_rand,
        imports=MATH_RAND,
    ),
    Check(
        """
        ((keyed_element key: (literal_element (identifier) @k) value: (literal_element (true))) @at
         (#eq? @k "InsecureSkipVerify"))
        ((assignment_statement
           left: (expression_list (selector_expression field: (field_identifier) @k))
           right: (expression_list (true))) @at
         (#eq? @k "InsecureSkipVerify"))
        """,
        _skip_verify,
    ),
    Check(
        """
        ((keyed_element key: (literal_element (identifier) @k) value: (literal_element (_) @v))
         (#any-of? @k "MinVersion" "MaxVersion"))
        ((assignment_statement
           left: (expression_list (selector_expression field: (field_identifier) @k))
           right: (expression_list (_) @v))
         (#any-of? @k "MinVersion" "MaxVersion"))
        """,
        _tls_version,
        imports=("crypto/tls",),
    ),
    Check(
        f'(({_SELECTOR}) (#eq? @fn "InsecureIgnoreHostKey"))',
        _ssh_ignore,
        imports=("golang.org/x/crypto/ssh",),
    ),
    Check(
        """
        ((keyed_element
           key: (literal_element (identifier) @k)
           value: (literal_element (func_literal body: (block) @body))) @at
         (#eq? @k "HostKeyCallback"))
        """,
        _ssh_callback,
        imports=("golang.org/x/crypto/ssh",),
    ),
)
