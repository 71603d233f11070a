"""The ledger as a C2SP tlog-tiles log (docs/contract.md "Tile log"): its newest checkpoint,
its hash tiles and its entry bundles, as the service serves them and ``tracelib log export``
writes them.

Tiles describe the tree of the newest signed checkpoint: a tile (or a width of it) that
tree does not hold yet is :class:`~tracelib.errors.NotFoundError`, even when the records
behind it are already appended. A partial tile narrower than the newest tree holds is
served too: it is the tile of an older checkpoint, and its hashes never change (C2SP
tlog-tiles "Partial Tiles": logs MUST serve the partial tiles of every checkpointed size).
Hashes come from the stored subtree hashes (:class:`~tracelib.store.tiles.TilesSql`), never
from rehashing records.
"""

from __future__ import annotations

from ..errors import IntegrityError, NotFoundError, ValidationError
from ..ledger import Ledger
from ..record import record_bytes
from ..store import Connection
from ..store.tiles import NewestCheckpoint, TilesSql
from ..tiles import MAX_ENTRY_BYTES, Tile, encode_bundle, tile_width
from ..witness.cosigning import cosigned_note

__all__ = ["entry_bundle", "hash_tile", "newest_checkpoint", "read_tile",
           "served_checkpoint_note"]


def _newest(conn: Connection) -> NewestCheckpoint:
    found = TilesSql.newest_checkpoint(conn)
    if found is None:
        raise NotFoundError("the log has no signed checkpoint yet")
    return found


def _check_in_tree(tile: Tile, size: int) -> None:
    held = tile_width(tile, size)
    if tile.width > held:
        what = "not yet" if held == 0 else f"only {held} hashes wide"
        raise NotFoundError(f"{tile.path()} is {what} in the tree of the newest checkpoint "
                            f"(size {size})")


def _hash_tile(conn: Connection, tile: Tile, size: int) -> bytes:
    _check_in_tree(tile, size)
    hashes = TilesSql.hashes(conn, tile.tree_level, tile.first, tile.width)
    if len(hashes) != tile.width:
        raise IntegrityError(f"{tile.path()}: expected {tile.width} stored hashes of tree "
                             f"level {tile.tree_level}, found {len(hashes)}")
    return b"".join(hashes)


def _entry_bundle(conn: Connection, tile: Tile, size: int) -> bytes:
    _check_in_tree(tile, size)
    rows = TilesSql.entry_rows(conn, tile.first, tile.width)
    if len(rows) != tile.width:
        raise IntegrityError(f"{tile.path()}: expected {tile.width} records from seq "
                             f"{tile.first}, found {len(rows)}")
    # The entry is the record's bytes: its RFC 9162 leaf hash is records.hash (record.py).
    entries = [record_bytes(int(seq), bytes(prev), bytes(body), str(key_id), bytes(sig),
                            str(recorded_at))
               for seq, prev, _hash, body, key_id, sig, recorded_at in rows]
    for seq, entry in enumerate(entries, tile.first):
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValidationError(f"{tile.path()} cannot be served: record {seq} is "
                                  f"{len(entry):,} bytes, and a bundle's entries are at most "
                                  f"{MAX_ENTRY_BYTES:,} (C2SP tlog-tiles uint16 lengths); read "
                                  "it whole from the API")
    return encode_bundle(entries)


def newest_checkpoint(ledger: Ledger) -> NewestCheckpoint:
    """The newest signed checkpoint's size and note (NotFoundError before the first)."""
    return ledger.store.settled_read(_newest)


def served_checkpoint_note(ledger: Ledger, checkpoint: NewestCheckpoint | None = None) -> str:
    """The signed note the tile log serves as ``checkpoint`` (``GET /log/checkpoint`` and
    ``tracelib log export``): ``checkpoint`` (default: the newest) as the operator signed it,
    with the ``cosignature/v1`` lines its witnesses returned (C2SP tlog-witness)."""
    checkpoint = checkpoint or newest_checkpoint(ledger)
    return cosigned_note(ledger, checkpoint.size) or checkpoint.note


def read_tile(ledger: Ledger, tile: Tile, size: int) -> bytes:
    """The body of ``tile`` (a hash tile or an entry bundle) in the tree of ``size`` leaves,
    ``size`` being a signed checkpoint's (NotFoundError past it)."""
    def read(conn: Connection) -> bytes:
        return (_entry_bundle if tile.entries else _hash_tile)(conn, tile, size)

    return ledger.store.settled_read(read)


def hash_tile(ledger: Ledger, tile: Tile) -> bytes:
    """The hashes of a hash tile of the newest checkpoint's tree, concatenated."""
    def read(conn: Connection) -> bytes:
        return _hash_tile(conn, tile, _newest(conn).size)

    return ledger.store.settled_read(read)


def entry_bundle(ledger: Ledger, tile: Tile) -> bytes:
    """The entry bundle ``tile`` of the newest checkpoint's tree (C2SP tlog-tiles "Log
    entries")."""
    def read(conn: Connection) -> bytes:
        return _entry_bundle(conn, tile, _newest(conn).size)

    return ledger.store.settled_read(read)
