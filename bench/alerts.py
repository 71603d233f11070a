"""The regulator's alert list on the generated market of N events (SQLite).

The ledger is the drill suite's (:func:`bench.drill.drill_ledger`: 2,000 stalls in 20
markets at 1,000,000 events, built once and kept in the work folder). On a copy of it the
suite first makes the morning after the bench's clock (Asia/Shanghai) a regulator would
face, as events of the network's own parties recorded by 08:30: positive rapid tests at
2 % of the stalls, each holding the lot tested (open follow-ups, held stock), and at each
of those stalls the market's hold on a second lot. The markets whose stalls were tested
have published by 09:00; the others have not. Every record of the generated market was
recorded at the bench's clock, so each of its cold-chain excursions is read through (the
readings of the last 7 days are kept).

Figures:

* ``tracelib.views.alerts.alerts(ledger, now=…)`` — the whole work list, every kind of alert
  from one read transaction — timed :data:`RUNS` times after one untimed run: p95 ≤
  :data:`ALERTS_P95_MS` (the console's alert list at the 1,000,000-event market), with the
  median and what the list held;
* the same list 25 h later, when the morning's failures are past their 24 h follow-up and
  the shipments still on the road are overdue: p95, reported beside.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info, median, percentile
from .baselines import _unlink_db
from .drill import OPERATOR_NAME, drill_ledger

ALERTS_P95_MS = 200.0
RUNS = 50
FAIL_SHARE = 0.02  # of the stalls: one positive test each this morning
CST = timezone(timedelta(hours=8))


def _copy(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database (the backup API)."""
    _unlink_db(dst)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()


def _morning(ledger: Any, seed: int) -> tuple[list[dict[str, Any]], datetime]:
    """Signed events of the bench clock's morning: positive tests and market holds on lots
    on hand at stalls; a quarter of the markets' first tests. Returns them and the clock."""
    from sqlalchemy import select

    from tracelib.events import sign_event
    from tracelib.quantity import format_micro
    from tracelib.store.schema import locations, stock
    from tracelib_demo.generator import derive_key

    now = (workload.BENCH_NOW + timedelta(days=1)).astimezone(CST)  # 10:00 the next day
    morning = now.replace(hour=7, minute=0, second=0, microsecond=0)
    rng = random.Random(f"{seed}:alerts")
    with ledger.store.reader() as conn:
        markets = {r.id: r.holder for r in conn.execute(
            select(locations.c.id, locations.c.holder).where(locations.c.type == "market"))}
        stalls = {r.id: r.parent for r in conn.execute(
            select(locations.c.id, locations.c.parent).where(locations.c.type == "stall"))
            if r.parent in markets}  # a market's test room tests its stalls
        on_hand = [(r.location, r.lot, r.on_hand, r.unit) for r in conn.execute(
            select(stock.c.location, stock.c.lot, stock.c.on_hand, stock.c.unit).where(
                stock.c.location.in_(sorted(stalls)), stock.c.on_hand > 0,
                stock.c.hold_seq.is_(None)))]
    if not on_hand:
        raise BenchmarkError("no unheld stock on hand at any stall")
    by_stall: dict[str, list[tuple[str, str, int, str]]] = {}
    for row in sorted(on_hand):
        by_stall.setdefault(row[0], []).append(row)
    chosen = rng.sample(sorted(by_stall), max(1, round(FAIL_SHARE * len(stalls))))
    keys: dict[str, Any] = {}

    def signed(doc: dict[str, Any]) -> dict[str, Any]:
        actor = doc["actor"]
        if actor not in keys:
            keys[actor] = derive_key(seed, actor)
        return sign_event(doc, keys[actor])

    events = []
    for i, stall in enumerate(chosen):
        market = stalls[stall]
        holder = markets[market] or market
        (_, tested, _, _), *rest = by_stall[stall]
        events.append(signed({
            "id": f"bench-alert-rt-{i}", "kind": "rapid_test", "actor": holder,
            "time": (morning + timedelta(seconds=i)).isoformat(), "location": stall,
            "data": {"sample": "豇豆", "lot": tested, "item": "有机磷和氨基甲酸酯类农药",
                     "method": "GB/T 5009.199-2003", "tester": "快检室",
                     "readings": {"delta_a0": "0.800", "delta_at": "0.300"}}}))
        if rest:
            _, lot, qty, unit = rest[0]
            events.append(signed({
                "id": f"bench-alert-hold-{i}", "kind": "hold", "actor": holder,
                "time": (morning + timedelta(minutes=30, seconds=i)).isoformat(),
                "location": stall, "inputs": [{"lot": lot, "qty": format_micro(qty),
                                               "unit": unit}],
                "data": {"reason": "待查验进货票据"}}))
    return events, now


@benchmark("alerts.sqlite", description="the regulator's alert list on the generated market "
           "(SQLite)", provides=("alerts.sqlite.p95", "alerts.sqlite.median",
                                 "alerts.sqlite.next_day.p95"))
def alerts_sqlite(ctx: Context) -> list[Row]:
    from tracelib.ledger import Ledger
    from tracelib.views.alerts import alerts

    opts = ctx.options
    built = drill_ledger(ctx)
    db = opts.work / f"alerts-n{opts.events}-s{opts.seed}.db"
    _copy(built.db, db)
    ledger = Ledger.open(f"sqlite:///{db.resolve()}")
    try:
        ledger.store.migrate()  # a ledger built by an older tracelib gets the alert indexes
        events, now = _morning(ledger, opts.seed)
        # Recorded through the morning: by 08:30 local, before the markets' 09:00.
        ledger.append(events, now=now.replace(hour=8, minute=30))
        rows = []
        for label, clock in (("", now), (".next_day", now + timedelta(hours=25))):
            alerts(ledger, now=clock)  # untimed: the page cache warms
            times, cpu = [], []
            with ctx.step(f"alerts at {clock.isoformat()}: {RUNS} runs", total=RUNS) as advance:
                for _ in range(RUNS):
                    t0, c0 = time.perf_counter_ns(), time.process_time_ns()
                    found = alerts(ledger, now=clock)
                    times.append((time.perf_counter_ns() - t0) / 1e6)
                    cpu.append((time.process_time_ns() - c0) / 1e6)
                    advance(1)
            counts = found.counts()
            kinds = ", ".join(f"{k} {n:,}" for k, n in counts["by_kind"].items())
            note = (f"alerts(ledger, now={clock.isoformat()}) over a {built.size:,}-record "
                    f"ledger (the drill suite's market, {OPERATOR_NAME}) plus this morning's "
                    f"{len(events):,} test and hold events; {RUNS} runs after one untimed; "
                    f"{counts['total']:,} alerts: {kinds}; this process's CPU time a run: "
                    f"median {median(cpu):.1f} ms, p95 {percentile(cpu, 95):.1f} ms (the rest "
                    f"of the wall time is waiting: load {os.getloadavg()[0]:.1f} on "
                    f"{os.cpu_count()} cores at the end)")
            p = f"alerts.sqlite{label}"
            if label:
                rows.append(info(f"{p}.p95", percentile(times, 95), "ms",
                                 f"{note}; median {median(times):.1f} ms"))
            else:
                rows.append(figure(f"{p}.p95", percentile(times, 95), "ms", op="<=",
                                   target=ALERTS_P95_MS, notes=note))
                rows.append(info(f"{p}.median", median(times), "ms",
                                 f"slowest {max(times):.1f} ms"))
    finally:
        ledger.close()
        if not opts.keep_db:
            _unlink_db(db)
    return rows
