"""`go-vault sync --offline --bundle=FILE.tar.gz`: export the vault (or part of it) as a bundle."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from scanner.errors import InputError
from scanner.exitcodes import ExitCode
from scanner.files import is_stdout

from ..bundle import Progress, export_bundle
from ..config import load_config
from ..prefetch import bundle_modules
from ..rollback import RollbackStore, state_file
from ..storage import Storage, open_storage
from .rollback import require_vault


@contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """A rich progress bar on stderr (plain and quiet when stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@click.command()
@click.option("--offline", is_flag=True, help="write an offline bundle (the only sync mode)")
@click.option("--bundle", "bundle", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--modules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="only what a go.mod or go.work builds with (as prefetch brings it in), or the "
    "versions a go.sum or list file names (default: all)",
)
@click.option(
    "--since",
    type=click.Path(exists=True, path_type=Path),
    help="an earlier bundle or its manifest.json: write only what is new (a delta)",
)
@click.option(
    "--sign-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="GO_VAULT_BUNDLE_SIGN_KEY",
    help="ed25519 private key (PEM) to sign the bundle with",
)
@click.option(
    "--vulndb",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="carry this built vulnerability database (default: the config's vulndb)",
)
@click.option("--storage", help="the vault: DIR or s3://bucket/prefix")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
def sync(
    offline: bool,
    bundle: Path,
    modules: Path | None,
    since: Path | None,
    sign_key: Path | None,
    vulndb: Path | None,
    storage: str | None,
    config_file: Path | None,
) -> int:
    """Export the vault's modules as an offline bundle for an air-gapped go-vault."""
    if not offline:
        raise InputError("only offline bundles are supported", hint="add --offline")
    config = load_config(config_file, flags={"storage": storage})

    @functools.cache
    def vault() -> Storage:
        # Opening a filesystem vault makes it: a mistyped --storage wrote an empty bundle, exit 0.
        require_vault(config)
        return open_storage(config.storage)

    # A go.mod or go.work: what prefetch brings in for it, read from the vault (replacements
    # applied, the toolchain it switches to), so that the bundle builds it. A list file's
    # mistakes are reported before the vault is looked at.
    wanted = bundle_modules(modules, vault, config.storage) if modules else None
    store = vault()
    # What the operator withdrew stays withdrawn on the other side (left out, and recorded there).
    rollbacks = RollbackStore(state_file(config.storage)).load()
    # The bundle itself may be standard output (--bundle /dev/stdout > file): the summary then
    # goes to stderr, not into the tar.
    to_stdout = is_stdout(bundle)
    with progress_bar("export") as progress:
        summary = export_bundle(
            store,
            bundle,
            modules=wanted,
            since=since,
            source=os.environ.get("GO_VAULT_BUNDLE_SOURCE", config.storage),
            signing_key=sign_key,
            progress=progress,
            vulndb=vulndb or (Path(config.vulndb) if config.vulndb else None),
            rollbacks=rollbacks,
        )
    click.echo(json.dumps(summary.to_json(), indent=2), err=to_stdout)
    mb = summary.bytes / 1e6
    click.echo(
        f"exported {summary.modules} module versions ({mb:.1f} MB) in {summary.seconds:.1f}s"
        + (" (delta)" if summary.base else "")
        + (", signed" if summary.signed else "")
        + (f", vulndb of {summary.vulndb}" if summary.vulndb else ""),
        err=True,
    )
    if summary.left_out:
        click.echo(
            f"left out {len(summary.left_out)} rolled-back module versions (go-vault rollbacks"
            f" says why): {_some(summary.left_out)}",
            err=True,
        )
    if summary.held_back:
        click.echo(
            f"{len(summary.held_back)} module versions newer than a pin are carried but not"
            f" listed (as the gateway lists them): {_some(summary.held_back)}",
            err=True,
        )
    if rollbacks.rollbacks or rollbacks.pins:
        click.echo(
            f"the bundle carries {len(rollbacks.rollbacks)} rollbacks and {len(rollbacks.pins)}"
            " pins, which go-vault import records",
            err=True,
        )
    return int(ExitCode.PASS)


def _some(names: tuple[str, ...], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")
