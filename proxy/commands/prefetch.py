"""`go-vault prefetch go.mod|go.sum|go.work|FILE`: mirror a whole build list into the vault."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import click

from scanner.exitcodes import ExitCode

from ..config import load_config
from ..prefetch import Outcome, PrefetchResult, build_list_of, prefetch
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


_LISTED = 5  # problem lines shown under a reason's headline; the JSON summary has them all


def shown_reason(result: PrefetchResult) -> list[str]:
    """The stderr lines for a version that was not brought in: `module@version: outcome: why`
    with the reason's first line, and when that line ends with a colon (a list follows, as for
    a zip's problems), up to _LISTED of the listed lines, indented below it. A refusal's body
    after its first line (how to ask for an exception) is left to the JSON summary."""
    lines = result.reason.splitlines() or [""]
    shown = [f"  {result.module}@{result.version}: {result.outcome.value}: {lines[0]}"]
    if not lines[0].endswith(":"):
        return shown
    listed = [line.strip() for line in lines[1:] if line.strip()]
    shown += [f"      {line}" for line in listed[:_LISTED]]
    if len(listed) > _LISTED:
        shown.append(f"      ... and {len(listed) - _LISTED} more (in the JSON summary)")
    return shown


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
@click.option(
    "--audit-log",
    help="JSON-lines audit log file, appended to (default: the config's audit_log; '-' or "
    "unset: stderr, since stdout is the JSON summary)",
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
    audit_log: str | None,
    config_file: Path | None,
) -> int:
    """Bring every module version FILE needs through the upstream into the vault."""
    flags = {
        "storage": storage,
        "upstream": upstream,
        "policy": policy,
        "offline": False,
        "audit_log": audit_log,
    }
    config = load_config(config_file, flags=flags)
    if not local_go:
        local_go = _local_go()
        if local_go == "1.0" and file.name.endswith((".mod", ".work")):
            click.echo(
                "note: no go command here to say which Go your developers have: the toolchain"
                " of every go or toolchain line is fetched (pass --local-go VERSION to fetch"
                " only those newer than it)",
                err=True,
            )
    modules = build_list_of(file, config.upstream, local_go=local_go, platforms=platforms)
    # Standard output is the JSON summary alone: an audit log going to "stdout" (`-`, the
    # default) is written to stderr while the gateway runs (it is closed, so flushed, by then).
    with contextlib.redirect_stdout(sys.stderr), progress_bar("prefetch") as progress:
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
            for line in shown_reason(r):
                click.echo(line, err=True)
    if summary.count(Outcome.FAILED) or summary.count(Outcome.MISSING):
        return int(ExitCode.OPERATIONAL)
    if summary.count(Outcome.REJECTED):
        return int(ExitCode.VIOLATION)
    return int(ExitCode.PASS)
