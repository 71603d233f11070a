"""GB 2763 limits tables are loaded by a signed ``limits`` event: ``limit_tables.seq`` names
the record that loaded each one, so ``tracelib verify`` and ``tracelib reindex`` can rebuild
the table that judged every lab result from the records.

Tables loaded before this version were written beside the ledger, not into it; they keep a
NULL ``seq`` and stay active, and verify reports them as rows no record produced until they
are loaded again through the ledger (``tracelib limits load FILE --version NEW``).

Databases created from the current schema module already have the column.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "seq" not in {c["name"] for c in sa.inspect(bind).get_columns("limit_tables")}:
        op.add_column("limit_tables", sa.Column("seq", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("limit_tables", "seq")
