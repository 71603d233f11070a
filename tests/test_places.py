"""Supermarkets, canteens (学校食堂 among them) and restaurants: registered, receiving and
selling or serving goods, and named by drills and recalls (docs/contract.md "Roles and
location types")."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.helpers import Network, Supply
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey
from tracelib.recalls import drill, recall
from tracelib.store.supply import SupplySql

PLACES = (
    # party, name, role, location, type, details
    ("supermarket-1", "永辉超市云阳店", "market", "supermarket-1", "supermarket", {}),
    ("school-1", "云阳县实验小学食堂", "stall", "canteen-school-1", "canteen", {"school": True}),
    ("works-1", "云阳县人民医院职工食堂", "stall", "canteen-works-1", "canteen", {"school": False}),
    ("restaurant-1", "老街火锅", "stall", "restaurant-1", "restaurant", {}),
)


def register_places(sup: Supply) -> None:
    parties, locations, keys = [], [], []
    for party, name, role, loc, loc_type, details in PLACES:
        key = SigningKey.generate()
        sup.net.keys[party] = key
        sup.holders[loc] = party
        parties.append({"id": party, "name": name, "role": role})
        locations.append({"id": loc, "name": name, "type": loc_type, "holder": party, **details})
        keys.append({"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
                     "valid_from": "2026-01-01T00:00:00+08:00"})
    sup.net.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"parties": parties, "locations": locations,
                                            "keys": keys}})


@pytest.fixture
def places(network: Network) -> Supply:
    sup = Supply.build(network)
    register_places(sup)
    return sup


def test_each_place_type_registers_with_its_details(places: Supply) -> None:
    with places.ledger.store.reader() as conn:
        found = places.ledger.store.locations(conn, [p[3] for p in PLACES])
    assert {loc: (found[loc].type, dict(found[loc].details)) for loc in found} == {
        loc: (loc_type, details) for _, _, _, loc, loc_type, details in PLACES}


@pytest.mark.parametrize(("location", "message"), [
    ({"type": "canteen", "school": "yes"}, "school"),
    ({"type": "canteen", "school": 2}, "school"),
    ({"type": "canteen", "school": 1}, "school"),  # equals True in Python, not in JSON
    ({"type": "canteen", "school": None}, "school"),
    ({"type": "restaurant", "school": True}, "only a canteen"),
    ({"type": "supermarket", "school": False}, "only a canteen"),
    ({"type": "school"}, "type"),
])
def test_a_bad_school_or_type_is_refused(network: Network, location: dict[str, Any],
                                         message: str) -> None:
    size = network.ledger.size
    with pytest.raises(ValidationError, match=message):
        network.append_as("operator", {"kind": "register", "location": "operator.office",
                                       "data": {"locations": [{"id": "x-1", "name": "某食堂",
                                                               **location}]}})
    assert network.ledger.size == size


def test_goods_reach_each_place_and_are_sold_or_served_there(places: Supply) -> None:
    sup = places
    sup.add(sup.origin("VEG-1", "400"))
    for i, (_, _, _, loc, _, _) in enumerate(PLACES):
        ship = sup.ship("farm-1.field", loc, [("VEG-1", "100")])
        sup.add(ship, sup.receive(ship))
        sup.add(sup.sale(loc, [("VEG-1", "10")], receipt=f"R-{i}"))
    with sup.ledger.store.reader() as conn:
        stock = {row.location: row for row in SupplySql.stock_of_lots(conn, ["VEG-1"])}
    for _, _, _, loc, _, _ in PLACES:
        assert stock[loc].on_hand == 90_000_000 and stock[loc].sold == 10_000_000
    assert sup.ledger.verify(workers=1).ok


def test_a_sale_is_refused_where_goods_do_not_reach_eaters(places: Supply) -> None:
    sup = places
    sup.add(sup.origin("VEG-2", "10"))
    with pytest.raises(ValidationError, match="a sale happens at a stall, a supermarket"):
        sup.add(sup.sale("farm-1.field", [("VEG-2", "1")]))


def test_an_imported_lot_needs_its_documents_at_a_school_canteen(places: Supply) -> None:
    sup = places
    sup.add(sup.origin("IMP-1", "50", location="port-1", imported=True))
    ship = sup.ship("port-1", "canteen-school-1", [("IMP-1", "50")])
    sup.add(ship)
    with pytest.raises(ValidationError, match="cannot be received by a canteen"):
        sup.add(sup.receive(ship))


def school_chain(sup: Supply) -> None:
    """VEG-9 to the school canteen (received), to a workplace canteen (on the road) and to
    a stall (sold out)."""
    sup.add(sup.origin("VEG-9", "300"))
    school = sup.ship("farm-1.field", "canteen-school-1", [("VEG-9", "100")])
    sup.add(school, sup.receive(school))
    sup.add(sup.ship("farm-1.field", "canteen-works-1", [("VEG-9", "100")]))
    market = sup.ship("farm-1.field", "stall-a01", [("VEG-9", "100")])
    sup.add(market, sup.receive(market), sup.sale("stall-a01", [("VEG-9", "100")]))


SCHOOL = {"location": "canteen-school-1", "name": "云阳县实验小学食堂", "school": True}
WORKS = {"location": "canteen-works-1", "name": "云阳县人民医院职工食堂", "school": False}


def test_a_drill_names_the_school_reached_and_its_report_too(
        places: Supply, operator_key: SigningKey, tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    school_chain(places)
    folder = tmp_path / "drill"
    result = drill(places.ledger, "VEG-9", key=operator_key, report_dir=folder,
                   now=NOW + timedelta(days=3))
    summary = result.summary()
    # A drill counts what was received: the workplace canteen's goods are still on the road.
    assert summary["canteens_reached"] == [SCHOOL]
    assert summary["schools_reached"] == [SCHOOL]
    assert (summary["counts"]["canteens"], summary["counts"]["schools"]) == (1, 1)
    filed = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert filed["schools_reached"] == [SCHOOL]


def test_a_recall_names_the_canteens_holding_or_awaiting_the_lot(
        places: Supply, operator_key: SigningKey) -> None:
    school_chain(places)
    result = recall(places.ledger, "VEG-9", key=operator_key, reason="抽检不合格: 豇豆 灭蝇胺超标",
                    now=NOW + timedelta(days=3))
    doc = result.to_dict()
    assert doc["canteens_reached"] == [SCHOOL, WORKS]
    assert doc["schools_reached"] == [SCHOOL]
    assert {h["location"] for h in doc["holds"]} == {"canteen-school-1"}  # the farm shipped all
    assert [t["to"] for t in doc["in_transit"]] == ["canteen-works-1"]
