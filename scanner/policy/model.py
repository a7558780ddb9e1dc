"""The policy file: load, validate against the shipped JSON Schema, normalise, digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .. import spdx
from ..errors import InputError, ParseError, utf8_problem, yaml_problem
from ..yamlfile import safe_load
from .selectors import VersionRange, module_matches


class Action(StrEnum):
    """What a rule does to a module: the verdict it pushes towards."""

    ALLOW = "allow"
    REVIEW = "review"
    REJECT = "reject"


@dataclass(frozen=True)
class LicenseRules:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    not_listed: Action = Action.REVIEW
    unknown: Action = Action.REVIEW
    no_license: Action = Action.REJECT
    min_confidence: float = 0.9
    low_confidence: Action = Action.REVIEW
    declared_mismatch: Action = Action.REVIEW


@dataclass(frozen=True)
class LicenseException:
    """Accept a module (optionally only some versions, only one license) until `expires`."""

    module: str
    reason: str
    approver: str
    versions: VersionRange = field(default_factory=lambda: VersionRange(()))
    license: str | None = None  # normalised SPDX expression; None: any license
    expires: date | None = None

    def covers(self, module: str, version: str) -> bool:
        return module_matches(self.module, module) and self.versions.contains(version)

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now.date() > self.expires

    def describe(self) -> str:
        what = f"{self.module}"
        if self.versions.constraints:
            what += f" {self.versions}"
        if self.license:
            what += f" ({self.license})"
        until = f", until {self.expires.isoformat()}" if self.expires else ""
        return f"{what}: {self.reason} (approved by {self.approver}{until})"


@dataclass(frozen=True)
class DeniedModule:
    module: str
    reason: str
    versions: VersionRange = field(default_factory=lambda: VersionRange(()))

    def covers(self, module: str, version: str) -> bool:
        return module_matches(self.module, module) and self.versions.contains(version)


@dataclass(frozen=True)
class SourceRules:
    fail_on: str = "high"
    severities: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Policy:
    """One policy, the same for the proxy's auditor and the CI scanner.

    `digest` is `sha256:` of the canonical JSON of the normalised policy, so two files that
    say the same thing (different order, spelling of ids, comments) have the same digest.
    `sections` keeps the parts other pieces own (`vulnerabilities:`, `scan:`) as decoded, and
    `root` the YAML node tree the policy was parsed from (None: not parsed from a file), so
    those pieces name the line of a value they refuse from the text that was read.
    """

    licenses: LicenseRules = LicenseRules()
    exceptions: tuple[LicenseException, ...] = ()
    denied_modules: tuple[DeniedModule, ...] = ()
    source_rules: SourceRules = SourceRules()
    name: str = ""
    source: str = "<built-in>"
    sections: tuple[tuple[str, Any], ...] = field(default=(), compare=False)
    root: yaml.Node | None = field(default=None, compare=False, repr=False)

    def section(self, key: str) -> Any:
        return dict(self.sections).get(key)

    def normalized(self) -> dict[str, Any]:
        lic = self.licenses
        return {
            "version": 1,
            "licenses": {
                "allow": sorted(lic.allow),
                "deny": sorted(lic.deny),
                "not_listed": lic.not_listed.value,
                "unknown": lic.unknown.value,
                "no_license": lic.no_license.value,
                "min_confidence": lic.min_confidence,
                "low_confidence": lic.low_confidence.value,
                "declared_mismatch": lic.declared_mismatch.value,
            },
            "exceptions": sorted(
                (
                    {
                        "module": e.module,
                        "versions": str(e.versions),
                        "license": e.license,
                        "reason": e.reason,
                        "approver": e.approver,
                        "expires": e.expires.isoformat() if e.expires else None,
                    }
                    for e in self.exceptions
                ),
                key=lambda d: json.dumps(d, sort_keys=True),
            ),
            "denied_modules": sorted(
                (
                    {"module": d.module, "versions": str(d.versions), "reason": d.reason}
                    for d in self.denied_modules
                ),
                key=lambda d: json.dumps(d, sort_keys=True),
            ),
            "source_rules": {
                "fail_on": self.source_rules.fail_on,
                "severities": dict(sorted(self.source_rules.severities)),
            },
            "vulnerabilities": self.section("vulnerabilities"),
        }

    @property
    def digest(self) -> str:
        canonical = json.dumps(
            self.normalized(), sort_keys=True, separators=(",", ":"), default=str
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# --- loading ----------------------------------------------------------------------------------


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("policy.schema.json").read_text("utf-8")
    )
    return data


def _node_at(node: yaml.Node, path: list[str | int]) -> tuple[yaml.Node, bool]:
    """The YAML node at a JSON path, or the deepest one on it; and whether it is the one."""
    for step in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            nxt = node.value[step] if step < len(node.value) else None
        else:
            nxt = None
        if nxt is None:
            return node, False
        node = nxt
    return node, True


def line_of(node: yaml.Node | None, path: list[str | int], bad_key: str | None) -> int | None:
    """The 1-based line of the YAML node at a JSON path (or of `bad_key` inside it)."""
    if node is None:
        return None
    node, _found = _node_at(node, path)
    if bad_key is not None and isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if k.value == bad_key:
                return int(k.start_mark.line) + 1
    return int(node.start_mark.line) + 1


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """A policy from YAML text; errors name `source`, the line and the key."""
    try:
        root = yaml.compose(text)
        # An impossible date (`expires: 2027-13-01`) stays text, for `_build` to refuse by key.
        data = safe_load(text, bad_dates_as_text=True)
    except yaml.YAMLError as e:
        problem, line = yaml_problem(e)
        raise ParseError(f"not valid YAML: {problem}", path=source, line=line) from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParseError("a policy is a YAML mapping", path=source, line=1)
    try:
        data = _dates_to_text(data)
    except RecursionError:  # an alias inside its own anchor (`a: &x {b: *x}`): a cycle
        raise ParseError(
            "a YAML alias refers to the node that holds it (the policy would be endless)",
            path=source,
            hint="write the repeated part out, or anchor a node outside the one that uses it",
        ) from None
    if not _conforms(data):
        _schema_error(data, root, source)
    if not any(_says_something(v) for k, v in data.items() if k not in {"version", "name"}):
        # Every module would be REVIEW_REQUIRED (nothing allowed): almost surely the wrong
        # file, or one emptied by mistake, not a policy anyone meant.
        raise ParseError(
            "the policy has no rules",
            path=source,
            hint="say at least which licenses to allow and deny, e.g. `licenses: {allow: "
            "[permissive], deny: [strong-copyleft]}`, or start from `goproxy-scan policy "
            "default`",
        )
    try:
        policy = _build(data, source, root)
    except InputError as e:
        if e.path is None:
            raise ParseError(e.message, path=source, hint=e.hint) from e
        raise
    _check_allow_deny(policy.licenses, root, source)
    _check_rule_ids(policy.source_rules, root, source)
    return policy


def _says_something(value: Any) -> bool:
    """Is there a setting in this value (not only empty mappings, lists and nulls)?"""
    if isinstance(value, dict):
        return any(_says_something(v) for v in value.values())
    if isinstance(value, list):
        return bool(value)
    return value is not None


def _check_allow_deny(rules: LicenseRules, root: yaml.Node | None, source: str) -> None:
    """A license both allowed and denied is refused: evaluation would let allow win silently,
    so a deny someone added (or an allow left behind) would not mean what it says."""
    denied = {entry: j for j, entry in enumerate(rules.deny)}
    for i, entry in enumerate(rules.allow):
        j = denied.get(entry)
        if j is None:
            continue
        allow_line = line_of(root, ["licenses", "allow", i], None)
        deny_line = line_of(root, ["licenses", "deny", j], None)
        raise ParseError(
            f"{entry} is both allowed ({source}:{allow_line}) and denied ({source}:{deny_line})",
            path=source,
            line=max(allow_line or 0, deny_line or 0) or None,
            hint="a license is allowed or denied, not both: remove it from one of the lists",
        )


def _check_rule_ids(rules: SourceRules, root: yaml.Node | None, source: str) -> None:
    """A severity for an id no rule has is refused: it would change nothing, so the rule
    meant (GPS013 typed for GPS103) would go on failing or passing as before, unnoticed."""
    if not rules.severities:
        return
    # Imported here: the catalogue is only needed when a policy names rule ids.
    from ..rules.catalog import BY_ID, unknown_rule_hint

    for rule_id, _level in rules.severities:
        if rule_id not in BY_ID:
            raise ParseError(
                f"source_rules.severities: {rule_id!r} is not a source rule id",
                path=source,
                line=line_of(root, ["source_rules", "severities"], rule_id),
                hint=unknown_rule_hint(str(rule_id)),
            )


@cache
def _fast_validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema(), validate_formats=False)


def _conforms(data: dict[str, Any]) -> bool:
    """Does the policy pass its schema? jsonschema-rs answers in microseconds.

    The pure-Python jsonschema costs a tenth of a second to import alone (every scan loads a
    policy), so it is imported only to word the error of a policy that does not conform.
    """
    try:
        return bool(_fast_validator().is_valid(data))
    except (TypeError, ValueError):  # a YAML value JSON has no type for (a set, bytes)
        return False


def _schema_error(data: dict[str, Any], root: yaml.Node | None, source: str) -> None:
    """Raise the ParseError for the first schema violation: the key, its line, what is wrong."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        bad_key = None
        if err.validator == "additionalProperties":
            extra = set(err.instance) - set(err.schema.get("properties", {}))
            bad_key = sorted(extra)[0] if extra else None
        key = ".".join(str(p) for p in [*path, *([bad_key] if bad_key else [])]) or "(top)"
        what = f"unknown key {key!r}" if bad_key else f"{key}: {err.message}"
        raise ParseError(
            what,
            path=source,
            line=line_of(root, path, bad_key),
            hint="see `goproxy-scan policy check --help` and the default policy",
        )


def _dates_to_text(value: Any) -> Any:
    """YAML reads `2027-06-30` as a date; the schema and our parser take ISO text."""
    if isinstance(value, dict):
        return {k: _dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return value


def license_entry(entry: str, where: str) -> str:
    """A category name as written, else the normalised SPDX id or `ID WITH exception`."""
    if entry in {c.value for c in spdx.Category}:
        return entry
    try:
        return spdx.normalize(entry)
    except spdx.ExpressionError as e:
        raise InputError(f"{where}: {e.message}", hint=e.hint) from e


_T = TypeVar("_T")


def as_written(root: yaml.Node | None, keys: list[str | int], value: Any) -> str:
    """A value for a message as the file has it: a plain scalar bare (`2027-13-01`), else
    quoted (`'2027-06-31'`: a quoted one, or text that would vanish bare)."""
    if root is not None:
        node, found = _node_at(root, keys)
        if found and isinstance(node, yaml.ScalarNode) and node.style is None and node.value:
            return str(node.value)
    return repr(value)


def expires_at(
    root: yaml.Node | None, keys: list[str | int], value: Any, where: str
) -> date | None:
    """The day an exception's `expires` names (None: it has none), from ISO text or the date
    YAML made of it. An InputError without a path says `where` and the value as `root` has
    it at `keys`; the caller adds the file and line."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise InputError(f"{where} must be a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        shown = as_written(root, keys, value)
        raise InputError(f"{where}: {shown} is not a date", hint="use YYYY-MM-DD") from e


def _build(data: dict[str, Any], source: str, root: yaml.Node | None = None) -> Policy:
    """The Policy of a decoded file that passed the schema. A value error is a ParseError at
    the value's line in `root` (the file composed), so it reads `FILE:LINE: key: what`."""

    def at(keys: list[str | int], read: Callable[..., _T], *args: Any) -> _T:
        try:
            return read(*args)
        except InputError as e:
            if e.path is not None:
                raise
            line = line_of(root, keys, None)
            raise ParseError(e.message, path=source, line=line, hint=e.hint) from e

    lic = data.get("licenses") or {}
    rules = LicenseRules(
        allow=tuple(
            at(["licenses", "allow", i], license_entry, x, "licenses.allow")
            for i, x in enumerate(lic.get("allow", ()))
        ),
        deny=tuple(
            at(["licenses", "deny", i], license_entry, x, "licenses.deny")
            for i, x in enumerate(lic.get("deny", ()))
        ),
        not_listed=Action(lic.get("not_listed", "review")),
        unknown=Action(lic.get("unknown", "review")),
        no_license=Action(lic.get("no_license", "reject")),
        min_confidence=float(lic.get("min_confidence", 0.9)),
        low_confidence=Action(lic.get("low_confidence", "review")),
        declared_mismatch=Action(lic.get("declared_mismatch", "review")),
    )
    exceptions = []
    for i, raw in enumerate(data.get("exceptions") or ()):
        where = f"exceptions[{i}]"
        keys: list[str | int] = ["exceptions", i]
        expires = at(
            [*keys, "expires"],
            expires_at,
            root,
            [*keys, "expires"],
            raw.get("expires") or None,  # `expires: ""` is no expiry here
            f"{where}.expires",
        )
        versions = at(
            [*keys, "versions"], VersionRange.parse, raw.get("versions"), f"{where}.versions"
        )
        license_expr = raw.get("license")
        exceptions.append(
            LicenseException(
                module=raw["module"],
                reason=raw["reason"],
                approver=raw["approver"],
                versions=versions,
                license=at([*keys, "license"], license_entry, license_expr, f"{where}.license")
                if license_expr
                else None,
                expires=expires,
            )
        )
    denied = tuple(
        DeniedModule(
            module=raw["module"],
            reason=raw["reason"],
            versions=at(
                ["denied_modules", i, "versions"],
                VersionRange.parse,
                raw.get("versions"),
                f"denied_modules[{i}].versions",
            ),
        )
        for i, raw in enumerate(data.get("denied_modules") or ())
    )
    src = data.get("source_rules") or {}
    source_rules = SourceRules(
        fail_on=src.get("fail_on", "high"),
        severities=tuple(sorted((src.get("severities") or {}).items())),
    )
    sections = tuple((k, data[k]) for k in ("vulnerabilities", "scan") if data.get(k) is not None)
    return Policy(
        licenses=rules,
        exceptions=tuple(exceptions),
        denied_modules=denied,
        source_rules=source_rules,
        name=str(data.get("name", "")),
        source=source,
        sections=sections,
        root=root,
    )


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file (`.goproxy-scan.yml`)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError as e:
        raise InputError("the policy file does not exist", path=str(p)) from e
    except OSError as e:
        raise InputError(f"cannot read the policy file: {e.strerror}", path=str(p)) from e
    except UnicodeDecodeError as e:
        problem, line = utf8_problem(e)
        raise InputError(problem, path=str(p), line=line, hint="save the file as UTF-8") from e
    return parse_policy(text, str(p))


def default_policy() -> Policy:
    """The built-in policy a company can start from (scanner/policy/default.yml)."""
    text = resources.files(__package__).joinpath("default.yml").read_text("utf-8")
    return parse_policy(text, "<built-in default policy>")


def allowlist_policy(ids: str | list[str] | tuple[str, ...]) -> Policy:
    """The seed's `--license-whitelist="MIT,Apache-2.0"`: only these pass, the rest reject."""
    items = ids.split(",") if isinstance(ids, str) else list(ids)
    allow = tuple(license_entry(i.strip(), "--license-whitelist") for i in items if i.strip())
    if not allow:
        raise InputError("--license-whitelist names no license", hint="e.g. MIT,Apache-2.0")
    return Policy(
        licenses=LicenseRules(
            allow=allow,
            not_listed=Action.REJECT,
            unknown=Action.REJECT,
            no_license=Action.REJECT,
            low_confidence=Action.REVIEW,
        ),
        name="license allow-list",
        source="--license-whitelist",
    )
