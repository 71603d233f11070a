"""Schema revisions applied to a ledger made by an older tracelib keep every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from tests.conftest import NOW
from tests.helpers import Network, certificate, supply_snapshot
from tests.test_testing import rapid, sale, stock_at_stall
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.store.schema import test_results
from tracelib.store.supply import LotRow, StockRow
from tracelib.views.stall import stall_view
from tracelib_service.stall import PROOF_PATH

_HOLD_SEQ = StockRow.COLUMNS.index("hold_seq")

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
            columns = ", ".join(c[1] for c in db.execute(f"PRAGMA table_info({name})"))
            db.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM old_{name}")
            db.execute(f"DROP TABLE old_{name}")
        db.execute("UPDATE alembic_version SET version_num = '0005'")


def test_0006_to_0008_rebuild_older_sqlite_tables_with_their_rows(tmp_path: Path,
                                                           operator_key: SigningKey) -> None:
    path = tmp_path / "old.db"
    ledger = Ledger.create(path, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-M-1")
    ledger.append([rapid(net, "LOT-M-1", "0.300")], now=NOW)  # positive: a hold, a result
    before, results = supply_snapshot(ledger), _results(ledger)
    assert results and any(row[_HOLD_SEQ] is not None for row in before["stock"])
    ledger.close()

    _to_revision_0005_shapes(path)
    old = _table_sql(path)
    assert "WITHOUT ROWID" not in old["lots"] and "seq BIGINT" in old["test_results"]
    assert "lot_seq" not in old["stock"]

    ledger = Ledger.open(path)
    ledger.store.migrate()
    new = _table_sql(path)
    assert "WITHOUT ROWID" not in new["lots"] and "WITHOUT ROWID" in new["stock"]
    assert "seq INTEGER" in new["test_results"] and "lot_seq" in new["stock"]
    assert not any(name.endswith(("_before_0006", "_before_0008")) for name in new)
    assert supply_snapshot(ledger) == before and _results(ledger) == results
    with sqlite3.connect(path) as db:
        indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_stock_on_hand", "ix_test_results_lot_follow_up", "ix_test_results_day_figures",
            "ix_test_results_stall_day"} <= indexes
    assert not {"ix_test_results_lot", "ix_test_results_day", "ix_stock_location"} & indexes
    view = stall_view(ledger, "stall-a01", today=NOW.date(), proof_url=PROOF_PATH)
    assert [h["lot"] for h in view["holds"]] == ["LOT-M-1"]
    assert ledger.verify().ok
    ledger.store.migrate()  # a second run changes nothing
    assert _table_sql(path) == new
    ledger.close()


# Stock as revisions 0002-0007 left it, on either database.
_STOCK_0007 = ("CREATE TABLE stock (lot VARCHAR(200) NOT NULL, location VARCHAR(200) NOT NULL, "
               "unit VARCHAR(20) NOT NULL, received BIGINT NOT NULL, sold BIGINT NOT NULL, "
               "shipped BIGINT NOT NULL, consumed BIGINT NOT NULL, on_hand BIGINT NOT NULL, "
               "hold_seq BIGINT, hold_reason TEXT, PRIMARY KEY (lot, location)){rowid}")


_LOTS_0007 = _OLD_SHAPES["lots"][0] + " WITHOUT ROWID"


def _sqlite_sql(ledger: Ledger, table: str) -> str | None:
    with ledger.store.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            return None
        return str(conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"),
                                {"n": table}).scalar())


def _stock_to_revision_0007(ledger: Ledger) -> None:
    columns = ", ".join(c for c in StockRow.COLUMNS
                        if c not in ("lot_seq", "hold_cause", "hold_by"))
    with ledger.store.engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        conn.execute(text("DROP INDEX ix_stock_on_hand"))
        conn.execute(text("ALTER TABLE stock RENAME TO stock_now"))
        if not sqlite:
            conn.execute(text("ALTER INDEX stock_pkey RENAME TO stock_now_pkey"))
        conn.execute(text(_STOCK_0007.format(rowid=" WITHOUT ROWID" if sqlite else "")))
        conn.execute(text("CREATE INDEX ix_stock_location ON stock (location, on_hand)"))
        conn.execute(text(f"INSERT INTO stock ({columns}) SELECT {columns} FROM stock_now"))
        conn.execute(text("DROP TABLE stock_now"))
        if sqlite:  # lots as 0006 left them: rows in the code's B-tree
            conn.execute(text("ALTER TABLE lots RENAME TO lots_now"))
            conn.execute(text(_LOTS_0007))
            old = ", ".join(c for c in LotRow.COLUMNS
                            if c not in ("recalled_by", "certificate_no"))  # 0010, 0014
            conn.execute(text(f"INSERT INTO lots ({old}) SELECT {old} FROM lots_now"))
            conn.execute(text("DROP TABLE lots_now"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))


def test_0008_keys_stock_by_lot_seq_and_lots_by_rowid_keeping_every_row(db_url: str,
                                                      operator_key: SigningKey) -> None:
    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-M-1")
    stock_at_stall(net, "LOT-M-2", qty="20")
    ledger.append([rapid(net, "LOT-M-1", "0.300")], now=NOW)  # positive: a hold
    before = supply_snapshot(ledger)
    assert len(before["stock"]) >= 4 and any(r[_HOLD_SEQ] is not None for r in before["stock"])
    _stock_to_revision_0007(ledger)
    with ledger.store.engine.connect() as conn:
        assert "lot_seq" not in {c["name"] for c in inspect(conn).get_columns("stock")}

    assert _sqlite_sql(ledger, "lots") in (None, _LOTS_0007)
    ledger.store.migrate()
    assert "WITHOUT ROWID" not in (_sqlite_sql(ledger, "lots") or "")
    with ledger.store.engine.connect() as conn:
        assert "lot_seq" in {c["name"] for c in inspect(conn).get_columns("stock")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("stock")}
        assert "ix_stock_on_hand" in indexes and "ix_stock_location" not in indexes
    assert supply_snapshot(ledger) == before
    view = stall_view(ledger, "stall-a01", today=NOW.date(), proof_url=PROOF_PATH)
    assert [h["lot"] for h in view["holds"]] == ["LOT-M-1"]
    assert [s["lot"] for s in view["on_hand"]] == ["LOT-M-1", "LOT-M-2"]
    # The ledger goes on from the new shape: the held lot cannot be sold, the other can.
    ledger.append([sale(net, "LOT-M-2")], now=NOW)
    with pytest.raises(ValidationError, match="on hold"):
        ledger.append([sale(net, "LOT-M-1")], now=NOW)
    assert ledger.verify().ok
    ledger.close()


def _migrate(ledger: Ledger, revision: str, step: Any) -> None:
    """Run Alembic's ``step`` (upgrade or downgrade) to ``revision`` on ``ledger``."""
    from alembic.config import Config

    from tracelib.store import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with ledger.store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        step(cfg, revision)


def test_0008_downgrades_to_stock_by_lot_code_and_back(db_url: str,
                                                       operator_key: SigningKey) -> None:
    from alembic import command

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-M-1")
    ledger.append([rapid(net, "LOT-M-1", "0.300")], now=NOW)
    before = supply_snapshot(ledger)

    _migrate(ledger, "0007", command.downgrade)
    with ledger.store.engine.connect() as conn:
        columns = [c["name"] for c in inspect(conn).get_columns("stock")]
        indexes = {i["name"] for i in inspect(conn).get_indexes("stock")}
        rows = sorted(tuple(r) for r in conn.execute(text(f"SELECT {', '.join(columns)} "
                                                          "FROM stock")))
    assert "lot_seq" not in columns and "ix_stock_location" in indexes
    # the same rows, less lot_seq, hold_cause (0009) and hold_by (0010)
    assert rows == sorted(r[1:-2] for r in before["stock"])
    _migrate(ledger, "head", command.upgrade)
    assert supply_snapshot(ledger) == before  # 0009 reads the test hold's cause back
    assert ledger.verify().ok
    ledger.close()


def test_0009_reads_each_holds_cause_from_its_reason_and_back(db_url: str,
                                                             operator_key: SigningKey) -> None:
    """A ledger from before revision 0009 has no ``stock.hold_cause``; the upgrade names a
    test's hold ``test`` (its reason begins 快检 or 检测) and any other ``hold``, so a negative
    retest still lifts the first and never the second."""
    from alembic import command

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-C-TEST")
    stock_at_stall(net, "LOT-C-HOLD")
    ledger.append([rapid(net, "LOT-C-TEST", "0.300"),  # positive: the test holds it
                   net.event("stall-a01", {"kind": "hold", "location": "stall-a01",
                                           "inputs": [{"lot": "LOT-C-HOLD", "qty": "1",
                                                       "unit": "kg"}],
                                           "data": {"reason": "待查验 pending inspection"}})],
                  now=NOW)

    def causes() -> dict[str, str | None]:
        with ledger.store.engine.connect() as conn:
            rows = conn.execute(text("SELECT lot, hold_cause FROM stock "
                                     "WHERE location = 'stall-a01'"))
            return {lot: cause for lot, cause in rows}

    assert causes() == {"LOT-C-TEST": "test", "LOT-C-HOLD": "hold"}
    before = supply_snapshot(ledger)

    _migrate(ledger, "0008", command.downgrade)
    with ledger.store.engine.connect() as conn:
        assert "hold_cause" not in {c["name"] for c in inspect(conn).get_columns("stock")}
    _migrate(ledger, "head", command.upgrade)
    assert causes() == {"LOT-C-TEST": "test", "LOT-C-HOLD": "hold"}
    assert supply_snapshot(ledger) == before
    # The rules read the column: a negative retest of both lifts the test's hold only.
    ledger.append([rapid(net, "LOT-C-TEST", "0.700", retest=True,
                         time="2026-11-22T09:00:00+08:00"),
                   rapid(net, "LOT-C-HOLD", "0.700", retest=True,
                         time="2026-11-22T09:05:00+08:00")], now=NOW)
    assert causes() == {"LOT-C-TEST": None, "LOT-C-HOLD": "hold"}
    ledger.append([sale(net, "LOT-C-TEST")], now=NOW)
    with pytest.raises(ValidationError, match="on hold"):
        ledger.append([sale(net, "LOT-C-HOLD")], now=NOW)
    assert ledger.verify(workers=1).ok
    ledger.close()


def test_0010_reads_who_placed_each_hold_and_signed_each_recall_from_the_records(
        db_url: str, operator_key: SigningKey) -> None:
    """A ledger from before revision 0010 has no ``stock.hold_by`` or ``lots.recalled_by``;
    the upgrade takes each from the actor of the record that placed the hold or the recall,
    and the authority rules read them (docs/contract.md "Authority")."""
    from alembic import command

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-P-TEST")
    stock_at_stall(net, "LOT-P-HOLD")
    stock_at_stall(net, "LOT-P-RECALL")
    item = {"qty": "1", "unit": "kg"}
    ledger.append([rapid(net, "LOT-P-TEST", "0.300"),  # positive: market-1's test holds it
                   net.event("stall-a01", {"kind": "hold", "location": "stall-a01",
                                           "inputs": [{"lot": "LOT-P-HOLD", **item}],
                                           "data": {"reason": "待查验 pending inspection"}}),
                   net.event("operator", {"kind": "recall", "location": "operator.office",
                                          "inputs": [{"lot": "LOT-P-RECALL", **item}],
                                          "data": {"reason": "召回"}})], now=NOW)

    def placers() -> tuple[dict[str, str | None], dict[str, str | None]]:
        with ledger.store.engine.connect() as conn:
            holds = conn.execute(text("SELECT lot, hold_by FROM stock "
                                      "WHERE location = 'stall-a01'"))
            recalls = conn.execute(text("SELECT lot, recalled_by FROM lots"))
            return dict(holds.all()), dict(recalls.all())

    expected = ({"LOT-P-TEST": "market-1", "LOT-P-HOLD": "stall-a01", "LOT-P-RECALL": None},
                {"LOT-P-TEST": None, "LOT-P-HOLD": None, "LOT-P-RECALL": "operator"})
    assert placers() == expected
    before = supply_snapshot(ledger)

    _migrate(ledger, "0009", command.downgrade)
    with ledger.store.engine.connect() as conn:
        assert "hold_by" not in {c["name"] for c in inspect(conn).get_columns("stock")}
        assert "recalled_by" not in {c["name"] for c in inspect(conn).get_columns("lots")}
    _migrate(ledger, "head", command.upgrade)
    assert placers() == expected
    assert supply_snapshot(ledger) == before

    def release(actor: str, lot: str, **data: str) -> dict[str, Any]:
        location = "stall-a01" if actor == "stall-a01" else "farm-1.field"
        return net.event(actor, {"kind": "release", "location": location,
                                 "inputs": [{"lot": lot, **item}],
                                 "data": {"reason": "x", **data}})

    with pytest.raises(ValidationError, match="may not release the hold a test put on"):
        ledger.append([release("stall-a01", "LOT-P-TEST")], now=NOW)
    with pytest.raises(ValidationError, match=r"may not lift a recall of LOT-P-RECALL: only a "
                                              r"regulator, the operator, or the party that "
                                              r"recalled it \(operator\)"):
        ledger.append([release("farm-1", "LOT-P-RECALL", scope="recall")], now=NOW)
    ledger.append([release("stall-a01", "LOT-P-HOLD")], now=NOW)  # its own hold
    assert placers()[0]["LOT-P-HOLD"] is None
    assert ledger.verify(workers=1).ok
    ledger.close()


def test_0011_widens_the_columns_to_the_schemas_limits_and_back(db_url: str,
                                                                operator_key: SigningKey) -> None:
    """A ledger from before revision 0011 has PostgreSQL columns narrower than the event
    schema (lots.product 200, test_results.method 100); the upgrade widens them, keeping every
    row, and a 500-character product is then stored."""
    from alembic import command

    from tracelib.bounds import MAX_LABEL, MAX_TEXT

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    stock_at_stall(net, "LOT-W-1")
    before = supply_snapshot(ledger)

    def widths() -> dict[str, Any]:
        with ledger.store.engine.connect() as conn:
            found = {f"lots.{c['name']}": c["type"] for c in inspect(conn).get_columns("lots")}
            found.update({f"test_results.{c['name']}": c["type"]
                          for c in inspect(conn).get_columns("test_results")})
        return {name: getattr(found[name], "length", None)
                for name in ("lots.product", "test_results.method",
                             "test_results.value_mg_kg", "test_results.limit_mg_kg")}

    postgres = ledger.store.engine.dialect.name == "postgresql"
    _migrate(ledger, "0009", command.downgrade)
    if postgres:
        assert widths() == {"lots.product": 200, "test_results.method": 100,
                            "test_results.value_mg_kg": 40, "test_results.limit_mg_kg": 40}
    _migrate(ledger, "head", command.upgrade)
    if postgres:
        assert widths() == {"lots.product": MAX_TEXT, "test_results.method": MAX_LABEL,
                            "test_results.value_mg_kg": None, "test_results.limit_mg_kg": None}
    assert supply_snapshot(ledger) == before
    ledger.append([net.event("farm-1", {
        "kind": "origin", "location": "farm-1.field",
        "outputs": [{"lot": "LOT-W-2", "qty": "1", "unit": "kg"}],
        "data": {"certificate": certificate("LOT-W-2"), "product": "豇" * MAX_TEXT}})], now=NOW)
    if postgres:  # narrowing again would cut that product: the downgrade refuses
        with pytest.raises(RuntimeError, match=r"cannot narrow lots\.product to 200"):
            _migrate(ledger, "0009", command.downgrade)
        assert widths()["lots.product"] == MAX_TEXT
    assert ledger.verify(workers=1).ok
    ledger.close()


def test_0013_adds_the_alerts_partial_indexes_and_back(db_url: str,
                                                       operator_key: SigningKey) -> None:
    """Revision 0013 adds the partial indexes the regulator's alerts read (held stock on
    hand, shipments in transit, open follow-ups); a ledger at 0012 gets them on upgrade."""
    from alembic import command

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    wanted = {"stock": "ix_stock_held", "shipments": "ix_shipments_in_transit",
              "test_results": "ix_test_results_open"}

    def present() -> set[str]:
        with ledger.store.engine.connect() as conn:
            return {i["name"] for table in wanted for i in inspect(conn).get_indexes(table)
                    } & set(wanted.values())

    assert present() == set(wanted.values())
    _migrate(ledger, "0012", command.downgrade)
    assert present() == set()
    _migrate(ledger, "head", command.upgrade)
    assert present() == set(wanted.values())
    ledger.close()


def test_0014_fills_each_origin_lots_certificate_number_from_its_record_and_back(
        db_url: str, operator_key: SigningKey) -> None:
    """A ledger from before revision 0014 has no ``lots.certificate_no``; the upgrade reads
    each origin lot's number from the stored body of the record that made it (escapes and
    Chinese included), leaves a transformed lot's empty, adds the index, and the ledger
    verifies and is searched by the number."""
    from alembic import command

    from tracelib.views.find import find

    ledger = Ledger.create(db_url, operator_key=operator_key, now=NOW)
    net = Network.build(ledger, operator_key, now=NOW)
    odd = 'HG-"合格证"\\1'
    plain = net.event("farm-1", {"kind": "origin", "location": "farm-1.field",
                                 "outputs": [{"lot": "LOT-N-1", "qty": "10", "unit": "kg"}],
                                 "data": {"certificate": certificate("LOT-N-1")}})
    quoted = net.event("farm-1", {"kind": "origin", "location": "farm-1.field",
                                  "outputs": [{"lot": "LOT-N-2", "qty": "10", "unit": "kg"}],
                                  "data": {"certificate": {**certificate("LOT-N-2"),
                                                           "no": odd}}})
    made = net.event("farm-1", {"kind": "transform", "location": "farm-1.field",
                                "inputs": [{"lot": "LOT-N-1", "qty": "4", "unit": "kg"}],
                                "outputs": [{"lot": "LOT-N-3", "qty": "4", "unit": "kg"}],
                                "data": {"process": "repack"}})
    ledger.append([plain, quoted, made], now=NOW)

    def numbers() -> dict[str, str | None]:
        with ledger.store.engine.connect() as conn:
            return dict(conn.execute(text("SELECT lot, certificate_no FROM lots")).all())

    def indexed() -> bool:
        with ledger.store.engine.connect() as conn:
            return "ix_lots_certificate_no" in {i["name"] for i in
                                                inspect(conn).get_indexes("lots")}

    expected = {"LOT-N-1": "CERT-LOT-N-1", "LOT-N-2": odd, "LOT-N-3": None}
    assert numbers() == expected and indexed()
    before = supply_snapshot(ledger)

    _migrate(ledger, "0013", command.downgrade)
    with ledger.store.engine.connect() as conn:
        assert "certificate_no" not in {c["name"] for c in inspect(conn).get_columns("lots")}
    assert not indexed()
    _migrate(ledger, "head", command.upgrade)
    assert numbers() == expected and indexed()
    assert supply_snapshot(ledger) == before
    assert [(m.kind, m.lot) for m in find(ledger, odd)] == [("certificate", "LOT-N-2")]
    assert ledger.verify(workers=1).ok
    ledger.close()
