"""Event times are real (docs/contract.md "Event"): not before 2000-01-01, offsets within
±14:00, and not later than the time of recording plus a few minutes of clock skew. A time the
ledger holds can then be rendered anywhere: a sale at 0001-01-01T00:00:00+23:59 was once
accepted, and every later drill of its lot died in the spreadsheet writer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.helpers import Network, origin_event
from tracelib.errors import ValidationError
from tracelib.events import Event, sign_event
from tracelib.recalls import drill
from tracelib.timeutil import FUTURE_SKEW, parse_event_time


@pytest.mark.parametrize(("text", "why"), [
    ("0001-01-01T00:00:00+23:59", "offset"),
    ("2026-11-22T06:00:00+14:01", "offset"),
    ("2026-11-22T06:00:00-14:30", "offset"),
    ("1999-12-31T23:59:59Z", "2000-01-01"),
    ("0001-01-01T00:00:00Z", "2000-01-01"),
])
def test_impossible_times_are_refused_naming_the_field(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why) as caught:
        parse_event_time(text)
    assert caught.value.field == "time"


@pytest.mark.parametrize("text", ["2000-01-01T00:00:00Z", "2026-11-22T06:00:00+14:00",
                                  "2026-11-22T06:00:00-12:00", "9999-12-31T00:00:00+00:00"])
def test_real_times_are_accepted(text: str) -> None:
    assert parse_event_time(text).isoformat()


def test_a_sale_in_year_one_is_refused_and_the_drill_still_runs(network: Network,
                                                               tmp_path: Path) -> None:
    ledger = network.ledger
    ledger.append([origin_event(network, "LOT-Y1")], now=NOW)
    doc = origin_event(network, "LOT-Y2", sign=False)
    doc["time"] = "0001-01-01T00:00:00+23:59"
    size = ledger.size
    with pytest.raises(ValidationError, match="offset") as caught:
        ledger.append([sign_event(doc, network.keys["farm-1"])], now=NOW)
    assert caught.value.field == "time" and ledger.size == size
    result = drill(ledger, "LOT-Y1", report_dir=tmp_path / "drill", now=NOW)
    assert (tmp_path / "drill" / "ctes.xlsx").exists() and result.trace.lot == "LOT-Y1"
    assert ledger.verify(workers=1).ok


def test_an_event_from_the_future_is_refused_at_append(network: Network) -> None:
    ledger = network.ledger
    early = origin_event(network, "LOT-F1", sign=False)
    early["time"] = (NOW + FUTURE_SKEW).isoformat()
    ledger.append([sign_event(early, network.keys["farm-1"])], now=NOW)  # clock skew: fine
    late = origin_event(network, "LOT-F2", sign=False)
    late["time"] = "2026-11-22T16:00:01+08:00"  # NOW is 06:00Z, i.e. 14:00 +08:00
    Event.from_dict(sign_event(late, network.keys["farm-1"]))  # well formed on its own
    size = ledger.size
    with pytest.raises(ValidationError) as caught:
        ledger.append([sign_event(late, network.keys["farm-1"])], now=NOW)
    assert caught.value.field == "time" and ledger.size == size
    assert caught.value.message.startswith(
        "time 2026-11-22T16:00:01+08:00 is 2 h after the time of recording "
        "(2026-11-22T06:00:00.000000Z)"), caught.value.message
    # Recorded later, the same event is accepted.
    ledger.append([sign_event(late, network.keys["farm-1"])], now=NOW + timedelta(hours=2))
    assert ledger.verify(workers=1).ok


# The extremes the bounds allow: the first instant (2000-01-01T00:00Z) written with +14:00 and
# with −14:00 (a local date of 1999-12-31), and the last day of 2000-01-01 in −14:00.
_EXTREMES = {"origin": "2000-01-01T14:00:00+14:00", "ship": "1999-12-31T10:00:00-14:00",
             "reading": "1999-12-31T10:00:00-14:00", "receive": "2000-01-01T23:59:59-14:00",
             "rapid_test": "2000-01-01T14:00:00+14:00", "sale": "2000-01-01T23:59:59+14:00"}


def _service(network: Network, db_url: str, tmp_path: Path) -> Any:
    from tracelib.keys import Keystore
    from tracelib_service import create_app

    keystore = Keystore(tmp_path / "keys")
    keystore.save("operator", network.operator_key)
    return create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                       "NOW": NOW})


def test_everything_that_renders_a_time_survives_the_extremes(network: Network, db_url: str,
                                                             tmp_path: Path) -> None:
    """A lot made, shipped, received, tested and sold at the extremes of the bounds: its
    drill report (CSV, XLSX, SVG, PNG), the KPI report and chart of 2000, its trace,
    its lot page and the stall's page all render."""
    from tracelib.report.kpi_chart import write_pass_rate_chart
    from tracelib.views.kpi import kpi

    ledger, lot = network.ledger, "LOT-EDGE"
    origin = origin_event(network, lot, time=_EXTREMES["origin"])
    ship = network.event("farm-1", {
        "kind": "ship", "location": "farm-1.field", "time": _EXTREMES["ship"],
        "inputs": [{"lot": lot, "qty": "10", "unit": "kg"}],
        "data": {"to": "stall-a01", "storage": "chilled", "temperatures": [
            {"time": _EXTREMES["reading"], "celsius": "9.5"}]}})  # an excursion, rendered too
    receive = network.event("stall-a01", {
        "kind": "receive", "location": "stall-a01", "time": _EXTREMES["receive"],
        "inputs": [{"lot": lot, "qty": "10", "unit": "kg"}],
        "data": {"from": "farm-1.field", "ship_event": ship["id"]}})
    test = network.event("market-1", {
        "kind": "rapid_test", "location": "stall-a01", "time": _EXTREMES["rapid_test"],
        "data": {"sample": "S", "item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003",
                 "tester": "王芳", "readings": {"delta_a0": "0.800", "delta_at": "0.760"},
                 "lot": lot}})
    sale = network.event("stall-a01", {
        "kind": "sale", "location": "stall-a01", "time": _EXTREMES["sale"],
        "inputs": [{"lot": lot, "qty": "1", "unit": "kg"}], "data": {"receipt": "R"}})
    ledger.append([origin, ship, receive, test, sale], now=NOW)

    result = drill(ledger, lot, report_dir=tmp_path / "drill", now=NOW)
    for name in ("ctes.csv", "ctes.xlsx", "path.svg", "path.png", "summary.json"):
        assert (tmp_path / "drill" / name).stat().st_size > 0, name
    assert "1999-12-31" in (tmp_path / "drill" / "ctes.csv").read_text(encoding="utf-8-sig")
    assert result.trace.lot == lot
    report = kpi(ledger, population=1000, year=2000)  # the first year a report can name
    assert report.rapid == 1  # the test's own local date: 2000-01-01
    write_pass_rate_chart(report, tmp_path / "kpi")
    assert (tmp_path / "kpi" / "pass-rate.png").stat().st_size > 0

    app = _service(network, db_url, tmp_path)
    try:
        client = app.test_client()
        from tracelib_service.tokens import issue_token

        reader = {"Authorization": "Bearer " + issue_token(app, "operator", scopes=["read:all"])}
        for url in (f"/l/{lot}", "/s/stall-a01", f"/api/v1/lots/{lot}/trace",
                    "/api/v1/stalls/stall-a01", f"/l/{lot}?lang=en"):
            assert client.get(url, headers=reader).status_code == 200, url
    finally:
        app.extensions["tracelib"].close()
    assert ledger.verify(workers=1).ok


def test_the_year_one_sale_is_refused_by_the_api_naming_time(network: Network, db_url: str,
                                                            tmp_path: Path) -> None:
    """The reproduction through the API: the sale is refused naming ``time`` (nothing is
    stored) and the drill of its lot still writes its report."""
    from tracelib_service.tokens import issue_token

    ledger = network.ledger
    ledger.append([origin_event(network, "LOT-Y3")], now=NOW)
    ship = network.event("farm-1", {"kind": "ship", "location": "farm-1.field",
                                    "inputs": [{"lot": "LOT-Y3", "qty": "10", "unit": "kg"}],
                                    "data": {"to": "stall-a01"}})
    ledger.append([ship, network.event("stall-a01", {
        "kind": "receive", "location": "stall-a01",
        "inputs": [{"lot": "LOT-Y3", "qty": "10", "unit": "kg"}],
        "data": {"from": "farm-1.field", "ship_event": ship["id"]}})], now=NOW)
    app = _service(network, db_url, tmp_path)
    try:
        token = issue_token(app, "stall-a01")
        sale = network.event("stall-a01", {
            "kind": "sale", "location": "stall-a01", "time": "0001-01-01T00:00:00+23:59",
            "inputs": [{"lot": "LOT-Y3", "qty": "1", "unit": "kg"}], "data": {"receipt": "R"}})
        size = ledger.size
        response = app.test_client().post("/api/v1/events", json=[sale],
                                          headers={"Authorization": f"Bearer {token}"})
        body = response.get_json()
        assert response.status_code == 422 and body["field"] == "time", body
        assert "±14:00" in body["detail"] and ledger.size == size
    finally:
        app.extensions["tracelib"].close()
    result = drill(ledger, "LOT-Y3", report_dir=tmp_path / "drill", now=NOW)
    assert (tmp_path / "drill" / "ctes.xlsx").exists() and result.trace.lot == "LOT-Y3"
