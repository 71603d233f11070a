"""Partial indexes for the regulator's alerts (tracelib.views.alerts), each holding only the
rows an alert is about, so the day's work list is read without scanning the tables:

* ``ix_stock_held``: stock on hand that a hold is in force on;
* ``ix_shipments_in_transit``: shipments not yet received;
* ``ix_test_results_open``: failures whose follow-up is open.

Databases created from the current schema module already have them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_stock_held", "stock", ["hold_seq"], "hold_seq IS NOT NULL AND on_hand > 0"),
    ("ix_shipments_in_transit", "shipments", ["ship_seq"], "receive_seq IS NULL"),
    ("ix_test_results_open", "test_results", ["seq"], "follow_up = 'held'"),
)


def upgrade() -> None:
    for name, table, columns, where in _INDEXES:
        op.create_index(name, table, columns, if_not_exists=True,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, table, _, _ in _INDEXES:
        op.drop_index(name, table_name=table)
