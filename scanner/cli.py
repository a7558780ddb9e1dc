"""The `goproxy-scan` command line: a click group whose subcommands live beside their feature.

Each subcommand module exposes a click command; `COMMANDS` names them so `--help` stays fast
(modules are imported only when their command runs). Only this module exits the process.
"""

from __future__ import annotations

import errno
import importlib
import sys
import traceback
from typing import Any

import click

from . import __version__
from .errors import GoProxyScanError
from .exitcodes import ExitCode

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "graph": "scanner.commands.graph:graph",
    "vulndb": "scanner.commands.vulndb:vulndb",
    "env": "scanner.commands.env:env",
    "scan": "scanner.commands.scan:scan",
    "sbom": "scanner.commands.sbom:sbom",
    "report": "scanner.commands.report:report",
    "licenses": "scanner.commands.licenses:licenses",
    "policy": "scanner.commands.policy:policy",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is used."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(__version__, prog_name="goproxy-scan")
def cli() -> None:
    """Judge a Go project's dependencies and code against one policy, before merge."""


# OS errors that say the machine, not the program, is at fault: a message, not a traceback.
_ENVIRONMENT = {
    errno.ENOSPC: "free some space and run it again",
    errno.EDQUOT: "the disk quota is used up; free some space and run it again",
    errno.EROFS: "the filesystem is read-only; write somewhere else",
    errno.EACCES: "check the permissions",
    errno.EPERM: "check the permissions",
    errno.EIO: "the device failed; check the disk",
}


def run(group: click.Group, argv: list[str] | None = None, prog_name: str | None = None) -> int:
    """Run a click group, turning our errors into a one-line message and an exit code."""
    try:
        # standalone_mode=False returns the command's return value (our exit code) or the
        # code of a click Exit (--help, --version).
        result = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except GoProxyScanError as e:
        click.echo(f"error: {e}", err=True)
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return int(ExitCode.OPERATIONAL)
    except click.ClickException as e:
        e.show()
        return int(ExitCode.INPUT)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return int(ExitCode.PASS)
    except Exception as e:
        if isinstance(e, OSError) and e.errno in _ENVIRONMENT:
            where = f"{e.filename}: " if e.filename else ""
            click.echo(f"error: {where}{e.strerror} ({_ENVIRONMENT[e.errno]})", err=True)
            return int(ExitCode.OPERATIONAL)
        # A bug is not a verdict: CI gates read exit 1 as "policy violation", so a crash is 3.
        traceback.print_exc()
        name = prog_name or "the command"
        click.echo(f"error: {name} failed unexpectedly (a bug: please report it)", err=True)
        return int(ExitCode.OPERATIONAL)
    return int(result) if isinstance(result, int) else int(ExitCode.PASS)


def main() -> None:
    sys.exit(run(cli, prog_name="goproxy-scan"))
