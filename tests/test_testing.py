"""Rapid tests and lab results at the stall: consequences, bad input, and the KPI figures."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from tests.conftest import NOW
from tests.helpers import Network, origin_event
from tracelib.errors import ValidationError
from tracelib.views.kpi import kpi
from tracelib.views.stall import stall_view
from tracelib_service.stall import PROOF_PATH

ENZYME = {"item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003", "tester": "王芳"}


def stock_at_stall(net: Network, lot: str, qty: str = "50") -> None:
    """Make ``lot`` and deliver ``qty`` kg of it to stall-a01."""
    ledger = net.ledger
    ledger.append([origin_event(net, lot)], now=NOW)
    ship = net.event("farm-1", {"kind": "ship", "location": "farm-1.field", "data": {
        "to": "stall-a01"}, "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}]})
    receive = net.event("stall-a01", {"kind": "receive", "location": "stall-a01", "data": {
        "from": "farm-1.field", "ship_event": ship["id"]},
        "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}]})
    ledger.append([ship, receive], now=NOW)


def rapid(net: Network, lot: str | None, delta_at: str, *, retest: bool = False,
          time: str = "2026-11-22T07:30:00+08:00", **extra: Any) -> dict[str, Any]:
    data = {**ENZYME, "sample": "S", "readings": {"delta_a0": "0.800", "delta_at": delta_at},
            "retest": retest, **extra}
    if lot is not None:
        data["lot"] = lot
    return net.event("market-1", {"kind": "rapid_test", "location": "stall-a01", "time": time,
                                  "data": data})


def sale(net: Network, lot: str) -> dict[str, Any]:
    return net.event("stall-a01", {"kind": "sale", "location": "stall-a01",
                                   "data": {"receipt": "R"},
                                   "inputs": [{"lot": lot, "qty": "1", "unit": "kg"}]})


def test_positive_holds_retest_releases_and_the_stall_shows_it(network: Network) -> None:
    ledger = network.ledger
    stock_at_stall(network, "LOT-T-1")
    ledger.append([rapid(network, "LOT-T-1", "0.300")], now=NOW)  # 62.50 % positive
    view = stall_view(ledger, "stall-a01", today=NOW.date(), proof_url=PROOF_PATH)
    assert [h["lot"] for h in view["holds"]] == ["LOT-T-1"]
    assert view["tests"][0]["result"] == "positive" and view["tests"][0]["rate"] == "62.50"
    size = ledger.size
    with pytest.raises(ValidationError, match="on hold") as raised:
        ledger.append([sale(network, "LOT-T-1")], now=NOW)
    assert raised.value.field == "inputs[0].lot" and ledger.size == size
    ledger.append([rapid(network, "LOT-T-1", "0.760", retest=True,
                         time="2026-11-22T08:30:00+08:00")], now=NOW)  # 5.00 % negative
    assert stall_view(ledger, "stall-a01", today=NOW.date(), proof_url=PROOF_PATH)["holds"] == []
    ledger.append([sale(network, "LOT-T-1")], now=NOW)
    assert ledger.verify().ok


def test_hold_retest_release_and_sale_in_one_batch_see_each_other(network: Network) -> None:
    """Results are written per chunk, not per event: a retest in the same batch must still
    find the follow-up the positive opened, and the sale after it must go through."""
    ledger = network.ledger
    stock_at_stall(network, "LOT-T-9")
    before = ledger.size
    ledger.append([rapid(network, "LOT-T-9", "0.300"),
                   rapid(network, "LOT-T-9", "0.760", retest=True,
                         time="2026-11-22T08:30:00+08:00"),
                   sale(network, "LOT-T-9")], now=NOW)
    assert ledger.size == before + 3
    tests = stall_view(ledger, "stall-a01", today=NOW.date(), proof_url=PROOF_PATH)["tests"]
    assert sorted(t["result"] for t in tests) == ["negative", "positive"]
    assert kpi(ledger, population=1000, year=2026).rapid_positive == 1
    with pytest.raises(ValidationError, match="on hold"):  # a positive then a sale: rejected
        ledger.append([rapid(network, "LOT-T-9", "0.300", time="2026-11-22T09:30:00+08:00"),
                       sale(network, "LOT-T-9")], now=NOW)
    assert ledger.size == before + 3 and ledger.verify().ok


def _follow_ups(ledger: Any) -> dict[int, tuple[str | None, int | None]]:
    from sqlalchemy import select

    from tracelib.store.schema import test_results

    with ledger.store.reader() as conn:
        rows = conn.execute(select(test_results.c.seq, test_results.c.follow_up,
                                   test_results.c.follow_up_seq))
        return {int(seq): (status, follow_seq) for seq, status, follow_seq in rows}


@pytest.mark.parametrize("chunk", [2, 1000])
def test_follow_ups_close_across_chunks_appends_and_buffered_rows(
        network: Network, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """A follow-up is closed with the seq that closed it whether its result row is still
    buffered (same chunk), written by an earlier chunk of the same append, or stored by an
    earlier append; another lot's open follow-up is left alone; the whole batch rolls back
    with a rejected event."""
    monkeypatch.setattr("tracelib.append.pipeline.CHUNK", chunk)
    ledger = network.ledger
    for lot in ("LOT-F-1", "LOT-F-2", "LOT-F-3"):
        stock_at_stall(network, lot)
    ledger.append([rapid(network, "LOT-F-3", "0.300")], now=NOW)  # stored before the batch
    first = ledger.size
    later = "2026-11-22T08:30:00+08:00"
    ledger.append([rapid(network, "LOT-F-1", "0.300"),              # first
                   rapid(network, "LOT-F-2", "0.300"),              # first + 1
                   rapid(network, "LOT-F-1", "0.760", retest=True, time=later),  # first + 2
                   rapid(network, "LOT-F-3", "0.760", retest=True, time=later),  # first + 3
                   ], now=NOW)
    found = _follow_ups(ledger)
    assert found[first - 1] == ("released", first + 3)   # stored by an earlier append
    assert found[first] == ("released", first + 2)       # buffered, or an earlier chunk
    assert found[first + 1] == ("held", None)            # another lot: still open
    assert found[first + 2] == found[first + 3] == (None, None)  # the retests themselves
    with pytest.raises(ValidationError):
        ledger.append([rapid(network, "LOT-F-2", "0.760", retest=True, time=later),
                       rapid(network, "LOT-F-2", "0.300", item="unknown-test")], now=NOW)
    assert _follow_ups(ledger) == found
    assert ledger.verify().ok


def test_lab_failure_confirms_and_closes_every_open_follow_up(network: Network) -> None:
    """Two positives on the same lot (the second on a lot already held) are both followed
    up when the lab confirms: the KPI's follow-up rate reaches 100 %."""
    ledger = network.ledger
    ledger.append([network.event("operator", {"kind": "register", "location": "operator.office",
                                              "data": {"locations": [
                                                  {"id": "lab-1", "name": "检测中心", "type": "lab",
                                                   "holder": "market-1"}]}})], now=NOW)
    stock_at_stall(network, "LOT-T-2")
    ledger.append([rapid(network, "LOT-T-2", "0.300"), rapid(network, "LOT-T-2", "0.310")],
                  now=NOW)
    assert _follow_ups(ledger)  # two positives, each with an open follow-up
    ledger.append([network.event("market-1", {"kind": "lab_test", "location": "lab-1", "data": {
        "analyte": "毒死蜱", "commodity": "芹菜", "value": "0.12", "unit": "mg/kg",
        "lab": "云阳县检验检测中心", "report_no": "R-1", "lot": "LOT-T-2",
        "stall": "stall-a01", "sampling": "supervision"}})], now=NOW)
    figures = kpi(ledger, population=1000, year=2026)
    # Two positives confirmed (rapid tests: in no official figure); the official failure
    # itself stays open until the lot is disposed of.
    statuses = sorted(str(status) for status, _ in _follow_ups(ledger).values())
    assert statuses == ["held", "lab_confirmed", "lab_confirmed"]
    assert (figures.official_failed, figures.followed_up) == (1, 0)
    ledger.append([network.event("stall-a01", {
        "kind": "dispose", "location": "stall-a01", "data": {"reason": "销毁 destroyed"},
        "inputs": [{"lot": "LOT-T-2", "qty": "50", "unit": "kg"}]})], now=NOW)
    figures = kpi(ledger, population=1000, year=2026)
    assert (figures.official_failed, figures.followed_up) == (1, 1)
    assert figures.follow_up_rate == Decimal("100.00")
    assert ledger.verify().ok


@pytest.mark.parametrize(("data", "field"), [
    ({"item": "unknown-test"}, "data.item"),
    ({"method": "NY/T 9999-2099"}, "data.method"),
    ({"readings": {"delta_a0": "0.800"}}, "data.readings.delta_at"),
    ({"readings": {"delta_a0": "0.800", "delta_at": "-0.1"}}, "data.readings.delta_at"),
    ({"readings": {"delta_a0": "0.100", "delta_at": "0.050"}}, "data.readings.delta_a0"),
    ({"result": "negative"}, "data.result"),  # 62.5 % from the readings: a contradiction
])
def test_bad_rapid_tests_name_the_field_and_store_nothing(network: Network,
                                                          data: dict[str, Any],
                                                          field: str) -> None:
    ledger = network.ledger
    stock_at_stall(network, "LOT-T-3")
    event = rapid(network, "LOT-T-3", "0.300")
    event.pop("sig")
    event["data"] = {**event["data"], **data}
    size = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append([network.event("market-1", {k: v for k, v in event.items()
                                                  if k not in ("id", "actor", "time")})],
                      now=NOW)
    assert raised.value.field == field, raised.value
    assert ledger.size == size and ledger.verify().ok


@pytest.mark.parametrize(("change", "field"), [
    ({"unit": None}, "data.unit"),
    ({"unit": "grams"}, "data.unit"),
    ({"commodity": "火星菜"}, "data.commodity"),
    ({"value": "-1"}, "data.value"),
    # a farm is no tester (docs/contract.md "Authority"): refused before the place is judged
    ({"location": "farm-1.field"}, "actor"),
])
def test_bad_lab_results_name_the_field_and_store_nothing(network: Network,
                                                          change: dict[str, Any],
                                                          field: str) -> None:
    ledger = network.ledger
    data: dict[str, Any] = {"analyte": "毒死蜱", "commodity": "芹菜", "value": "0.01",
                            "unit": "mg/kg", "lab": "检测中心", "report_no": "R-2"}
    change = dict(change)  # parametrize shares the dict between databases
    location = change.pop("location", "stall-a01")
    for key, value in change.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    actor = "farm-1" if location == "farm-1.field" else "market-1"
    size = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append([network.event(actor, {"kind": "lab_test", "location": location,
                                             "data": data})], now=NOW)
    assert raised.value.field == field, raised.value
    assert ledger.size == size and ledger.verify().ok


def test_kpi_over_a_year_equals_an_independent_count(network: Network) -> None:
    """A year of tests at the stall; the figures are recomputed here from what was sent."""
    ledger = network.ledger
    rng = random.Random(7)
    events, expected = [], Counter()
    for day in range(1, 366, 3):
        date = dt.date(2026, 1, 1) + dt.timedelta(day - 1)
        for n in range(3):
            roll = rng.random()
            delta_at = "0.300" if roll < 0.05 else "0.452" if roll < 0.12 else "0.760"
            outcome = {"0.300": "positive", "0.452": "suspect", "0.760": "negative"}[delta_at]
            expected[outcome] += 1
            events.append(rapid(network, None, delta_at,
                                time=f"{date.isoformat()}T0{6 + n}:00:00+08:00"))
    # Recorded at the end of the year: no event is later than its recording.
    ledger.append(events, now=dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC))
    population = 30_000
    figures = kpi(ledger, population=population, year=2026)
    total = sum(expected.values())

    def per_1000(n: int) -> Decimal:
        return (Decimal(n) * 1000 / population).quantize(Decimal("0.01"), ROUND_HALF_EVEN)

    # Rapid tests are no official sampling: they count apart, in no official figure.
    assert figures.batches == 0 and figures.residue_batches == 0
    assert figures.sampling_batches_per_1000 == Decimal("0.00")
    assert figures.evaluation_pass_rate is None and figures.follow_up_rate is None
    assert (figures.rapid, figures.rapid_positive, figures.rapid_suspect) == (
        total, expected["positive"], expected["suspect"])
    assert figures.rapid_positive_rate == (Decimal(expected["positive"]) * 100 / total
                                           ).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert [f["met"] for f in figures.figures()][:2] == [False, False]
