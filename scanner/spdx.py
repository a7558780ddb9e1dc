"""SPDX license expressions through the license-expression library, and license categories."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar

import license_expression as le

from .errors import InputError


class Category(StrEnum):
    """The closed set of license categories a policy can allow or deny."""

    PERMISSIVE = "permissive"
    PUBLIC_DOMAIN = "public-domain"
    WEAK_COPYLEFT = "weak-copyleft"
    STRONG_COPYLEFT = "strong-copyleft"
    NETWORK_COPYLEFT = "network-copyleft"
    PROPRIETARY = "proprietary"
    UNKNOWN = "unknown"


class ExpressionError(InputError):
    """An SPDX expression that does not parse or names an id SPDX does not know."""


# scancode's categories (shipped with license-expression) mapped onto ours. Copyleft licenses
# whose obligations trigger on network use are listed by id below: scancode does not separate them.
_SCANCODE_CATEGORY: dict[str, Category] = {
    "Permissive": Category.PERMISSIVE,
    "Public Domain": Category.PUBLIC_DOMAIN,
    "Copyleft Limited": Category.WEAK_COPYLEFT,
    "Copyleft": Category.STRONG_COPYLEFT,
    "Proprietary Free": Category.PROPRIETARY,
    "Commercial": Category.PROPRIETARY,
    "Source-available": Category.PROPRIETARY,
    "Free Restricted": Category.PROPRIETARY,
}
_NETWORK_COPYLEFT = frozenset(
    {
        "AGPL-1.0",
        "AGPL-1.0-only",
        "AGPL-1.0-or-later",
        "AGPL-3.0",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "SSPL-1.0",
        "RPL-1.1",
        "RPL-1.5",
        "CPAL-1.0",
        "OSL-3.0",
    }
)
# Exceptions that let code link against a copyleft library without taking on its terms.
_LINKING_EXCEPTIONS = frozenset(
    {
        "Classpath-exception-2.0",
        "GCC-exception-2.0",
        "GCC-exception-3.1",
        "LLVM-exception",
        "GPL-3.0-linking-exception",
        "GPL-3.0-linking-source-exception",
        "LGPL-3.0-linking-exception",
        "Universal-FOSS-exception-1.0",
        "WxWindows-exception-3.1",
        "eCos-exception-2.0",
        "Font-exception-2.0",
        "Autoconf-exception-2.0",
        "Autoconf-exception-3.0",
        "Bison-exception-2.2",
        "Libtool-exception",
        "Qt-LGPL-exception-1.1",
        "OCaml-LGPL-linking-exception",
        "mif-exception",
    }
)
_RANK: dict[Category, int] = {
    Category.PUBLIC_DOMAIN: 0,
    Category.PERMISSIVE: 0,
    Category.WEAK_COPYLEFT: 1,
    Category.STRONG_COPYLEFT: 2,
}


@dataclass(frozen=True)
class Term:
    """One leaf of an expression: a license id, optionally `WITH` an exception id."""

    license_id: str
    exception: str | None = None

    def __str__(self) -> str:
        return f"{self.license_id} WITH {self.exception}" if self.exception else self.license_id


@functools.cache
def licensing() -> le.Licensing:
    """The SPDX licensing index (read-only, built once per process from packaged data)."""
    return le.get_spdx_licensing()


@functools.cache
def _categories() -> dict[str, Category]:
    data: list[dict[str, Any]] = json.loads(
        resources.files("license_expression")
        .joinpath("data", "scancode-licensedb-index.json")
        .read_text(encoding="utf-8")
    )
    table: dict[str, Category] = {}
    for entry in data:
        cat = _SCANCODE_CATEGORY.get(str(entry.get("category")), Category.UNKNOWN)
        for key in [entry.get("spdx_license_key"), *entry.get("other_spdx_license_keys", [])]:
            if key and not str(key).startswith("LicenseRef-"):
                table.setdefault(str(key).lower(), cat)
    for key in _NETWORK_COPYLEFT:
        table[key.lower()] = Category.NETWORK_COPYLEFT
    return table


def parse(text: str) -> le.LicenseExpression:
    """Parse and validate; known ids come back canonical (`gpl-2.0+` -> `GPL-2.0-or-later`).

    `LicenseRef-…` and `DocumentRef-…` ids are accepted as written; any other unknown id fails.
    """
    if not text or not text.strip():
        raise ExpressionError("empty SPDX expression", hint="write an id such as MIT")
    try:
        expr = licensing().parse(text, validate=False, strict=True)
    except le.ExpressionError as e:
        raise ExpressionError(f"invalid SPDX expression {text!r}: {e}") from e
    except Exception as e:  # boolean.py raises ParseError subclasses of Exception
        raise ExpressionError(f"invalid SPDX expression {text!r}: {e}") from e
    if expr is None:
        raise ExpressionError(f"empty SPDX expression {text!r}")
    unknown = [
        k
        for k in licensing().unknown_license_keys(expr)
        if not k.startswith(("LicenseRef-", "DocumentRef-"))
    ]
    if unknown:
        raise ExpressionError(
            f"unknown SPDX license id(s) {', '.join(sorted(unknown))} in {text!r}",
            hint="use an id from https://spdx.org/licenses/ or a LicenseRef-… id",
        )
    return expr


def normalize(text: str) -> str:
    """The canonical rendering of an expression (ids canonical, operators upper case)."""
    return str(parse(text).render())


def simplify(text: str) -> str:
    """Normalise and simplify (`MIT OR MIT` -> `MIT`; operands sorted)."""
    return str(parse(text).simplify().render())


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except ExpressionError:
        return False
    return True


def terms(text: str) -> tuple[Term, ...]:
    """Every leaf term of an expression, in order of first appearance, without repeats."""
    seen: dict[Term, None] = {}
    for sym in licensing().license_symbols(parse(text), decompose=False):
        seen.setdefault(_term(sym), None)
    return tuple(seen)


def combine_and(expressions: Iterable[str]) -> str:
    """The AND of several expressions, simplified; "" when there are none."""
    parts = sorted({normalize(e) for e in expressions if e})
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return simplify(" AND ".join(f"({p})" for p in parts))


def category(term: Term | str) -> Category:
    """The category of an id or term; an exception that permits linking weakens a copyleft."""
    if isinstance(term, str):
        found = terms(term)
        if len(found) != 1:
            raise ExpressionError(f"{term!r} is an expression, not a single license id")
        term = found[0]
    base = _categories().get(term.license_id.lower(), Category.UNKNOWN)
    if term.exception in _LINKING_EXCEPTIONS and base in (
        Category.STRONG_COPYLEFT,
        Category.WEAK_COPYLEFT,
    ):
        return Category.WEAK_COPYLEFT if _RANK[base] > 1 else Category.PERMISSIVE
    return base


T = TypeVar("T")


def evaluate(
    text: str,
    judge: Callable[[Term], T],
    best: Callable[[list[T]], T],
    worst: Callable[[list[T]], T],
) -> T:
    """Fold an expression: each term by `judge`, OR takes the `best`, AND the `worst`.

    `MIT OR GPL-3.0-only` is as good as its better half (the licensee chooses);
    `MIT AND GPL-3.0-only` is as bad as its worse half (both apply).
    """
    return _fold(parse(text), judge, best, worst)


def _fold(
    node: Any,
    judge: Callable[[Term], T],
    best: Callable[[list[T]], T],
    worst: Callable[[list[T]], T],
) -> T:
    if isinstance(node, le.LicenseSymbol | le.LicenseWithExceptionSymbol):
        return judge(_term(node))
    if isinstance(node, le.OR):
        return best([_fold(a, judge, best, worst) for a in node.args])
    if isinstance(node, le.AND):
        return worst([_fold(a, judge, best, worst) for a in node.args])
    raise ExpressionError(f"unexpected node {node!r} in an SPDX expression")


def _term(sym: Any) -> Term:
    if isinstance(sym, le.LicenseWithExceptionSymbol):
        return Term(str(sym.license_symbol.key), str(sym.exception_symbol.key))
    return Term(str(sym.key))
