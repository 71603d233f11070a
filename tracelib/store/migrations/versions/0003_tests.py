"""Test results: rapid tests and lab results per stall, lot and day, with follow-up.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from tracelib.store.schema import test_results

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # From the schema module: a later change to this table gets its own revision.
    test_results.create(op.get_bind())


def downgrade() -> None:
    op.drop_table("test_results")
