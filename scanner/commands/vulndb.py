"""`goproxy-scan vulndb`: build a Go vulnerability database from OSV files, or fill the cache."""

from __future__ import annotations

from pathlib import Path

import click

from ..exitcodes import ExitCode
from ..vulndb.database import load_index
from ..vulndb.layout import build_layout


@click.group()
def vulndb() -> None:
    """The Go vulnerability database (the layout vuln.go.dev serves)."""


@vulndb.command()
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--modified",
    metavar="RFC3339",
    help="The database time for index/db.json (default: newest entry time or file mtime).",
)
def build(src: Path, out: Path, modified: str | None) -> int:
    """Build the served layout (index/, ID/) in OUT from the OSV *.json files in SRC.

    Serve OUT over https or use it as file://OUT, for example `govulncheck -db file://OUT`.
    """
    built = build_layout(src, out, modified=modified)
    click.echo(
        f"wrote {built.entries} entries for {built.modules} modules to {built.out_dir} "
        f"(modified {built.modified})"
    )
    return int(ExitCode.PASS)


@vulndb.command()
@click.argument("url")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where the cache lives (kept per database URL).",
)
def fetch(url: str, cache_dir: Path) -> int:
    """Copy every entry of the database at URL into the cache, for later offline runs."""
    index = load_index(url, cache_dir=cache_dir)
    click.echo(f"cached {len(index.entries)} entries of {index.url} (modified {index.modified})")
    return int(ExitCode.PASS)
