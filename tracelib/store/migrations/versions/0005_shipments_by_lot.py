"""Index shipments by lot (every trace reads a lot's shipments).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Databases created at 0002 from the current schema module already have it.
    op.create_index("ix_shipments_lot", "shipments", ["lot"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_shipments_lot", table_name="shipments")
