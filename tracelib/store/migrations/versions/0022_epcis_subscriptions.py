"""EPCIS 2.0 named queries and webhook subscriptions: the queries, the subscriptions with
their delivery cursors, the log of acknowledged deliveries and the deliverer's lease
(docs/contract.md "EPCIS subscriptions"). None of them is ledger state.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made from the current schema module (an earlier revision creating every
    # table of it) already has them.
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "epcis_queries" not in existing:
        _create()


def _create() -> None:
    op.create_table(
        "epcis_queries",
        sa.Column("name", sa.String(MAX_ID), primary_key=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(MAX_ID), nullable=False),
        sa.Column("reach", sa.String(16), nullable=False),
        sa.Column("token", sa.String(64)),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "epcis_subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("query_name", sa.String(MAX_ID), nullable=False),
        sa.Column("dest", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("stream", sa.SmallInteger(), nullable=False),
        sa.Column("report_if_empty", sa.SmallInteger(), nullable=False),
        sa.Column("owner", sa.String(MAX_ID), nullable=False),
        sa.Column("reach", sa.String(16), nullable=False),
        sa.Column("token", sa.String(64)),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("last_notified", sa.String(32)),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_epcis_subscriptions_query", "epcis_subscriptions", ["query_name"])
    op.create_table(
        "epcis_deliveries",
        sa.Column("subscription_id", sa.String(36), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("delivered_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "epcis_delivery_lease",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(MAX_ID), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("epcis_delivery_lease")
    op.drop_table("epcis_deliveries")
    op.drop_index("ix_epcis_subscriptions_query", table_name="epcis_subscriptions")
    op.drop_table("epcis_subscriptions")
    op.drop_table("epcis_queries")
