"""The inspections table (``inspections``, ``ix_inspections_location_seq``): each
regulator's 日常监督检查 recorded by an ``inspection`` event and where its rectification
stands, so the stall page's 公示栏 reads a place's latest result with one indexed lookup
(docs/contract.md "inspection", "rectification").

The kinds are new with this revision, so an upgraded ledger has no such record and the table
starts empty; verify replays it like every derived table. Databases created from the current
schema module already have the table and its index.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID, MAX_TIME_TEXT

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_INDEX = "ix_inspections_location_seq"


def upgrade() -> None:
    if "inspections" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "inspections",
            sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                      primary_key=True, autoincrement=False),
            sa.Column("event_id", sa.String(MAX_ID), nullable=False, unique=True),
            sa.Column("location", sa.String(MAX_ID), nullable=False),
            sa.Column("actor", sa.String(MAX_ID), nullable=False),
            sa.Column("day", sa.String(10), nullable=False),
            sa.Column("time", sa.String(MAX_TIME_TEXT), nullable=False),
            sa.Column("result", sa.String(32), nullable=False),
            sa.Column("deadline", sa.String(10)),
            sa.Column("rectification", sa.String(16)),
            sa.Column("reported_seq", sa.BigInteger()),
            sa.Column("closed_seq", sa.BigInteger()),
        )
    op.create_index(_INDEX, "inspections", ["location", "seq"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="inspections")
    op.drop_table("inspections")
