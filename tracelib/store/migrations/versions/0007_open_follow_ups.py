"""Index test results by (lot, follow-up status) instead of by lot alone: an append reads
the open follow-ups of a chunk's tested lots without reading their other results (a lot
tested daily for a year has hundreds).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Databases created at 0003 from the current schema module already have it.
    op.create_index("ix_test_results_lot_follow_up", "test_results", ["lot", "follow_up"],
                    if_not_exists=True)
    op.execute("DROP INDEX IF EXISTS ix_test_results_lot")


def downgrade() -> None:
    op.create_index("ix_test_results_lot", "test_results", ["lot"])
    op.drop_index("ix_test_results_lot_follow_up", table_name="test_results")
