"""Trace back and forward, drills and recalls on a hand-built pork chain (docs/contract.md
"Trace JSON"), on SQLite and PostgreSQL.

The chain, with every quantity worked out by hand below::

    farm-1.field  PIG-1 20 head, PIG-2 10 head (origins with certificates)
      → abattoir-1  slaughter PIG-1 → MEAT-1 1200 kg + MEAT-2 400 kg; PIG-2 → MEAT-3 600 kg
      → coldstore-1  MEAT-1 1200 (keeps 200)
      → wholesale-1  MEAT-1 1000, split → W-1 400, W-2 350, W-3 250
      → market-1  W-1 400, W-2 350 → stall-a01 W-1 150; stall-a02 W-1 100, W-2 200
      → market-2  W-3 250 (+ MEAT-3 200 from the abattoir)
                  → stall-b01 W-3 100; stall-b02 W-3 80; stall-b03 W-3 50, MEAT-3 30
    sales: a01 W-1 120; a02 W-1 60, W-2 150; b01 W-3 100; b02 W-3 30
    merges: a02 W-1 40 + W-2 50 → M-1 90 (sells 25); b03 W-3 50 + MEAT-3 30 → M-2 80 (sells 20)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.helpers import SUPPLY_SITES, Network, Supply, supply_certificate, supply_snapshot
from tracelib import canonical
from tracelib.errors import NotFoundError, ValidationError
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.recalls import drill, recall
from tracelib.timeutil import parse_rfc3339
from tracelib.views.tracing import trace

NAMES = {loc: name for _, name, _, loc, *_ in (*Network.PARTIES, *SUPPLY_SITES)}
TYPES = {loc: kind for *_, loc, kind in Network.PARTIES} | {
    loc: kind for _, _, _, loc, kind, _ in SUPPLY_SITES}
CERT_2 = {"producer": "云阳县农坝镇生猪养殖场", "origin_place": "重庆市云阳县农坝镇",
          "basis": "commissioned_test", "contact": "023-55000000"}
LOTS = ("PIG-1", "PIG-2", "MEAT-1", "MEAT-2", "MEAT-3", "W-1", "W-2", "W-3", "M-1", "M-2")


def build_chain(sup: Supply) -> dict[str, dict[str, Any]]:
    """Append the chain above; return its notable events by name."""
    ev: dict[str, dict[str, Any]] = {}
    ev["origin1"] = sup.origin("PIG-1", "20", "head")
    ev["origin2"] = sup.origin("PIG-2", "10", "head", cert=supply_certificate("PIG-2", **CERT_2))
    sup.add(ev["origin1"], ev["origin2"])
    ev["to_abattoir"], receive = sup.move("farm-1.field", "abattoir-1",
                                          [("PIG-1", "20", "head"), ("PIG-2", "10", "head")])
    sup.add(ev["to_abattoir"], receive)
    sup.add(sup.slaughter([("PIG-1", "20", "head")], [("MEAT-1", "1200"), ("MEAT-2", "400")]),
            sup.slaughter([("PIG-2", "10", "head")], [("MEAT-3", "600")]))
    ev["to_cold"], receive = sup.move(
        "abattoir-1", "coldstore-1", [("MEAT-1", "1200")], vehicle="渝F·A1234",
        temperatures=[{"time": "2026-11-20T08:00:00+08:00", "celsius": "2.5"},
                      {"time": "2026-11-20T08:30:00+08:00", "celsius": "4.5"}])
    sup.add(ev["to_cold"], receive)
    ev["to_wholesale"], receive = sup.move("coldstore-1", "wholesale-1", [("MEAT-1", "1000")])
    sup.add(ev["to_wholesale"], receive)
    sup.add(sup.transform("wholesale-1", [("MEAT-1", "1000")],
                          [("W-1", "400"), ("W-2", "350"), ("W-3", "250")], "split"))
    ev["to_market1"], receive = sup.move("wholesale-1", "market-1", [("W-1", "400"), ("W-2", "350")])
    sup.add(ev["to_market1"], receive, *sup.move("wholesale-1", "market-2", [("W-3", "250")]))
    sup.add(*sup.move("market-1", "stall-a01", [("W-1", "150")]),
            *sup.move("market-1", "stall-a02", [("W-1", "100"), ("W-2", "200")]),
            *sup.move("market-2", "stall-b01", [("W-3", "100")]),
            *sup.move("market-2", "stall-b02", [("W-3", "80")]),
            *sup.move("market-2", "stall-b03", [("W-3", "50")]),
            *sup.move("abattoir-1", "market-2", [("MEAT-3", "200")]))
    sup.add(*sup.move("market-2", "stall-b03", [("MEAT-3", "30")]))
    sup.add(sup.sale("stall-a01", [("W-1", "120")]),
            sup.sale("stall-a02", [("W-1", "60"), ("W-2", "150")]),
            sup.sale("stall-b01", [("W-3", "100")]),
            sup.sale("stall-b02", [("W-3", "30")]),
            sup.transform("stall-a02", [("W-1", "40"), ("W-2", "50")], [("M-1", "90")], "merge"),
            sup.transform("stall-b03", [("W-3", "50"), ("MEAT-3", "30")], [("M-2", "80")],
                          "merge"))
    sup.add(sup.sale("stall-a02", [("M-1", "25")]), sup.sale("stall-b03", [("M-2", "20")]))
    return ev


def loc(location: str, unit: str, received: str, sold: str, on_hand: str,
        held: bool = False) -> dict[str, Any]:
    return {"location": location, "type": TYPES[location], "unit": unit, "received": received,
            "sold": sold, "on_hand": on_hand, "name": NAMES[location], "held": held}


def origin(sup: Supply, doc: dict[str, Any]) -> dict[str, Any]:
    return {"lot": doc["outputs"][0]["lot"], "event": doc["id"],
            "seq": sup.ledger.record_for_event(doc["id"]).seq, "location": "farm-1.field",
            "certificate": doc["data"]["certificate"]}


def hop(doc: dict[str, Any], lot: str, received: str | None = None,
        excursions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    item = next(i for i in doc["inputs"] if i["lot"] == lot)
    return {"lot": lot, "ship_event": doc["id"], "time": doc["time"], "from": doc["location"],
            "to": doc["data"]["to"], "qty": item["qty"], "unit": item["unit"],
            "received": item["qty"] if received is None else received, "discrepancy": None,
            "temperatures": doc["data"].get("temperatures", []), "excursions": excursions or []}


# Every location holding PIG-1 or a lot made from it. "received" sums over the lots of the
# family (docs/contract.md), so a lot made at a place counts there as received too.
PIG1_DOWNSTREAM = [
    loc("abattoir-1", "head", "20", "0", "0"),
    loc("abattoir-1", "kg", "1600", "0", "400"),  # MEAT-1 1200 made and shipped, MEAT-2 400
    loc("coldstore-1", "kg", "1200", "0", "200"),
    loc("farm-1.field", "head", "20", "0", "0"),
    loc("market-1", "kg", "750", "0", "300"),  # W-1 400 - 250, W-2 350 - 200
    loc("market-2", "kg", "250", "0", "20"),  # W-3 only: MEAT-3 is not made from PIG-1
    loc("stall-a01", "kg", "150", "120", "30"),
    loc("stall-a02", "kg", "390", "235", "65"),  # W-1 100 + W-2 200 + M-1 90; 60 + 150 + 25
    loc("stall-b01", "kg", "100", "100", "0"),
    loc("stall-b02", "kg", "80", "30", "50"),
    loc("stall-b03", "kg", "130", "20", "60"),  # W-3 50 + M-2 80 (all of a merged lot counts)
    loc("wholesale-1", "kg", "2000", "0", "0"),  # MEAT-1 1000 received + W-* 1000 made
]


@pytest.fixture
def chain(network: Network) -> tuple[Supply, dict[str, dict[str, Any]]]:
    sup = Supply.build(network)
    return sup, build_chain(sup)


def test_trace_answers(chain: tuple[Supply, dict[str, dict[str, Any]]], subtests: Any) -> None:
    """Read-only questions on one chain (built once per database: it is the slow part)."""
    sup, ev = chain
    before = supply_snapshot(sup.ledger)
    for check in (check_pig_both_ways, check_merged_lot_back_to_both_origins,
                  check_split_lot, check_back_and_forward_shapes,
                  check_time_window_keeps_hops_inside_it):
        with subtests.test(msg=check.__name__):
            check(sup, ev)
    assert supply_snapshot(sup.ledger) == before  # tracing writes nothing


def check_pig_both_ways(sup: Supply, ev: dict[str, dict[str, Any]]) -> None:
    assert trace(sup.ledger, "PIG-1").to_dict() == {
        "lot": "PIG-1",
        "upstream": {"lots": [], "origins": [origin(sup, ev["origin1"])],
                     "path": [hop(ev["to_abattoir"], "PIG-1")]},
        "downstream": {"lots": ["M-1", "M-2", "MEAT-1", "MEAT-2", "W-1", "W-2", "W-3"],
                       "locations": PIG1_DOWNSTREAM},
    }


def check_merged_lot_back_to_both_origins(sup: Supply,
                                          ev: dict[str, dict[str, Any]]) -> None:
    answer = trace(sup.ledger, "M-2").to_dict()
    assert answer["lot"] == "M-2"
    assert answer["upstream"]["lots"] == ["MEAT-1", "MEAT-3", "PIG-1", "PIG-2", "W-3"]
    assert answer["upstream"]["origins"] == [origin(sup, ev["origin1"]),
                                             origin(sup, ev["origin2"])]
    cert2 = answer["upstream"]["origins"][1]["certificate"]
    assert (cert2["no"], cert2["producer"], cert2["basis"]) == (
        "HGZ-PIG-2", "云阳县农坝镇生猪养殖场", "commissioned_test")
    # Every hop on the way is there, with its readings and the chilled excursion (4.5 > 4).
    path = answer["upstream"]["path"]
    for expected in (hop(ev["to_abattoir"], "PIG-1"), hop(ev["to_abattoir"], "PIG-2"),
                     hop(ev["to_cold"], "MEAT-1", excursions=[
                         {"time": "2026-11-20T08:30:00+08:00", "celsius": "4.5", "limit": "4",
                          "storage": "chilled"}]),
                     hop(ev["to_wholesale"], "MEAT-1")):
        assert expected in path
    # ...and only those: W-3 also went to stall-b02, which is not on M-2's way.
    assert {h["to"] for h in path if h["lot"] == "W-3"} == {"market-2", "stall-b03"}
    assert all(h["to"] != "stall-b02" for h in path)
    assert answer["downstream"] == {"lots": [],
                                    "locations": [loc("stall-b03", "kg", "80", "20", "60")]}
    # MEAT-3 forward: its own stock and the merged lot it went into.
    assert trace(sup.ledger, "MEAT-3", back=False).to_dict()["downstream"] == {
        "lots": ["M-2"],
        "locations": [loc("abattoir-1", "kg", "600", "0", "400"),
                      loc("market-2", "kg", "200", "0", "170"),
                      loc("stall-b03", "kg", "110", "20", "60")]}


def check_split_lot(sup: Supply, _ev: dict[str, dict[str, Any]]) -> None:
    answer = trace(sup.ledger, "W-1").to_dict()
    assert answer["upstream"]["lots"] == ["MEAT-1", "PIG-1"]
    assert [o["lot"] for o in answer["upstream"]["origins"]] == ["PIG-1"]
    assert answer["downstream"] == {"lots": ["M-1"], "locations": [
        loc("market-1", "kg", "400", "0", "150"),
        loc("stall-a01", "kg", "150", "120", "30"),
        loc("stall-a02", "kg", "190", "85", "65"),  # W-1 100 + M-1 90; 60 + 25
        loc("wholesale-1", "kg", "400", "0", "0")]}


def check_back_and_forward_shapes(sup: Supply, _ev: dict[str, dict[str, Any]]) -> None:
    for lot in LOTS:
        both = trace(sup.ledger, lot).to_dict()
        back = trace(sup.ledger, lot, forward=False).to_dict()
        forward = trace(sup.ledger, lot, back=False).to_dict()
        assert list(both) == ["lot", "upstream", "downstream"]
        assert back == {"lot": lot, "upstream": both["upstream"]}
        assert forward == {"lot": lot, "downstream": both["downstream"]}
        assert set(both["upstream"]) >= {"lots", "origins"}
        assert set(both["downstream"]) == {"lots", "locations"}
        for place in both["downstream"]["locations"]:
            assert {"location", "type", "unit", "received", "sold", "on_hand"} <= set(place)
            assert all(isinstance(place[k], str) for k in ("received", "sold", "on_hand"))
    with pytest.raises(NotFoundError, match="unknown lot 'NOPE'"):
        trace(sup.ledger, "NOPE")


def check_time_window_keeps_hops_inside_it(sup: Supply, ev: dict[str, dict[str, Any]]) -> None:
    full = trace(sup.ledger, "W-1").to_dict()
    since = parse_rfc3339(ev["to_cold"]["time"]).astimezone(UTC)  # inclusive, other offset
    until = parse_rfc3339(ev["to_market1"]["time"])  # exclusive
    windowed = trace(sup.ledger, "W-1", since=since, until=until).to_dict()
    assert windowed["upstream"]["path"] == [hop(ev["to_cold"], "MEAT-1", excursions=[
        {"time": "2026-11-20T08:30:00+08:00", "celsius": "4.5", "limit": "4",
         "storage": "chilled"}]), hop(ev["to_wholesale"], "MEAT-1")]
    # The window narrows the hops only: origins and stock are the same.
    assert windowed["upstream"]["origins"] == full["upstream"]["origins"]
    assert windowed["downstream"] == full["downstream"]
    later = trace(sup.ledger, "W-1", since=until).to_dict()["upstream"]["path"]
    assert [h["ship_event"] for h in later] == [h["ship_event"] for h in full["upstream"]["path"]
                                                if parse_rfc3339(h["time"]) >= until]
    assert later and len(later) < len(full["upstream"]["path"])
    assert trace(sup.ledger, "W-1", until=since).to_dict()["upstream"]["path"] == [
        hop(ev["to_abattoir"], "PIG-1")]


@pytest.mark.postgres
def test_traces_identical_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    answers = []
    for url in (sqlite_url, pg_url):
        key = SigningKey.generate()
        with Ledger.create(url, operator_key=key, operator="operator", now=NOW) as led:
            build_chain(Supply.build(Network.build(led, key, now=NOW)))
            answers.append({lot: (trace(led, lot).to_dict(), trace(led, lot).digest())
                            for lot in LOTS})
    assert answers[0] == answers[1]
    assert answers[0]["PIG-1"][0]["downstream"]["locations"] == PIG1_DOWNSTREAM


def test_drill_records_the_answer_digest(chain: tuple[Supply, dict[str, dict[str, Any]]],
                                         operator_key: SigningKey) -> None:
    sup, _ = chain
    led = sup.ledger
    size = led.size
    result = drill(led, "W-3", question="W-3 从哪里来、到哪里去?", key=operator_key,
                   now=NOW + timedelta(hours=1))
    assert result.receipt is not None and led.size == size + 1
    record = led.record_for_event(result.receipt.event_id)
    assert (record.seq, record.kind, record.actor) == (size, "drill", "operator")
    data = canonical.loads(record.body)["data"]
    assert data["lot"] == "W-3" and data["question"] == "W-3 从哪里来、到哪里去?"
    assert data["answer_digest"] == result.answer_digest == trace(led, "W-3").digest()
    assert result.trace.to_dict() == trace(led, "W-3").to_dict()
    assert led.verify(workers=1).ok
    # The digest is of the answer: stock that moves changes it.
    sup.add(sup.sale("stall-b02", [("W-3", "1")]))
    assert trace(led, "W-3").digest() != data["answer_digest"]
    # Without a key nothing is recorded.
    assert drill(led, "W-3").receipt is None and led.size == size + 2


def test_recall_holds_exactly_the_stock_on_hand(
        chain: tuple[Supply, dict[str, dict[str, Any]]], operator_key: SigningKey) -> None:
    sup, _ = chain
    led = sup.ledger
    result = recall(led, "MEAT-1", key=operator_key, reason="抽检不合格: 瘦肉精",
                    now=NOW + timedelta(hours=1))
    expected = {
        "coldstore-1": [("MEAT-1", "200")], "market-1": [("W-1", "150"), ("W-2", "150")],
        "market-2": [("W-3", "20")], "stall-a01": [("W-1", "30")], "stall-a02": [("M-1", "65")],
        "stall-b02": [("W-3", "50")], "stall-b03": [("M-2", "60")]}
    assert result.to_dict() == {"lot": "MEAT-1", "reason": "抽检不合格: 瘦肉精",
                                "canteens_reached": [], "schools_reached": [], "holds": [
        {"location": place, "name": NAMES[place], "type": TYPES[place],
         "lots": [{"lot": lot, "qty": qty, "unit": "kg"} for lot, qty in lots],
         "already_held": False}
        for place, lots in expected.items()], "in_transit": [],
        "recalled_lots": ["M-1", "M-2", "MEAT-1", "W-1", "W-2", "W-3"]}
    assert len(result.receipts) == len(expected) + 1  # the holds and one recall
    answer = trace(led, "MEAT-1")
    assert set(answer.held) == {(lot, place) for place, lots in expected.items()
                                for lot, _ in lots}
    held_places = {p["location"] for p in answer.to_dict()["downstream"]["locations"]
                   if p["held"]}
    assert held_places == set(expected)
    # Sold-out places, the sibling MEAT-2 and the other parent MEAT-3 are not held.
    assert trace(led, "MEAT-2").held == ()
    assert trace(led, "MEAT-3").held == (("M-2", "stall-b03"),)  # only what it went into
    # Held stock cannot be sold or shipped; stock not held still moves.
    for bad in (sup.sale("stall-a01", [("W-1", "1")]), sup.sale("stall-b03", [("M-2", "1")]),
                sup.sale("stall-a02", [("M-1", "1")]),
                sup.ship("coldstore-1", "market-1", [("MEAT-1", "1")]),
                sup.ship("market-2", "stall-b01", [("W-3", "1")])):
        before = supply_snapshot(led)
        with pytest.raises(ValidationError, match=r"on hold|is recalled") as info:
            sup.add(bad)
        assert info.value.field == "inputs[0].lot"
        assert supply_snapshot(led) == before
    sup.add(*sup.move("market-2", "stall-b01", [("MEAT-3", "10")]),
            sup.sale("stall-b01", [("MEAT-3", "10")]))
    assert led.verify(workers=1).ok
    # A second recall finds everything already held: still places to visit, no new holds.
    size = led.size
    again = recall(led, "MEAT-1", key=operator_key, reason="again", now=NOW + timedelta(hours=2))
    assert {h.location for h in again.holds} == set(expected)
    assert all(h.already_held for h in again.holds)
    assert not any(r.event_id.startswith("recall-hold") for r in again.receipts)
    assert led.size == size + len(again.receipts)


def test_drill_report_folder(chain: tuple[Supply, dict[str, dict[str, Any]]],
                             operator_key: SigningKey, tmp_path: Path) -> None:
    report = pytest.importorskip("tracelib.report")
    if not hasattr(report, "write_drill_report"):
        pytest.skip("tracelib.report.write_drill_report is not there yet")
    sup, _ = chain
    folder = tmp_path / "drill-W-1"
    result = drill(sup.ledger, "W-1", key=operator_key, report_dir=folder,
                   now=datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    assert result.files is not None
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["lot"] == "W-1"
    assert summary["answer_digest"] == result.answer_digest == trace(sup.ledger, "W-1").digest()
    assert summary["downstream"] == trace(sup.ledger, "W-1").to_dict()["downstream"]
    names = {p.name for p in folder.iterdir()}
    assert {"summary.json", "ctes.csv"} <= names


def test_drill_and_recall_of_the_longest_lot_code(network: Network,
                                                   operator_key: SigningKey) -> None:
    sup = Supply.build(network)
    lot = "批" * 200  # an id may be 200 characters; the evidence events must still fit
    sup.add(sup.origin(lot, "10", cert=supply_certificate("LONG")),
            *sup.move("farm-1.field", "coldstore-1", [(lot, "4")]))
    result = drill(sup.ledger, lot, key=operator_key, now=NOW + timedelta(hours=1))
    assert result.receipt is not None and len(result.receipt.event_id) <= 200
    data = canonical.loads(sup.ledger.record_for_event(result.receipt.event_id).body)["data"]
    assert data["lot"] == lot and data["answer_digest"] == trace(sup.ledger, lot).digest()
    held = recall(sup.ledger, lot, key=operator_key, reason="召回", now=NOW + timedelta(hours=2))
    assert [h.location for h in held.holds] == ["coldstore-1", "farm-1.field"]
    assert set(trace(sup.ledger, lot).held) == {(lot, "coldstore-1"), (lot, "farm-1.field")}
    assert sup.ledger.verify(workers=1).ok


def test_recall_stops_stock_in_transit_on_arrival(
        chain: tuple[Supply, dict[str, dict[str, Any]]], operator_key: SigningKey) -> None:
    sup, _ = chain
    led = sup.ledger
    on_the_road = sup.ship("market-2", "stall-b01", [("W-3", "20")])
    sup.add(on_the_road)
    result = recall(led, "MEAT-1", key=operator_key, reason="抽检不合格",
                    now=NOW + timedelta(hours=1))
    assert result.to_dict()["in_transit"] == [
        {"ship_event": on_the_road["id"], "lot": "W-3", "to": "stall-b01", "qty": "20"}]
    assert "W-3" in result.recalled_lots
    sup.add(sup.receive(on_the_road))  # it may still arrive and be counted...
    before = supply_snapshot(led)
    with pytest.raises(ValidationError, match="is recalled") as info:
        sup.add(sup.sale("stall-b01", [("W-3", "1")]))  # ...but not sold
    assert info.value.field == "inputs[0].lot"
    assert supply_snapshot(led) == before
    assert led.verify(workers=1).ok


def test_a_lots_records_are_its_making_record_and_every_later_one(network: Network) -> None:
    """The record that makes a lot is ``lots.seq``, not a ``lot_events`` row; a ledger
    written before that (a ``lot_events`` row for it too) gives the same answer."""
    from sqlalchemy import insert, select

    from tracelib.store.schema import lot_events
    from tracelib.store.supply import SupplySql

    sup = Supply.build(network)
    made, = sup.add(sup.origin("LOT-E1", "100"))
    shipped, = sup.add(sup.ship("farm-1.field", "wholesale-1", [("LOT-E1", "40")]))
    other, = sup.add(sup.origin("LOT-E2", "5"))
    store = network.ledger.store
    with store.reader() as conn:
        rows = conn.execute(select(lot_events.c.seq).where(lot_events.c.lot == "LOT-E1")).all()
        assert [r.seq for r in rows] == [shipped.seq]
        assert SupplySql.event_seqs(conn, ["LOT-E1"]) == [made.seq, shipped.seq]
        assert SupplySql.event_seqs(conn, ["LOT-E1", "LOT-E2"]) == [made.seq, shipped.seq,
                                                                    other.seq]
        assert SupplySql.event_seqs(conn, ["LOT-NONE"]) == []
    with store.writer() as conn:  # as an older append wrote it
        conn.execute(insert(lot_events).values(lot="LOT-E1", seq=made.seq))
    with store.reader() as conn:
        assert SupplySql.event_seqs(conn, ["LOT-E1"]) == [made.seq, shipped.seq]
