"""Limits tables: a user's authoritative GB 2763 table, one row per loaded version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

from tracelib.store.schema import limit_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    limit_tables.create(op.get_bind())


def downgrade() -> None:
    op.drop_table("limit_tables")
