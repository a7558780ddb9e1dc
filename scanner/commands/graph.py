"""`goproxy-scan graph`: the build list as `go list -m all` prints it, from a proxy or cache."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..buildlist import DEFAULT_CONCURRENCY, BuildList, load_build_list
from ..errors import InputError
from ..exitcodes import ExitCode
from ..goenv import go_environ
from ..modfetch import ModCacheSource, ModuleSource, source_from_goproxy
from ..module import ModuleVersion

if TYPE_CHECKING:
    from ..source import ImportSite

DEFAULT_GOPROXY = "https://proxy.golang.org"
_MAX_SITES = 3


def _source(proxy: str | None, modcache: Path | None) -> ModuleSource:
    if modcache is not None:
        if proxy:
            raise InputError("give --proxy or --modcache, not both")
        return ModCacheSource(modcache)
    # The environment's GOPROXY usually ends in ",direct"; source_from_goproxy skips that.
    if proxy:
        return source_from_goproxy(proxy)
    from ..scan import goproxy_source

    return goproxy_source(go_environ(os.environ), DEFAULT_GOPROXY)[0]


class _TTYProgress:
    """A one-line counter on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, done: int, queued: int) -> None:
        sys.stderr.write(f"\rgraph: {done}/{queued} go.mod files")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _import_sites(bl: BuildList, chain: list[ModuleVersion]) -> list[ImportSite]:
    """Where the main module imports the first module of the chain that it imports at all."""
    if bl.workspace:
        return []  # a workspace has several main directories; the requirement chain says it
    from ..source import project_imports

    use = project_imports(bl.main_dirs[0], bl)
    for m in chain[1:]:
        sites = use.sites.get(m.path)
        if sites:
            return list(sites[:_MAX_SITES])
    return []


def _print_why(bl: BuildList, module: str, as_json: bool) -> None:
    chain = bl.why(module)
    sites = _import_sites(bl, chain) if chain else []
    if as_json:
        doc = {
            "module": module,
            "path": [str(m) for m in chain] if chain else None,
            "imports": [
                {
                    "file": s.path,
                    "line": s.line,
                    "column": s.column,
                    "import": s.import_path,
                    "test": s.test,
                }
                for s in sites
            ],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"# {module}")
    if chain is None:
        main = ", ".join(m.path for m in bl.mains)
        click.echo(f"({main} does not need module {module})")
        return
    for m in chain:
        click.echo(str(m))
    for site in sites:
        test = " (test)" if site.test else ""
        click.echo(f"imported as {site.import_path} at {site.path}:{site.line}:{site.column}{test}")


@click.command("graph")
@click.argument(
    "directory", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--proxy",
    metavar="URL",
    help="GOPROXY list (http(s):// and file:// entries, ',' or '|'); default: $GOPROXY.",
)
@click.option(
    "--modcache",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Read go.mod files from this module cache ($GOMODCACHE) instead of a proxy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the go list -m -json fields).")
@click.option(
    "--why",
    "why",
    metavar="MODULE",
    help="Show the requirement path to MODULE, and where the main module imports it.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="go.mod files fetched at once.",
)
def graph(
    directory: Path,
    proxy: str | None,
    modcache: Path | None,
    as_json: bool,
    why: str | None,
    concurrency: int,
) -> int:
    """Print the build list of the module in DIRECTORY, as `go list -m all` would.

    Needs no Go toolchain: go.mod files come from the proxy (or module cache), and minimal
    version selection runs here, honouring replace, exclude, graph pruning and go.work.
    """
    source = _source(proxy, modcache)
    progress = _TTYProgress() if sys.stderr.isatty() else None
    try:
        bl = load_build_list(
            directory,
            source,
            env=go_environ(os.environ),
            concurrency=concurrency,
            progress=progress,
            all_go_versions=as_json,
        )
    finally:
        if progress is not None:
            progress.close()
    if why:
        _print_why(bl, why, as_json)
    elif as_json:
        click.echo(json.dumps([m.to_json() for m in bl.modules], indent=2))
    else:
        for m in bl.modules:
            click.echo(str(m))
    return int(ExitCode.PASS)
