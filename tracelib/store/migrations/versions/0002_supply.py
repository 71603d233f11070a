"""Supply-chain indexes: lots, lot edges, lot events, stock per location, shipments, excursions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from tracelib.store.schema import excursions, lot_edges, lot_events, lots, shipments, stock

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = (lots, lot_edges, lot_events, stock, shipments, excursions)


def upgrade() -> None:
    bind = op.get_bind()
    # Created from the schema module: a later change to these tables gets its own
    # revision, and this one must then spell out the shapes it created.
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table.name)
