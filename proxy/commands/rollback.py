"""`go-vault rollback`, `pin` and `rollbacks`: hide bad versions, fix @latest, list and undo."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from scanner.errors import InputError
from scanner.exitcodes import ExitCode

from ..config import VaultConfig, load_config
from ..rollback import (
    RollbackStore,
    check_pin,
    check_versions,
    not_stored_warning,
    state_file,
    unstored,
)
from ..storage import open_storage

_storage = click.option("--storage", help="the vault: DIR or s3://bucket/prefix")
_config = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
_by = click.option("--by", "by", help="who makes the change (default $USER)")


def _store(config: VaultConfig) -> RollbackStore:
    require_vault(config)
    return RollbackStore(state_file(config.storage))


def require_vault(config: VaultConfig) -> None:
    """A filesystem vault must be there already: a mistyped --storage, or a command run without
    the server's --config (so ./vault-data), recorded a change that no server reads."""
    if "://" not in config.storage and not Path(config.storage).is_dir():
        raise InputError(
            "no vault here",
            path=config.storage,
            hint="give --storage the vault's directory, or --config the server's config",
        )


def _who(by: str | None) -> str:
    return by or os.environ.get("USER", "") or "operator"


def audit(config: VaultConfig, event: dict[str, Any]) -> None:
    """The change as a `rollback` event in the vault's audit log (stderr when that is stdout)."""
    from ..observability import AuditLog

    if config.audit_log in ("-", ""):
        click.echo(json.dumps({"event": "rollback", **event}, default=str), err=True)
        return
    log = AuditLog(config.audit_log)
    try:
        log.event("rollback", **event)
    finally:
        log.close()


@click.command()
@click.argument("module", required=False)
@click.argument("versions", metavar="VERSION[,…]", required=False)
@click.option("--reason", help="why these versions are withdrawn (required)")
@click.option("--undo", is_flag=True, help="show the versions again (all of MODULE's if none)")
@_by
@_storage
@_config
def rollback(
    module: str | None,
    versions: str | None,
    reason: str | None,
    undo: bool,
    by: str | None,
    storage: str | None,
    config_file: Path | None,
) -> int:
    """Hide MODULE's VERSIONs from @v/list and @latest; direct requests get 403 and the reason.

    `go get MODULE@latest` then picks the previous good release. Takes effect on running
    servers sharing the vault within a second. A VERSION not in the vault yet is rolled back
    too (refused when it arrives), with a warning.
    """
    if not module:
        raise InputError(
            "name the module", hint="go-vault rollback example.com/m v1.3.0 --reason …"
        )
    config = load_config(config_file, flags={"storage": storage})
    listed = versions.split(",") if versions else None
    store = _store(config)
    missing: list[str] = []
    if undo:
        event = store.undo(module, listed, _who(by))
    else:
        if listed is None:
            raise InputError("name the versions to roll back", module=module, hint="e.g. v1.3.0")
        listed = check_versions(module, listed)
        # Allowed: withdrawing a bad release before anyone fetched it is a real use.
        missing = unstored(open_storage(config.storage), module, listed)
        event = store.rollback(module, listed, reason or "", _who(by))
    audit(config, event)
    click.echo(json.dumps(event, indent=2))
    if missing:
        click.echo(not_stored_warning(module, missing), err=True)
    return int(ExitCode.PASS)


@click.command()
@click.argument("module")
@click.argument("version", required=False)
@click.option("--reason", default="", help="why @latest is fixed")
@click.option("--undo", is_flag=True, help="remove MODULE's pin")
@_by
@_storage
@_config
def pin(
    module: str,
    version: str | None,
    reason: str,
    undo: bool,
    by: str | None,
    storage: str | None,
    config_file: Path | None,
) -> int:
    """Fix MODULE's @latest to VERSION, a version the vault holds; newer versions leave
    @v/list but stay downloadable."""
    config = load_config(config_file, flags={"storage": storage})
    store = _store(config)
    if undo:
        event = store.unpin(module, _who(by))
    elif not version:
        raise InputError("name the version to pin", module=module, hint="e.g. v1.2.4")
    else:
        (version,) = check_versions(module, [version])
        check_pin(store, open_storage(config.storage), module, version)
        event = store.pin(module, version, reason, _who(by))
    audit(config, event)
    click.echo(json.dumps(event, indent=2))
    return int(ExitCode.PASS)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="the whole state, history included")
@_storage
@_config
def rollbacks(as_json: bool, storage: str | None, config_file: Path | None) -> int:
    """List the rolled-back versions and pins of the vault."""
    config = load_config(config_file, flags={"storage": storage})
    state = _store(config).load()
    if as_json:
        click.echo(json.dumps(state.to_json(), indent=2))
        return int(ExitCode.PASS)
    if not state.rollbacks and not state.pins:
        click.echo("no rollbacks, no pins")
    for r in sorted(state.rollbacks, key=lambda r: (r.module, r.version)):
        click.echo(f"rolled back  {r.module}@{r.version}  {r.at} by {r.by}: {r.reason}")
    for p in sorted(state.pins, key=lambda p: p.module):
        click.echo(f"pinned       {p.module}@{p.version}  {p.at} by {p.by}: {p.reason}")
        if state.is_rolled_back(p.module, p.version):
            # Recorded before pin and rollback excluded each other: the pin applies to nothing.
            click.echo(
                f"  warning: {p.module}@{p.version} is also rolled back, so @latest is not it;"
                f" pin another version, or go-vault pin --undo {p.module}",
                err=True,
            )
    return int(ExitCode.PASS)
