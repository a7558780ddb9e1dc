"""GPS101: credentials written into the source (by the name they are stored under, or by format)."""

from __future__ import annotations

import itertools
import re

from ..source import Captures
from .engine import Check, FileContext, identifier_words, string_value

RULE = "GPS101"

_STRING = "[(interpreted_string_literal) (raw_string_literal)]"

# A name that holds a secret: one of these words, or one of these word pairs.
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
    }
)
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("access", "key"),
        ("secret", "key"),
        ("auth", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("client", "secret"),
        ("db", "pass"),
        ("admin", "pass"),
    }
)
# Words that make the name about a secret rather than the secret itself (`passwordEnv`).
_META_WORDS_TEXT = """
    type name names field header param params env var variable path file dir url uri prefix
    suffix pattern regex regexp re len length size count hash hashed label prompt msg message
    error err errs format fmt placeholder id ids endpoint policy mode kind flag flags template
    query column attr attribute mask hint desc description text title help usage example min
    max ttl timeout expiry expires location source store provider method scheme style class sep
    separator delim ref version key_name kind url_param cookie lifetime duration interval
    issuer audience algorithm alg
    """
_META_WORDS = frozenset(_META_WORDS_TEXT.split())

# Well-known credential formats, whatever the name: AWS access key ids, GitHub, Slack, Stripe
# and Google API tokens, PEM private keys.
KNOWN_FORMATS = (
    r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,}"
    r"|xox[baprs]-[0-9A-Za-z-]{10,}|sk_live_[0-9A-Za-z]{24,}|AIza[0-9A-Za-z_-]{35}"
    r"|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"
)
_KNOWN = re.compile(KNOWN_FORMATS)
_KNOWN_QUERY = KNOWN_FORMATS.replace("\\", "\\\\")


def secret_name(name: str) -> bool:
    """Does a variable, constant or field name say it holds a credential?"""
    words = identifier_words(name)
    if words & _META_WORDS:
        return False
    if words & _SECRET_WORDS:
        return True
    ordered = _ordered_words(name)
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(ordered))


def _ordered_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w.lower() for w in re.split(r"[\s_\-.]+", spaced) if w]


_ESCAPE = re.compile(r"\\(?:[uU][0-9a-fA-F]+|x[0-9a-fA-F]{2}|[0-7]{3}|.)")


def credential_value(value: str) -> bool:
    """Could this literal be a real credential (not empty, a message, a key name or a path)?"""
    if len(value) < 4 or any(c.isspace() for c in value) or "\\n" in value:
        return False
    visible = _ESCAPE.sub("", value)
    if not any(c.isascii() and c.isalnum() for c in visible):
        return False  # symbols or emoji (also as \u escapes): a display value, not a key
    if value[0] in "$%{<" or "%s" in value or "%v" in value or "{{" in value:
        return False  # a placeholder or template, filled in elsewhere
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
        return False  # an environment variable's name
    if value.startswith(("/", "./", "../", "~/")) or ("://" in value and "@" not in value):
        return False  # a path or a URL without userinfo
    normalised = re.sub(r"[^a-z]", "", value.lower())
    if _WORDS_ONLY.fullmatch(value) and any(
        w in normalised for w in _SECRET_WORDS | {"bearer", "basic", "pass", "key"}
    ):
        return False  # a key or header name such as "X-Api-Key" or "access_token"
    return value.lower() not in _PLACEHOLDERS


# Letters in words joined by - _ . (no digits): the shape of a key or header name.
_WORDS_ONLY = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*")
_PLACEHOLDERS = frozenset({"none", "null", "nil", "true", "false", "todo", "redacted", "unused"})


def _named(ctx: FileContext, caps: Captures) -> None:
    name_node, value_node = caps["name"][0], caps["value"][0]
    name = ctx.text(name_node)
    if name_node.type in STRING_NODES:
        name = string_value(name_node, ctx.source.data) or ""
    value = string_value(value_node, ctx.source.data) or ""
    if _KNOWN.search(value):
        return  # reported by the format check, once
    if secret_name(name) and credential_value(value):
        ctx.report(RULE, value_node, f"hard-coded credential in {name!r}")


def _known_format(ctx: FileContext, caps: Captures) -> None:
    node = caps["lit"][0]
    value = string_value(node, ctx.source.data) or ""
    match = _KNOWN.search(value)
    if match:
        what = "private key" if "PRIVATE KEY" in match.group(0) else "access token"
        ctx.report(RULE, node, f"hard-coded {what} ({match.group(0)[:8]}…)")


STRING_NODES = frozenset({"interpreted_string_literal", "raw_string_literal"})

CHECKS = (
    Check(
        f"""
        (const_spec name: (identifier) @name value: (expression_list . {_STRING} @value))
        (var_spec name: (identifier) @name value: (expression_list . {_STRING} @value))
        (short_var_declaration
          left: (expression_list . (identifier) @name) right: (expression_list . {_STRING} @value))
        (assignment_statement
          left: (expression_list . [(identifier) @name (selector_expression field: (_) @name)])
          right: (expression_list . {_STRING} @value))
        (keyed_element
          key: (literal_element [(identifier) (interpreted_string_literal)] @name)
          value: (literal_element {_STRING} @value))
        (binary_expression
          left: [(identifier) @name (selector_expression field: (_) @name)]
          operator: "=="
          right: {_STRING} @value)
        """,
        _named,
    ),
    Check(
        f"""
        (({_STRING} @lit) (#match? @lit "{_KNOWN_QUERY}"))
        """,
        _known_format,
    ),
)
