"""Event times are real (docs/contract.md "Event"): not before 2000-01-01, offsets within
±14:00, and not later than the time of recording plus a few minutes of clock skew. A time the
ledger holds can then be rendered anywhere: a sale at 0001-01-01T00:00:00+23:59 was once
accepted, and every later drill of its lot died in the spreadsheet writer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

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
