"""`tracelib`: the command line. Errors become messages and exit codes in one place
(:class:`TracelibGroup`): 0 success, 1 a failed check or rejected input, 2 usage."""

from __future__ import annotations

import sys
from typing import Any

import click

from tracelib import __version__
from tracelib.errors import TracelibError

from .context import DEFAULT_DB, Env, default_keystore


class CheckFailed(click.ClickException):
    """A check ran and failed (exit 1); the command already printed why."""

    def show(self, file: Any = None) -> None:
        if self.message:
            click.echo(f"error: {self.message}", err=True)


class TracelibGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracelibError as e:
            raise CheckFailed(str(e)) from e


@click.group(cls=TracelibGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracelib")
@click.option("--db", envvar="TRACELIB_DB", default=DEFAULT_DB, show_default=True,
              help="SQLAlchemy URL (sqlite:///path.db, postgresql+psycopg://user@host/db) "
                   "or a SQLite file path.")
@click.option("--keystore", envvar="TRACELIB_KEYSTORE", type=click.Path(),
              help="Folder of local private keys [default: beside the database].")
@click.pass_context
def cli(ctx: click.Context, db: str, keystore: str | None) -> None:
    """tracelib — a food traceability ledger: signed, hash-chained, Merkle-proven hops
    from farm to market stall."""
    from pathlib import Path

    ctx.obj = Env(db, Path(keystore) if keystore else default_keystore(db))


def _register_commands() -> None:
    from . import demo_cmds, ledger_cmds, service_cmds, supply_cmds, testing_cmds

    for command in (*ledger_cmds.COMMANDS, *supply_cmds.COMMANDS, *testing_cmds.COMMANDS,
                    *service_cmds.COMMANDS, *demo_cmds.COMMANDS):
        cli.add_command(command)


_register_commands()


def main() -> None:
    cli.main(prog_name="tracelib")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
