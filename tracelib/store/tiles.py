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
            sql = (f"SELECT hash FROM records WHERE seq >= {mark} AND seq < {mark} "  # noqa: S608
                   "ORDER BY seq")
            params: tuple[Any, ...] = (first, first + count)
        else:
            sql = (f"SELECT hash FROM nodes WHERE level = {mark} AND idx >= {mark} "  # noqa: S608
                   f"AND idx < {mark} ORDER BY idx")
            params = (level, first, first + count)
        with driver_cursor(conn) as cursor:
            cursor.execute(sql, params)
            return [bytes(digest) for (digest,) in cursor.fetchall()]

    @staticmethod
    def entry_rows(conn: Connection, first: int, count: int) -> list[tuple[Any, ...]]:
        """Records ``[first, first + count)`` in seq order as ``(seq, prev_hash, hash, body,
        key_id, signature, recorded_at)``: what a record's bytes are made of."""
        mark = placeholder(conn)
        with driver_cursor(conn) as cursor:
            cursor.execute("SELECT seq, prev_hash, hash, body, key_id, signature, recorded_at "
                           f"FROM records WHERE seq >= {mark} AND seq < {mark} "  # noqa: S608
                           "ORDER BY seq", (first, first + count))
            return list(cursor.fetchall())
