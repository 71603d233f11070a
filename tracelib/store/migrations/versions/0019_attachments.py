"""The attachments table (``attachments``): which record cites which blob of the blob store,
with the citing event's actor and location, so a blob is readable with the scopes of the
events that cite it and verify rehashes every cited blob (docs/contract.md "Attachments").

No kind cited attachments before this revision, so an upgraded ledger starts with the table
empty; verify replays it like every derived table. Databases created from the current schema
module already have the table.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_BLOB_NAME, MAX_ID

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "attachments" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "attachments",
            sa.Column("name", sa.String(MAX_BLOB_NAME), primary_key=True),
            sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("actor", sa.String(MAX_ID), nullable=False),
            sa.Column("location", sa.String(MAX_ID), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("attachments")
