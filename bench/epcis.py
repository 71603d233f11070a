"""EPCIS 2.0 export figures on the drill's generated market ledger (SQLite, N events).

* ``epcis.export.rate``: ``tracelib.epcis.export_document`` of the whole ledger into a
  byte-counting sink (what ``tracelib epcis export`` does but for the disk): events/s,
  target ≥ 20,000 events/s at 1,000,000 events (issue 18);
* ``epcis.export.memory``: the export holds a bounded number of events (one at a time, or a
  few chunks out at the worker pool): Python's traced peak (tracemalloc) while exporting
  the first 10,000 events and the first 100,000 (or all), which must stay within 1.5× of
  each other (a list of events would grow tenfold);
* ``epcis.export.rss``: how far the exporting process's resident set grew above where it
  was when the export began (sampled every 10,000 writes during the timed export; the
  pool's workers are processes of their own and not counted).
"""

from __future__ import annotations

import os
import time
import tracemalloc
from typing import Any

from ._core import Context, Row, benchmark, figure, info
from .drill import drill_ledger

RATE_TARGET = 20_000.0
BASE = "https://bench.tracelib.example"


def _rss() -> int:
    """This process's resident set (bytes; Linux /proc, else 0)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 0


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's running children (the
    worker pool's processes; Linux /proc, else 0)."""
    me, total = os.getpid(), 0
    try:
        entries = os.listdir("/proc")
    except OSError:  # pragma: no cover - not Linux
        return 0.0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


class _Sink:
    """Counts the bytes written, keeps none; with ``rss``, samples the resident set."""

    def __init__(self, rss: bool = False) -> None:
        self.bytes = 0
        self.writes = 0
        self.rss = rss
        self.rss_start = self.rss_peak = _rss() if rss else 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        self.writes += 1
        if self.rss and self.writes % 10_000 == 0:
            self.rss_peak = max(self.rss_peak, _rss())
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
           provides=("epcis.export.rate", "epcis.export.memory", "epcis.export.rss"))
def epcis_export(ctx: Context) -> list[Row]:
    from tracelib._cores import cpu_count
    from tracelib.epcis import export_document
    from tracelib.ledger import Ledger

    built = drill_ledger(ctx)
    ledger = Ledger.open(built.url)
    try:
        with ctx.step(f"export {built.size:,} records as EPCIS"):
            sink = _Sink(rss=True)
            started = time.perf_counter()
            cpu, workers = time.process_time(), _children_cpu()
            summary = export_document(ledger, sink, base=BASE)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            cpu, workers = time.process_time() - cpu, _children_cpu() - workers
        with ctx.step("traced peak of the export, 10,000 and 100,000 events"):
            small = _peak(ledger, 10_000)
            large = _peak(ledger, 100_000)
    finally:
        ledger.close()
    rate = summary.events / seconds
    n = max(summary.events, 1)
    cores = cpu_count()
    # The exporting process is one thread; the whole export's CPU is spread over the cores.
    ceiling = n * min(1 / max(cpu, 1e-9), cores / max(cpu + workers, 1e-9))
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.skipped.items()))
    return [
        figure("epcis.export.rate", rate, "events/s", target=RATE_TARGET, op=">=",
               notes=f"{summary.events:,} EPCIS events of {built.size:,} records in "
                     f"{seconds:.1f} s, {sink.bytes / 1e6:,.0f} MB of JSON-LD; CPU an event "
                     f"{cpu / n * 1e6:.1f} µs in the exporting process and "
                     f"{workers / n * 1e6:.1f} µs in the pool's workers, so at most "
                     f"{ceiling:,.0f} events/s on {cores} idle cores (load "
                     f"{os.getloadavg()[0]:.1f}); left out (no EPCIS event): "
                     f"{skipped or 'none'}"),
        info("epcis.export.memory", round(large / 1e6, 2), "MB",
             notes=f"tracemalloc peak exporting 100,000 events; 10,000 events: "
                   f"{small / 1e6:.2f} MB (ratio {large / max(small, 1):.2f}, streamed when "
                   f"≤ 1.5)"),
        info("epcis.export.rss", round((sink.rss_peak - sink.rss_start) / 1e6, 1), "MB",
             notes=f"resident set growth of the exporting process over the timed export of "
                   f"{summary.events:,} events ({sink.rss_start / 1e6:.0f} MB before, peak "
                   f"{sink.rss_peak / 1e6:.0f} MB; the pool's workers not counted)"),
    ]
