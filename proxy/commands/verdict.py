"""`go-vault verdict MODULE@VERSION`: the proxy's verdict on one module version."""

from __future__ import annotations

import json
import os

import click
import httpx

from scanner.errors import InputError, NotFoundError, OperationalError
from scanner.exitcodes import ExitCode
from scanner.module import check, escape_path, escape_version
from scanner.verdict import Verdict

DEFAULT_URL = "http://127.0.0.1:3000"


def split_module_version(arg: str) -> tuple[str, str]:
    module, sep, version = arg.partition("@")
    if not sep or not module or not version:
        raise InputError(f"{arg!r} is not MODULE@VERSION", hint="e.g. example.com/lib@v1.2.3")
    check(module, version)
    return module, version


def describe(verdict: Verdict) -> str:
    """The human form: decision first, then the licenses, the reasons and what was judged."""
    lines = [f"{verdict.module}@{verdict.version}: {verdict.decision.value}"]
    lines.append(f"  license: {verdict.expression or 'none found'}")
    for f in verdict.licenses:
        lines.append(f"    {f.expression} in {', '.join(f.files)} (confidence {f.confidence:.2f})")
    lines += [f"  {r.rule_id}: {r.message}" for r in verdict.reasons]
    lines.append(f"  {verdict.h1}  policy {verdict.policy_digest}  at {verdict.evaluated_at}")
    return "\n".join(lines)


@click.command()
@click.argument("module_version", metavar="MODULE@VERSION")
@click.option("--proxy", "url", help=f"go-vault base URL (default $GO_VAULT_URL or {DEFAULT_URL})")
@click.option("--token", help="bearer token, if the proxy wants one (default $GO_VAULT_TOKEN)")
@click.option("--json", "as_json", is_flag=True, help="print the verdict JSON")
def verdict(module_version: str, url: str | None, token: str | None, as_json: bool) -> int:
    """Ask go-vault for its verdict; fetched and audited now if it never saw the version.

    Exit 0 for PASS, 1 for REJECT or REVIEW_REQUIRED.
    """
    module, version = split_module_version(module_version)
    base = (url or os.environ.get("GO_VAULT_URL") or DEFAULT_URL).rstrip("/")
    if not base.startswith(("http://", "https://")):
        where = "--proxy" if url else "GO_VAULT_URL"
        raise InputError(
            f"{where}: {base!r} is not an http(s):// URL", hint="e.g. http://127.0.0.1:3000"
        )
    token = token or os.environ.get("GO_VAULT_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    target = f"{base}/-/verdicts/{escape_path(module)}/@v/{escape_version(version)}"
    try:
        r = httpx.get(target, headers=headers, timeout=120)
    except httpx.HTTPError as e:
        raise OperationalError(
            f"go-vault at {base} cannot be reached: {type(e).__name__}",
            hint="check --proxy / GO_VAULT_URL",
        ) from e
    if r.status_code == 404 and _names_version(r):
        # No upstream (or offline, the vault) has it: the module or version typed is wrong.
        raise InputError(
            f"no verdict: {_error(r)}",
            module=module,
            version=version,
            hint=f"check the module path and version: go list -m -versions {module}",
        )
    if r.status_code == 404:
        raise NotFoundError(f"no verdict: {_error(r)}", module=module, version=version)
    if r.status_code != 200:
        raise OperationalError(f"go-vault answered {r.status_code}: {_error(r)}")
    result = Verdict.from_json(r.content)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else describe(result))
    return int(ExitCode.PASS if result.passed else ExitCode.VIOLATION)


def _names_version(r: httpx.Response) -> bool:
    """Whether a 404 is about the version asked for (not a go-vault without an auditor, or a
    --proxy URL that is not a go-vault)."""
    try:
        return bool(r.json().get("version"))
    except (ValueError, AttributeError):
        return False


def _error(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error", r.text.strip()))
    except ValueError:
        return r.text.strip()[:200]
