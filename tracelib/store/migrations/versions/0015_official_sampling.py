"""Official sampling on lab results: ``test_results.sampling`` (监督抽检, 评价性抽检, 风险监测,
委托检验, 企业自检), ``stage``, ``category`` and ``business_type``, from the ``lab_test``
event's data (docs/contract.md "lab_test"); and the KPI report's covering index
``ix_test_results_day_figures`` widened by sampling, category and stage, so the year of
figures is still read from the index alone.

Existing results get no value: a lab result recorded before the fields existed does not
state its sampling, and its replay gives the same empty columns, so an upgraded ledger
verifies. Databases created from the current schema module already have the columns.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_LABEL

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_COLUMNS = (("sampling", 16), ("stage", 16), ("category", MAX_LABEL), ("business_type", MAX_LABEL))
_INDEX = "ix_test_results_day_figures"
_BEFORE = ["day", "kind", "result", "residue", "follow_up"]
_AFTER = [*_BEFORE, "sampling", "category", "stage"]


def upgrade() -> None:
    bind = op.get_bind()
    have = {c["name"] for c in sa.inspect(bind).get_columns("test_results")}
    for name, length in _COLUMNS:
        if name not in have:
            op.add_column("test_results", sa.Column(name, sa.String(length)))
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
    op.create_index(_INDEX, "test_results", _AFTER)


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
    op.create_index(_INDEX, "test_results", _BEFORE)
    for name, _ in reversed(_COLUMNS):
        op.drop_column("test_results", name)
