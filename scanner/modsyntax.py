"""The line syntax shared by go.mod and go.work: tokens, lines, `verb (` blocks and comments.

This follows golang.org/x/mod/modfile's lexer and parser: a file is a list of lines; a line
holds tokens (identifiers, "quoted strings", punctuation) and may end in a `//` comment; a line
`verb (` opens a block that runs to a line starting with `)`. Comments on the lines just above a
statement, and the comment at its end, are kept because go.mod gives them meaning (`// indirect`,
retraction rationales, `Deprecated:` notices, `//go:license`).

The tokenizer works one physical line at a time: most lines are plain ASCII words and take a
`str.split`; the rest go through one anchored, backtracking-free regular expression.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .errors import ParseError
from .module import go_quote_rune

# Lines made only of printable ASCII without punctuation tokens or quotes (checked before any
# `//` comment): these split on blanks exactly as the lexer would tokenize them.
_PLAIN = re.compile(r"[\t\r !#-'*+\--Z\\^_a-z|~]*")

# One token at a position. The alternatives cannot overlap, so matching never backtracks more
# than one character. Identifiers stop before "//" (a comment) and "/*" (an error).
_TOKEN = re.compile(
    r"""
      (?P<blank>[ \t\r]+)
    | (?P<comment>//.*)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<punct>[()\[\]{},])
    | (?P<ident>(?:[^\s()\[\]{},/"`\x00-\x1f\x7f]|/(?![/*]))
               (?:[^\s()\[\]{},/\x00-\x1f\x7f]|/(?![/*]))*)
    """,
    re.VERBOSE | re.DOTALL,
)

_BOM_HINT = "a UTF-8 byte-order mark, which the go command rejects too: save the file without it"


@dataclass(frozen=True, slots=True)
class Comment:
    """A `//` comment: its text (from "//", without the line end) and its line."""

    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Line:
    """One statement: its tokens as written (quotes kept), where it starts, and its comments.

    `before` holds the comment lines directly above it (inside a block: every comment since the
    previous line of the block, with blank lines as comments of text ""); `suffix` the comment
    at its end, or None.
    """

    tokens: tuple[str, ...]
    line: int
    before: tuple[Comment, ...] = ()
    suffix: Comment | None = None


@dataclass(frozen=True, slots=True)
class Block:
    """`verb (` … `)`: the tokens before the parenthesis and the lines inside."""

    tokens: tuple[str, ...]
    line: int
    lines: tuple[Line, ...]
    before: tuple[Comment, ...] = ()


@dataclass(frozen=True, slots=True)
class FileSyntax:
    """A go.mod or go.work file as statements (top-level lines and blocks) plus every comment."""

    path: str
    statements: tuple[Line | Block, ...]
    comments: tuple[Comment, ...]


def decode(data: bytes | str) -> str:
    """UTF-8 text, each byte of an invalid sequence read as U+FFFD as Go's decoder does."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    view = memoryview(data)
    parts: list[str] = []
    pos = 0
    while pos < len(view):
        try:
            text, _ = codecs.utf_8_decode(view[pos:], "strict", True)
        except UnicodeDecodeError as e:
            good, _ = codecs.utf_8_decode(view[pos : pos + e.start], "strict", True)
            parts.append(good)
            parts.append("\ufffd" * (e.end - e.start))
            pos += e.end
        else:
            parts.append(text)
            break
    return "".join(parts)


def _lex_line(
    raw: str, lineno: int, ends_in_newline: bool, path: str
) -> tuple[list[str], str | None]:
    """The tokens of one physical line and its trailing comment text (or None)."""
    cut = raw.find("//")
    code = raw if cut < 0 else raw[:cut]
    if _PLAIN.fullmatch(code) is not None and "/*" not in code:
        comment = None
        if cut >= 0:
            comment = raw[cut:]
            if ends_in_newline and comment.endswith("\r"):
                comment = comment[:-1]
        return code.split(), comment
    return _lex_slow(raw, lineno, ends_in_newline, path)


def _lex_slow(
    raw: str, lineno: int, ends_in_newline: bool, path: str
) -> tuple[list[str], str | None]:
    tokens: list[str] = []
    pos = 0
    end = len(raw)
    while pos < end:
        m = _TOKEN.match(raw, pos)
        if m is None:
            raise ParseError(
                _lex_problem(raw, pos, ends_in_newline),
                path=path,
                line=lineno,
                hint=_BOM_HINT if raw[pos] == "\ufeff" else None,
            )
        kind = m.lastgroup
        text = m.group()
        if kind == "comment":
            # The lexer drops a comment's "\r\n" line end but keeps a lone "\r" at end of file.
            if ends_in_newline and text.endswith("\r"):
                text = text[:-1]
            return tokens, text
        if kind == "ident" and not text.isascii():
            for i, c in enumerate(text):
                if not c.isprintable():
                    raise ParseError(
                        f"unexpected input character {go_quote_rune(c)} at column {pos + i + 1}",
                        path=path,
                        line=lineno,
                        hint=_BOM_HINT if c == "\ufeff" else None,
                    )
        if kind != "blank":
            tokens.append(text)
        pos = m.end()
    return tokens, None


def _lex_problem(raw: str, pos: int, ends_in_newline: bool) -> str:
    c = raw[pos]
    at = f" at column {pos + 1}"
    if c in '"`':
        return (
            "unexpected newline in string" if ends_in_newline else "unexpected EOF in string"
        ) + at
    if raw.startswith("/*", pos):
        return "mod files must use // comments (not /* */ comments)" + at
    return f"unexpected input character {go_quote_rune(c)}" + at


def parse_syntax(data: bytes | str, path: str) -> FileSyntax:
    """Split a go.mod/go.work file into statements; raises ParseError(path, line) on bad syntax."""
    text = decode(data)
    raw_lines = text.split("\n")
    last = len(raw_lines) - 1
    statements: list[Line | Block] = []
    comments: list[Comment] = []
    pending: list[Comment] = []  # whole-line comments directly above the next statement
    block_tokens: tuple[str, ...] | None = None
    block_line = 0
    block_before: tuple[Comment, ...] = ()
    block_lines: list[Line] = []

    for index, raw in enumerate(raw_lines):
        lineno = index + 1
        tokens, comment_text = _lex_line(raw, lineno, index < last, path)
        comment = None if comment_text is None else Comment(comment_text, lineno)
        if comment is not None:
            comments.append(comment)
        if not tokens:
            if comment is not None:
                pending.append(comment)
            elif block_tokens is None:
                # A blank line at top level ends a comment paragraph: it no longer belongs to
                # the statement below it.
                pending = []
            elif (not pending and block_lines) or (pending and pending[-1].text):
                # Inside a block, comments carry across blank lines, and the blank line itself
                # is kept (as modfile does): a line after one no longer takes the block's comment.
                pending.append(Comment("", lineno))
            continue

        if block_tokens is not None:
            if tokens[0] == ")":
                if len(tokens) > 1:
                    raise ParseError(
                        "syntax error (expected newline after closing paren)",
                        path=path,
                        line=lineno,
                    )
                statements.append(Block(block_tokens, block_line, tuple(block_lines), block_before))
                block_tokens = None
                block_lines = []
                pending = []
                continue
            block_lines.append(Line(tuple(tokens), lineno, tuple(pending), comment))
            pending = []
            continue

        opened, line_tokens = _split_block_open(tokens)
        before = tuple(pending)
        pending = []
        if opened is None:
            statements.append(Line(tuple(line_tokens), lineno, before, comment))
        elif opened == "()":
            statements.append(Block(tuple(line_tokens), lineno, (), before))
        else:
            block_tokens = tuple(line_tokens)
            block_line = lineno
            block_before = before

    if block_tokens is not None:
        raise ParseError(
            f"syntax error (unterminated block started at {path}:{block_line})",
            path=path,
            line=len(raw_lines),
            hint="close the block with a line holding only ')'",
        )
    return FileSyntax(path, tuple(statements), tuple(comments))


def _split_block_open(tokens: list[str]) -> tuple[str | None, list[str]]:
    """("(", head) when the line opens a block, ("()", head) for an empty one, else (None, tokens).

    As in modfile, "(" opens a block only as the last token; "( )" in mid-line is two tokens.
    """
    out = [tokens[0]]
    n = len(tokens)
    i = 1
    while i < n:
        t = tokens[i]
        if t == "(":
            if i == n - 1:
                return "(", out
            if tokens[i + 1] == ")":
                if i + 1 == n - 1:
                    return "()", out
                out.extend(("(", ")"))
                i += 2
                continue
        out.append(t)
        i += 1
    return None, out


def unquote(token: str) -> str | None:
    """A token's string value (Go strconv.Unquote for "…"), or None when it is malformed.

    Unquoted tokens are returned as they are, unless they contain a quote character (modfile
    reserves those); back-quoted strings are not allowed in go.mod or go.work.
    """
    if not token.startswith('"'):
        if '"' in token or "'" in token or "`" in token:
            return None
        return token
    if len(token) < 2 or not token.endswith('"'):
        return None
    body = token[1:-1]
    if "\\" not in body:
        return None if '"' in body else body
    return _unescape_go(body)


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _unescape_go(body: str) -> str | None:
    # \x and octal escapes add raw bytes (which may not be UTF-8), so the value is built as bytes.
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            if c == '"':
                return None
            out += c.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= n:
            return None
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                return None
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            else:
                if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                    return None
                out += chr(value).encode("utf-8")
            i += 2 + width
        elif "0" <= e <= "7":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all("0" <= d <= "7" for d in digits):
                return None
            value = int(digits, 8)
            if value > 255:
                return None
            out.append(value)
            i += 4
        else:
            return None
    return decode(bytes(out))


def comment_text(comment: Comment) -> str:
    """The words of a comment: without the leading "//" and surrounding blanks."""
    return comment.text[2:].strip()
