"""`go-vault import BUNDLE`: verify an offline bundle completely, then load it all or nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import click

from scanner.exitcodes import ExitCode

from ..bundle import import_bundle
from ..config import load_config
from ..storage import open_storage
from .sync import progress_bar


def _made_by_us(storage_spec: str) -> tuple[Path, bool] | None:
    """What opening a filesystem vault at `storage_spec` will make, to take back if the import
    fails: (the outermost directory it makes, True) -- FsStorage makes its root and parents --
    or (the root, False) when that is an empty directory already; None for a directory with
    something in it, or on S3."""
    if "://" in storage_spec and not storage_spec.startswith("file://"):
        return None
    path = Path(os.path.abspath(storage_spec.removeprefix("file://")))
    if os.path.lexists(path):
        try:
            return (path, False) if path.is_dir() and not any(path.iterdir()) else None
        except OSError:
            return None  # unreadable: opening the vault says why
    while not os.path.lexists(path.parent):
        path = path.parent
    return path, True


def _take_back(made: tuple[Path, bool]) -> None:
    """Remove what the failed import made: the directory, or what is in the one that was empty."""
    path, whole = made
    if whole:
        shutil.rmtree(path, ignore_errors=True)
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@click.command(name="import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--verify-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="GO_VAULT_BUNDLE_VERIFY_KEY",
    help="ed25519 public key (PEM): the bundle must carry a signature it verifies",
)
@click.option(
    "--vulndb",
    type=click.Path(file_okay=False, path_type=Path),
    help="install the bundle's vulnerability database here (default: the config's vulndb)",
)
@click.option("--storage", help="the vault: DIR or s3://bucket/prefix")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
def import_(
    bundle: Path,
    verify_key: Path | None,
    vulndb: Path | None,
    storage: str | None,
    config_file: Path | None,
) -> int:
    """Check every checksum, the signature, every h1: and a delta's base, then load the bundle."""
    config = load_config(config_file, flags={"storage": storage})
    made = _made_by_us(config.storage)
    try:
        store = open_storage(config.storage)
        with progress_bar("import") as progress:
            summary = import_bundle(
                store,
                config.storage,
                bundle,
                verify_key=verify_key,
                progress=progress,
                vulndb=vulndb or (Path(config.vulndb) if config.vulndb else None),
            )
    except BaseException:
        # A failed import leaves the disk as it was: not an empty vault (.tmp and all) where
        # there was none, which a mistyped --storage would then keep.
        if made is not None:
            _take_back(made)
        raise
    click.echo(json.dumps(summary.to_json(), indent=2))
    click.echo(
        f"imported {summary.modules} module versions, {summary.new} new, "
        f"{summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f}s"
        + (f", vulndb of {summary.vulndb}" if summary.vulndb else ""),
        err=True,
    )
    if summary.rollbacks or summary.pins:
        click.echo(
            f"recorded {summary.rollbacks} rollbacks and {summary.pins} pins from the bundle"
            " (go-vault rollbacks lists them)",
            err=True,
        )
    for note in summary.notes:
        click.echo(f"warning: {note}", err=True)
    if not summary.verified:
        dropped = (
            f"; its {summary.verdicts_dropped} auditor verdicts were dropped (this vault's"
            " auditor judges each version when it is first served)"
            if summary.verdicts_dropped
            else ""
        )
        click.echo(
            (
                "warning: the bundle is signed, but its signature was not checked"
                if summary.signed
                else "warning: the bundle is unsigned: it was not authenticated"
            )
            + dropped
            + ": pass --verify-key (or set GO_VAULT_BUNDLE_VERIFY_KEY) to require a valid"
            + " signature (go-vault sync --sign-key signs one)",
            err=True,
        )
    return int(ExitCode.PASS)
