"""Who placed a hold and who signed a recall, as columns (``stock.hold_by``,
``lots.recalled_by``): a hold placed by a ``hold`` event is released by the party that placed
it or a regulator, and a recall is lifted by a regulator, the operator or the party that
recalled it (docs/contract.md "Authority"). Existing holds and recalls are carried over from
the actor of the record that placed them (``hold_seq``, ``recalled_seq``).

Databases created from the current schema module already have the columns.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "hold_by" not in {c["name"] for c in inspector.get_columns("stock")}:
        op.add_column("stock", sa.Column("hold_by", sa.String(200)))
    if "recalled_by" not in {c["name"] for c in inspector.get_columns("lots")}:
        op.add_column("lots", sa.Column("recalled_by", sa.String(200)))
    op.execute("UPDATE stock SET hold_by = (SELECT actor FROM records "
               "WHERE records.seq = stock.hold_seq) WHERE hold_seq IS NOT NULL")
    op.execute("UPDATE lots SET recalled_by = (SELECT actor FROM records "
               "WHERE records.seq = lots.recalled_seq) WHERE recalled_seq IS NOT NULL")


def downgrade() -> None:
    op.drop_column("lots", "recalled_by")
    op.drop_column("stock", "hold_by")
