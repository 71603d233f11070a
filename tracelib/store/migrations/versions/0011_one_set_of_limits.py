"""Columns as wide as the event schema lets their values be (tracelib.bounds): a lot's
``product`` takes the 500 characters the kinds accept (was 200), a test's ``method`` the
200 of every test label (was 100), and the decimals the ledger renders from a lab result
and its limit (``value_mg_kg``, ``limit_mg_kg``) are text of any length (were 40).

Only PostgreSQL enforces a ``varchar`` width; SQLite ignores it, so there is nothing to do
there. A downgrade narrows the columns back and refuses when a stored value would not fit.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# (table, column, type before, type after)
_WIDENED = (
    ("lots", "product", sa.String(200), sa.String(500)),
    ("test_results", "method", sa.String(100), sa.String(200)),
    ("test_results", "value_mg_kg", sa.String(40), sa.Text()),
    ("test_results", "limit_mg_kg", sa.String(40), sa.Text()),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, before, after in _WIDENED:
        op.alter_column(table, column, type_=after, existing_type=before)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column, before, after in _WIDENED:
        width = before.length
        col: sa.ColumnClause[str] = sa.column(column)
        longer = bind.execute(sa.select(sa.func.count()).select_from(sa.table(table, col))
                              .where(sa.func.char_length(col) > width)).scalar()
        if longer:
            raise RuntimeError(f"cannot narrow {table}.{column} to {width} characters: "
                               f"{longer} stored value(s) are longer")
        op.alter_column(table, column, type_=before, existing_type=after)
