"""Witnesses: the witnesses the operator registers (``witnesses``, ledger state re-derived
from ``register`` events) and the cosignatures they return for checkpoints
(``checkpoint_cosignatures``, not ledger state: evidence from outside, each line verifiable
on its own). docs/contract.md "Witnesses", docs/integrity.md.

No register event named witnesses before this revision, so an upgraded ledger starts with
both tables empty. Databases created from the current schema module already have them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "witnesses" not in existing:
        op.create_table(
            "witnesses",
            sa.Column("name", sa.String(MAX_ID), primary_key=True),
            sa.Column("vkey", sa.Text(), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
        )
    if "checkpoint_cosignatures" not in existing:
        op.create_table(
            "checkpoint_cosignatures",
            sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("witness", sa.String(MAX_ID), primary_key=True),
            sa.Column("key_id", sa.String(8), nullable=False),
            sa.Column("timestamp", sa.BigInteger(), nullable=False),
            sa.Column("line", sa.Text(), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("checkpoint_cosignatures")
    op.drop_table("witnesses")
