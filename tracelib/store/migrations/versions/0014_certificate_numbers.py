"""The certificate number of each origin lot as a column with its own index
(``lots.certificate_no``, ``ix_lots_certificate_no``), so the console's Find looks a
合格证 number up through the index instead of reading the body of every ``origin`` record.

The origin kind's rules set it as they make the lot (the origin event's
``data.certificate.no``, docs/contract.md "origin"); existing lots get it from the record
that made them (``lots.seq``), read from its stored RFC 8785 body, so an upgraded ledger
verifies: the replay gives the same numbers.

Databases created from the current schema module already have the column and the index;
revision 0008 re-creates SQLite's ``lots`` from that module, with the column empty, so the
numbers are filled in whenever they are missing.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_NUMBER

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_INDEX = "ix_lots_certificate_no"
_CERTIFIED = "certificate_no IS NOT NULL"
# The number in a stored origin body (canonical JSON, UTF-8; U+0000 is refused in events,
# so PostgreSQL's jsonb reads every one).
_NUMBER = {
    "sqlite": "json_extract(CAST(records.body AS TEXT), '$.data.certificate.no')",
    "postgresql": "convert_from(records.body, 'UTF8')::jsonb #>> '{data,certificate,no}'",
}


def upgrade() -> None:
    bind = op.get_bind()
    if "certificate_no" not in {c["name"] for c in sa.inspect(bind).get_columns("lots")}:
        op.add_column("lots", sa.Column("certificate_no", sa.String(MAX_NUMBER)))
    op.execute(f"UPDATE lots SET certificate_no = (SELECT {_NUMBER[bind.dialect.name]} "  # noqa: S608
               "FROM records WHERE records.seq = lots.seq) "
               "WHERE kind = 'origin' AND certificate_no IS NULL")
    op.create_index(_INDEX, "lots", ["certificate_no"], if_not_exists=True,
                    sqlite_where=sa.text(_CERTIFIED), postgresql_where=sa.text(_CERTIFIED))


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="lots")
    op.drop_column("lots", "certificate_no")
