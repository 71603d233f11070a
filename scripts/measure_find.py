"""Time the console's Find (tracelib.views.find) on a SQLite ledger of N ``origin`` records.

The ledger is the benchmark workload's (bench.workload: the county's ~2,000 parties and N
signed origin events, each with its own certificate number); it is built once in the work
folder and reused by later runs, which first bring its schema up to date
(``Store.migrate``, timed: on an older ledger that is the upgrade a city would run).
Then, for ``--samples`` certificate numbers and lot codes drawn from the ledger, each
search is timed; the median and p95 are printed.

    .venv/bin/python scripts/measure_find.py --events 200000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import workload  # noqa: E402
from tracelib.ledger import Ledger  # noqa: E402
from tracelib.views.find import find  # noqa: E402


def build(path: Path, events: Path, seed: int) -> None:
    """A new ledger at ``path`` holding the network and every event of ``events``."""
    op_key = workload.operator_key(seed)
    now = workload.BENCH_NOW
    net = workload.build_network(seed)
    ledger = Ledger.create(path, operator_key=op_key, operator="operator",
                           operator_name="云阳县市场监督管理局",
                           origin="bench.tracelib.example/county", now=now)
    try:
        ledger.append(net.signed_register_events(), now=now)
        for batch in workload.iter_event_batches(events, 10_000):
            ledger.append([json.loads(line) for line in batch], now=now, pause_gc=True)
        ledger.sign_checkpoint(op_key, now=now)
    finally:
        ledger.close()


def timed(ledger: Ledger, queries: list[str], expect: str) -> list[float]:
    """Milliseconds of each search; each must find one match of kind ``expect``."""
    spent = []
    for query in queries:
        started = time.perf_counter()
        found = find(ledger, query)
        spent.append((time.perf_counter() - started) * 1000)
        if [m.kind for m in found] != [expect]:
            raise SystemExit(f"{query!r} found {found!r}, not one {expect}")
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="origin records")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", type=int, default=50, help="searches of each kind")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work")
    args = ap.parse_args()

    events, _ = workload.ensure_signed_events(args.work, args.events, args.seed, workers=2)
    path = args.work / f"find-n{args.events}-s{args.seed}.db"
    if not path.exists():
        started = time.perf_counter()
        build(path, events, args.seed)
        print(f"built {path.name} in {time.perf_counter() - started:.1f} s")
    ledger = Ledger.open(path)
    try:
        started = time.perf_counter()
        ledger.store.migrate()
        print(f"schema brought up to date in {time.perf_counter() - started:.2f} s")
        rng = random.Random(args.seed)  # noqa: S311 - which records to search, not a secret
        picked = [json.loads(line) for line in rng.sample(
            list(workload.iter_event_lines(events)), args.samples)]
        numbers = [doc["data"]["certificate"]["no"] for doc in picked]
        lots = [doc["outputs"][0]["lot"] for doc in picked]
        timed(ledger, numbers[:3], "certificate")  # untimed: warm the page cache
        timed(ledger, lots[:3], "lot")
        for name, queries, kind in (("certificate number", numbers, "certificate"),
                                    ("lot code", lots, "lot")):
            ms = sorted(timed(ledger, queries, kind))
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print(f"{name}: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms "
                  f"({len(ms)} searches, {args.events:,} origin records)")
    finally:
        ledger.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
