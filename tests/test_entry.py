"""The ``entry``, ``reject`` and ``return`` kinds (docs/contract.md "Kinds", "entry",
"reject", "return"): every rule allowed and refused, naming the field; what they leave in
lots, stock and shipments; the trace and the drill's CTE rows of an entry lot; and verify
naming an edited refused hop (reindex repairs it). The ledger verifies after every test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import NOW
from tests.helpers import Network, Supply, supply_snapshot
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.kinds import KINDS
from tracelib.ledger import Ledger
from tracelib.recalls import drill, report_input
from tracelib.store.schema import lots, shipments, stock
from tracelib.views.disclosure import PUBLIC, disclose_trace
from tracelib.views.tracing import trace

FILE = "sha256:" + "0123456789abcdef" * 4
MEAT_VOUCHERS = [{"type": "动物检疫合格证明", "no": "5001234567", "issuer": "云阳县动物卫生监督所",
                  "issued_at": "2026-11-22", "file": FILE},
                 {"type": "肉品品质检验合格证", "no": "RJ-0031"},
                 {"type": "购货凭证", "no": "FP-0088", "file": "sha256:" + "ab" * 32}]
IMPORT_VOUCHERS = [{"type": "报关单", "no": "CD-1"}, {"type": "入境货物检验检疫证明", "no": "IQ-1"},
                   {"type": "消毒证明", "no": "XD-1"}]
SUPPLIER = {"name": "重庆某某食品有限公司", "licence": "JY15001234567890"}


@pytest.fixture
def sup(tmp_path: Any, operator_key: SigningKey) -> Iterator[Supply]:
    ledger = Ledger.create(f"sqlite:///{tmp_path / 'ledger.db'}", operator_key=operator_key,
                           operator="operator", now=NOW)
    supply = Supply.build(Network.build(ledger, operator_key, now=NOW))
    yield supply
    report = ledger.verify(workers=1)
    assert report.ok, report.problem
    ledger.close()


def entry(sup: Supply, lot: str = "ENT-1", qty: str = "30", *, location: str = "stall-a01",
          actor: str | None = None, category: str = "meat", vouchers: Any = None,
          **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"supplier": SUPPLIER, "product": "鲜猪肉", "category": category,
                            "storage": "chilled",
                            "vouchers": MEAT_VOUCHERS if vouchers is None else vouchers, **data}
    return sup.event("entry", location, outputs=[(lot, qty)], actor=actor,
                     data={k: v for k, v in body.items() if v is not None})


def reject(sup: Supply, location: str = "stall-a01", items: Any = (), *,
           actor: str | None = None, **data: Any) -> dict[str, Any]:
    body = {"reason": "无动物检疫合格证明", **data}
    return sup.event("reject", location, inputs=items, actor=actor,
                     data={k: v for k, v in body.items() if v is not None})


def ret(sup: Supply, location: str, items: Any, **data: Any) -> dict[str, Any]:
    body = {"reason": "包装破损", **data}
    return sup.event("return", location, inputs=items,
                     data={k: v for k, v in body.items() if v is not None})


def refused(sup: Supply, events: dict[str, Any] | list[dict[str, Any]], field: str,
            words: str) -> None:
    batch = events if isinstance(events, list) else [events]
    before = supply_snapshot(sup.ledger)
    with pytest.raises(ValidationError) as caught:
        sup.add(*batch)
    assert caught.value.field == field, f"{caught.value.field!r}: {caught.value}"
    assert re.search(words, caught.value.message), caught.value.message
    assert supply_snapshot(sup.ledger) == before  # nothing stored


def lot_row(sup: Supply, code: str) -> dict[str, Any]:
    with sup.ledger.store.engine.connect() as conn:
        return dict(conn.execute(select(lots).where(lots.c.lot == code)).mappings().one())


def on_hand(sup: Supply, code: str, location: str) -> int:
    with sup.ledger.store.engine.connect() as conn:
        got = conn.execute(select(stock.c.on_hand).where(
            stock.c.lot == code, stock.c.location == location)).scalar()
    return int(got or 0)


def hop(sup: Supply, ship_event: str, code: str) -> dict[str, Any]:
    with sup.ledger.store.engine.connect() as conn:
        return dict(conn.execute(select(shipments).where(
            shipments.c.ship_event == ship_event, shipments.c.lot == code)).mappings().one())


# -- entry ------------------------------------------------------------------------------------

def test_an_entry_makes_lots_with_the_certificate_voucher_number(sup: Supply) -> None:
    vouchers = [*MEAT_VOUCHERS, {"type": "合格证", "no": "HGZ-0042"}]
    sup.add(entry(sup, vouchers=vouchers))
    row = lot_row(sup, "ENT-1")
    assert (row["kind"], row["location"], row["product"], row["certificate_no"]) == (
        "entry", "stall-a01", "鲜猪肉", "HGZ-0042")
    assert on_hand(sup, "ENT-1", "stall-a01") == 30_000_000
    assert KINDS["entry"].attachments is not None
    assert list(KINDS["entry"].attachments(entry(sup, vouchers=vouchers)["data"])) == [
        FILE, "sha256:" + "ab" * 32]


def test_an_entry_without_a_certificate_voucher_has_no_certificate_number(sup: Supply) -> None:
    sup.add(entry(sup))
    assert lot_row(sup, "ENT-1")["certificate_no"] is None


@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda s: entry(s, vouchers=MEAT_VOUCHERS[:1]), "data.vouchers",
     "meat enters only with .*肉品品质检验合格证 missing"),
    (lambda s: entry(s, vouchers=MEAT_VOUCHERS[1:]), "data.vouchers",
     "动物检疫合格证明 missing"),
    (lambda s: entry(s, category="fruit", imported=True,
                     vouchers=[*IMPORT_VOUCHERS[:2], {"type": "购货凭证", "no": "FP-1"}]),
     "data.vouchers", "imported goods enter only with .*消毒证明 missing"),
    (lambda s: entry(s, location="coldstore-1", category="fruit", imported=True, vouchers=[]),
     "data.vouchers", "报关单, 入境货物检验检疫证明, 消毒证明 missing"),
    (lambda s: entry(s, category="vegetable", vouchers=[]), "data.vouchers",
     "goods entering at a stall need at least one voucher"),
    (lambda s: entry(s, location="market-1", category="vegetable", vouchers=[]),
     "data.vouchers", "at a market need"),
    (lambda s: entry(s, location="wholesale-1", category="vegetable", vouchers=[]),
     "data.vouchers", "at a wholesale_market need"),
    (lambda s: entry(s, vouchers=[{**MEAT_VOUCHERS[0], "file": "sha256:" + "AB" * 32},
                                  *MEAT_VOUCHERS[1:]]),
     "data.vouchers[0].file", "64 lowercase hexadecimal"),
    (lambda s: entry(s, vouchers=[{**MEAT_VOUCHERS[0], "file": "sha256:abc"},
                                  *MEAT_VOUCHERS[1:]]),
     "data.vouchers[0].file", "64 lowercase hexadecimal"),
    (lambda s: entry(s, vouchers=[{"type": "发票", "no": "1"}, *MEAT_VOUCHERS]),
     "data.vouchers[0].type", "Must be one of"),
    (lambda s: entry(s, vouchers=[{"type": "合格证"}, *MEAT_VOUCHERS]),
     "data.vouchers[0].no", "required"),
    (lambda s: entry(s, category="seafood"), "data.category", "Must be one of"),
    (lambda s: entry(s, supplier={"licence": "JY1"}), "data.supplier.name", "required"),
    (lambda s: entry(s, gtin="123"), "data.gtin", "14 digits"),
    (lambda s: entry(s, location="farm-1.field", category="vegetable"), "location",
     "at its .*canteen.*, not at farm 'farm-1.field'"),
    (lambda s: entry(s, actor="stall-a02"), "actor", "does not hold 'stall-a01'"),
    (lambda s: entry(s, actor="market-2"), "actor", "does not hold 'stall-a01'"),
    (lambda s: [s.origin("LOT-X", "10"), entry(s, "LOT-X")], "outputs[0].lot",
     "already exists"),
    (lambda s: s.event("entry", "stall-a01", inputs=[("ENT-0", "1")],
                       outputs=[("ENT-1", "1")],
                       data=entry(s)["data"]), "inputs", "must be empty"),
])
def test_entry_rules_refuse(sup: Supply, build: Any, field: str, words: str) -> None:
    sup.add(entry(sup, "ENT-0"))
    refused(sup, build(sup), field, words)


@pytest.mark.parametrize("build", [
    # meat with both certificates, at the stall, by its holder and by its market
    lambda s: entry(s),
    lambda s: entry(s, actor="market-1"),
    # imported goods with the three import documents
    lambda s: entry(s, category="fruit", imported=True, vouchers=IMPORT_VOUCHERS),
    # a cold store needs no voucher for vegetables
    lambda s: entry(s, location="coldstore-1", category="vegetable", vouchers=[]),
    # a voucher without a file, and the other voucher types
    lambda s: entry(s, category="other", vouchers=[{"type": "其他", "no": "X-1"},
                                                   {"type": "检测报告", "no": "JC-1"}]),
])
def test_entry_rules_allow(sup: Supply, build: Any) -> None:
    sup.add(build(sup))
    assert lot_row(sup, "ENT-1")["kind"] == "entry"


def test_imported_entry_lots_carry_their_documents_to_a_stall(sup: Supply) -> None:
    sup.add(entry(sup, location="coldstore-1", category="fruit", imported=True,
                  vouchers=IMPORT_VOUCHERS))
    row = lot_row(sup, "ENT-1")
    assert row["imported"] == 1
    assert row["import_docs"] == '["customs_declaration", "disinfection_cert", "inspection_cert"]'
    sup.add(*sup.move("coldstore-1", "stall-a01", [("ENT-1", "10")]))
    assert on_hand(sup, "ENT-1", "stall-a01") == 10_000_000


def test_the_trace_of_an_entry_lot_starts_at_its_entry(sup: Supply) -> None:
    vouchers = [*MEAT_VOUCHERS, {"type": "合格证", "no": "HGZ-0042"}]
    made = entry(sup, location="wholesale-1", vouchers=vouchers)
    sup.add(made, *sup.move("wholesale-1", "stall-a01", [("ENT-1", "10")]))
    up = trace(sup.ledger, "ENT-1").to_dict()["upstream"]
    assert up["origins"] == []
    assert [(e["event"], e["location"], e["supplier"]["name"]) for e in up["entries"]] == [
        (made["id"], "wholesale-1", SUPPLIER["name"])]
    assert [v["no"] for v in up["entries"][0]["vouchers"]] == [v["no"] for v in vouchers]
    public = disclose_trace(trace(sup.ledger, "ENT-1").to_dict(), PUBLIC)
    [seen] = public["upstream"]["entries"]
    assert seen["supplier"] == {"name": SUPPLIER["name"]}
    assert seen["vouchers"] == [{"type": v["type"]} for v in vouchers]
    result = drill(sup.ledger, "ENT-1")
    sheet = report_input(sup.ledger, result, generated_at="2026-11-22T12:00:00+08:00")
    first = next(c for c in sheet.ctes if c.event_id == made["id"])
    assert (first.from_location, first.to_location, first.reference_document_type,
            first.reference_document_number) == (SUPPLIER["name"], "wholesale-1",
                                                  "购货凭证 purchase voucher", "FP-0088")


# -- reject -----------------------------------------------------------------------------------

def test_a_refused_shipment_closes_with_nothing_received_and_goes_back(sup: Supply) -> None:
    ship = sup.ship("farm-1.field", "stall-a01", [("LOT-1", "40")])
    sup.add(sup.origin("LOT-1", "100"), ship)
    sup.add(reject(sup, items=[("LOT-1", "40")], ship_event=ship["id"], **{"from": "farm-1.field"}))
    got = hop(sup, ship["id"], "LOT-1")
    assert (got["received_qty"], got["discrepancy"], got["reject_reason"]) == (
        0, -40_000_000, "无动物检疫合格证明")
    assert got["receive_seq"] == sup.ledger.size - 1
    assert on_hand(sup, "LOT-1", "farm-1.field") == 100_000_000
    assert on_hand(sup, "LOT-1", "stall-a01") == 0
    with sup.ledger.store.engine.connect() as conn:
        farm = conn.execute(select(stock).where(stock.c.lot == "LOT-1")).mappings().one()
    assert (farm["location"], farm["received"], farm["shipped"]) == ("farm-1.field",
                                                                     100_000_000, 0)
    path = trace(sup.ledger, "LOT-1").to_dict()["upstream"]["path"]
    assert [(h["ship_event"], h["received"], h.get("refused")) for h in path] == [
        (ship["id"], "0", "无动物检疫合格证明")]
    refused(sup, sup.receive(ship), "inputs[0].lot", "was already refused at seq")
    refused(sup, reject(sup, items=[("LOT-1", "40")], ship_event=ship["id"]), "inputs[0].lot",
            "already refused")


@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda s, ship: reject(s, items=[("LOT-1", "30")], ship_event=ship["id"]),
     "inputs[0].qty", "refuses the whole hop: 40 kg were shipped, not 30"),
    (lambda s, ship: reject(s, "stall-a02", items=[("LOT-1", "40")], ship_event=ship["id"]),
     "location", "goes to 'stall-a01', not 'stall-a02'"),
    (lambda s, ship: reject(s, items=[("LOT-1", "40")], ship_event="ship-none"),
     "data.ship_event", "not in shipment"),
    (lambda s, ship: reject(s, items=[("LOT-1", "40")], ship_event=ship["id"],
                            **{"from": "wholesale-1"}), "data.from", "left from 'farm-1.field'"),
    (lambda s, ship: reject(s, items=[("LOT-1", "40")], ship_event=ship["id"], reason=None),
     "data.reason", ""),
    (lambda s, ship: reject(s, items=[], ship_event=ship["id"]), "inputs", "at least 1"),
    (lambda s, ship: reject(s, items=[("LOT-1", "40")], ship_event=ship["id"],
                            actor="stall-a02"), "actor", "does not hold"),
    (lambda s, ship: [s.receive(ship), reject(s, items=[("LOT-1", "40")],
                                              ship_event=ship["id"])],
     "inputs[0].lot", "was already received"),
])
def test_reject_of_a_shipment_refuses(sup: Supply, build: Any, field: str, words: str) -> None:
    ship = sup.ship("farm-1.field", "stall-a01", [("LOT-1", "40")])
    sup.add(sup.origin("LOT-1", "100"), ship)
    refused(sup, build(sup, ship), field, words)


def test_a_market_refuses_a_shipment_at_its_stall(sup: Supply) -> None:
    ship = sup.ship("farm-1.field", "stall-a01", [("LOT-1", "40")])
    sup.add(sup.origin("LOT-1", "100"), ship)
    sup.add(sup.event("reject", "stall-a01", inputs=[("LOT-1", "40")], actor="market-1",
                      data={"reason": "温度超标", "ship_event": ship["id"]}))
    assert hop(sup, ship["id"], "LOT-1")["reject_reason"] == "温度超标"


def test_a_refused_delivery_from_outside_enters_nothing(sup: Supply) -> None:
    before = supply_snapshot(sup.ledger)
    sup.add(reject(sup, reason="无合格证", supplier={"name": "某蔬菜经营部"}, product="豇豆",
                   category="vegetable", quantity="50 kg", vouchers=[]))
    after = supply_snapshot(sup.ledger)
    assert after["size"] == before["size"] + 1
    assert {k: v for k, v in after.items() if k != "size"} == {
        k: v for k, v in before.items() if k != "size"}


@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda s: reject(s, product="豇豆"), "data.supplier", "names its supplier and product"),
    (lambda s: reject(s, supplier={"name": "某"}), "data.product", "names its supplier"),
    (lambda s: reject(s, items=[("LOT-1", "1")], supplier={"name": "某"}, product="豇豆"),
     "inputs", "must be empty"),
    (lambda s: reject(s, "farm-1.field", supplier={"name": "某"}, product="豇豆"), "location",
     "refused at a receiving point"),
    (lambda s: reject(s, supplier={"name": "某"}, product="豇豆", category="fish"),
     "data.category", "Must be one of"),
])
def test_reject_from_outside_refuses(sup: Supply, build: Any, field: str, words: str) -> None:
    sup.add(sup.origin("LOT-1", "100"))
    refused(sup, build(sup), field, words)


# -- return -----------------------------------------------------------------------------------

def test_a_return_to_a_ledger_location_is_received_there(sup: Supply) -> None:
    sup.add(sup.origin("LOT-1", "100", location="farm-1.field"),
            *sup.move("farm-1.field", "wholesale-1", [("LOT-1", "100")]),
            *sup.move("wholesale-1", "stall-a01", [("LOT-1", "40")]))
    back = ret(sup, "stall-a01", [("LOT-1", "5")], to="wholesale-1")
    sup.add(back)
    assert on_hand(sup, "LOT-1", "stall-a01") == 35_000_000
    assert hop(sup, back["id"], "LOT-1")["receive_seq"] is None
    sup.add(sup.receive(back))
    assert on_hand(sup, "LOT-1", "wholesale-1") == 65_000_000
    assert hop(sup, back["id"], "LOT-1")["received_qty"] == 5_000_000
    refused(sup, sup.receive(back), "inputs[0].lot", "already received")


@pytest.mark.parametrize(("build", "field", "words"), [
    (lambda s: ret(s, "stall-a01", [("LOT-1", "41")], to="wholesale-1"), "inputs[0].qty",
     "mass balance: 41 kg .*cannot be returned at 'stall-a01': on hand there is 40 kg"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")], to="stall-a01"), "data.to",
     "somewhere else"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")], to="nowhere-1"), "data.to",
     "unknown destination"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")]), "data.to", "either to a location"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")], to="wholesale-1",
                   supplier={"name": "某"}), "data.to", "either to a location"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")], supplier={"name": "某"}),
     "inputs[0].lot", "did not enter the ledger here by an entry"),
    (lambda s: ret(s, "stall-a01", [("LOT-1", "1")], to="wholesale-1", reason=None),
     "data.reason", ""),
    (lambda s: s.event("return", "stall-a01", inputs=[("LOT-1", "1")], actor="stall-a02",
                       data={"reason": "x", "to": "wholesale-1"}), "actor", "does not hold"),
    (lambda s: [s.hold("stall-a01", [("LOT-1", "40")], actor="market-1"),
                ret(s, "stall-a01", [("LOT-1", "1")], to="wholesale-1")],
     "inputs[0].lot", "on hold at 'stall-a01'"),
])
def test_return_rules_refuse(sup: Supply, build: Any, field: str, words: str) -> None:
    sup.add(sup.origin("LOT-1", "100"),
            *sup.move("farm-1.field", "wholesale-1", [("LOT-1", "100")]),
            *sup.move("wholesale-1", "stall-a01", [("LOT-1", "40")]))
    refused(sup, build(sup), field, words)


def test_a_recalled_lot_goes_back_only_to_where_it_came_from(sup: Supply) -> None:
    sup.add(sup.origin("LOT-1", "100"),
            *sup.move("farm-1.field", "wholesale-1", [("LOT-1", "100")]))
    arrived = sup.ship("wholesale-1", "stall-a01", [("LOT-1", "40")])
    sup.add(arrived, sup.receive(arrived),
            sup.hold("stall-a01", [("LOT-1", "40")], actor="operator"),
            sup.recall("operator.office", [("LOT-1", "40")]))
    refused(sup, ret(sup, "stall-a01", [("LOT-1", "5")], to="stall-a02"), "inputs[0].lot",
            "recalled .*goes back only to where it came from")
    refused(sup, ret(sup, "stall-a01", [("LOT-1", "5")], to="wholesale-1"), "inputs[0].lot",
            "recalled")  # without the shipment that brought it, wholesale-1 is not its source
    back = ret(sup, "stall-a01", [("LOT-1", "40")], to="wholesale-1", ship_event=arrived["id"])
    sup.add(back, sup.receive(back))
    assert on_hand(sup, "LOT-1", "wholesale-1") == 100_000_000
    # to the place it was made, no shipment needed
    sup.add(ret(sup, "wholesale-1", [("LOT-1", "10")], to="farm-1.field"))


def test_a_test_hold_stops_a_return_to_the_source(sup: Supply) -> None:
    sup.add(entry(sup))
    sup.add(sup.event("rapid_test", "stall-a01", actor="market-1", data={
        "sample": "S-1", "item": "克伦特罗", "method": "colloidal-gold", "tester": "王",
        "result": "positive", "lot": "ENT-1", "commodity": "猪肉"}))
    refused(sup, ret(sup, "stall-a01", [("ENT-1", "1")], supplier=SUPPLIER), "inputs[0].lot",
            "on hold")


def test_a_return_to_the_supplier_takes_the_stock_out_of_the_ledger(sup: Supply) -> None:
    sup.add(entry(sup), sup.sale("stall-a01", [("ENT-1", "10")]))
    sup.add(ret(sup, "stall-a01", [("ENT-1", "5")], supplier=SUPPLIER))
    assert on_hand(sup, "ENT-1", "stall-a01") == 15_000_000
    refused(sup, ret(sup, "stall-a01", [("ENT-1", "16")], supplier=SUPPLIER), "inputs[0].qty",
            "mass balance")
    # an entry lot shipped on is returned to its supplier only where it entered
    sup.add(*sup.move("stall-a01", "stall-a02", [("ENT-1", "5")]))
    refused(sup, ret(sup, "stall-a02", [("ENT-1", "1")], supplier=SUPPLIER), "inputs[0].lot",
            "did not enter the ledger here")
    with sup.ledger.store.engine.connect() as conn:
        rows = conn.execute(select(stock).where(stock.c.lot == "ENT-1")).mappings().all()
    # mass balance: everything that entered is sold, returned, shipped on or on hand
    made = 30_000_000
    assert sum(r["on_hand"] + r["sold"] for r in rows) + 5_000_000 == made
    assert all(r["received"] - r["sold"] - r["shipped"] - r["consumed"] == r["on_hand"]
               for r in rows)


def test_a_returned_hop_may_be_refused_at_its_destination(sup: Supply) -> None:
    sup.add(sup.origin("LOT-1", "100"),
            *sup.move("farm-1.field", "stall-a01", [("LOT-1", "40")]))
    back = ret(sup, "stall-a01", [("LOT-1", "5")], to="farm-1.field")
    sup.add(back, reject(sup, "farm-1.field", [("LOT-1", "5")], ship_event=back["id"],
                         reason="非本场产品"))
    assert on_hand(sup, "LOT-1", "stall-a01") == 40_000_000


# -- verify covers the refused hop ------------------------------------------------------------

def test_verify_names_an_edited_refusal_and_reindex_repairs_it(sup: Supply) -> None:
    ship = sup.ship("farm-1.field", "stall-a01", [("LOT-1", "40")])
    sup.add(sup.origin("LOT-1", "100"), ship,
            reject(sup, items=[("LOT-1", "40")], ship_event=ship["id"]))
    with sup.ledger.store.engine.begin() as conn:
        conn.execute(update(shipments).where(shipments.c.ship_event == ship["id"])
                     .values(reject_reason=None))
    report = sup.ledger.verify(workers=1)
    assert (report.ok, report.table, report.column) == (False, "shipments", "reject_reason")
    sup.ledger.reindex()
    assert hop(sup, ship["id"], "LOT-1")["reject_reason"] == "无动物检疫合格证明"


# -- the command line -------------------------------------------------------------------------

def test_cli_appends_entries_refusals_and_returns_and_verifies(tmp_path: Any) -> None:
    from tests.test_cli_supply import CHAIN, LOCATIONS, PARTIES, Cli, ev

    c = Cli(tmp_path)
    c("init")
    for party, role in PARTIES:
        c("keys", "new", party, "--role", role)
    c("append", c.jsonl([{"id": "register-places", "kind": "register",
                          "time": "2026-11-22T05:00:00+08:00", "actor": "operator",
                          "location": "operator.office", "data": {"locations": LOCATIONS}}]))
    c("append", c.jsonl(CHAIN))
    # The scans the vouchers cite go into the blob store first: an append citing a blob the
    # store does not hold is refused (docs/contract.md "Attachments").
    scans = []
    for i, voucher in enumerate(MEAT_VOUCHERS):
        scan = tmp_path / f"voucher-{i}.pdf"
        scan.write_bytes(b"%PDF-1.4 " + voucher["no"].encode())
        scans.append(scan)
    names = [line.split()[0] for line in c("blob", "add", *map(str, scans)).stdout.splitlines()]
    scanned = [{**v, "file": name} for v, name in zip(MEAT_VOUCHERS, names, strict=True)]
    made = ev("entry-cli-1", "entry", "stall-a01", "stall-a01", outputs=[("ENT-CLI-1", "30")],
              supplier=SUPPLIER, product="鲜猪肉", category="meat", vouchers=scanned)
    lines = [made,
             ev("ship-cli-1", "ship", "carrier-1", "coldstore-1", inputs=[("LOT-PK-0001", "20")],
                to="stall-a01"),
             ev("reject-cli-1", "reject", "stall-a01", "stall-a01",
                inputs=[("LOT-PK-0001", "20")], reason="温度超标",
                ship_event="ship-cli-1", **{"from": "coldstore-1"}),
             ev("return-cli-1", "return", "stall-a01", "stall-a01", inputs=[("ENT-CLI-1", "5")],
                reason="包装破损", supplier=SUPPLIER)]
    assert "appended 4 event(s)" in c("append", c.jsonl(lines)).stdout
    c("verify")
    path = c.trace("LOT-PK-0001")["upstream"]["path"]
    assert [h.get("refused") for h in path if h["ship_event"] == "ship-cli-1"] == ["温度超标"]
    late = ev("receive-cli-1", "receive", "stall-a01", "stall-a01",
              inputs=[("LOT-PK-0001", "20")], ship_event="ship-cli-1",
              **{"from": "coldstore-1"})
    result = c("append", c.jsonl([late]), code=1)
    assert "field 'inputs[0].lot'" in result.stderr and "already refused" in result.stderr
    bad = ev("entry-cli-2", "entry", "stall-a01", "stall-a01", outputs=[("ENT-CLI-2", "3")],
             supplier=SUPPLIER, product="豇豆", category="vegetable", vouchers=[])
    result = c("append", c.jsonl([bad]), code=1)
    assert "field 'data.vouchers'" in result.stderr and "at least one voucher" in result.stderr
    c("verify")


# -- both stores ------------------------------------------------------------------------------

def test_entry_refusal_and_return_on_sqlite_and_postgresql(ledger: Ledger,
                                                           operator_key: SigningKey) -> None:
    both = Supply.build(Network.build(ledger, operator_key, now=NOW))
    ship = both.ship("farm-1.field", "stall-a01", [("LOT-1", "40")])
    both.add(both.origin("LOT-1", "100"), ship, entry(both),
             reject(both, items=[("LOT-1", "40")], ship_event=ship["id"]),
             ret(both, "stall-a01", [("ENT-1", "5")], supplier=SUPPLIER))
    back = ret(both, "stall-a01", [("ENT-1", "5")], to="wholesale-1")
    both.add(back, both.receive(back))
    assert hop(both, ship["id"], "LOT-1")["reject_reason"] == "无动物检疫合格证明"
    assert on_hand(both, "ENT-1", "stall-a01") == 20_000_000
    assert on_hand(both, "ENT-1", "wholesale-1") == 5_000_000
    assert on_hand(both, "LOT-1", "farm-1.field") == 100_000_000
    report = ledger.verify(workers=1)
    assert report.ok, report.problem
