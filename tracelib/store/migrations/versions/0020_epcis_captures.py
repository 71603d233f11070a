"""The EPCIS capture jobs table (``epcis_captures``): what each ``POST /epcis/capture``
answered, for ``GET /epcis/capture/{id}`` (docs/contract.md "EPCIS 2.0 capture and import").
Not ledger state: verify neither replays nor compares it (docs/integrity.md).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID, MAX_TIME_TEXT

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "epcis_captures" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "epcis_captures",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("party", sa.String(MAX_ID)),
            sa.Column("behaviour", sa.String(16), nullable=False),
            sa.Column("created_at", sa.String(MAX_TIME_TEXT), nullable=False),
            sa.Column("finished_at", sa.String(MAX_TIME_TEXT)),
            sa.Column("success", sa.SmallInteger(), nullable=False),
            sa.Column("events", sa.Integer(), nullable=False),
            sa.Column("stored", sa.Integer(), nullable=False),
            sa.Column("errors", sa.Text(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("epcis_captures")
