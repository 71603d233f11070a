"""Producers held to their certificates (docs/contract.md "Producers' standing"): the table
``broken_commitments`` (``ix_broken_commitments_producer``), one row per confirmed failure
(a failing ``lab_test`` on a lot) and origin (or entry) lot it was made from, and the index
``ix_lots_location_seq`` through which a producer's lots are found by the places it holds.

A ledger upgraded with failing lab results already recorded gets their rows here, derived
as the append rules derive them (tracelib.kinds._commitments): the tested lot's ancestors
through ``lot_edges``, each made by an ``origin`` or ``entry`` record, with the holder of
the place where it was made; so the upgraded ledger verifies.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tracelib.bounds import MAX_ID, MAX_KIND, MAX_LABEL, MAX_NUMBER

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_INDEX = "ix_broken_commitments_producer"
_LOTS_INDEX = "ix_lots_location_seq"
_MAKERS = ("origin", "entry")
_MAX_ANCESTORS = 100_000


def upgrade() -> None:
    bind = op.get_bind()
    if "broken_commitments" not in sa.inspect(bind).get_table_names():
        op.create_table(
            "broken_commitments",
            sa.Column("test_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
            sa.Column("source_lot", sa.String(MAX_ID), primary_key=True),
            sa.Column("source_seq", sa.BigInteger(), nullable=False),
            sa.Column("source_kind", sa.String(MAX_KIND), nullable=False),
            sa.Column("tested_lot", sa.String(MAX_ID), nullable=False),
            sa.Column("certificate_no", sa.String(MAX_NUMBER)),
            sa.Column("producer", sa.String(MAX_ID)),
            sa.Column("location", sa.String(MAX_ID), nullable=False),
            sa.Column("stall", sa.String(MAX_ID)),
            sa.Column("analyte", sa.String(MAX_LABEL), nullable=False),
            sa.Column("day", sa.String(10), nullable=False),
        )
    op.create_index(_INDEX, "broken_commitments", ["producer", "test_seq"], if_not_exists=True)
    op.create_index(_LOTS_INDEX, "lots", ["location", "seq"], if_not_exists=True)
    _backfill(bind)


def _backfill(bind: sa.Connection) -> None:
    """Rows for the failing lab results already recorded (none in a ledger without any)."""
    if bind.execute(sa.text("SELECT 1 FROM broken_commitments LIMIT 1")).first() is not None:
        return
    failures = bind.execute(sa.text(
        "SELECT seq, lot, stall, item, day FROM test_results "
        "WHERE kind = 'lab' AND result = 'fail' AND lot IS NOT NULL ORDER BY seq")).all()
    rows = []
    for test_seq, tested, stall, analyte, day in failures:
        seen, todo = {tested}, [tested]
        while todo and len(seen) <= _MAX_ANCESTORS:
            code = todo.pop()
            for (parent,) in bind.execute(sa.text(
                    "SELECT parent FROM lot_edges WHERE child = :c"), {"c": code}):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        for code in sorted(seen):
            lot = bind.execute(sa.text(
                "SELECT l.seq, l.kind, l.location, l.certificate_no, p.holder FROM lots l "
                "LEFT JOIN locations p ON p.id = l.location WHERE l.lot = :c"),
                {"c": code}).first()
            if lot is None or lot[1] not in _MAKERS:
                continue
            rows.append({"test_seq": test_seq, "source_lot": code, "source_seq": lot[0],
                         "source_kind": lot[1], "tested_lot": tested,
                         "certificate_no": lot[3], "producer": lot[4], "location": lot[2],
                         "stall": stall, "analyte": analyte, "day": day})
    if rows:
        bind.execute(sa.text(
            "INSERT INTO broken_commitments (test_seq, source_lot, source_seq, source_kind, "
            "tested_lot, certificate_no, producer, location, stall, analyte, day) VALUES "
            "(:test_seq, :source_lot, :source_seq, :source_kind, :tested_lot, "
            ":certificate_no, :producer, :location, :stall, :analyte, :day)"), rows)


def downgrade() -> None:
    op.drop_index(_LOTS_INDEX, table_name="lots")
    op.drop_index(_INDEX, table_name="broken_commitments")
    op.drop_table("broken_commitments")
