"""Bulk-import figures: the service keeps answering during a large ``tracelib append``.

On a ledger holding the benchmark county's ~2,000 registered parties, ``tracelib serve``
runs (gunicorn, 2 workers, its default 30 s worker timeout; the operator key in its
keystore, so every API write also signs a checkpoint). ``tracelib append`` then imports
min(N, 250,000) pre-signed ``origin`` events (:func:`bench.baselines.signed_events`; the
issue's figure is at 250,000) in a subprocess, committing in pieces as it does by default,
while this process, a client of the service, makes at a steady rate:

* API writes of one event (``POST /api/v1/events``, a new ``origin`` of a farm, signed by
  it), :data:`WRITES_PER_S` a second, and
* stall scans (``GET /s/<stall>``, the HTML page, scans counted),
  :data:`SCANS_PER_S` a second,

each sent on its schedule whatever the earlier ones are doing (open loop: a slow answer
does not delay the next request, so it cannot hide queueing). Only requests sent while the
import is appending count (from the first record it adds until it exits; its checking pass
before that holds no lock); the same requests in the :data:`IDLE_S` seconds before the
import starts give the baseline (the machine's own latency). Targets: write p99 and scan
p99 ≤ 2 s, no failed request, no ``WORKER TIMEOUT`` in gunicorn's log. The import's rate
(events/s over the whole command, its checking pass included) and how many API writes were
recorded between the import's first and last records are reported beside them.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info, percentile
from ._postgres import pg_schema
from .baselines import _unlink_db, signed_events
from .service import REPO, _free_port, _serve

IMPORT_MAX = 250_000  # the issue's figure
WRITES_PER_S = 2.0
SCANS_PER_S = 10.0
P99_S = 2.0
REQUEST_TIMEOUT_S = 120.0
IDLE_S = 10.0  # seconds of requests before the import starts (the idle baseline)
PROBE_FARM_INDEX = 10_000_000  # probe events' indexes start here (ids unlike the import's)


def _names(backend: str) -> tuple[str, ...]:
    p = f"bulk.{backend}"
    return (f"{p}.write.p99.idle", f"{p}.scan.p99.idle", f"{p}.write.p99", f"{p}.scan.p99",
            f"{p}.import.rate", f"{p}.failed", f"{p}.worker_timeouts")


@benchmark("bulk.sqlite", description="API writes and stall scans during a large "
           "`tracelib append` on SQLite", provides=_names("sqlite"))
def bulk_sqlite(ctx: Context) -> list[Row]:
    db = ctx.options.work / f"bulk-n{ctx.options.events}-s{ctx.options.seed}.db"

    @contextmanager
    def database() -> Iterator[tuple[str, Callable[[], str]]]:
        _unlink_db(db)
        try:
            yield f"sqlite:///{db.resolve()}", lambda: "SQLite"
        finally:
            if not ctx.options.keep_db:
                _unlink_db(db)

    return _bulk_figures(ctx, "sqlite", database)


@benchmark("bulk.postgres", description="API writes and stall scans during a large "
           "`tracelib append` on PostgreSQL", provides=_names("postgres"), postgres=True)
def bulk_postgres(ctx: Context) -> list[Row]:
    return _bulk_figures(ctx, "postgres", lambda: pg_schema(ctx))


@dataclass
class _Probe:
    """Latencies of one kind of request, with when each was sent (monotonic seconds)."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def during(self, start: float, end: float) -> list[float]:
        return [lat for sent, lat in self.samples if start <= sent <= end]


def _bulk_figures(ctx: Context, backend: str, database: Callable[[], Any]) -> list[Row]:
    from tracelib.keys import Keystore
    from tracelib.ledger import Ledger
    from tracelib.store import Store

    opts = ctx.options
    n = min(opts.events, IMPORT_MAX)
    seed = opts.seed
    op_key = workload.operator_key(seed)
    now = workload.BENCH_NOW
    source = signed_events(ctx)
    tag = f"bulk-{backend}-n{n}-s{seed}-p{os.getpid()}"
    events = opts.work / f"{tag}.jsonl"
    keys = opts.work / f"{tag}-keys"
    log = opts.work / f"{tag}-gunicorn.log"
    with open(source, "rb") as src, open(events, "wb") as out:
        for _, line in zip(range(n), src, strict=False):
            out.write(line)
    net = workload.build_network(seed)
    farms = net.farms
    stalls = [f"stall-{s:04d}" for s in range(workload.N_STALLS)]
    rng = random.Random(seed + 7)
    try:
        with database() as (url, _size_note):
            with Ledger.create(url, operator_key=op_key, operator="operator",
                               operator_name="云阳县市场监督管理局",
                               origin="bench.tracelib.example/county", now=now) as ledger:
                ledger.append(net.signed_register_events(), now=now)
                ledger.sign_checkpoint(op_key, now=now)
                first = ledger.size
            keystore = Keystore(keys)
            keystore.save("operator", op_key)
            token = _issue_token(url, keystore, farms[0].id)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO),
                                                              env.get("PYTHONPATH")]))
            env.update(TRACELIB_DB=url, TRACELIB_KEYSTORE=str(keys))
            port = _free_port()
            tracelib = Path(sys.executable).parent / "tracelib"
            cli = ([str(tracelib)] if tracelib.exists()
                   else [sys.executable, "-m", "tracelib_cli.main"])
            serve = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
            os.sync()  # dirty pages of earlier suites would be written back during the run
            with _serve("tracelib serve", serve, env, port, log, f"/s/{stalls[0]}") as server:
                writes, scans = _Probe(), _Probe()
                store = Store(url)
                try:
                    result = _run_import(ctx, [*cli, "append", str(events)], env, n, store,
                                         server.url(), token, farms, stalls, rng, writes,
                                         scans)
                finally:
                    store.close()
            text = log.read_text(errors="replace")
            timeouts = len(re.findall(r"WORKER TIMEOUT", text))
            with Ledger.open(url) as ledger:
                size = ledger.size
            if size != first + n + len(writes.seqs):
                raise BenchmarkError(f"ledger holds {size:,} records, expected "
                                     f"{first + n + len(writes.seqs):,}")
    finally:
        events.unlink(missing_ok=True)
        if not opts.keep_db:
            log.unlink(missing_ok=True)
            for path in sorted(keys.glob("*")) if keys.exists() else []:
                path.unlink()
            if keys.exists():
                keys.rmdir()

    (idle_start, idle_end), (start, end), import_s, first_seq, last_seq = result
    w = writes.during(start, end)
    s = scans.during(start, end)
    w_idle = writes.during(idle_start, idle_end)
    s_idle = scans.during(idle_start, idle_end)
    if not w or not s:  # an import too short for the request rates (a small --events)
        ctx.log(f"only {len(w)} writes and {len(s)} scans during {end - start:.1f} s of "
                "import: use a larger --events for meaningful figures")
    inside = sum(1 for q in writes.seqs if first_seq < q < last_seq)
    p = f"bulk.{backend}"
    window = (f"{end - start:.1f} s of import appending ({n:,} events, {first_seq:,}.."
              f"{last_seq:,})")
    failed = writes.failures + scans.failures
    write_idle = info(f"{p}.write.p99.idle", percentile(w_idle, 99) if w_idle else None, "s",
                      f"the same API writes in the {IDLE_S:g} s before the import "
                      f"({len(w_idle)} writes)")
    scan_idle = info(f"{p}.scan.p99.idle", percentile(s_idle, 99) if s_idle else None, "s",
                     f"the same stall scans in the {IDLE_S:g} s before the import "
                     f"({len(s_idle)} scans)")
    return [
        write_idle, scan_idle,
        figure(f"{p}.write.p99", percentile(w, 99) if w else None, "s", op="<=",
               target=P99_S, baseline=write_idle,
               notes=f"{len(w):,} API writes of one event at {WRITES_PER_S:g}/s during "
                     f"{window}; {_spread(w)}; {inside} of {len(writes.seqs)} written "
                     f"between the import's first and last records"),
        figure(f"{p}.scan.p99", percentile(s, 99) if s else None, "s", op="<=",
               target=P99_S, baseline=scan_idle,
               notes=f"{len(s):,} stall scans (GET /s/<stall>, HTML) at {SCANS_PER_S:g}/s "
                     f"during the import; {_spread(s)}"),
        info(f"{p}.import.rate", n / import_s, "events/s",
             f"`tracelib append` of {n:,} events in {import_s:.1f} s (the whole command: "
             f"start, checking pass, append in pieces, checkpoint)"),
        figure(f"{p}.failed", len(failed), "requests", op="<=", target=0,
               notes="; ".join(failed[:5]) or "every request answered 2xx"),
        figure(f"{p}.worker_timeouts", timeouts, "timeouts", op="<=", target=0,
               notes="`WORKER TIMEOUT` lines in gunicorn's log (timeout 30 s)"),
    ]


def _spread(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return f"median {percentile(samples, 50):.3f} s, max {max(samples):.3f} s"


def _issue_token(url: str, keystore: Any, party: str) -> str:
    from tracelib_service import create_app
    from tracelib_service.tokens import issue_token

    app = create_app({"DB": url, "KEYSTORE": str(keystore.path)})
    try:
        return issue_token(app, party, label="bench")
    finally:
        app.extensions["tracelib"].close()


def _run_import(ctx: Context, command: list[str], env: dict[str, str], n: int, store: Any,
                base: str, token: str, farms: list[Any], stalls: list[str],
                rng: random.Random, writes: _Probe,
                scans: _Probe) -> tuple[tuple[float, float], tuple[float, float], float, int,
                                        int]:
    """Start the requests, and after :data:`IDLE_S` the import; return when the requests
    ran alone and when the import appended (monotonic start and end), the import's whole
    time, and the seqs of its first and last records."""
    import subprocess

    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=64)
    probe_index = iter(range(PROBE_FARM_INDEX, PROBE_FARM_INDEX + 10_000_000))
    keys: dict[str, Any] = {}

    def write() -> None:
        from tracelib.events import sign_event

        index = next(probe_index)
        doc = workload.origin_event(ctx.options.seed, index, index + 1, farms[:1], rng)
        key = keys.get(doc["actor"]) or keys.setdefault(
            doc["actor"], workload._party_key(ctx.options.seed, doc["actor"]))
        body = json.dumps({"events": [sign_event(doc, key)]}).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/events", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as r:
                answer = json.loads(r.read())
            with writes.lock:
                writes.samples.append((sent, time.monotonic() - sent))
                writes.seqs.append(int(answer["receipts"][0]["seq"]))
        except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
            with writes.lock:
                writes.failures.append(f"write: {e}")

    def scan() -> None:
        stall = stalls[rng.randrange(len(stalls))]
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(f"{base}/s/{stall}", timeout=REQUEST_TIMEOUT_S) as r:
                r.read()
            with scans.lock:
                scans.samples.append((sent, time.monotonic() - sent))
        except (urllib.error.URLError, OSError) as e:
            with scans.lock:
                scans.failures.append(f"scan {stall}: {e}")

    def schedule(rate: float, job: Callable[[], None]) -> None:
        begun = time.monotonic()
        k = 0
        while not stop.is_set():
            pool.submit(job)
            k += 1
            stop.wait(max(0.0, begun + k / rate - time.monotonic()))

    grew_at: list[float] = []
    started: float | None = None

    def watch() -> None:  # when the import's first event is stored
        first_id = _event_id(ctx, 0)
        while not stop.is_set() and not grew_at:
            if started is not None:
                with store.reader() as conn:
                    if store.find_events(conn, [first_id]):
                        grew_at.append(time.monotonic())
            stop.wait(0.05)

    threads = [threading.Thread(target=schedule, args=(WRITES_PER_S, write), daemon=True),
               threading.Thread(target=schedule, args=(SCANS_PER_S, scan), daemon=True),
               threading.Thread(target=watch, daemon=True)]
    for t in threads:
        t.start()
    idle_from = time.monotonic()
    stop.wait(IDLE_S)  # the same requests with no import: the machine's own latency
    idle = (idle_from, time.monotonic())
    out = ctx.options.work / "bulk-import.log"
    started = time.monotonic()  # the watch begins to look for the import's records
    with ctx.step(f"tracelib append {n:,} events with {WRITES_PER_S:g} API writes/s and "
                  f"{SCANS_PER_S:g} scans/s going"), open(out, "wb") as log:
        proc = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                              cwd=REPO, timeout=3600, check=False)
    ended = time.monotonic()
    stop.set()
    for t in threads:
        t.join(30)
    pool.shutdown(wait=True)
    text = out.read_text(errors="replace")
    out.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"tracelib append failed ({proc.returncode}): {text[-1500:]}")
    if not grew_at:
        raise BenchmarkError("the import added no records")
    ids = [_event_id(ctx, 0), _event_id(ctx, n - 1)]
    with store.reader() as conn:
        found = store.find_events(conn, ids)
    if set(found) != set(ids):
        raise BenchmarkError(f"the import's first and last events are not both stored: "
                             f"{sorted(found)}")
    seqs = [int(found[i]["seq"]) for i in ids]
    return idle, (grew_at[0], ended), ended - started, seqs[0], seqs[1]


def _event_id(ctx: Context, index: int) -> str:
    """The id of the import's event ``index`` (bench.workload.origin_event)."""
    return f"og-{ctx.options.seed}-{index:07d}"
