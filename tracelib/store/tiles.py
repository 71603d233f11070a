"""What the tile log reads (docs/contract.md "Tile log"): the newest checkpoint, a hash
tile's stored subtree hashes and an entry bundle's records, each by primary-key range.

Tiles are read from the hashes the append engine stored (``records.hash`` for tree level 0,
``nodes`` for levels >= 1), never recomputed from the records: a tile is one range scan.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection

from .bulk import driver_cursor, placeholder

__all__ = ["NewestCheckpoint", "TilesSql"]

# Statements in qmark style; the driver's own marker replaces ``?`` (sqlite3: ?, psycopg: %s).
_LEAF_HASHES = "SELECT hash FROM records WHERE seq >= ? AND seq < ? ORDER BY seq"
_NODE_HASHES = "SELECT hash FROM nodes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx"
_ENTRY_ROWS = ("SELECT seq, prev_hash, hash, body, key_id, signature, recorded_at "
               "FROM records WHERE seq >= ? AND seq < ? ORDER BY seq")


class NewestCheckpoint(NamedTuple):
    size: int
    note: str


class TilesSql:
    """Range reads for tiles; every statement is parameterized and reads a primary key."""

    @staticmethod
    def newest_checkpoint(conn: Connection) -> NewestCheckpoint | None:
        """The size and signed note of the newest checkpoint, or None before the first."""
        with driver_cursor(conn) as cursor:
            cursor.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")
            row = cursor.fetchone()
        return None if row is None else NewestCheckpoint(int(row[0]), str(row[1]))

    @staticmethod
    def hashes(conn: Connection, level: int, first: int, count: int) -> list[bytes]:
        """The stored hashes of tree level ``level``, indexes ``[first, first + count)`` in
        order: record leaf hashes by seq for level 0, ``nodes`` rows above. A hash not
        stored is absent (the caller checks the count)."""
        mark = placeholder(conn)
        if level == 0:
            sql = _LEAF_HASHES.replace("?", mark)
            params: tuple[Any, ...] = (first, first + count)
        else:
            sql = _NODE_HASHES.replace("?", mark)
            params = (level, first, first + count)
        with driver_cursor(conn) as cursor:
            cursor.execute(sql, params)
            return [bytes(digest) for (digest,) in cursor.fetchall()]

    @staticmethod
    def entry_rows(conn: Connection, first: int, count: int) -> list[tuple[Any, ...]]:
        """Records ``[first, first + count)`` in seq order as ``(seq, prev_hash, hash, body,
        key_id, signature, recorded_at)``: what a record's bytes are made of."""
        with driver_cursor(conn) as cursor:
            cursor.execute(_ENTRY_ROWS.replace("?", placeholder(conn)), (first, first + count))
            return list(cursor.fetchall())
