"""The regulator's alerts (tracelib.views.alerts): each kind appears when its condition holds
and not when it does not, on either side of its threshold, at a fixed clock; on SQLite and
on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.helpers import IMPORT_DOCS_FULL, Network, Supply, supply_certificate
from tracelib.errors import ValidationError
from tracelib.ledger import Ledger
from tracelib.views.alerts import AlertRules, Alerts, alerts, is_meat

CST = timezone(timedelta(hours=8))
DAY = "2026-11-23"
ENZYME = {"item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003", "tester": "王芳"}


def local(hhmm: str, day: str = DAY) -> str:
    return f"{day}T{hhmm}:00+08:00"


def at(hhmm: str, day: str = DAY, seconds: int = 0) -> datetime:
    return datetime.fromisoformat(local(hhmm, day)) + timedelta(seconds=seconds)


class Scenario:
    """A day at two markets, each event appended when it happened (its recording time)."""

    def __init__(self, sup: Supply) -> None:
        self.sup = sup

    @property
    def ledger(self) -> Ledger:
        return self.sup.ledger

    def add(self, when: str, *events: dict[str, Any]) -> None:
        self.ledger.append(list(events), now=datetime.fromisoformat(when))

    def rapid(self, lot: str, stall: str, delta_at: str, when: str, *, market: str = "market-1",
              retest: bool = False) -> dict[str, Any]:
        data = {**ENZYME, "sample": "豇豆", "lot": lot, "retest": retest,
                "readings": {"delta_a0": "0.800", "delta_at": delta_at}}
        return self.sup.event("rapid_test", stall, actor=market, time=when, data=data)

    def origin(self, lot: str, qty: str, when: str, *, product: str = "豇豆",
               unit: str = "kg") -> dict[str, Any]:
        return self.sup.event("origin", "farm-1.field", outputs=[(lot, qty, unit)], time=when,
                              data={"certificate": supply_certificate(lot, product=product),
                                    "product": product})

    def deliver(self, lot: str, qty: str, stall: str, when: str, *, product: str = "豇豆",
                unit: str = "kg") -> list[dict[str, Any]]:
        ship = self.sup.ship("farm-1.field", stall, [(lot, qty, unit)], time=when)
        return [self.origin(lot, qty, when, product=product, unit=unit), ship,
                self.sup.receive(ship, time=when)]


def build(sup: Supply) -> Scenario:
    """On 2026-11-23 (+08:00):

    * 06:00 vegetables and meat reach the stalls: VEG-1..4 (豇豆) at stall-a01 and stall-a02,
      PK-1 (猪肉 from slaughtered PIG-1) at stall-a02, PK-X (猪肉 made by a farm's origin,
      no slaughter) at stall-b01, PK-IMP (冻猪肉, imported with its documents) at stall-b02;
    * 07:00 a positive rapid test holds VEG-1 at stall-a01 (follow-up open) and another holds
      VEG-4, whose negative retest at 07:20 releases it; the first tests of market-1;
    * 07:30 market-1 holds VEG-2 at stall-a02; it holds and then releases VEG-3;
    * 08:00 the farm ships LOT-T to market-2 (never received), LOT-C to stall-a01 with a
      reading of 6.5 °C on a chilled hop and LOT-OK with 3.0 °C (both received);
    * market-2 publishes no test that day.
    """
    sc = Scenario(sup)
    s = sup
    pig_ship = s.ship("farm-1.field", "abattoir-1", [("PIG-1", "2", "head")], time=local("04:00"))
    meat_ship = s.ship("abattoir-1", "stall-a02", [("PK-1", "100")], time=local("05:00"))
    imp_ship = s.ship("port-1", "stall-b02", [("PK-IMP", "50")], time=local("05:00"),
                      import_docs=IMPORT_DOCS_FULL)
    sc.add(local("06:00"),
           *sc.deliver("VEG-1", "40", "stall-a01", local("05:00")),
           *sc.deliver("VEG-2", "30", "stall-a02", local("05:00")),
           *sc.deliver("VEG-3", "30", "stall-a02", local("05:00")),
           *sc.deliver("VEG-4", "20", "stall-a01", local("05:00")),
           sc.origin("PIG-1", "2", local("03:00"), product="生猪", unit="head"),
           pig_ship, s.receive(pig_ship, time=local("04:30")),
           s.event("slaughter", "abattoir-1", inputs=[("PIG-1", "2", "head")],
                   outputs=[("PK-1", "100")], time=local("04:40"),
                   data={"quarantine_cert": "DJ-1", "meat_inspection_cert": "RJ-1",
                         "asf_report": "ASF-1", "storage": "chilled"}),
           meat_ship, s.receive(meat_ship, time=local("05:30")),
           *sc.deliver("PK-X", "25", "stall-b01", local("05:00"), product="猪肉"),
           s.event("origin", "port-1", outputs=[("PK-IMP", "50")], time=local("04:00"),
                   data={"certificate": supply_certificate("PK-IMP", product="冻猪肉"),
                         "product": "冻猪肉", "storage": "frozen", "imported": True,
                         "import_docs": IMPORT_DOCS_FULL}),
           imp_ship, s.receive(imp_ship, time=local("05:30")))
    sc.add(local("07:05"), sc.rapid("VEG-1", "stall-a01", "0.300", local("07:00")),
           sc.rapid("VEG-4", "stall-a01", "0.300", local("07:00")))
    sc.add(local("07:25"), sc.rapid("VEG-4", "stall-a01", "0.760", local("07:20"), retest=True))
    sc.add(local("07:35"), *(s.event("hold", "stall-a02", inputs=[(lot, "30")], actor="market-1",
                                     time=local("07:30"), data={"reason": "快检阳性"})
                             for lot in ("VEG-2", "VEG-3")))
    sc.add(local("07:45"), s.event("release", "stall-a02", inputs=[("VEG-3", "30")],
                                   actor="market-1", time=local("07:40"),
                                   data={"reason": "复检合格"}))
    chilled = [{"time": local("08:10"), "celsius": "3.5"},
               {"time": local("08:20"), "celsius": "6.5"}]
    to_market = s.ship("farm-1.field", "market-2", [("LOT-T", "10")], time=local("08:00"))
    warm = s.ship("farm-1.field", "stall-a01", [("LOT-C", "10")], time=local("08:00"),
                  storage="chilled", temperatures=chilled)
    cool = s.ship("farm-1.field", "stall-a01", [("LOT-OK", "10")], time=local("08:00"),
                  storage="chilled", temperatures=[{"time": local("08:10"), "celsius": "3.0"}])
    sc.add(local("08:40"), *(sc.origin(lot, "10", local("07:50"))
                             for lot in ("LOT-T", "LOT-C", "LOT-OK")),
           to_market, warm, cool, s.receive(warm, time=local("08:30")),
           s.receive(cool, time=local("08:30")))
    return sc


@pytest.fixture
def scenario(network: Network) -> Scenario:
    return build(Supply.build(network))


def of_kind(found: Alerts, kind: str) -> list[dict[str, Any]]:
    return [a for a in found.to_dict()["alerts"] if a["kind"] == kind]


def test_failure_open_past_24_hours(scenario: Scenario) -> None:
    on_the_hour = alerts(scenario.ledger, now=at("07:00", "2026-11-24"))
    assert of_kind(on_the_hour, "follow_up_overdue") == []
    later = alerts(scenario.ledger, now=at("07:00", "2026-11-24", seconds=1))
    [overdue] = of_kind(later, "follow_up_overdue")
    assert overdue["lot"] == "VEG-1" and overdue["location"] == "stall-a01"
    assert overdue["severity"] == "critical" and overdue["since"] == local("07:00")
    assert overdue["party"] == "stall-a01" and overdue["party_name"] == "张记蔬菜"
    assert overdue["evidence"]["market"] == "market-1"
    assert "24 小时" in overdue["title"]["zh"] and "24 h" in overdue["title"]["en"]
    [test_event] = overdue["evidence"]["events"]
    assert scenario.ledger.record_for_event(test_event).to_dict()["event"]["kind"] == "rapid_test"
    # VEG-4's follow-up closed with its negative retest: never listed.
    assert all(a["lot"] != "VEG-4" for a in later.to_dict()["alerts"])


def test_held_lots_with_stock_on_hand(scenario: Scenario) -> None:
    found = of_kind(alerts(scenario.ledger, now=at("08:59")), "held_stock")
    by_lot = {a["lot"]: a for a in found}
    assert sorted(by_lot) == ["VEG-1", "VEG-2"]  # VEG-3 released, VEG-4 released by retest
    assert by_lot["VEG-1"]["details"]["cause"] == "test"
    assert by_lot["VEG-2"]["details"] == {"on_hand": "30", "unit": "kg", "reason": "快检阳性",
                                          "cause": "hold", "held_by": "market-1"}
    assert by_lot["VEG-2"]["since"] == local("07:30")
    hold = scenario.ledger.record_for_event(by_lot["VEG-2"]["evidence"]["events"][0])
    assert hold.to_dict()["event"]["kind"] == "hold"


def test_held_lot_disposed_leaves_the_list(scenario: Scenario) -> None:
    s = scenario.sup
    scenario.add(local("09:05"), s.event("dispose", "stall-a02", inputs=[("VEG-2", "30")],
                                         time=local("09:00"), data={"reason": "销毁"}))
    lots = [a["lot"] for a in of_kind(alerts(scenario.ledger, now=at("09:10")), "held_stock")]
    assert lots == ["VEG-1"]


def test_shipment_not_received_after_24_hours(scenario: Scenario) -> None:
    assert of_kind(alerts(scenario.ledger, now=at("08:00", "2026-11-24")),
                   "shipment_not_received") == []
    found = alerts(scenario.ledger, now=at("08:00", "2026-11-24", seconds=1))
    [late] = of_kind(found, "shipment_not_received")  # LOT-C and LOT-OK were received
    assert late["lot"] == "LOT-T" and late["location"] == "market-2"
    assert late["details"]["from"] == "farm-1.field" and late["details"]["qty"] == "10"
    assert late["since"] == local("08:00") and late["party"] == "market-2"


def test_cold_chain_excursion_within_the_window(scenario: Scenario) -> None:
    [hot] = of_kind(alerts(scenario.ledger, now=at("09:00")), "temperature_excursion")
    assert hot["details"]["lots"] == ["LOT-C"] and hot["lot"] == "LOT-C"  # not LOT-OK (3.0 °C)
    assert hot["details"]["limit_celsius"] == "4" and hot["since"] == local("08:20")
    assert "6.5 °C" in hot["title"]["en"] and "6.5 °C" in hot["title"]["zh"]
    # Read at 08:20 on the 23rd: in the 7-day window until 08:20 on the 30th, and not
    # before it was read.
    assert len(of_kind(alerts(scenario.ledger, now=at("08:20", "2026-11-30")),
                       "temperature_excursion")) == 1
    assert of_kind(alerts(scenario.ledger, now=at("08:20", "2026-11-30", seconds=1)),
                   "temperature_excursion") == []
    assert of_kind(alerts(scenario.ledger, now=at("08:19")), "temperature_excursion") == []
    wider = AlertRules(excursion_days=8)
    assert len(of_kind(alerts(scenario.ledger, now=at("08:21", "2026-11-30"), rules=wider),
                       "temperature_excursion")) == 1


def test_markets_whose_tests_were_not_published_by_nine(scenario: Scenario) -> None:
    assert of_kind(alerts(scenario.ledger, now=at("08:59", seconds=59)),
                   "tests_not_published") == []
    [missing] = of_kind(alerts(scenario.ledger, now=at("09:00")), "tests_not_published")
    assert missing["location"] == "market-2" and missing["evidence"]["events"] == []
    assert missing["since"] == local("09:00") and missing["details"]["first_published_at"] is None
    # market-2's first test arrives at 09:30: still listed, as published late.
    scenario.add(local("09:30"), scenario.rapid("PK-X", "stall-b01", "0.760", local("09:20"),
                                                market="market-2"))
    [late] = of_kind(alerts(scenario.ledger, now=at("10:00")), "tests_not_published")
    assert late["location"] == "market-2"
    assert late["details"]["first_published_at"] == local("09:30")
    assert len(late["evidence"]["events"]) == 1 and "09:30" in late["title"]["en"]
    # The next day neither market has published by 09:00.
    markets = {a["location"] for a in of_kind(alerts(scenario.ledger, now=at("09:00",
                                                                           "2026-11-24")),
                                              "tests_not_published")}
    assert markets == {"market-1", "market-2"}


def test_meat_on_sale_without_slaughter(scenario: Scenario) -> None:
    [bare] = of_kind(alerts(scenario.ledger, now=at("08:59")), "meat_without_slaughter")
    # PK-1 comes from slaughter, PK-IMP is imported with its documents, VEG-* are not meat.
    assert bare["lot"] == "PK-X" and bare["location"] == "stall-b01"
    assert bare["details"]["product"] == "猪肉" and bare["details"]["made_by"] == "origin"
    assert bare["severity"] == "critical"


def test_meat_cut_at_the_stall_keeps_its_slaughter_in_the_line(scenario: Scenario) -> None:
    s = scenario.sup
    scenario.add(local("09:00"),
                 s.event("transform", "stall-a02", inputs=[("PK-1", "10")],
                         outputs=[("PK-1-A", "5"), ("PK-1-B", "5")], time=local("08:50"),
                         data={"process": "split"}),
                 s.event("transform", "stall-b01", inputs=[("PK-X", "10")],
                         outputs=[("PK-X-A", "10")], time=local("08:50"),
                         data={"process": "split"}))
    lots = {a["lot"] for a in of_kind(alerts(scenario.ledger, now=at("09:10")),
                                      "meat_without_slaughter")}
    assert lots == {"PK-X", "PK-X-A"}


def test_the_list_is_ordered_counted_and_says_what_it_cannot_check(scenario: Scenario) -> None:
    found = alerts(scenario.ledger, now=at("10:00", "2026-11-24"))
    doc = found.to_dict()
    severities = [a["severity"] for a in doc["alerts"]]
    assert severities == sorted(severities, key=["critical", "warning"].index)
    assert doc["counts"]["by_kind"] == {"follow_up_overdue": 1, "meat_without_slaughter": 1,
                                        "held_stock": 2, "shipment_not_received": 1,
                                        "temperature_excursion": 1, "tests_not_published": 2}
    assert doc["counts"]["total"] == len(doc["alerts"]) == 8
    assert doc["day"] == "2026-11-24" and doc["rules"]["tests_published_by"] == "09:00"
    assert [n["kind"] for n in doc["not_checked"]] == ["past_shelf_life"]
    ids = [a["id"] for a in doc["alerts"]]
    assert len(set(ids)) == len(ids)
    assert ids == [a["id"] for a in alerts(scenario.ledger, now=at("10:01", "2026-11-24"))
                   .to_dict()["alerts"]]  # stable while the matters last


def test_an_empty_ledger_has_nothing_to_do(ledger: Ledger) -> None:
    doc = alerts(ledger, now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC)).to_dict()
    assert doc["alerts"] == [] and doc["counts"]["total"] == 0


def test_the_clock_needs_a_time_zone_and_rules_positive_numbers(ledger: Ledger) -> None:
    with pytest.raises(ValidationError, match="time zone"):
        alerts(ledger, now=datetime(2026, 11, 23, 9, 0))
    with pytest.raises(ValidationError, match="follow_up_hours"):
        AlertRules(follow_up_hours=0)


@pytest.mark.parametrize(("product", "meat"), [
    ("猪肉", True), ("冻猪肉", True), ("鲜牛肉", True), ("pork", True), ("鸡肉", True),
    ("生猪", False), ("豇豆", False), ("", False), (None, False)])
def test_which_products_are_meat(product: str | None, meat: bool) -> None:
    assert is_meat(product) is meat
