"""Supply-chain rules enforced at append (docs/contract.md "Kinds", the modules of tracelib/kinds/).

Every rejection must name the field, store nothing (ledger size, the supply indexes and
every lot's trace unchanged) and leave a ledger that verifies. Each table also carries
accepted boundary cases, so a rule that rejects too much fails as well. Runs on SQLite
and PostgreSQL (``db_url``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import IMPORT_DOCS_FULL, Network, Supply, supply_snapshot
from tracelib.errors import NotFoundError, ValidationError
from tracelib.views.tracing import trace

Build = Callable[[Supply], dict[str, Any] | list[dict[str, Any]]]


@dataclass(frozen=True)
class Bad:
    """A batch that must be rejected at its last event, naming ``field``."""

    name: str
    build: Build
    field: str
    match: str


def _batch(value: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]


def all_traces(sup: Supply) -> dict[str, dict[str, Any]]:
    lots = [row[0] for row in supply_snapshot(sup.ledger)["lots"]]
    return {lot: trace(sup.ledger, lot).to_dict() for lot in lots}


State = tuple[dict[str, Any], dict[str, dict[str, Any]]]


def state_of(sup: Supply) -> State:
    return supply_snapshot(sup.ledger), all_traces(sup)


def assert_rejected(sup: Supply, events: dict[str, Any] | list[dict[str, Any]], field: str,
                    match: str, state: State | None = None) -> ValidationError:
    """``state``: the indexes and traces before, when the caller already has them."""
    batch = _batch(events)
    before, traces = state or state_of(sup)
    with pytest.raises(ValidationError) as info:
        sup.add(*batch)
    err = info.value
    assert err.field == field, f"expected field {field!r}, got {err.field!r}: {err}"
    assert re.search(match, err.message), f"{match!r} not in {err.message!r}"
    assert err.event_id == batch[-1]["id"]
    assert err.line == len(batch)
    assert supply_snapshot(sup.ledger) == before, "a rejected batch changed the indexes"
    assert all_traces(sup) == traces
    for doc in batch:  # none of the batch is stored, not even the valid events before the bad one
        with pytest.raises(NotFoundError):
            sup.ledger.record_for_event(doc["id"])
    report = sup.ledger.verify(workers=1)
    assert report.ok, report.problem
    return err


def run_table(sup: Supply, subtests: Any, table: list[Bad]) -> None:
    state = state_of(sup)  # each rejection is checked to leave exactly this state
    for case in table:
        with subtests.test(msg=case.name):
            assert_rejected(sup, case.build(sup), case.field, case.match, state)


def on_hand(sup: Supply, lot: str) -> dict[tuple[str, str], str]:
    """(location, unit) → on hand, for ``lot`` and the lots made from it."""
    return {(loc["location"], loc["unit"]): loc["on_hand"]
            for loc in trace(sup.ledger, lot, back=False).to_dict()["downstream"]["locations"]}


@pytest.fixture
def sup(network: Network) -> Supply:
    """Stock on hand: LOT-A 40 kg at the farm, 40 at coldstore-1, 20 at stall-a01; LOT-B
    30 kg at coldstore-1; PIG-1 6 head at the farm and 4 at abattoir-1."""
    s = Supply.build(network)
    s.add(s.origin("LOT-A", "100", product="豇豆"), s.origin("LOT-B", "30", product="豇豆"),
          s.origin("PIG-1", "10", "head"),
          *s.move("farm-1.field", "coldstore-1", [("LOT-A", "60"), ("LOT-B", "30")]),
          *s.move("coldstore-1", "stall-a01", [("LOT-A", "20")]),
          *s.move("farm-1.field", "abattoir-1", [("PIG-1", "4", "head")]))
    assert on_hand(s, "LOT-A") == {("farm-1.field", "kg"): "40", ("coldstore-1", "kg"): "40",
                                   ("stall-a01", "kg"): "20"}
    return s


# -- mass balance ------------------------------------------------------------------------

MASS_BALANCE = [
    Bad("ship more than on hand",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "40.000001")]), "inputs[0].qty",
        r"mass balance: 40\.000001 kg of 'LOT-A' cannot be shipped at 'coldstore-1': "
        r"on hand there is 40 kg"),
    Bad("ship from a location without that stock",
        lambda s: s.ship("market-1", "market-2", [("LOT-A", "1")]), "inputs[0].qty",
        r"cannot be shipped at 'market-1': on hand there is 0 kg"),
    Bad("ship the second lot over",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "40"), ("LOT-B", "31")]),
        "inputs[1].qty", r"'LOT-B'.*on hand there is 30 kg"),
    Bad("ship one lot in two lines over",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "30"), ("LOT-A", "30")]),
        "inputs[1].qty", r"on hand there is 10 kg"),
    Bad("ship one lot twice in one shipment",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "5"), ("LOT-A", "5")]),
        "inputs[1].lot", r"appears twice in this shipment"),
    Bad("transform more than on hand",
        lambda s: s.transform("coldstore-1", [("LOT-A", "41")], [("LOT-A1", "41")]),
        "inputs[0].qty", r"cannot be transformed at 'coldstore-1': on hand there is 40 kg"),
    Bad("transform at a location without that stock",
        lambda s: s.transform("market-1", [("LOT-A", "1")], [("LOT-A1", "1")]),
        "inputs[0].qty", r"on hand there is 0 kg"),
    Bad("sell more than on hand",
        lambda s: s.sale("stall-a01", [("LOT-A", "20.5")]), "inputs[0].qty",
        r"cannot be sold at 'stall-a01': on hand there is 20 kg"),
    Bad("sell at a stall without that stock",
        lambda s: s.sale("stall-a02", [("LOT-A", "1")]), "inputs[0].qty",
        r"cannot be sold at 'stall-a02': on hand there is 0 kg"),
    Bad("slaughter more animals than on hand",
        lambda s: s.slaughter([("PIG-1", "5", "head")], [("PK-1", "400")]), "inputs[0].qty",
        r"cannot be slaughtered at 'abattoir-1': on hand there is 4 head"),
    Bad("ship in another unit",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "1", "box")]), "inputs[0].unit",
        r"'LOT-A' is counted in 'kg', not 'box'"),
    Bad("sell in another unit",
        lambda s: s.sale("stall-a01", [("LOT-A", "1", "g")]), "inputs[0].unit",
        r"counted in 'kg', not 'g'"),
    Bad("transform in another unit",
        lambda s: s.transform("coldstore-1", [("LOT-A", "1", "head")], [("LOT-A1", "1", "head")]),
        "inputs[0].unit", r"counted in 'kg', not 'head'"),
    Bad("slaughter animals counted in kg",
        lambda s: s.slaughter([("PIG-1", "1", "kg")], [("PK-1", "80")]), "inputs[0].unit",
        r"'PIG-1' is counted in 'head', not 'kg'"),
    Bad("hold in another unit",
        lambda s: s.hold("coldstore-1", [("LOT-A", "40", "box")]), "inputs[0].unit",
        r"counted in 'kg'"),
    Bad("transform outputs exceed inputs",
        lambda s: s.transform("coldstore-1", [("LOT-A", "10")],
                              [("LOT-A1", "6"), ("LOT-A2", "4.000001")]),
        "outputs", r"outputs total 10\.000001 kg but inputs only 10"),
    Bad("merge outputs exceed inputs",
        lambda s: s.transform("coldstore-1", [("LOT-A", "10"), ("LOT-B", "5")],
                              [("LOT-AB", "15.5")], "merge"),
        "outputs", r"outputs total 15\.5 kg but inputs only 15"),
    Bad("transform output reuses an existing lot code",
        lambda s: s.transform("coldstore-1", [("LOT-A", "10")], [("LOT-B", "10")]),
        "outputs[0].lot", r"lot 'LOT-B' already exists"),
    Bad("transform output reuses its own input",
        lambda s: s.transform("coldstore-1", [("LOT-A", "10")], [("LOT-A", "10")], "repack"),
        "outputs[0].lot", r"lot 'LOT-A' already exists"),
    Bad("transform makes one code twice",
        lambda s: s.transform("coldstore-1", [("LOT-A", "10")], [("LOT-N", "5"), ("LOT-N", "5")]),
        "outputs[1].lot", r"lot 'LOT-N' already exists"),
    Bad("origin reuses an existing lot code",
        lambda s: s.origin("LOT-A", "5"), "outputs[0].lot", r"lot 'LOT-A' already exists"),
    Bad("origin reuses a lot code made earlier in the batch",
        lambda s: [s.origin("LOT-NEW", "5"), s.origin("LOT-NEW", "5")], "outputs[0].lot",
        r"lot 'LOT-NEW' already exists"),
    Bad("slaughter output reuses an existing lot code",
        lambda s: s.slaughter([("PIG-1", "1", "head")], [("LOT-B", "80")]), "outputs[0].lot",
        r"lot 'LOT-B' already exists"),
    Bad("ship an unknown lot",
        lambda s: s.ship("coldstore-1", "market-1", [("LOT-Z", "1")]), "inputs[0].lot",
        r"unknown lot 'LOT-Z'"),
    Bad("ship without lots", lambda s: s.ship("coldstore-1", "market-1", []), "inputs",
        r"needs at least 1 lot"),
    Bad("sale that makes lots",
        lambda s: s.event("sale", "stall-a01", inputs=[("LOT-A", "1")], outputs=[("X", "1")],
                          data={"receipt": "R-1"}), "outputs", r"must be empty for this kind"),
    Bad("ship to where it already is",
        lambda s: s.ship("coldstore-1", "coldstore-1", [("LOT-A", "1")]), "data.to",
        r"a shipment must go somewhere else"),
    Bad("ship to an unknown place",
        lambda s: s.ship("coldstore-1", "market-9", [("LOT-A", "1")]), "data.to",
        r"unknown destination 'market-9'"),
]


def test_mass_balance(sup: Supply, subtests: Any) -> None:
    run_table(sup, subtests, MASS_BALANCE)
    # The boundaries are accepted: exactly what is on hand, outputs equal to inputs, and
    # outputs in another unit than the inputs (no common measure).
    sup.add(sup.ship("coldstore-1", "market-1", [("LOT-A", "30"), ("LOT-B", "30")]),
            sup.transform("coldstore-1", [("LOT-A", "10")], [("LOT-A1", "4"), ("LOT-A2", "6")]),
            sup.sale("stall-a01", [("LOT-A", "20")]),
            sup.transform("farm-1.field", [("LOT-A", "40")], [("BOX-1", "80", "box")], "repack"),
            sup.slaughter([("PIG-1", "4", "head")], [("PK-1", "300"), ("PK-2", "20")]))
    assert on_hand(sup, "LOT-A") == {
        ("farm-1.field", "kg"): "0", ("farm-1.field", "box"): "80", ("coldstore-1", "kg"): "10",
        ("stall-a01", "kg"): "0"}
    assert on_hand(sup, "PIG-1") == {("farm-1.field", "head"): "6", ("abattoir-1", "head"): "0",
                                     ("abattoir-1", "kg"): "320"}
    assert_rejected(sup, sup.ship("coldstore-1", "market-2", [("LOT-A2", "6.1")]),
                    "inputs[0].qty", r"on hand there is 6 kg")


def test_sale_only_at_a_stall(sup: Supply, subtests: Any) -> None:
    sup.add(*sup.move("coldstore-1", "market-1", [("LOT-A", "5")]))
    run_table(sup, subtests, [
        Bad(f"sale at {where}", lambda s, w=where: s.sale(w, [("LOT-A", "1")]),
            "location", r"a sale happens at a stall")
        for where in ("market-1", "coldstore-1", "farm-1.field", "abattoir-1")])
    sup.add(sup.sale("stall-a01", [("LOT-A", "1")]))
    assert on_hand(sup, "LOT-A")[("stall-a01", "kg")] == "19"


def test_rejected_batch_stores_nothing(sup: Supply) -> None:
    good = [sup.origin("LOT-C", "10"),
            *sup.move("farm-1.field", "coldstore-1", [("LOT-C", "10")]),
            sup.ship("coldstore-1", "stall-a01", [("LOT-A", "5")])]
    bad = sup.sale("stall-a01", [("LOT-A", "25")])  # 20 on hand; the shipment is not received
    err = assert_rejected(sup, [*good, bad], "inputs[0].qty", r"on hand there is 20 kg")
    assert f"line {len(good) + 1}" in str(err)
    with pytest.raises(NotFoundError):
        trace(sup.ledger, "LOT-C")
    # The same events without the bad one are accepted.
    size = sup.ledger.size
    sup.add(*good)
    assert sup.ledger.size == size + len(good)
    assert on_hand(sup, "LOT-C") == {("farm-1.field", "kg"): "0", ("coldstore-1", "kg"): "10"}


# -- receive -------------------------------------------------------------------------------

def test_receive_closes_only_its_shipment(sup: Supply, subtests: Any) -> None:
    s1 = sup.ship("coldstore-1", "market-1", [("LOT-A", "10"), ("LOT-B", "5")])
    s2 = sup.ship("coldstore-1", "stall-a01", [("LOT-B", "5")])
    sup.add(s1, s2)
    run_table(sup, subtests, [
        Bad("received at another market", lambda s: s.receive(s1, at="market-2"), "location",
            r"shipment 'ship-\d+' goes to 'market-1', not 'market-2'"),
        Bad("received at a stall of the addressed market",
            lambda s: s.receive(s1, at="stall-a01"), "location", r"goes to 'market-1'"),
        Bad("received from the wrong place",
            lambda s: s.receive(s1, src="farm-1.field"), "data.from",
            r"left from 'coldstore-1', not 'farm-1.field'"),
        Bad("a lot that is not in the shipment",
            lambda s: s.receive(s2, [("LOT-A", "5")]), "data.ship_event",
            r"lot 'LOT-A' is not in shipment 'ship-\d+'"),
        Bad("an unknown ship event",
            lambda s: s.receive(s1, ship_event="ship-999"), "data.ship_event",
            r"not in shipment 'ship-999'"),
        Bad("a ship_event naming an event that is not a shipment",
            lambda s: s.receive(s1, ship_event="origin-001"), "data.ship_event",
            r"not in shipment 'origin-001'"),
        Bad("an unknown lot", lambda s: s.receive(s1, [("LOT-Z", "1")]), "inputs[0].lot",
            r"unknown lot 'LOT-Z'"),
        Bad("a lot in another unit", lambda s: s.receive(s1, [("LOT-A", "10", "box")]),
            "inputs[0].unit", r"counted in 'kg', not 'box'"),
        Bad("more than was shipped", lambda s: s.receive(s1, [("LOT-A", "10.000001")]),
            "inputs[0].qty", r"received 10\.000001 kg but only 10 were shipped"),
        Bad("one lot twice in one receive",
            lambda s: s.receive(s1, [("LOT-A", "5"), ("LOT-A", "5")]), "inputs[1].lot",
            r"'LOT-A' of shipment 'ship-\d+' was already received"),
        Bad("received twice in one batch", lambda s: [s.receive(s1), s.receive(s1)],
            "inputs[0].lot", r"was already received at seq \d+"),
    ])
    sup.add(sup.receive(s1))
    assert_rejected(sup, sup.receive(s1), "inputs[0].lot", r"was already received")
    assert_rejected(sup, sup.receive(s1, [("LOT-B", "1")]), "inputs[0].lot",
                    r"'LOT-B' of shipment 'ship-\d+' was already received")
    assert on_hand(sup, "LOT-A")[("market-1", "kg")] == "10"
    assert on_hand(sup, "LOT-B") == {("farm-1.field", "kg"): "0", ("coldstore-1", "kg"): "20",
                                     ("market-1", "kg"): "5"}


def test_short_receipt_is_a_discrepancy(sup: Supply) -> None:
    ship = sup.ship("coldstore-1", "market-1", [("LOT-A", "10"), ("LOT-B", "5")])
    sup.add(ship, sup.receive(ship, [("LOT-A", "7.5"), ("LOT-B", "5")]))
    hops = {(h["lot"], h["ship_event"]): h for h in
            trace(sup.ledger, "LOT-A").to_dict()["upstream"]["path"]
            + trace(sup.ledger, "LOT-B").to_dict()["upstream"]["path"]}
    short = hops[("LOT-A", ship["id"])]
    assert (short["qty"], short["received"], short["discrepancy"]) == ("10", "7.5", "-2.5")
    full = hops[("LOT-B", ship["id"])]
    assert (full["qty"], full["received"], full["discrepancy"]) == ("5", "5", None)
    pending = sup.ship("coldstore-1", "market-2", [("LOT-B", "1")])
    sup.add(pending)
    in_transit = next(h for h in trace(sup.ledger, "LOT-B").to_dict()["upstream"]["path"]
                      if h["ship_event"] == pending["id"])
    assert (in_transit["received"], in_transit["discrepancy"]) == (None, None)
    # Only what arrived is received and on hand; the rest cannot be received later.
    [market] = [p for p in trace(sup.ledger, "LOT-A").to_dict()["downstream"]["locations"]
                if p["location"] == "market-1"]
    assert (market["received"], market["sold"], market["on_hand"]) == ("7.5", "0", "7.5")
    assert_rejected(sup, sup.receive(ship, [("LOT-A", "2.5")]), "inputs[0].lot",
                    r"already received")


# -- slaughter: 两章两证一报告 -----------------------------------------------------------------

def test_slaughter_needs_its_certificates(sup: Supply, subtests: Any) -> None:
    table = []
    for name in ("quarantine_cert", "meat_inspection_cert", "asf_report"):
        table.append(Bad(f"without {name}", lambda s, n=name: s.slaughter(
            [("PIG-1", "1", "head")], [("PK-1", "80")], **{n: None}),
            f"data.{name}", r"Missing data for required field"))
        table.append(Bad(f"with an empty {name}", lambda s, n=name: s.slaughter(
            [("PIG-1", "1", "head")], [("PK-1", "80")], **{n: ""}),
            f"data.{name}", r"[Ll]ength"))
    run_table(sup, subtests, table)
    sup.add(sup.slaughter([("PIG-1", "1", "head")], [("PK-1", "80")]))
    assert on_hand(sup, "PIG-1")[("abattoir-1", "kg")] == "80"


# -- import documents (浙冷链) ---------------------------------------------------------------

def test_imported_lot_needs_documents_at_markets_and_stalls(sup: Supply) -> None:
    partial = {"customs_declaration": IMPORT_DOCS_FULL["customs_declaration"]}
    rest = {k: v for k, v in IMPORT_DOCS_FULL.items() if k not in partial}
    sup.add(sup.origin("IMP-1", "500", location="port-1", storage="frozen"))
    to_market = sup.ship("port-1", "market-1", [("IMP-1", "100")], import_docs=partial)
    to_cold = sup.ship("port-1", "coldstore-1", [("IMP-1", "100")], import_docs=partial)
    sup.add(to_market, to_cold)
    assert_rejected(sup, sup.receive(to_market), "inputs[0].lot",
                    r"imported lot 'IMP-1' cannot be received by a market without "
                    r"inspection_cert, disinfection_cert on record")
    sup.add(sup.receive(to_cold))  # a cold store may receive it
    to_stall = sup.ship("coldstore-1", "stall-a01", [("IMP-1", "20")])
    sup.add(to_stall)
    assert_rejected(sup, sup.receive(to_stall), "inputs[0].lot",
                    r"cannot be received by a stall without inspection_cert, disinfection_cert")
    # A lot made from the imported lot inherits the requirement.
    sup.add(sup.transform("coldstore-1", [("IMP-1", "50")], [("IMP-1-R1", "30"),
                                                            ("IMP-1-R2", "20")], "repack"))
    child_ship = sup.ship("coldstore-1", "stall-a01", [("IMP-1-R1", "10")])
    sup.add(child_ship)
    assert_rejected(sup, sup.receive(child_ship), "inputs[0].lot",
                    r"imported lot 'IMP-1-R1' cannot be received by a stall without "
                    r"inspection_cert, disinfection_cert")
    # The rest of the documents come on record with a later shipment of the lot: now the
    # pending shipments are received.
    sup.add(sup.ship("port-1", "coldstore-1", [("IMP-1", "10")], import_docs=rest))
    sup.add(sup.receive(to_market), sup.receive(to_stall))
    # A made lot carries the documents with it once shipped with the missing ones.
    child_ship2 = sup.ship("coldstore-1", "stall-a01", [("IMP-1-R2", "5")], import_docs=rest)
    sup.add(child_ship2, sup.receive(child_ship2))
    assert on_hand(sup, "IMP-1") == {
        ("port-1", "kg"): "290", ("market-1", "kg"): "100", ("coldstore-1", "kg"): "65",
        ("stall-a01", "kg"): "25"}
    assert sup.ledger.verify(workers=1).ok


def test_imported_lot_with_complete_documents_reaches_a_stall(sup: Supply) -> None:
    sup.add(sup.origin("IMP-2", "50", location="port-1"))
    ship = sup.ship("port-1", "stall-a01", [("IMP-2", "10")], import_docs=IMPORT_DOCS_FULL)
    sup.add(ship, sup.receive(ship))
    assert on_hand(sup, "IMP-2")[("stall-a01", "kg")] == "10"
    # An origin that declares itself imported needs the documents too.
    sup.add(sup.origin("IMP-3", "50", location="port-1", imported=True))
    ship3 = sup.ship("port-1", "market-2", [("IMP-3", "10")])
    sup.add(ship3)
    assert_rejected(sup, sup.receive(ship3), "inputs[0].lot",
                    r"without customs_declaration, inspection_cert, disinfection_cert")


# -- holds and recalls -----------------------------------------------------------------------

def test_held_lot_stays_put_until_released(sup: Supply, subtests: Any) -> None:
    sup.add(sup.hold("stall-a01", [("LOT-A", "20")]))
    run_table(sup, subtests, [
        Bad("sold where held", lambda s: s.sale("stall-a01", [("LOT-A", "1")]), "inputs[0].lot",
            r"'LOT-A' is on hold at 'stall-a01' \(快检阳性\); it cannot be sold until released"),
        Bad("shipped from where held",
            lambda s: s.ship("stall-a01", "market-1", [("LOT-A", "1")]), "inputs[0].lot",
            r"on hold at 'stall-a01'.*cannot be shipped"),
        Bad("transformed where held",
            lambda s: s.transform("stall-a01", [("LOT-A", "2")], [("LOT-A1", "2")], "cut"),
            "inputs[0].lot", r"cannot be transformed until released"),
        Bad("held twice", lambda s: s.hold("stall-a01", [("LOT-A", "20")]), "inputs[0].lot",
            r"already on hold at 'stall-a01'"),
        Bad("held where it never was", lambda s: s.hold("market-2", [("LOT-A", "1")]),
            "inputs[0].lot", r"was never at 'market-2'"),
        Bad("released where not held", lambda s: s.release("coldstore-1", [("LOT-A", "1")]),
            "inputs[0].lot", r"not on hold at 'coldstore-1'"),
    ])
    # A hold is per location: the same lot elsewhere moves on.
    sup.add(*sup.move("coldstore-1", "stall-a02", [("LOT-A", "5")]),
            sup.sale("stall-a02", [("LOT-A", "1")]))
    sup.add(sup.release("stall-a01", [("LOT-A", "20")]))
    sup.add(sup.sale("stall-a01", [("LOT-A", "3")]))
    assert on_hand(sup, "LOT-A")[("stall-a01", "kg")] == "17"


def test_recalled_lot_stops_everywhere_until_the_recall_is_released(
        sup: Supply, subtests: Any) -> None:
    sup.add(sup.recall("operator.office", [("LOT-A", "100")], reason="抽检不合格: 灭蝇胺超标"))
    stopped = [
        Bad("sold at a stall", lambda s: s.sale("stall-a01", [("LOT-A", "1")]), "inputs[0].lot",
            r"'LOT-A' is recalled \(seq \d+\); it cannot be sold until released"),
        Bad("shipped from the cold store",
            lambda s: s.ship("coldstore-1", "market-1", [("LOT-A", "1")]), "inputs[0].lot",
            r"is recalled.*cannot be shipped"),
        Bad("shipped from the farm",
            lambda s: s.ship("farm-1.field", "coldstore-1", [("LOT-A", "1")]), "inputs[0].lot",
            r"is recalled"),
        Bad("transformed", lambda s: s.transform("coldstore-1", [("LOT-A", "1")],
                                                 [("LOT-A1", "1")]),
            "inputs[0].lot", r"is recalled"),
    ]
    run_table(sup, subtests, stopped)
    # Releasing a hold is not releasing a recall: without scope "recall" it is refused.
    sup.add(sup.hold("stall-a01", [("LOT-A", "20")]))
    sup.add(sup.release("stall-a01", [("LOT-A", "20")]))
    run_table(sup, subtests, [
        *stopped[:1],
        Bad("released without scope recall", lambda s: s.release("stall-a01", [("LOT-A", "20")]),
            "data.scope", r"'LOT-A' is recalled.*scope"),
    ])
    # Other lots are unaffected.
    sup.add(sup.ship("coldstore-1", "market-1", [("LOT-B", "1")]))
    sup.add(sup.release("operator.office", [("LOT-A", "100")], scope="recall"))
    sup.add(sup.sale("stall-a01", [("LOT-A", "1")]),
            sup.ship("coldstore-1", "market-1", [("LOT-A", "1")]))
    assert on_hand(sup, "LOT-A")[("stall-a01", "kg")] == "19"


# -- cold chain ------------------------------------------------------------------------------

EXCURSIONS = [
    # lot storage, ship storage, readings, the excursions among them, limit
    ("frozen", None, ["-25", "-18", "-18.00", "-17.99", "-5"], ["-17.99", "-5"], "-18"),
    ("chilled", None, ["0", "4", "4.00", "4.01", "12.5"], ["4.01", "12.5"], "4"),
    (None, "frozen", ["-20", "-17.5"], ["-17.5"], "-18"),
    ("frozen", "chilled", ["-1", "4.5"], ["4.5"], "4"),
    ("ambient", None, ["35"], [], None),
    (None, None, ["35"], [], None),
]


def test_temperature_excursions_are_flagged_not_rejected(sup: Supply, subtests: Any) -> None:
    for n, (lot_storage, ship_storage, readings, flagged, limit) in enumerate(EXCURSIONS):
        with subtests.test(msg=f"lot {lot_storage}, ship {ship_storage}, {readings}"):
            lot = f"COLD-{n}"
            extra = {"storage": lot_storage} if lot_storage else {}
            sup.add(sup.origin(lot, "100", **extra))
            temps = [{"time": f"2026-11-22T0{7 + i}:00:00+08:00", "celsius": c}
                     for i, c in enumerate(readings)]
            ship_data: dict[str, Any] = {"temperatures": temps}
            if ship_storage:
                ship_data["storage"] = ship_storage
            ship = sup.ship("farm-1.field", "coldstore-1", [(lot, "100")], **ship_data)
            sup.add(ship, sup.receive(ship))  # an excursion is evidence, not a rejection
            [hop] = trace(sup.ledger, lot).to_dict()["upstream"]["path"]
            assert hop["temperatures"] == temps
            storage = ship_storage or lot_storage
            assert hop["excursions"] == [
                {"time": t["time"], "celsius": t["celsius"], "limit": limit, "storage": storage}
                for t in temps if t["celsius"] in flagged]
            assert on_hand(sup, lot)[("coldstore-1", "kg")] == "100"
