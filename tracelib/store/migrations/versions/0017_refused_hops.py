"""A refused hop's reason on the shipment it closes (``shipments.reject_reason``): a
``reject`` of a shipment closes it with nothing received and says why (docs/contract.md
"reject").

The kind is new with this revision, so an upgraded ledger has no such record and the column
starts empty; verify replays it like every derived column. Databases created from the current
schema module already have the column.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "reject_reason" not in {c["name"] for c in
                               sa.inspect(op.get_bind()).get_columns("shipments")}:
        op.add_column("shipments", sa.Column("reject_reason", sa.Text()))


def downgrade() -> None:
    op.drop_column("shipments", "reject_reason")
