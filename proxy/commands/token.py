"""`go-vault token add|list|revoke`: manage the gateway's token file (hashes only)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanner.errors import InputError
from scanner.exitcodes import ExitCode

from ..auth import Access, TokenFile
from ..config import load_config

_config = click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
_file = click.option("--auth-tokens", "auth_tokens", help="token file (default: the config's)")


def _token_file(config_file: Path | None, auth_tokens: str | None) -> TokenFile:
    path = auth_tokens or load_config(config_file).auth_tokens
    if not path:
        raise InputError(
            "no token file: pass --auth-tokens FILE or set auth_tokens in the config",
            hint="go-vault serve --auth-tokens FILE reads the same file",
        )
    return TokenFile(path)


@click.group()
def token() -> None:
    """Tokens for the gateway: the file holds sha256 hashes; a token is shown once, at add."""


@token.command()
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice([a.value for a in Access]),
    default=Access.READ.value,
    show_default=True,
    help="read: GOPROXY; verdicts: + /-/verdicts; admin: everything",
)
@click.option("--tenant", help="bind the token to /t/TENANT/ only")
@click.option("--tenants", "tenants_file", help="tenants file --tenant must name one of")
@_file
@_config
def add(
    name: str,
    scope: str,
    tenant: str | None,
    tenants_file: str | None,
    auth_tokens: str | None,
    config_file: Path | None,
) -> int:
    """Create a token for NAME (an identity in the audit log) and print it once.

    --tenant must name a tenant of the tenants file (--tenants, default the config's)."""
    from ..tenants import is_tenant_name, load_tenants

    if not name.strip() or not name.isprintable():
        raise InputError(
            f"{name!r} is not a token name",
            hint="name who uses it, e.g. ci-main (it is the identity in the audit log)",
        )
    if tenant is not None and not is_tenant_name(tenant):
        # An empty one would be stored as no tenant: a token for every tenant.
        raise InputError(
            f"--tenant {tenant!r} is not a tenant name",
            hint="use a name from the tenants file ([a-z0-9-], 1-32 long): /t/NAME/",
        )
    if tenant is not None:
        tenants_file = tenants_file or load_config(config_file).tenants
        if tenants_file:
            known = load_tenants(tenants_file)
            if tenant not in known:
                # A token bound to a tenant no server serves works nowhere.
                raise InputError(
                    f"--tenant {tenant}: no such tenant in the tenants file",
                    path=tenants_file,
                    hint=f"known tenants: {', '.join(sorted(known)) or 'none'};"
                    " add it to the file first, or correct the name",
                )
        else:
            click.echo(
                f"warning: no tenants file (--tenants, or tenants in the config): --tenant"
                f" {tenant} is not checked; the token works only if a server serves /t/{tenant}/",
                err=True,
            )
    tokens = _token_file(config_file, auth_tokens)
    entry, secret = tokens.add(name, Access(scope), tenant=tenant)
    click.echo(secret)
    click.echo(f"added {entry.name} ({entry.access.value}) to {tokens.path}", err=True)
    return int(ExitCode.PASS)


@token.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table")
@_file
@_config
def list_(as_json: bool, auth_tokens: str | None, config_file: Path | None) -> int:
    """List token names, scopes and creation times (never the tokens)."""
    entries = _token_file(config_file, auth_tokens).entries()
    if as_json:
        shown = [{k: v for k, v in e.to_json().items() if k != "sha256"} for e in entries]
        click.echo(json.dumps({"tokens": shown}, indent=2))
    else:
        for e in sorted(entries, key=lambda e: e.name):
            click.echo(f"{e.name}\t{e.access.value}\t{e.tenant or '-'}\t{e.created_at}")
    return int(ExitCode.PASS)


@token.command()
@click.argument("name")
@_file
@_config
def revoke(name: str, auth_tokens: str | None, config_file: Path | None) -> int:
    """Remove NAME's token; a running gateway refuses it within a second."""
    tokens = _token_file(config_file, auth_tokens)
    if not tokens.revoke(name):
        raise InputError(f"no token named {name!r}", path=str(tokens.path))
    click.echo(f"revoked {name}", err=True)
    return int(ExitCode.PASS)
