"""The ledger: records, subtree hashes, checkpoints, parties, locations, keys, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("seq", Seq, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("event_time", sa.String(40), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_records_kind", "records", ["kind", "seq"])
    op.create_table(
        "nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("parent", sa.String(200)),
        sa.Column("holder", sa.String(200)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_locations_parent", "locations", ["parent"])
    op.create_table(
        "keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("party", sa.String(200), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("valid_from_us", sa.BigInteger, nullable=False),
        sa.Column("registered_seq", sa.BigInteger, nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger),
        sa.Column("revoked_seq", sa.BigInteger),
    )
    op.create_index("ix_keys_party", "keys", ["party"])
    op.create_table(
        "meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "keys", "locations", "parties", "checkpoints", "nodes", "records"):
        op.drop_table(table)
