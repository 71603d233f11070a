"""EPCIS 2.0 export figures on the drill's generated market ledger (SQLite, N events).

* ``epcis.export.rate``: ``tracelib.epcis.export_document`` of the whole ledger into a
  byte-counting sink (what ``tracelib epcis export`` does but for the disk): events/s,
  target ≥ 20,000 events/s at 1,000,000 events (issue 18);
* ``epcis.export.memory``: the export holds one event at a time: Python's traced peak
  (tracemalloc) while exporting the first 10,000 events and the first 100,000 (or all),
  which must stay within 1.5× of each other (a list of events would grow tenfold).
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from ._core import Context, Row, benchmark, figure, info
from .drill import drill_ledger

RATE_TARGET = 20_000.0
BASE = "https://bench.tracelib.example"


class _Sink:
    """Counts the bytes written, keeps none."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def _peak(ledger: Any, count: int) -> int:
    """Traced peak (bytes) of exporting the first ``count`` events."""
    from tracelib.epcis import epcis_events, names_for, write_document

    def first(events: Any) -> Any:
        for n, event in enumerate(events):
            if n == count:
                return
            yield event

    with ledger.store.reader() as conn:
        names = names_for(ledger, conn, BASE)
        tracemalloc.start()
        try:
            write_document(first(epcis_events(ledger, conn, names)), _Sink())  # type: ignore[arg-type]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak


@benchmark("epcis.export", description="EPCIS 2.0 export of the drill ledger (SQLite)",
           provides=("epcis.export.rate", "epcis.export.memory"))
def epcis_export(ctx: Context) -> list[Row]:
    from tracelib.epcis import export_document
    from tracelib.ledger import Ledger

    built = drill_ledger(ctx)
    ledger = Ledger.open(built.url)
    try:
        with ctx.step(f"export {built.size:,} records as EPCIS"):
            sink = _Sink()
            started = time.perf_counter()
            summary = export_document(ledger, sink, base=BASE)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
        with ctx.step("traced peak of the export, 10,000 and 100,000 events"):
            small = _peak(ledger, 10_000)
            large = _peak(ledger, 100_000)
    finally:
        ledger.close()
    rate = summary.events / seconds
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.skipped.items()))
    return [
        figure("epcis.export.rate", rate, "events/s", target=RATE_TARGET, op=">=",
               notes=f"{summary.events:,} EPCIS events of {built.size:,} records in "
                     f"{seconds:.1f} s, {sink.bytes / 1e6:,.0f} MB of JSON-LD; left out (no "
                     f"EPCIS event): {skipped or 'none'}"),
        info("epcis.export.memory", round(large / 1e6, 2), "MB",
             notes=f"tracemalloc peak exporting 100,000 events; 10,000 events: "
                   f"{small / 1e6:.2f} MB (ratio {large / max(small, 1):.2f}, streamed when "
                   f"≤ 1.5)"),
    ]
