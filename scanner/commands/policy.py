"""`goproxy-scan policy check|explain|default`: validate a policy, explain a decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import click

from ..errors import InputError
from ..exitcodes import ExitCode
from ..module import check as check_module_version
from ..policy import ModuleFacts, Policy, allowlist_policy, default_policy, evaluate, load_policy
from ..verdict import Decision


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as e:
        raise InputError(f"--now {value!r} is not an ISO-8601 date or time") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _load(file: Path) -> Policy:
    """A policy file read whole, as scan and go-vault read it: the sections other parts own
    (`scan:`, `vulnerabilities:`) by the same code that reads them for a scan, so a file that
    a scan refuses is refused here too."""
    from ..config import file_settings
    from ..vulndb.policy import vuln_policy

    loaded = load_policy(file)
    file_settings(file)
    vuln_policy(loaded)
    return loaded


def _policy(path: Path | None, whitelist: str | None) -> Policy:
    if whitelist:
        return allowlist_policy(whitelist)
    if path is not None:
        return _load(path)
    local = Path(".goproxy-scan.yml")
    return _load(local) if local.is_file() else default_policy()


@click.group("policy")
def policy() -> None:
    """Validate a policy file or explain what it decides."""


@policy.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--now", help="Judge exception expiry at this date (default: today, UTC).")
def check(file: Path, now: str | None) -> int:
    """Validate FILE as scan and go-vault read it; list expired exceptions."""
    # The sections other parts own, read by the same code that reads them for a scan: a file
    # this check passes must not be one scan then refuses.
    loaded = _load(file)
    at = _now(now)
    expired = [e for e in loaded.exceptions if e.expired(at)]
    click.echo(
        f"{file}: valid policy ({len(loaded.licenses.allow)} allowed, "
        f"{len(loaded.licenses.deny)} denied, {len(loaded.exceptions)} exceptions, "
        f"{len(loaded.denied_modules)} denied modules); digest {loaded.digest}"
    )
    for e in expired:
        click.echo(f"warning: exception expired on {e.expires}: {e.describe()}", err=True)
    return int(ExitCode.PASS)


@policy.command("explain")
@click.argument("module_version", metavar="MODULE@VERSION")
@click.option("--license", "license_expr", required=True, help="SPDX expression to judge.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Policy file (default: ./.goproxy-scan.yml, else the built-in default).",
)
@click.option("--license-whitelist", help="An allow-list policy instead: MIT,Apache-2.0,…")
@click.option("--now", help="Evaluate at this date (exception expiry), ISO-8601.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def explain(
    module_version: str,
    license_expr: str,
    policy_file: Path | None,
    license_whitelist: str | None,
    now: str | None,
    as_json: bool,
) -> int:
    """Explain the decision for MODULE@VERSION under the given license. Exit 1 unless PASS."""
    module, at, version = module_version.partition("@")
    if not at or not module or not version:
        raise InputError(
            f"{module_version!r} is not MODULE@VERSION", hint="e.g. golang.org/x/text@v0.3.0"
        )
    # A version the go command would refuse ("1.0.0") matched no denied range: a false PASS.
    check_module_version(module, version)
    chosen = _policy(policy_file, license_whitelist)
    verdict = evaluate(chosen, ModuleFacts(module, version, expression=license_expr), _now(now))
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(f"{module}@{version}: {verdict.decision.value} ({verdict.expression})")
        for r in verdict.reasons:
            click.echo(f"  [{r.rule_id}] {r.message}")
        click.echo(f"policy: {chosen.source} {verdict.policy_digest}")
    return int(ExitCode.PASS if verdict.decision is Decision.PASS else ExitCode.VIOLATION)


@policy.command("default")
def default() -> int:
    """Print the built-in default policy, a starting point for .goproxy-scan.yml."""
    click.echo(
        resources.files("scanner.policy").joinpath("default.yml").read_text("utf-8"), nl=False
    )
    return int(ExitCode.PASS)
