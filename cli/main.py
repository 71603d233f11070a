"""`tracelib`: the command line. Errors become messages and exit codes in one place
(:class:`TracelibGroup`): 0 success, 1 a failed check or rejected input, 2 usage."""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any

import click

from tracelib import __version__
from tracelib.errors import TracelibError

from .context import DEFAULT_DB, Env, default_keystore
from .extras import MissingExtra, extra_for, missing_extra_message

#: errno values that mean the disk (or a file-size limit) is full.
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class CheckFailed(click.ClickException):
    """A check ran and failed (exit 1); the command already printed why."""

    def show(self, file: Any = None) -> None:
        if self.message:
            click.echo(f"error: {self.message}", err=True)


# Each top-level command and the module that defines it. Modules are imported when one of
# their commands runs (click's documented lazy-loading pattern): `tracelib report kpi` does
# not pay for the drill report's or the demo generator's imports.
_COMMAND_MODULES = {
    **dict.fromkeys(("init", "keys", "append", "verify", "reindex", "checkpoint", "prove",
                     "consistency", "show", "doctor", "upgrade"), "ledger_cmds"),
    **dict.fromkeys(("trace", "drill", "recall"), "supply_cmds"),
    **dict.fromkeys(("limits", "test", "report"), "testing_cmds"),
    **dict.fromkeys(("serve", "qr", "token"), "service_cmds"),
    "demo": "demo_cmds",
    "alerts": "alerts_cmds",
    "standing": "standing_cmds",
    "blob": "blob_cmds",
    "epcis": "epcis_cmds",
    "witness": "witness_cmds",
    "peer": "peer_cmds",
    "log": "log_cmds",
}


class TracelibGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"{__package__}.{module_name}")
        found: dict[str, click.Command] = {c.name: c for c in module.COMMANDS if c.name}
        return found[cmd_name]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracelibError as e:
            raise CheckFailed(str(e)) from e
        except OSError as e:
            if e.errno not in _DISK_FULL:
                raise
            raise CheckFailed(f"{e.strerror or 'no space left'}"
                              f"{f' writing {e.filename}' if e.filename else ''}; the command "
                              "stopped and its database transaction was rolled back: nothing "
                              "was stored; free some space and run it again") from e
        except Exception as e:  # a database failure met outside the store's transactions
            from tracelib.store.faults import storage_error

            error = storage_error(e, ctx.obj.db if isinstance(ctx.obj, Env) else "")
            if error is None:
                raise
            raise CheckFailed(str(error)) from e
        except ModuleNotFoundError as e:  # an optional dependency that is not installed
            extra = extra_for(e)
            if extra is None:
                raise
            what = f"`tracelib {ctx.invoked_subcommand}`" if ctx.invoked_subcommand else "tracelib"
            raise MissingExtra(missing_extra_message(what, extra, [e.name or ""])) from e


@click.group(cls=TracelibGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracelib")
@click.option("--db", envvar="TRACELIB_DB", default=DEFAULT_DB, show_default=True,
              help="SQLAlchemy URL (sqlite:///path.db, postgresql+psycopg://user@host/db) "
                   "or a SQLite file path.")
@click.option("--keystore", envvar="TRACELIB_KEYSTORE", type=click.Path(),
              help="Folder of local private keys [default: beside the database].")
@click.option("--blobs", envvar="TRACELIB_BLOBS", type=click.Path(),
              help="Folder of the attachments' blob store [default: beside a SQLite "
                   "database (<file>.blobs), ./tracelib-blobs for a server database].")
@click.pass_context
def cli(ctx: click.Context, db: str, keystore: str | None, blobs: str | None) -> None:
    """tracelib — a food traceability ledger: signed, hash-chained, Merkle-proven hops
    from farm to market stall."""
    from pathlib import Path

    ctx.obj = Env(db, Path(keystore) if keystore else default_keystore(db),
                  Path(blobs) if blobs else None)


def main() -> None:
    cli.main(prog_name="tracelib")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
