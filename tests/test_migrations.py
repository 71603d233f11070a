"""Schema revisions applied to a ledger made by an older tracelib keep every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.conftest import NOW
from tests.helpers import Network, supply_snapshot
from tests.test_testing import rapid, stock_at_stall
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.stall import stall_view
from tracelib.store.schema import test_results

# The shapes revision 0005 left on SQLite (tables as 0002/0003 created them then).
_OLD_SHAPES = {
    "lots": ("CREATE TABLE lots (lot VARCHAR(200) NOT NULL, unit VARCHAR(20) NOT NULL, "
             "product VARCHAR(200), storage VARCHAR(16), gtin VARCHAR(14), seq BIGINT NOT NULL, "
             "kind VARCHAR(32) NOT NULL, location VARCHAR(200) NOT NULL, "
             "imported SMALLINT NOT NULL, import_docs TEXT NOT NULL, recalled_seq BIGINT, "
             "PRIMARY KEY (lot))", []),
    "stock": ("CREATE TABLE stock (lot VARCHAR(200) NOT NULL, location VARCHAR(200) NOT NULL, "
              "unit VARCHAR(20) NOT NULL, received BIGINT NOT NULL, sold BIGINT NOT NULL, "
              "shipped BIGINT NOT NULL, consumed BIGINT NOT NULL, on_hand BIGINT NOT NULL, "
              "hold_seq BIGINT, hold_reason TEXT, PRIMARY KEY (lot, location))",
              ["CREATE INDEX ix_stock_location ON stock (location, on_hand)"]),
    "test_results": (
        "CREATE TABLE test_results (seq BIGINT NOT NULL, event_id VARCHAR(200) NOT NULL, "
        "kind VARCHAR(16) NOT NULL, stall VARCHAR(200), location VARCHAR(200) NOT NULL, "
        "lot VARCHAR(200), day VARCHAR(10) NOT NULL, time VARCHAR(40) NOT NULL, "
        "item VARCHAR(200) NOT NULL, method VARCHAR(100), sample VARCHAR(200), "
        "commodity VARCHAR(200), rate VARCHAR(16), result VARCHAR(16) NOT NULL, "
        "value_mg_kg VARCHAR(40), limit_mg_kg VARCHAR(40), table_version VARCHAR(100), "
        "retest SMALLINT NOT NULL, residue SMALLINT NOT NULL, follow_up VARCHAR(16), "
        "follow_up_seq BIGINT, explanation TEXT, PRIMARY KEY (seq))",
        ["CREATE INDEX ix_test_results_stall_day ON test_results (stall, day)",
         "CREATE INDEX ix_test_results_day ON test_results (day)",
         "CREATE INDEX ix_test_results_lot ON test_results (lot)"]),
}


def _table_sql(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        return {name: sql for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'")}


def _results(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(test_results)))


def _to_revision_0005_shapes(path: Path) -> None:
    """Rewrite a current SQLite ledger's tables into the shapes revision 0005 had."""
    with sqlite3.connect(path) as db:
        for name, (create, indexes) in _OLD_SHAPES.items():
            db.execute(f"ALTER TABLE {name} RENAME TO old_{name}")
            for (index,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                       "AND tbl_name = ? AND sql IS NOT NULL",
                                       (f"old_{name}",)).fetchall():
                db.execute(f"DROP INDEX {index}")
            db.execute(create)
            for statement in indexes:
                db.execute(statement)
            db.execute(f"INSERT INTO {name} SELECT * FROM old_{name}")
            db.execute(f"DROP TABLE old_{name}")
        db.execute("UPDATE alembic_version SET version_num = '0005'")


def test_0006_0007_rebuild_older_sqlite_tables_with_their_rows(tmp_path: Path,
                                                           operator_key: SigningKey) -> None:
    path = tmp_path / "old.db"
    ledger = Ledger.create(path, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-M-1")
    ledger.append([rapid(net, "LOT-M-1", "0.300")], now=NOW)  # positive: a hold, a result
    before, results = supply_snapshot(ledger), _results(ledger)
    assert results and any(row for row in before["stock"] if row[8] is not None)  # hold_seq
    ledger.close()

    _to_revision_0005_shapes(path)
    old = _table_sql(path)
    assert "WITHOUT ROWID" not in old["lots"] and "seq BIGINT" in old["test_results"]

    ledger = Ledger.open(path)
    ledger.store.migrate()
    new = _table_sql(path)
    assert "WITHOUT ROWID" in new["lots"] and "WITHOUT ROWID" in new["stock"]
    assert "seq INTEGER" in new["test_results"]
    assert not any(name.endswith("_before_0006") for name in new)
    assert supply_snapshot(ledger) == before and _results(ledger) == results
    with sqlite3.connect(path) as db:
        indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_stock_location", "ix_test_results_lot_follow_up", "ix_test_results_day_figures",
            "ix_test_results_stall_day"} <= indexes
    assert not {"ix_test_results_lot", "ix_test_results_day"} & indexes
    view = stall_view(ledger, "stall-a01", today=NOW.date())
    assert [h["lot"] for h in view["holds"]] == ["LOT-M-1"]
    assert ledger.verify().ok
    ledger.store.migrate()  # a second run changes nothing
    assert _table_sql(path) == new
    ledger.close()
