"""Peer ledgers (docs/contract.md "Peers and entries from another ledger"): the peers the
operator registered (``peers``), the newest checkpoint of each that a ``peer_entry`` cited
(``peer_checkpoints``) and the peer shipments cited (``peer_citations``). All three are
ledger state, rebuilt by replay (docs/integrity.md).

The kinds and fields are new with this revision, so an upgraded ledger has no such record and
the tables start empty. Databases created from the current schema module already have them.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID, MAX_TEXT

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "peers" not in existing:
        op.create_table(
            "peers",
            sa.Column("origin", sa.String(MAX_TEXT), primary_key=True),
            sa.Column("vkey", sa.Text(), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
        )
    if "peer_checkpoints" not in existing:
        op.create_table(
            "peer_checkpoints",
            sa.Column("origin", sa.String(MAX_TEXT), primary_key=True),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("root", sa.LargeBinary(32), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
        )
    if "peer_citations" not in existing:
        op.create_table(
            "peer_citations",
            sa.Column("origin", sa.String(MAX_TEXT), primary_key=True),
            sa.Column("ship_event", sa.String(MAX_ID), primary_key=True),
            sa.Column("ship_seq", sa.BigInteger(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False, unique=True),
        )


def downgrade() -> None:
    op.drop_table("peer_citations")
    op.drop_table("peer_checkpoints")
    op.drop_table("peers")
