"""Stock keyed by the record that made its lot (lot_seq, lot, location), and what is on
hand at a location in a partial index (location, lot_seq) WHERE on_hand > 0.

Keyed by lot code, every new lot's stock row and its location-index entry went to random
places in two large B-trees; keyed by the lot's seq they go to the end. Rows are copied
with their lot's seq from ``lots`` (every stock row has its lot there).

Databases created at 0002 from the current schema module already have this shape.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect, text

from tracelib.store.schema import stock

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OLD = "stock_before_0008"
_VALUES = ("unit", "received", "sold", "shipped", "consumed", "on_hand", "hold_seq",
           "hold_reason")


def upgrade() -> None:
    bind = op.get_bind()
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
    """Back to stock keyed by (lot, location) with the (location, on_hand) index."""
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
    bind.execute(text(f'INSERT INTO stock ({columns}) SELECT {columns} FROM "{_OLD}"'))  # noqa: S608
    bind.execute(text(f'DROP TABLE "{_OLD}"'))
