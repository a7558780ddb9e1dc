"""`//goproxy-scan:ignore RULE reason` comments: which hits they suppress, and bad ones as hits."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..source import SourceFile
from .catalog import BY_ID, did_you_mean

MARKER = b"goproxy-scan:ignore"
INVALID_SUPPRESSION = "GPS100"

# `//goproxy-scan:ignore GPS101,GPS103 reason words`; the reason is everything after the ids.
# A space after a comma still separates ids: `GPS101, GPS103 why` suppressed GPS101 alone and
# read "GPS103 why" as the reason, so the GPS103 hit stayed with no word of the id's fate.
# Only a word with a digit is taken as an id after such a space ("GPS101, since…" has a reason).
_IDS = r"[A-Za-z0-9_,]+(?:(?:(?<=,)[ \t]+|[ \t]*,[ \t]*)[A-Za-z_]+[0-9][A-Za-z0-9_,]*)*"
_DIRECTIVE = re.compile(rf"//\s*goproxy-scan:ignore(?:[ \t]+({_IDS}))?(?:[ \t]+(.*))?$")


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding inside one file, before it knows its path (so it can be cached by content)."""

    rule_id: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    anchor: str  # the flagged line's text, whitespace-normalised: the fingerprint's input
    suppressed: bool = False
    suppression_reason: str = ""


@dataclass(frozen=True, slots=True)
class Suppression:
    line: int  # where the comment is
    rules: frozenset[str]
    reason: str
    own_line: bool  # the comment is alone on its line, so it covers the next line


def suppressions(source: SourceFile, hits: list[Hit]) -> list[Suppression]:
    """Every suppression comment of the file; malformed ones become GPS100 hits in `hits`."""
    data = source.data
    out: list[Suppression] = []
    start = data.find(MARKER)
    root = source.tree.root_node
    while start >= 0:
        node = root.descendant_for_byte_range(start, start)
        start_next = data.find(MARKER, start + len(MARKER))
        if node is None or node.type != "comment":
            start = start_next
            continue
        text = source.text(node)
        line = node.start_point[0] + 1
        match = _DIRECTIVE.match(text.rstrip())
        if match is None:
            # A comment that mentions the marker without starting with it is prose.
            start = start_next
            continue
        ids = frozenset(filter(None, (i.strip() for i in (match.group(1) or "").split(","))))
        reason = (match.group(2) or "").strip()
        unknown = sorted(i for i in ids if i not in BY_ID)
        problem = (
            "names no rule id"
            if not ids
            else f"names unknown rule {_unknown(unknown)}"
            if unknown
            else "gives no reason"
            if not reason
            else ""
        )
        if problem:
            hits.append(
                Hit(
                    rule_id=INVALID_SUPPRESSION,
                    line=line,
                    column=node.start_point[1] + 1,
                    end_line=node.end_point[0] + 1,
                    end_column=node.end_point[1] + 1,
                    message=f"suppression {problem}: it suppresses nothing "
                    "(write `//goproxy-scan:ignore GPSnnn why this is safe`)",
                    anchor=" ".join(text.split()),
                )
            )
        else:
            line_start = data.rfind(b"\n", 0, node.start_byte) + 1
            own_line = not data[line_start : node.start_byte].strip()
            out.append(Suppression(line, ids, reason, own_line))
        start = start_next
    return out


def _unknown(rule_ids: list[str]) -> str:
    """The unknown ids, each with the rule it is one slip from (GPS013: did you mean GPS103?)."""
    return ", ".join(f"{i} ({guess})" if (guess := did_you_mean(i)) else i for i in rule_ids)


def apply_suppressions(source: SourceFile, hits: list[Hit]) -> list[Hit]:
    """Mark hits covered by a valid suppression on their line or alone on the line before."""
    if MARKER not in source.data:
        return sorted(hits, key=_order)
    found = suppressions(source, hits)
    covering: dict[tuple[int, str], str] = {}
    for s in found:
        for rule in s.rules:
            covering[(s.line, rule)] = s.reason
            if s.own_line:
                covering.setdefault((s.line + 1, rule), s.reason)
    out = []
    for hit in hits:
        reason = covering.get((hit.line, hit.rule_id))
        if reason is not None and hit.rule_id != INVALID_SUPPRESSION:
            hit = replace(hit, suppressed=True, suppression_reason=reason)
        out.append(hit)
    return sorted(out, key=_order)


def _order(hit: Hit) -> tuple[int, int, str, str]:
    return (hit.line, hit.column, hit.rule_id, hit.message)
