"""Scale sales and receipt pages under gunicorn (docs/contract.md "Receipts").

The ledger is a copy of the drill suite's generated market (:func:`bench.drill.drill_ledger`,
N events; the copy takes the sales, the cached ledger stays as it was). 50 stalls with stock
on hand get a device token each and their holders' demo keys in a keystore of the run's own;
``tracelib serve --workers 2`` serves the copy, beside the bare Flask baseline
(:mod:`bench._bare_app`, one indexed SQLite lookup, 2 workers).

* ``receipts.sale.p99`` — a scale sale's round trip (``POST /api/v1/stalls/<stall>/sales``,
  one priced line, a receipt number → the receipt answer), sent open-loop at 20 sales a
  second spread over the 50 stalls for 20 s (× N / 1,000,000, at least 5 s) by a client of
  8 threads, each request's time from its scheduled start (so a slow answer delays none and
  is not hidden). Target p99 ≤ 50 ms.
* ``receipts.page`` — ``GET /r/<receipt>`` (HTML) under ``wrk`` over the receipts just made,
  against the baseline's ``/s/<stall>`` in the same run. Target ≥ 0.6 × the baseline.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from ._core import BenchmarkError, Context, Row, benchmark, figure, info, percentile
from .drill import drill_ledger, drill_stream
from .service import (
    HOST,
    HTML,
    THROUGHPUT_FACTOR,
    WORKERS,
    _ensure_wrk,
    _free_port,
    _serve,
    _wrk,
    wrk_script,
)

STALLS = 50
RATE = 20.0  # sales a second
SALE_P99_MS = 50.0
CLIENT_THREADS = 8


def _copy(src: Path, dst: Path) -> None:
    """A consistent copy of the SQLite ledger (SQLite's online backup)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _stalls(url: str) -> list[tuple[str, str, str, str]]:
    """Up to :data:`STALLS` (stall, holder, lot, unit) with stock on hand and not held."""
    from tracelib.ledger import Ledger
    from tracelib.store.supply import SupplySql

    ledger = Ledger.open(url)
    try:
        with ledger.store.reader() as conn:
            rows = SupplySql.stock_at_type(conn, "stall")
        chosen: dict[str, tuple[str, str, str, str]] = {}
        for row in rows:
            if (row.location in chosen or row.hold_seq is not None
                    or row.on_hand < 100_000):  # 0.1 unit: room for 100 sales of 0.001
                continue
            place = ledger.location(row.location)
            if place is None or place.holder is None:
                continue
            chosen[row.location] = (row.location, place.holder, row.lot, row.unit)
            if len(chosen) == STALLS:
                break
    finally:
        ledger.close()
    return list(chosen.values())


@benchmark("receipts.sqlite", description="scale sales and receipt pages under gunicorn "
           "(2 workers), beside a bare Flask + SQLite lookup",
           provides=("receipts.baseline", "receipts.sale.p99", "receipts.page"))
def receipts_sqlite(ctx: Context) -> list[Row]:
    from tracelib.keys import Keystore
    from tracelib_demo.generator import derive_key
    from tracelib_service import create_app
    from tracelib_service.tokens import issue_device_token

    opts = ctx.options
    version = _ensure_wrk(ctx)
    built = drill_ledger(ctx)
    seed = drill_stream(ctx).spec.seed
    tag = f"receipts-n{opts.events}-s{opts.seed}-p{os.getpid()}"
    db = opts.work / f"{tag}.db"
    keys = opts.work / f"{tag}-keys"
    _copy(built.db, db)
    url = f"sqlite:///{db.resolve()}"
    stalls = _stalls(url)
    if not stalls:  # a small ledger may have fewer than 50: the figure says how many
        raise BenchmarkError("found no stall with stock on hand")
    store = Keystore(keys)
    for _, holder, _, _ in stalls:
        if not any(e.party == holder for e in store.entries()):
            store.save(holder, derive_key(seed, holder))
    app = create_app({"DB": url, "KEYSTORE": str(keys), "SIGN_CHECKPOINTS": False})
    try:
        tokens = {stall: issue_device_token(app, stall, "bench-scale") for stall, *_ in stalls}
    finally:
        app.extensions["tracelib"].close()
    seconds = max(5.0, 20.0 * min(1.0, opts.events / 1_000_000))
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                      env.get("PYTHONPATH")]))
    bare_port, app_port = _free_port(), _free_port()
    bare_cmd = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind",
                f"{HOST}:{bare_port}", "bench._bare_app:app"]
    tracelib = bin_dir / "tracelib"
    app_cmd = ([str(tracelib)] if tracelib.exists()
               else [sys.executable, "-m", "tracelib_cli.main"])
    app_cmd += ["--db", url, "--keystore", str(keys), "serve", "--host", HOST, "--port",
                str(app_port), "--workers", str(WORKERS)]
    logs = [opts.work / f"{tag}-bare.log", opts.work / f"{tag}-tracelib.log"]
    latencies: list[float] = []
    failures: list[str] = []
    receipts: list[str] = []
    lock = threading.Lock()
    script = opts.work / f"{tag}-receipts.lua"
    bare_script = opts.work / f"{tag}-stalls.lua"
    try:
        with ExitStack() as stack:
            bare = stack.enter_context(_serve("bare Flask app", bare_cmd,
                                              {**env, "BENCH_BARE_DB": str(built.db)},
                                              bare_port, logs[0], f"/s/{stalls[0][0]}"))
            served = stack.enter_context(_serve("tracelib serve", app_cmd, env, app_port,
                                                logs[1], f"/s/{stalls[0][0]}"))

            def sale(i: int, start: float) -> None:
                stall, _, lot, unit = stalls[i % len(stalls)]
                body = json.dumps({"items": [{"lot": lot, "qty": "0.001", "unit": unit,
                                              "unit_price": "12.80"}],
                                   "receipt_no": f"bench-{os.getpid()}-{i}"}).encode()
                req = urllib.request.Request(
                    served.url(f"/api/v1/stalls/{stall}/sales"), data=body, method="POST",
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {tokens[stall]}"})
                delay = start - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        answer = json.loads(r.read())
                        ok = r.status == 201
                except urllib.error.HTTPError as e:
                    ok, answer = False, {"detail": e.read()[:300].decode(errors="replace")}
                took = (time.monotonic() - start) * 1000
                with lock:
                    latencies.append(took)
                    if ok:
                        receipts.append(answer["receipt"])
                    else:
                        failures.append(str(answer.get("detail")))

            warm = 20
            with ThreadPoolExecutor(CLIENT_THREADS) as pool:  # warm-up, untimed
                t0 = time.monotonic()
                list(pool.map(lambda i: sale(i, t0 + i / RATE), range(warm)))
            latencies.clear()
            count = int(seconds * RATE)
            with ctx.step(f"{count} scale sales at {RATE:g}/s over {len(stalls)} stalls",
                          total=1) as advance, ThreadPoolExecutor(CLIENT_THREADS) as pool:
                t0 = time.monotonic() + 0.2
                list(pool.map(lambda i: sale(i, t0 + (i - warm) / RATE),
                              range(warm, warm + count)))
                advance(1)
            if failures:
                raise BenchmarkError(f"{len(failures)} sales refused, e.g. {failures[0]}")
            script.write_text(wrk_script("bench.receipts", [f"/r/{r}" for r in receipts], 7),
                              encoding="utf-8")
            bare_script.write_text(wrk_script("bench.receipts", [f"/s/{s[0]}" for s in stalls],
                                              7), encoding="utf-8")
            page_seconds = max(5.0, seconds / 2)
            _wrk(served.url(), script, HTML, 3)  # warm-up, untimed
            _wrk(bare.url(), bare_script, HTML, 3)
            base = _wrk(bare.url(), bare_script, HTML, page_seconds)
            page = _wrk(served.url(), script, HTML, page_seconds)
    finally:
        script.unlink(missing_ok=True)
        bare_script.unlink(missing_ok=True)
        if not opts.keep_db:
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), *logs):
                path.unlink(missing_ok=True)
            shutil.rmtree(keys, ignore_errors=True)
    for name, res in (("baseline", base), ("receipt page", page)):
        if res.non_2xx > 0.01 * max(1, res.requests):
            raise BenchmarkError(f"{name}: {res.non_2xx:,} of {res.requests:,} not 2xx")
    p99 = percentile(latencies, 99)
    baseline = info("receipts.baseline", base.rps, "req/s",
                    f"bench._bare_app GET /s/<stall> over the same {len(stalls)} stalls; "
                    f"{base.requests:,} requests, p99 {base.p99_ms:.1f} ms; {version}")
    return [
        baseline,
        figure("receipts.sale.p99", p99, "ms", op="<=", target=SALE_P99_MS,
               notes=f"{len(latencies)} sales open-loop at {RATE:g}/s over {len(stalls)} "
                     f"stalls, device tokens, one priced line each; p50 "
                     f"{percentile(latencies, 50):.1f} ms, max {max(latencies):.1f} ms; "
                     f"gunicorn {WORKERS} workers; {built.size:,}-record ledger (a copy); the "
                     "keystore holds no operator key, so no checkpoint is signed per sale"),
        figure("receipts.page", page.rps, "req/s", op=">=", factor=THROUGHPUT_FACTOR,
               baseline=baseline,
               notes=f"GET /r/<receipt> (HTML) over {len(receipts)} receipts, wrk; "
                     f"{page.requests:,} requests, p99 {page.p99_ms:.1f} ms"),
    ]
