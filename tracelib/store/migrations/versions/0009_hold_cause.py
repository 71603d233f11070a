"""Why stock is held, as a column (``stock.hold_cause``: ``test`` or ``hold``), in place of
reading the hold reason's words: a test hold was recognised by its reason starting with
``快检`` or ``检测``, and a retest or a passing lab result lifted only those. Existing holds
are carried over by that same reading of their reason.

Databases created from the current schema module already have the column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "hold_cause" not in {c["name"] for c in sa.inspect(bind).get_columns("stock")}:
        op.add_column("stock", sa.Column("hold_cause", sa.String(10)))
    op.execute("UPDATE stock SET hold_cause = CASE "
               "WHEN hold_seq IS NULL THEN NULL "
               "WHEN hold_reason LIKE '快检%' OR hold_reason LIKE '检测%' THEN 'test' "
               "ELSE 'hold' END")


def downgrade() -> None:
    op.drop_column("stock", "hold_cause")
