"""`go-vault approve`: grant a policy exception (module glob @ version range) with an expiry."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from scanner import semver
from scanner.errors import InputError, OperationalError
from scanner.exitcodes import ExitCode

from ..config import VaultConfig, load_config


def split_target(arg: str) -> tuple[str, str]:
    """`glob[@version|@range]` -> (glob, range); a bare version means exactly that one."""
    module, sep, versions = arg.partition("@")
    versions = versions.strip()
    if not sep:
        return module, "*"
    if not versions:
        # Likely an unset shell variable ("m@$VERSION"): never widen it to every version.
        raise InputError(
            f"{arg}: no version or range after '@'",
            hint="write m@v1.2.3 or m@'>=v1.2.0,<v1.3.0'; leave out '@' to approve every version",
        )
    return module, f"={versions}" if semver.is_valid(versions) else versions


@click.command()
@click.argument("target", metavar="MODULE_GLOB[@VERSION|@RANGE]", required=False)
@click.option("--reason", help="why the exception is acceptable (required to approve)")
@click.option("--approver", help="who approved it (default $USER)")
@click.option("--expires", help="last day it applies, YYYY-MM-DD")
@click.option("--license", "license_expr", help="only this license (SPDX); default any")
@click.option("--list", "list_only", is_flag=True, help="list the approved exceptions")
@click.option("--revoke", metavar="ID", help="withdraw the exception with this id")
@click.option(
    "--proxy", "url", help="a running go-vault: use its admin route (default $GO_VAULT_URL)"
)
@click.option("--admin-token", help="admin token for --proxy (default $GO_VAULT_ADMIN_TOKEN)")
@click.option(
    "--storage",
    help="the vault (DIR or s3://…) to write, not through a server; wins over $GO_VAULT_URL",
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
def approve(
    target: str | None,
    reason: str | None,
    approver: str | None,
    expires: str | None,
    license_expr: str | None,
    list_only: bool,
    revoke: str | None,
    url: str | None,
    admin_token: str | None,
    storage: str | None,
    config_file: Path | None,
) -> int:
    """Approve a module (glob) at a version or range despite the policy, until an expiry.

    Through a running go-vault (--proxy URL, admin token) or straight into a vault directory
    (--storage DIR; a running server picks it up within a second). Every change is audited.
    An explicit --storage wins over $GO_VAULT_URL; --proxy with --storage is refused.
    """
    ask = Ask(target, reason, approver, expires, license_expr, list_only, revoke)
    if url and storage:
        raise InputError(
            f"both --proxy {url} and --storage {storage}: which vault to change is ambiguous",
            hint="pass --proxy URL (a running go-vault) or --storage DIR (the vault), not both",
        )
    if storage is None:
        url = url or os.environ.get("GO_VAULT_URL")
    if url:
        return _via_proxy(url, admin_token, ask)
    return _in_vault(load_config(config_file, flags={"storage": storage}), ask)


@dataclass(frozen=True)
class Ask:
    """What the operator asked for: list, revoke one, or approve `target`."""

    target: str | None
    reason: str | None
    approver: str | None
    expires: str | None
    license: str | None
    list_only: bool
    revoke: str | None

    def approval_fields(self) -> dict[str, Any]:
        if not self.target:
            raise InputError(
                "name the module to approve", hint="e.g. go-vault approve example.com/x@v1.2.3"
            )
        module, versions = split_target(self.target)
        return {
            "module": module,
            "versions": versions,
            "reason": self.reason or "",
            "approver": self.approver or os.environ.get("USER", ""),
            "expires": self.expires,
            "license": self.license,
        }


def _via_proxy(url: str, token: str | None, ask: Ask) -> int:
    token = (token or os.environ.get("GO_VAULT_ADMIN_TOKEN") or "").strip()
    if not token:
        raise InputError(
            f"admin token required (--admin-token or GO_VAULT_ADMIN_TOKEN) to change {url}",
            hint="the server's admin_token; or --storage DIR to write the vault directly",
        )
    if not token.isascii() or not token.isprintable():
        raise InputError(
            "the admin token holds characters an HTTP header cannot carry",
            hint="check --admin-token / GO_VAULT_ADMIN_TOKEN (a stray quote, newline or space?)",
        )
    base = url.rstrip("/") + "/-/admin/exceptions"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if ask.list_only:
            r = httpx.get(base, headers=headers, timeout=60)
        elif ask.revoke:
            r = httpx.delete(f"{base}/{ask.revoke}", headers=headers, timeout=60)
        else:
            r = httpx.post(base, json=ask.approval_fields(), headers=headers, timeout=60)
    except httpx.HTTPError as e:
        raise OperationalError(f"go-vault at {url} cannot be reached: {type(e).__name__}") from e
    try:
        data = r.json()
    except ValueError:
        data = {"error": r.text.strip()[:200]}
    if r.status_code == 400:
        raise InputError(str(data.get("error")))
    if r.status_code >= 300:
        raise OperationalError(
            f"go-vault answered {r.status_code}: {data.get('error')}",
            hint="check --admin-token / GO_VAULT_ADMIN_TOKEN",
        )
    click.echo(json.dumps(data, indent=2))
    return int(ExitCode.PASS)


def _in_vault(config: VaultConfig, ask: Ask) -> int:
    from ..auditor import approval_store
    from ..exceptions import new_approval
    from .rollback import require_vault

    require_vault(config)
    store = approval_store(config)
    if ask.list_only:
        click.echo(json.dumps({"exceptions": [a.to_json() for a in store.all()]}, indent=2))
        return int(ExitCode.PASS)
    if ask.revoke:
        if not store.remove(ask.revoke):
            raise InputError(f"no exception {ask.revoke}", hint="see go-vault approve --list")
        _audit(config, action="remove", id=ask.revoke)
        click.echo(json.dumps({"removed": ask.revoke}))
        return int(ExitCode.PASS)
    approval = new_approval(**ask.approval_fields(), now=datetime.now(UTC))
    store.add(approval)
    _audit(config, action="add", **approval.to_json())
    click.echo(json.dumps(approval.to_json(), indent=2))
    return int(ExitCode.PASS)


def _audit(config: VaultConfig, **fields: Any) -> None:
    """The approval event, in the vault's audit log file (or on stderr when that is stdout)."""
    from ..observability import AuditLog

    if config.audit_log in ("-", ""):
        record = {"ts": datetime.now(UTC).isoformat(), "event": "approval", **fields}
        click.echo(json.dumps(record, default=str), err=True)
        return
    log = AuditLog(config.audit_log)
    try:
        log.event("approval", by="go-vault approve", **fields)
    finally:
        log.close()
