"""The console's search (tracelib.views.find) on SQLite and PostgreSQL: every kind of
match, certificate numbers matched exactly whatever LIKE's own characters they hold."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from tests.helpers import Network, origin_event
from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.store.schema import lots
from tracelib.views.find import find


def _kinds(net: Network, text: str) -> list[tuple[str, str]]:
    return [(m.kind, m.lot or m.id) for m in find(net.ledger, text)]


def test_find_every_kind(network: Network) -> None:
    odd = origin_event(network, "LOT-B", sign=False)
    odd["data"]["certificate"]["no"] = 'N%_\\"1'  # LIKE's wildcards, a backslash, a quote
    network.ledger.append([origin_event(network, "LOT-A"),
                           sign_event(odd, network.keys["farm-1"])], now=network.now)
    assert _kinds(network, "LOT-A") == [("lot", "LOT-A")]
    assert _kinds(network, "CERT-LOT-A") == [("certificate", "LOT-A")]
    assert _kinds(network, 'N%_\\"1') == [("certificate", "LOT-B")]
    assert _kinds(network, "N%") == []  # no wildcard: a number matches whole
    assert _kinds(network, "N__\\\"1") == []
    assert ("stall", "stall-a01") in _kinds(network, "张记")
    assert ("party", "market-1") in _kinds(network, "market-1")
    assert ("place", "market-1") in _kinds(network, "market-1")
    first = network.ledger.record(0).to_dict()["event"]["id"]
    assert ("event", first) in _kinds(network, first)
    assert _kinds(network, "50%") == []


@pytest.mark.parametrize("text", ["", "   ", "x" * 201, "a\x00b", "a\nb"])
def test_find_refuses_what_names_nothing(network: Network, text: str) -> None:
    with pytest.raises(ValidationError):
        find(network.ledger, text)


def test_a_certificate_shows_every_lot_made_with_it(network: Network) -> None:
    """One certificate for two deliveries, the first of two lots: each lot is shown, in the
    order the records made them, and each origin lot keeps its number as a column."""
    first = origin_event(network, "LOT-C1", sign=False)
    first["outputs"].append({"lot": "LOT-C2", "qty": "5", "unit": "kg"})
    second = origin_event(network, "LOT-C3", sign=False)
    for doc in (first, second):
        doc["data"]["certificate"]["no"] = "HG50023520261122001"
    network.ledger.append([sign_event(d, network.keys["farm-1"]) for d in (first, second)],
                          now=network.now)
    assert _kinds(network, "HG50023520261122001") == [
        ("certificate", "LOT-C1"), ("certificate", "LOT-C2"), ("certificate", "LOT-C3")]
    assert _kinds(network, "HG500235") == []  # a number matches whole
    with network.ledger.store.reader() as conn:
        assert {r.lot: r.certificate_no for r in conn.execute(
                select(lots.c.lot, lots.c.certificate_no))} == {
            "LOT-C1": "HG50023520261122001", "LOT-C2": "HG50023520261122001",
            "LOT-C3": "HG50023520261122001"}


def test_a_certificate_number_is_looked_up_through_its_index(network: Network) -> None:
    """The search for a number reads ``ix_lots_certificate_no`` and the records by seq:
    neither table is scanned (its cost does not grow with the ledger)."""
    network.ledger.append([origin_event(network, f"LOT-I{i}") for i in range(3)],
                          now=network.now)
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "certificate_no" in statement:
            statements.append((statement, parameters))

    engine = network.ledger.store.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        assert _kinds(network, "CERT-LOT-I1") == [("certificate", "LOT-I1")]
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    [(statement, parameters)] = statements
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "ix_lots_certificate_no" in plan and "SCAN" not in plan, plan
        else:  # a tiny table is cheaper to scan: ask whether the index can serve at all
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " | ".join(str(r[0]) for r in conn.exec_driver_sql(
                f"EXPLAIN {statement}", parameters))
            assert "ix_lots_certificate_no" in plan and "Seq Scan" not in plan, plan
