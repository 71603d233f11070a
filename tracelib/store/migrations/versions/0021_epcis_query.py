"""The EPCIS query (docs/contract.md "EPCIS query"): an index for eventTime ranges over the
records' existing columns, and the event hash ID index with its cursor (not ledger state).

* SQLite: ``ix_records_kind_utc`` on ``(kind, julianday(upper(event_time)))``, the event's
  instant in UTC (SQLite's date functions read the offset; ``upper`` because they refuse a
  lower-case ``t``);
* PostgreSQL: ``ix_records_kind_utc`` on ``(kind, tracelib_utc(event_time))``, the instant in
  UTC; ``tracelib_utc`` (created here) casts the text to ``timestamptz``, which depends on no
  setting for a time that carries its offset, as every stored event time does (so it may be
  declared immutable);
* ``epcis_event_ids`` (hash ID → seq, and ``ix_epcis_event_ids_seq`` the other way) and
  ``epcis_id_cursor``: the event hash ID index, not ledger state.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE INDEX IF NOT EXISTS ix_records_kind_utc "
                   "ON records (kind, julianday(upper(event_time)))")
    else:
        op.execute("CREATE OR REPLACE FUNCTION tracelib_utc(t text) RETURNS timestamp "
                   "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
                   "AS $$ SELECT upper(t)::timestamptz AT TIME ZONE 'UTC' $$")
        op.execute("CREATE INDEX IF NOT EXISTS ix_records_kind_utc "
                   "ON records (kind, tracelib_utc(event_time))")
    tables = sa.inspect(bind).get_table_names()
    if "epcis_event_ids" not in tables:
        op.create_table(
            "epcis_event_ids",
            sa.Column("hash_id", sa.String(100), primary_key=True),
            sa.Column("seq", sa.BigInteger(), nullable=False),
        )
        op.create_index("ix_epcis_event_ids_seq", "epcis_event_ids", ["seq"])
    if "epcis_id_cursor" not in tables:
        op.create_table(
            "epcis_id_cursor",
            sa.Column("name", sa.String(16), primary_key=True),
            sa.Column("indexed", sa.BigInteger(), nullable=False),
            sa.Column("stamp", sa.BigInteger(), nullable=False),
            sa.Column("base", sa.Text(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("epcis_id_cursor")
    op.drop_table("epcis_event_ids")
    op.execute("DROP INDEX IF EXISTS ix_records_kind_utc")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS tracelib_utc(text)")
