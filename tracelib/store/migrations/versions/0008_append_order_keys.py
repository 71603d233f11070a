"""Keys in append order, so that a new lot's rows go to the end of large B-trees:

* stock keyed by the record that made its lot (lot_seq, lot, location), and what is on
  hand at a location in a partial index (location, lot_seq) WHERE on_hand > 0. Keyed by
  lot code, every new lot's stock row and its location-index entry went to random places
  in two large B-trees. Rows are copied with their lot's seq from ``lots`` (every stock
  row has its lot there).
* SQLite: lots back in a rowid table (appended in rowid order) beside the index of its
  codes, from the WITHOUT ROWID shape of 0006, whose wide leaves took the random insert.

Databases created at 0002 from the current schema module already have these shapes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, inspect, text

from tracelib.store.schema import lots, stock

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OLD = "stock_before_0008"
_VALUES = ("unit", "received", "sold", "shipped", "consumed", "on_hand", "hold_seq",
           "hold_reason")


def upgrade() -> None:
    bind = op.get_bind()
    _stock_by_lot_seq(bind)
    if bind.dialect.name == "sqlite":
        _lots_in_rowid_order(bind)


def _lots_in_rowid_order(bind: Connection) -> None:
    sql = bind.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'lots'")).scalar()
    if sql is None or "WITHOUT ROWID" not in sql.upper():
        return
    bind.execute(text('ALTER TABLE lots RENAME TO "lots_before_0008"'))
    lots.create(bind)
    # The columns the old table has: a later revision's column (0010 lots.recalled_by) is
    # added by that revision, and SQLite would read a quoted name it lacks as a string.
    old = {c["name"] for c in inspect(bind).get_columns("lots_before_0008")}
    columns = ", ".join(f'"{c.name}"' for c in lots.c if c.name in old)
    # In seq order: rowids then follow the order the lots were made, as new ones will.
    bind.execute(text(f"INSERT INTO lots ({columns}) SELECT {columns} "  # noqa: S608
                      'FROM "lots_before_0008" ORDER BY seq'))
    bind.execute(text('DROP TABLE "lots_before_0008"'))


def _stock_by_lot_seq(bind: Connection) -> None:
    if "lot_seq" in {c["name"] for c in inspect(bind).get_columns("stock")}:
        return
    bind.execute(text("DROP INDEX IF EXISTS ix_stock_location"))
    bind.execute(text(f'ALTER TABLE stock RENAME TO "{_OLD}"'))
    if bind.dialect.name == "postgresql":  # the key's index keeps its name through a rename
        bind.execute(text(f'ALTER INDEX stock_pkey RENAME TO "{_OLD}_pkey"'))
    stock.create(bind)
    values = ", ".join(f"s.{c}" for c in _VALUES)
    bind.execute(text(
        f"INSERT INTO stock (lot_seq, lot, location, {', '.join(_VALUES)}) "  # noqa: S608
        f'SELECT l.seq, s.lot, s.location, {values} FROM "{_OLD}" s '
        "JOIN lots l ON l.lot = s.lot"))
    bind.execute(text(f'DROP TABLE "{_OLD}"'))


def downgrade() -> None:
    """Back to stock keyed by (lot, location) with the (location, on_hand) index (lots
    keep their rowid shape: 0006 and 0007 read and write them the same either way)."""
    bind = op.get_bind()
    bind.execute(text("DROP INDEX IF EXISTS ix_stock_on_hand"))
    bind.execute(text(f'ALTER TABLE stock RENAME TO "{_OLD}"'))
    if bind.dialect.name == "postgresql":
        bind.execute(text(f'ALTER INDEX stock_pkey RENAME TO "{_OLD}_pkey"'))
    rowid = " WITHOUT ROWID" if bind.dialect.name == "sqlite" else ""
    bind.execute(text(
        "CREATE TABLE stock (lot VARCHAR(200) NOT NULL, location VARCHAR(200) NOT NULL, "
        "unit VARCHAR(20) NOT NULL, received BIGINT NOT NULL, sold BIGINT NOT NULL, "
        "shipped BIGINT NOT NULL, consumed BIGINT NOT NULL, on_hand BIGINT NOT NULL, "
        f"hold_seq BIGINT, hold_reason TEXT, PRIMARY KEY (lot, location)){rowid}"))
    bind.execute(text("CREATE INDEX ix_stock_location ON stock (location, on_hand)"))
    columns = ", ".join(("lot", "location", *_VALUES))
    bind.execute(text(f"INSERT INTO stock ({columns}) "  # noqa: S608 - schema names
                      f'SELECT {columns} FROM "{_OLD}"'))
    bind.execute(text(f'DROP TABLE "{_OLD}"'))
