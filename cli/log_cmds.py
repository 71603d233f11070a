"""Tile log commands: ``tracelib log export DIR`` (docs/contract.md "Tile log")."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import click

from tracelib.errors import ValidationError
from tracelib.ledger import Ledger
from tracelib.tiles import CHECKPOINT_PATH, Tile, tiles_for_size
from tracelib.views.tile_log import newest_checkpoint, read_tile, served_checkpoint_note

from .context import Env
from .ledger_cmds import progress_bar
from .main import CheckFailed

pass_env = click.make_pass_decorator(Env)


@dataclass
class Exported:
    size: int = 0
    tiles: int = 0
    bundles: int = 0
    kept: int = 0
    #: entry bundles the format cannot carry (a record over 65,535 bytes), with why
    unwritable: list[str] = field(default_factory=list)


def _write_atomically(path: Path, body: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename, so a
    web server serving the folder never serves half a tile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.chmod(temporary, 0o644)  # served by a web server: readable, like any static file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_log(ledger: Ledger, folder: Path, *, entries: bool) -> Exported:
    """Write the newest checkpoint's tile log into ``folder`` with the service's relative
    paths (``checkpoint``, ``tile/0/x001/234``, ``tile/entries/…``). A tile already on disk
    is kept: a tile path's bytes never change (C2SP tlog-tiles, full and partial alike).
    The checkpoint is written last, once every tile it needs is in place."""
    newest = newest_checkpoint(ledger)
    size = newest.size
    wanted: list[Tile] = tiles_for_size(size)
    if entries:
        wanted += tiles_for_size(size, entries=True)
    done = Exported(size=size)
    with progress_bar() as bar:
        task = bar.add_task(f"tiles of size {size}", total=len(wanted))
        for tile in wanted:
            path = folder / tile.path()
            if path.exists():
                done.kept += 1
            elif tile.entries:
                try:
                    body = read_tile(ledger, tile, size)
                except ValidationError as e:  # a record longer than a bundle entry can be
                    done.unwritable.append(e.message)
                else:
                    _write_atomically(path, body)
                    done.bundles += 1
            else:
                _write_atomically(path, read_tile(ledger, tile, size))
                done.tiles += 1
            bar.advance(task)
    # The checkpoint read first: a newer one may need tiles not written here.
    note = served_checkpoint_note(ledger, newest)
    _write_atomically(folder / CHECKPOINT_PATH, note.encode("utf-8"))
    return done


@click.group()
def log() -> None:
    """The ledger as a C2SP tlog-tiles log (checkpoint, hash tiles, entry bundles)."""


@log.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--entries/--no-entries", default=False, show_default=True,
              help="Also write the entry bundles (the records' bytes, with parties' personal "
                   "data: serve them only where read:all readers may reach them).")
@pass_env
def export(env: Env, folder: Path, entries: bool) -> None:
    """Write the newest checkpoint, its hash tiles and (with --entries) entry bundles into
    FOLDER as static files for a plain web server or object store: the same paths and bytes
    as the service's /log/. Incremental: tiles already in FOLDER are kept."""
    with env.open() as ledger:
        try:
            done = export_log(ledger, folder, entries=entries)
        except PermissionError as e:
            raise CheckFailed(f"cannot write {e.filename or folder}: {e.strerror}; nothing "
                              "more was written, and a rerun keeps what was") from e
    click.echo(f"wrote {done.tiles} hash tiles, {done.bundles} entry bundles and the "
               f"checkpoint (size {done.size}) to {folder}; {done.kept} already there were "
               "kept")
    for why in done.unwritable:
        click.echo(f"warning: {why}", err=True)


COMMANDS = [log]
