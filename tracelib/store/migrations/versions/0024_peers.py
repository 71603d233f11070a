"""Peer ledgers (docs/contract.md "Peers and entries from another ledger"): the peers the
operator registered (``peers``), the newest checkpoint of each that a ``peer_entry`` cited
(``peer_checkpoints``) and the peer shipments cited (``peer_citations``) — ledger state,
rebuilt by replay (docs/integrity.md) — and the recall notices received from peers
(``peer_notices``), which are not.

The kinds and fields are new with this revision, so an upgraded ledger has no such record and
the tables start empty. Databases created from the current schema module already have them.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID, MAX_TEXT, MAX_TIME_TEXT

revision = "0024"
down_revision = "0023"
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
            sa.Column("policy", sa.Text(), nullable=True),
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
    if "peer_notices" not in existing:
        op.create_table(
            "peer_notices",
            sa.Column("origin", sa.String(MAX_TEXT), primary_key=True),
            sa.Column("recall_event", sa.String(MAX_ID), primary_key=True),
            sa.Column("recall_seq", sa.BigInteger(), nullable=False),
            sa.Column("lots", sa.Text(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("recall_time", sa.String(MAX_TIME_TEXT), nullable=False),
            sa.Column("checkpoint", sa.Text(), nullable=False),
            sa.Column("received_at", sa.String(MAX_TIME_TEXT), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("peer_notices")
    op.drop_table("peer_citations")
    op.drop_table("peer_checkpoints")
    op.drop_table("peers")
