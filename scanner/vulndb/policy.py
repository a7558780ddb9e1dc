"""The vulnerability part of the policy and its evaluation, a pure function of its inputs.

The YAML section (under `vulnerabilities:` of the policy file):

    fail_on: called        # lowest reachability that fails: called | imported | required | never
    deny: [GO-2020-0001, CVE-2020-36567]   # fail on these ids or aliases at any reachability
    exceptions:
      - id: GO-2022-0969   # or an alias
        module: stdlib     # optional: only for this module path
        reason: "not exposed: internal tool, fix scheduled in PLAT-123"
        expires: 2026-12-31  # optional; the exception stops applying after this day (UTC)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import yaml

from ..errors import InputError
from ..policy import Policy
from ..policy.model import expires_at, line_of
from .match import VulnMatch
from .osv import STDLIB, TOOLCHAIN
from .reach import BuildReach, Reach, Reachability, ReachableMatch


@dataclass(frozen=True, slots=True)
class VulnException:
    """Accept one vulnerability (by id or alias), optionally for one module, until `expires`."""

    id: str
    reason: str
    expires: date | None = None
    module: str = ""

    def covers(self, match: VulnMatch) -> bool:
        return (self.id == match.id or self.id in match.aliases) and (
            not self.module or self.module == match.module
        )

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now.date() > self.expires


@dataclass(frozen=True, slots=True)
class VulnPolicy:
    """`fail_on` None never fails by reachability (deny-listed ids still fail)."""

    fail_on: Reachability | None = Reachability.CALLED
    deny: frozenset[str] = frozenset()
    exceptions: tuple[VulnException, ...] = ()

    @classmethod
    def from_mapping(
        cls, data: Any, where: str = "vulnerabilities", root: yaml.Node | None = None
    ) -> VulnPolicy:
        """From the decoded YAML section; errors name `where` (e.g. ".goproxy-scan.yml"), and
        the line of the value in `root`, the node tree of the whole policy file, when it is
        given (`where:LINE: key: what`)."""
        at = _Section(root)
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InputError("'vulnerabilities' must be a mapping", path=where, line=at.line([]))
        unknown = set(data) - {"fail_on", "deny", "exceptions"}
        if unknown:
            bad = sorted(unknown)[0]
            raise InputError(
                f"unknown key vulnerabilities.{bad}",
                path=where,
                line=at.line([], bad),
                hint="use fail_on, deny, exceptions",
            )
        raw_level = str(data.get("fail_on", "called")).lower()
        fail_on: Reachability | None
        if raw_level == "never":
            fail_on = None
        else:
            try:
                fail_on = Reachability(raw_level)
            except ValueError:
                raise InputError(
                    f"vulnerabilities.fail_on: unknown level {raw_level!r}",
                    path=where,
                    line=at.line(["fail_on"]),
                    hint="use called, imported, required or never",
                ) from None
        deny = data.get("deny") or []
        if not isinstance(deny, list) or not all(isinstance(d, str) for d in deny):
            raise InputError(
                "vulnerabilities.deny must be a list of ids", path=where, line=at.line(["deny"])
            )
        exceptions = [
            _exception(raw, i, where, at) for i, raw in enumerate(data.get("exceptions") or [])
        ]
        return cls(fail_on, frozenset(deny), tuple(exceptions))

    def to_json(self) -> dict[str, Any]:
        """The normalised form (sorted), for the policy digest."""
        return {
            "fail_on": self.fail_on.value if self.fail_on else "never",
            "deny": sorted(self.deny),
            "exceptions": [
                {
                    "id": e.id,
                    "module": e.module,
                    "reason": e.reason,
                    "expires": e.expires.isoformat() if e.expires else None,
                }
                for e in sorted(self.exceptions, key=lambda e: (e.id, e.module))
            ],
        }


def vuln_policy(policy: Policy) -> VulnPolicy:
    """The `vulnerabilities:` section of a loaded policy file (defaults when it has none); an
    error names the file and the line of the value, as the license section's do."""
    return VulnPolicy.from_mapping(policy.section("vulnerabilities"), policy.source, policy.root)


@dataclass(frozen=True, slots=True)
class _Section:
    """Where a value of the `vulnerabilities:` section is in the policy file's node tree, as
    parsed (scanner.policy.model keeps it on the Policy). No tree (a built-in policy, a section
    given as a mapping): no line."""

    root: yaml.Node | None

    def line(self, keys: list[str | int], bad_key: str | None = None) -> int | None:
        """The line of `vulnerabilities.KEYS` (or of the key `bad_key` inside it)."""
        return line_of(self.root, ["vulnerabilities", *keys], bad_key)


def _exception(raw: Any, i: int, where: str, at: _Section) -> VulnException:
    key = f"vulnerabilities.exceptions[{i}]"
    keys: list[str | int] = ["exceptions", i]
    if not isinstance(raw, Mapping):
        raise InputError(f"{key} must be a mapping", path=where, line=at.line(keys))
    unknown = set(raw) - {"id", "module", "reason", "expires"}
    if unknown:
        bad = sorted(unknown)[0]
        raise InputError(f"unknown key {key}.{bad}", path=where, line=at.line(keys, bad))
    ident, reason = raw.get("id"), raw.get("reason")
    if not isinstance(ident, str) or not ident:
        raise InputError(
            f"{key} needs an id (GO-…, CVE-… or GHSA-…)",
            path=where,
            line=at.line([*keys, "id"] if "id" in raw else keys),
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(
            f"{key} ({ident}) needs a reason",
            path=where,
            line=at.line([*keys, "reason"] if "reason" in raw else keys),
        )
    expires_keys: list[str | int] = ["vulnerabilities", *keys, "expires"]
    try:
        expires = expires_at(at.root, expires_keys, raw.get("expires"), f"{key}.expires")
    except InputError as e:
        raise InputError(
            e.message, path=where, line=at.line([*keys, "expires"]), hint=e.hint
        ) from None
    module = raw.get("module") or ""
    if not isinstance(module, str):
        raise InputError(
            f"{key}.module must be a module path", path=where, line=at.line([*keys, "module"])
        )
    return VulnException(ident, reason.strip(), expires, module)


class VulnOutcome(enum.StrEnum):
    FAIL = "fail"
    PASS = "pass"  # reported, below the failing level
    EXCEPTED = "excepted"


@dataclass(frozen=True, slots=True)
class VulnFinding:
    """What the policy says about one vulnerable module version, with a fix hint.

    `rule_id` is stable for scripts and SARIF: `vuln-denied`, `vuln-called`, `vuln-imported`,
    `vuln-required` (the level that made it fail or be reported), `vuln-excepted`.
    """

    match: VulnMatch
    reach: Reach
    outcome: VulnOutcome
    rule_id: str
    reason: str
    fix_hint: str
    exception: VulnException | None = None

    @property
    def fails(self) -> bool:
        return self.outcome is VulnOutcome.FAIL


def fix_hint(match: VulnMatch) -> str:
    """The upgrade that leaves the affected range, in the go command's words."""
    if not match.fixed:
        return f"no fixed version of {match.module} is known yet; see {match.url or match.id}"
    if match.module in (STDLIB, TOOLCHAIN):
        return f"build with Go go{match.fixed.removeprefix('v')} or later (go.mod toolchain line)"
    return f"go get {match.module}@{match.fixed}"


def _describe(match: VulnMatch, reach: Reach) -> str:
    what = f"{match.module}@{match.version} has {match.id}"
    if match.aliases:
        what += f" ({', '.join(match.aliases)})"
    if match.summary:
        what += f": {match.summary}"
    if reach.level is Reachability.CALLED:
        first = reach.sites[0]
        return f"{what}; {', '.join(reach.symbols)} called at {first.path}:{first.line}"
    if reach.level is Reachability.IMPORTED:
        first = reach.sites[0]
        what = f"{what}; vulnerable package imported at {first.path}:{first.line}, not called"
    else:
        what = f"{what}; required only, no vulnerable package imported"
    if reach.build is BuildReach.CALLED:
        # The main module does not call it, a package it compiles does: VEX says affected.
        what += f" by the main module, but called in the build: {reach.build_note}"
    return what


def evaluate_vulns(
    policy: VulnPolicy, matches: Iterable[ReachableMatch], now: datetime
) -> list[VulnFinding]:
    """One finding per match, in the order given: fail, pass (reported) or excepted."""
    out = []
    for rm in matches:
        match, reach = rm.match, rm.reach
        text = _describe(match, reach)
        denied = match.id in policy.deny or any(a in policy.deny for a in match.aliases)
        by_level = policy.fail_on is not None and reach.level.rank >= policy.fail_on.rank
        rule = "vuln-denied" if denied else f"vuln-{reach.level.value}"
        hint = fix_hint(match)
        if not (denied or by_level):
            out.append(VulnFinding(match, reach, VulnOutcome.PASS, rule, text, hint))
            continue
        covering = [e for e in policy.exceptions if e.covers(match)]
        live = [e for e in covering if not e.expired(now)]
        if live:
            e = live[0]
            until = f" until {e.expires.isoformat()}" if e.expires else ""
            reason = f"{text}; excepted{until}: {e.reason}"
            out.append(
                VulnFinding(match, reach, VulnOutcome.EXCEPTED, "vuln-excepted", reason, hint, e)
            )
            continue
        why = "denied by id" if denied else f"policy fails on {policy.fail_on} or closer"
        reason = f"{text} ({why})"
        if covering:
            expired = covering[0].expires
            reason += f"; the exception expired on {expired.isoformat() if expired else '?'}"
        out.append(VulnFinding(match, reach, VulnOutcome.FAIL, rule, reason, hint, None))
    return out
