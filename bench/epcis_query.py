"""EPCIS 2.0 query figures on the drill's generated market ledger (issue 18):

* ``epcis.query.lot_ms``: ``MATCH_anyEPCClass=<one lot's URI>`` (what the Digital Link's
  ``gs1:epcis`` link asks), one page, median over lots spread across the ledger; target
  ≤ 20 ms at 1,000,000 events, SQLite;
* ``epcis.query.bizstep_day_ms``: ``EQ_bizStep=shipping`` with ``GE_eventTime``/``LT_eventTime``
  one day (China time), ``perPage=100``: the first page, median over days; target ≤ 30 ms;
* the same two on PostgreSQL (``epcis.query.postgres.*``, reported), on the drill stream
  appended to a fresh schema (or the prefix that fits the build budget).

Each query is what ``GET /epcis/events`` runs for a ``read:all`` token (no reach filter):
candidate records by SQL, each mapped as the export maps it and matched. An event's hash ID is
read from the event ID index when the index covers it under unchanged master data, else
computed: the figures are measured with the index caught up (``tracelib epcis index``, as a
deployment keeps it), and the same queries without it are reported beside them
(``….unindexed``), with the index's catch-up rate (``epcis.query.index_rate``).
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta
from typing import Any

from ._core import Context, Row, benchmark, figure, info
from .drill import all_lots, drill_ledger

BASE = "https://bench.tracelib.example"
#: Another public URL: the index built under BASE does not name events under it, so every
#: hash ID is computed.
UNINDEXED = "https://unindexed.bench.tracelib.example"
LOT_TARGET_MS = 20.0
DAY_TARGET_MS = 30.0
_SAMPLES = 25


def _lot_uris(ledger: Any, count: int, base: str) -> list[str]:
    from tracelib.epcis.query import lazy_names

    codes = all_lots(ledger)
    step = max(1, len(codes) // count)
    with ledger.store.reader() as conn:
        names, _ = lazy_names(ledger, conn, base)
        return [names.lot(code) for code in codes[::step][:count]]


def _days(ledger: Any, count: int) -> list[datetime]:
    from tracelib.timeutil import CHINA, parse_rfc3339

    with ledger.store.reader() as conn:
        size = ledger.store.size(conn)
        out = []
        for n in range(count):
            row = ledger.store.record_row(conn, max(1, size * (n + 1) // (count + 1)))
            moment = parse_rfc3339(row["event_time"]).astimezone(CHINA)
            out.append(moment.replace(hour=0, minute=0, second=0, microsecond=0))
    return out


def _timed(ledger: Any, params: dict[str, list[str]], base: str) -> tuple[float, int]:
    from tracelib.epcis.query import EventQuery, run_query

    started = time.perf_counter()
    page = run_query(ledger, EventQuery.from_params(params), base=base)
    return (time.perf_counter() - started) * 1000, len(page.events)


def _measure(ledger: Any, base: str = BASE) -> dict[str, Any]:
    lots = _lot_uris(ledger, _SAMPLES, base)
    days = _days(ledger, _SAMPLES)
    _timed(ledger, {"MATCH_anyEPCClass": [lots[0]]}, base)  # warm the caches once
    lot_ms, lot_events = zip(*(_timed(ledger, {"MATCH_anyEPCClass": [uri]}, base)
                               for uri in lots), strict=True)
    day_ms, day_events = zip(*(_timed(ledger, {
        "EQ_bizStep": ["shipping"], "GE_eventTime": [day.isoformat()],
        "LT_eventTime": [(day + timedelta(days=1)).isoformat()], "perPage": ["100"]}, base)
        for day in days), strict=True)
    return {"lot": statistics.median(lot_ms), "lot_max": max(lot_ms),
            "lot_events": statistics.median(lot_events),
            "day": statistics.median(day_ms), "day_max": max(day_ms),
            "day_events": statistics.median(day_events), "samples": len(lots)}


def _index(ledger: Any) -> tuple[float, int]:
    """Catch the event ID index up under BASE: (seconds, records indexed)."""
    from tracelib.epcis.eventids import catch_up

    started = time.perf_counter()
    indexed, _ = catch_up(ledger, BASE)
    return time.perf_counter() - started, indexed


def _rows(prefix: str, m: dict[str, Any], size: int, *, targets: bool, note: str = ""
          ) -> list[Row]:
    lot_note = (f"{m['samples']} lots spread over the ledger, median {m['lot_events']:g} events "
                f"each; max {m['lot_max']:.1f} ms; {size:,} records{note}")
    day_note = (f"{m['samples']} days, first page of up to 100 shipping events (median "
                f"{m['day_events']:g}); max {m['day_max']:.1f} ms; {size:,} records{note}")
    if targets:
        return [figure(f"{prefix}.lot_ms", m["lot"], "ms", target=LOT_TARGET_MS, op="<=",
                       notes=lot_note),
                figure(f"{prefix}.bizstep_day_ms", m["day"], "ms", target=DAY_TARGET_MS,
                       op="<=", notes=day_note)]
    return [info(f"{prefix}.lot_ms", m["lot"], "ms", lot_note),
            info(f"{prefix}.bizstep_day_ms", m["day"], "ms", day_note)]


@benchmark("epcis.query", description="EPCIS 2.0 queries of the drill ledger (SQLite)",
           provides=("epcis.query.lot_ms", "epcis.query.bizstep_day_ms",
                     "epcis.query.unindexed.lot_ms", "epcis.query.unindexed.bizstep_day_ms",
                     "epcis.query.index_seconds"))
def epcis_query(ctx: Context) -> list[Row]:
    from tracelib.ledger import Ledger

    built = drill_ledger(ctx)
    ledger = Ledger.open(built.url)
    try:
        with ctx.step(f"EPCIS queries of {built.size:,} records, hash IDs computed"):
            bare = _measure(ledger, UNINDEXED)
        with ctx.step("catch the event ID index up"):
            seconds, indexed = _index(ledger)
        with ctx.step(f"EPCIS queries of {built.size:,} records, the ID index caught up"):
            measured = _measure(ledger)
    finally:
        ledger.close()
    return [*_rows("epcis.query", measured, built.size, targets=True),
            *_rows("epcis.query.unindexed", bare, built.size, targets=False),
            info("epcis.query.index_seconds", seconds, "s",
                 f"catch-up of the event ID index by {indexed:,} records (0: it was already "
                 "caught up in the cached ledger)")]


@benchmark("epcis.query.postgres", description="EPCIS 2.0 queries of the drill stream "
           "(PostgreSQL, fresh schema)", provides=("epcis.query.postgres.lot_ms",
                                                  "epcis.query.postgres.bizstep_day_ms"),
           postgres=True)
def epcis_query_postgres(ctx: Context) -> list[Row]:
    from .drill import postgres_drill_ledger

    with postgres_drill_ledger(ctx) as (ledger, b, _):
        with ctx.step("catch the event ID index up (PostgreSQL)"):
            _index(ledger)
        with ctx.step(f"EPCIS queries of {ledger.size:,} records (PostgreSQL)"):
            measured = _measure(ledger)
        size = ledger.size
    note = "; a prefix of the stream (build budget)" if b["cut"] else ""
    return _rows("epcis.query.postgres", measured, size, targets=False, note=note)
