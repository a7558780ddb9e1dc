"""`go-vault prefetch go.mod|go.sum|go.work|FILE`: mirror a whole build list into the vault."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import click

from scanner.exitcodes import ExitCode

from ..config import load_config
from ..prefetch import Outcome, build_list_of, prefetch
from .serve import gateway_for
from .sync import progress_bar


def _local_go() -> str:
    """The Go release the developers' go command has (the one on PATH), "1.0" when none is."""
    go = shutil.which("go")
    if go is None:
        return "1.0"
    try:
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "1.0"
    return out.removeprefix("go").split()[0] if out.startswith("go") else "1.0"


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--storage", help="the vault: DIR or s3://bucket/prefix")
@click.option("--upstream", help="GOPROXY-style list to fetch from (default from the config)")
@click.option("--policy", help="license policy: judge what is brought in, as serve would")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="module versions at once",
)
@click.option("--local-go", help="Go release the clients have (default: `go env GOVERSION`)")
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    help="GOOS-GOARCH of toolchain downloads (repeatable; default this machine's)",
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path))
def prefetch_command(
    file: Path,
    storage: str | None,
    upstream: str | None,
    policy: str | None,
    concurrency: int,
    local_go: str | None,
    platforms: tuple[str, ...],
    config_file: Path | None,
) -> int:
    """Bring every module version FILE needs through the upstream into the vault."""
    flags = {"storage": storage, "upstream": upstream, "policy": policy, "offline": False}
    config = load_config(config_file, flags=flags)
    modules = build_list_of(
        file, config.upstream, local_go=local_go or _local_go(), platforms=platforms
    )
    with progress_bar("prefetch") as progress:
        summary = prefetch(
            config,
            modules,
            gateway_factory=gateway_for,
            concurrency=concurrency,
            progress=progress,
        )
    click.echo(json.dumps(summary.to_json(), indent=2))
    counts = ", ".join(f"{summary.count(o)} {o.value}" for o in Outcome)
    click.echo(f"prefetch {file}: {len(modules)} module versions: {counts}", err=True)
    for r in summary.results:
        if r.outcome not in (Outcome.FETCHED, Outcome.PRESENT):
            # The first line: what and why (a refusal's body goes on with how to ask for an
            # exception; the JSON above has all of it).
            why = (r.reason.splitlines() or [""])[0]
            click.echo(f"  {r.module}@{r.version}: {r.outcome.value}: {why}", err=True)
    if summary.count(Outcome.FAILED) or summary.count(Outcome.MISSING):
        return int(ExitCode.OPERATIONAL)
    if summary.count(Outcome.REJECTED):
        return int(ExitCode.VIOLATION)
    return int(ExitCode.PASS)
