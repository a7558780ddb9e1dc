"""The `go-vault` command line: operator commands around the private proxy's vault."""

from __future__ import annotations

import sys

import click

from scanner import __version__
from scanner.cli import LazyGroup, run

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "serve": "proxy.commands.serve:serve",
    "verdict": "proxy.commands.verdict:verdict",
    "approve": "proxy.commands.approve:approve",
    "rollback": "proxy.commands.rollback:rollback",
    "pin": "proxy.commands.rollback:pin",
    "rollbacks": "proxy.commands.rollback:rollbacks",
    "sync": "proxy.commands.sync:sync",
    "import": "proxy.commands.import_:import_",
    "prefetch": "proxy.commands.prefetch:prefetch_command",
    "token": "proxy.commands.token:token",
}


@click.group(cls=LazyGroup, lazy=COMMANDS)
@click.version_option(__version__, prog_name="go-vault")
def cli() -> None:
    """The private Go module proxy: serve, mirror, audit and roll back Go modules."""


def main() -> None:
    sys.exit(run(cli, prog_name="go-vault"))
