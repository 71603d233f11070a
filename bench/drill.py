"""Recall-drill figures on a generated market ledger of N events, on SQLite and PostgreSQL.

The ledger is :func:`tracelib_demo.generator.generate` at ``NetworkSpec(events=N,
markets=20, stalls_per_market=100, farms=100, days=…)``: 2,000 stalls, the days chosen
so that the world makes about N / 10 lots (≈ 1.08 lots a day per stall), every sale
path 4-14 events deep through cold stores, the wholesale market's merges and splits,
market hubs and the stalls' repacks. Smaller N shrink the stalls (and farms) so that
the generator can honour the spec (see :func:`network_spec`).

The signed stream (``sign_all(…, workers=2)``) is cached as JSON Lines in the work
folder, and the SQLite ledger built from it (batches of ``--batch`` events, a checkpoint
signed after each, untimed) is kept there too, keyed by N, seed and
:data:`DRILL_VERSION`: later runs (and ``bench.service``) reuse both.

Figures, on each backend:

* a full drill, ``tracelib.drill.drill(ledger, lot)`` without key or report folder
  (trace back to every origin with the cold-chain hops, forward with quantities per
  location, and the answer's digest) over 100 lots drawn with the seed from all lots:
  median ≤ 50 ms, p99 ≤ 200 ms, each beside the cited Walmart / IBM Food Trust
  trace-back of mangoes (2.2 s) — and how many times faster than it;
* writing the drill report (``report_input`` + ``write_drill_report``: summary JSON,
  FSMA 204 CSV and XLSX, the path as SVG and PNG) for the first 20 of those lots:
  median ≤ 2 s (the slowest reported).

PostgreSQL gets the same stream on a fresh schema (dropped after), appended until the
stream ends or :data:`PG_BUILD_BUDGET_S` runs out; the largest prefix that fits is used
and said so in the notes.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info, median, percentile
from ._postgres import pg_schema
from .baselines import _db_files, _unlink_db

#: Bump when the spec, the stream or the build changes, so cached files are not reused.
DRILL_VERSION = 1
WALMART_MS = 2200.0
WALMART = "baseline.walmart_ibm_trace_back"
DRILL_MEDIAN_MS = 50.0
DRILL_P99_MS = 200.0
REPORT_MS = 2000.0
SAMPLES = 100
REPORT_SAMPLES = 20
PG_BUILD_BUDGET_S = 15 * 60.0
LOTS_PER_STALL_DAY = 1.08  # measured: 2,000 stalls make ~2,160 lots a day
OPERATOR_NAME = "云阳县市场监督管理局"
SIGN_WORKERS = 2


# -- the generated network --------------------------------------------------------------
def network_spec(events: int, seed: int) -> Any:
    """The spec for ``events``: 20 markets × 100 stalls, ~events / 10 lots.

    With fewer events than the full world needs (its deliveries alone take
    ~12 events per stall), the stalls per market shrink (≥ 2), so that ~3 days or more
    still fit; farms follow the stalls (one per 20, 8 to 100)."""
    from tracelib_demo.generator import NetworkSpec

    markets = 20
    per_market = min(100, max(2, events // (33 * markets)))
    stalls = markets * per_market
    days = max(3, round(events / 10 / (LOTS_PER_STALL_DAY * stalls)))
    farms = max(8, min(100, stalls // 20))
    end = workload.BENCH_NOW.date()  # the stream ends the day before the bench's clock
    spec = NetworkSpec(seed=seed, events=events, farms=farms, markets=markets,
                       stalls_per_market=per_market, days=days,
                       start=end - timedelta(days=days))
    spec.check()
    return spec


@contextmanager
def _build_lock(ctx: Context, path: Path) -> Iterator[None]:
    """An exclusive lock while a cached file is checked or built: runs sharing the work
    folder wait for each other instead of building the same file twice."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            ctx.log(f"waiting for another run holding {path.name}")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _stem(work: Path, events: int, seed: int) -> Path:
    return work / f"drill-v{DRILL_VERSION}-n{events}-s{seed}"


@dataclass(frozen=True)
class Stream:
    """The signed event stream of the drill network, cached as JSON Lines."""

    path: Path
    spec: Any
    shape: dict[str, Any]
    events: int
    seconds: float  # generating and signing it, when it was made (0 if unknown)
    cached: bool


def drill_stream(ctx: Context) -> Stream:
    """The cached signed stream (made once per work folder, N and seed)."""

    def make() -> Stream:
        from tracelib_demo.generator import generate, sign_all

        opts = ctx.options
        spec = network_spec(opts.events, opts.seed)
        stem = _stem(opts.work, opts.events, opts.seed)
        path, meta_path = Path(f"{stem}.jsonl"), Path(f"{stem}.stream.json")
        with _build_lock(ctx, Path(f"{stem}.jsonl.lock")):
            if path.exists() and meta_path.exists():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                ctx.log(f"drill stream: cached {path} ({meta['events']:,} events, "
                        f"{meta['shape']['lots']:,} lots)")
                return Stream(path, spec, meta["shape"], meta["events"], meta["seconds"], True)
            opts.work.mkdir(parents=True, exist_ok=True)
            net = generate(spec, sign=False)
            tmp = path.with_name(f".{path.name}.tmp")
            count = 0
            started = time.perf_counter()
            with ctx.step(f"generate and sign the drill network: {opts.events:,} events, "
                          f"{spec.markets * spec.stalls_per_market:,} stalls, {spec.days} days "
                          f"(sign_all, {SIGN_WORKERS} workers)", total=opts.events) as advance:
                try:
                    with open(tmp, "wb") as out:
                        chunk: list[bytes] = []
                        for doc in sign_all(net.events(), net.keys, SIGN_WORKERS):
                            chunk.append(json.dumps(doc, ensure_ascii=False,
                                                    separators=(",", ":")).encode("utf-8"))
                            if len(chunk) == 5_000:
                                out.write(b"\n".join(chunk) + b"\n")
                                count += len(chunk)
                                advance(len(chunk))
                                chunk = []
                        if chunk:
                            out.write(b"\n".join(chunk) + b"\n")
                            count += len(chunk)
                            advance(len(chunk))
                    tmp.replace(path)
                finally:
                    tmp.unlink(missing_ok=True)
            seconds = time.perf_counter() - started
            shape = net.shape()
            meta = {"events": count, "seconds": round(seconds, 1), "shape": shape,
                    "spec": {"seed": spec.seed, "events": spec.events, "farms": spec.farms,
                             "markets": spec.markets, "stalls_per_market": spec.stalls_per_market,
                             "days": spec.days, "start": spec.start.isoformat(),
                             "operator": spec.operator}}
            meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1, default=str),
                                 encoding="utf-8")
            return Stream(path, spec, shape, count, seconds, False)

    stream: Stream = ctx.resource("drill.stream", make)
    return stream


def shape_text(stream: Stream) -> str:
    """The network's shape in one line (for notes and the reply)."""
    s, spec = stream.shape, stream.spec
    paths = {int(k): v for k, v in s["sale_path_events"].items()}
    sales = sum(paths.values()) or 1
    deep = sum(v for k, v in paths.items() if k >= 6)
    kinds = s["kinds"]
    return (f"{stream.events:,} events, {s['lots']:,} lots ({s['origin_lots']:,} origin), "
            f"{spec.markets * spec.stalls_per_market:,} stalls in {spec.markets} markets, "
            f"{spec.farms} farms, {spec.days} days; transforms {kinds.get('transform', 0):,}, "
            f"ships {kinds.get('ship', 0):,}, sales {kinds.get('sale', 0):,}; "
            f"sale paths {min(paths)}-{max(paths)} events deep, {deep / sales:.0%} ≥ 6")


def _iter_batches(path: Path, size: int) -> Iterator[list[bytes]]:
    return workload.iter_event_batches(path, size)


def _append_stream(ctx: Context, label: str, ledger: Any, stream: Stream, op_key: Any,
                   budget_s: float | None = None) -> dict[str, Any]:
    """Append the stream in batches (timed), a checkpoint after each (untimed); stop after
    the batch that crosses ``budget_s`` of wall time. Returns the build's numbers."""
    opts = ctx.options
    now = workload.BENCH_NOW
    timed = checkpoint_s = 0.0
    appended = batches = 0
    slowest = math.inf
    started = time.perf_counter()
    cut = False
    with ctx.step(f"{label}: append {stream.events:,} generated events in batches of "
                  f"{opts.batch:,}" + (f" (≤ {budget_s / 60:g} min)" if budget_s else ""),
                  total=stream.events) as advance:
        for batch in _iter_batches(stream.path, opts.batch):
            docs = [json.loads(line) for line in batch]
            t0 = time.perf_counter()
            receipts = ledger.append(docs, now=now, pause_gc=True)
            spent = time.perf_counter() - t0
            if len(receipts) != len(docs):
                raise BenchmarkError(f"append returned {len(receipts)} receipts for "
                                     f"{len(docs)} events")
            timed += spent
            slowest = min(slowest, len(docs) / spent)
            t0 = time.perf_counter()
            ledger.sign_checkpoint(op_key, now=now)
            checkpoint_s += time.perf_counter() - t0
            appended += len(docs)
            batches += 1
            advance(len(docs))
            if (budget_s is not None and time.perf_counter() - started > budget_s
                    and appended < stream.events):
                cut = True
                break
    return {"events": appended, "append_s": round(timed, 1), "checkpoint_s": round(checkpoint_s, 1),
            "wall_s": round(time.perf_counter() - started, 1), "batches": batches,
            "rate": appended / timed if timed else None,
            "slowest_batch_rate": None if slowest is math.inf else slowest, "cut": cut}


@dataclass(frozen=True)
class BuiltLedger:
    db: Path
    url: str
    size: int
    build: dict[str, Any]
    cached: bool


def drill_ledger(ctx: Context) -> BuiltLedger:
    """The SQLite ledger of the drill stream, built once and kept in the work folder."""

    def make() -> BuiltLedger:
        from tracelib.ledger import Ledger
        from tracelib_demo.generator import derive_key

        opts = ctx.options
        stream = drill_stream(ctx)
        stem = _stem(opts.work, opts.events, opts.seed)
        db, meta_path = Path(f"{stem}.db"), Path(f"{stem}.db.json")
        with _build_lock(ctx, Path(f"{stem}.db.lock")):
            url = f"sqlite:///{db.resolve()}"
            if db.exists() and meta_path.exists():
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                ledger = Ledger.open(url)
                try:
                    size = ledger.size
                finally:
                    ledger.close()
                if size == meta["size"]:
                    ctx.log(f"drill ledger: cached {db} ({size:,} records)")
                    return BuiltLedger(db, url, size, meta["build"], True)
                ctx.log(f"drill ledger {db} holds {size:,} records, expected {meta['size']:,}: "
                        "rebuilding")
            meta_path.unlink(missing_ok=True)
            _unlink_db(db)
            spec = stream.spec
            op_key = derive_key(spec.seed, spec.operator)
            ledger = Ledger.create(url, operator_key=op_key, operator=spec.operator,
                                   operator_name=OPERATOR_NAME,
                                   origin="bench.tracelib.example/drill", now=workload.BENCH_NOW)
            try:
                build = _append_stream(ctx, "sqlite", ledger, stream, op_key)
                size = ledger.size
            finally:
                ledger.close()
            if size != stream.events + 1:
                raise BenchmarkError(f"drill ledger holds {size:,} records, expected "
                                     f"{stream.events + 1:,}")
            build["db_mb"] = round(sum(p.stat().st_size for p in _db_files(db)) / 1e6)
            meta_path.write_text(json.dumps({"size": size, "build": build}, indent=1),
                                 encoding="utf-8")
            return BuiltLedger(db, url, size, build, False)

    built: BuiltLedger = ctx.resource("drill.sqlite.ledger", make)
    return built


def all_lots(ledger: Any) -> list[str]:
    from sqlalchemy import select

    from tracelib.store.schema import lots

    with ledger.store.reader() as conn:
        return sorted(str(r[0]) for r in conn.execute(select(lots.c.lot)))


# -- timing --------------------------------------------------------------------------------
def _time_drills(ctx: Context, label: str, ledger: Any, sample: list[str]
                 ) -> tuple[list[float], list[float], list[Any]]:
    """Wall time of each drill() (ms), its own trace-only elapsed_ms, and the results."""
    from tracelib.recalls import drill

    walls: list[float] = []
    inner: list[float] = []
    results: list[Any] = []
    with ctx.step(f"{label}: drill {len(sample)} random lots", total=len(sample)) as advance:
        for lot in sample:
            t0 = time.perf_counter_ns()
            result = drill(ledger, lot)
            walls.append((time.perf_counter_ns() - t0) / 1e6)
            inner.append(result.elapsed_ms)
            results.append(result)
            advance(1)
    return walls, inner, results


def _time_reports(ctx: Context, label: str, ledger: Any, results: list[Any]
                  ) -> tuple[list[float], list[int], int]:
    """Wall time (ms) of report_input + write_drill_report per result, the CTE rows of
    each report, and the bytes written."""
    from tracelib.recalls import report_input
    from tracelib.report import write_drill_report
    from tracelib.timeutil import format_utc

    times: list[float] = []
    rows: list[int] = []
    written = 0
    folder = Path(tempfile.mkdtemp(prefix="drill-reports-", dir=ctx.options.work))
    try:
        with ctx.step(f"{label}: write {len(results)} drill reports",
                      total=len(results)) as advance:
            for i, result in enumerate(results):
                target = folder / f"{i:03d}"
                t0 = time.perf_counter_ns()
                report = report_input(ledger, result,
                                      generated_at=format_utc(workload.BENCH_NOW))
                write_drill_report(target, report)
                times.append((time.perf_counter_ns() - t0) / 1e6)
                rows.append(len(report.ctes))
                written += sum(p.stat().st_size for p in target.iterdir())
                advance(1)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return times, rows, written


def _family_sizes(results: list[Any]) -> str:
    fam = sorted(len(r.trace.upstream_lots) + len(r.trace.downstream_lots) + 1 for r in results)
    hops = sorted(len(r.trace.path) for r in results)
    places = sorted(len(r.trace.locations) for r in results)
    return (f"lot families {fam[0]}-{fam[-1]} lots (median {median(fam):g}), hops back "
            f"{hops[0]}-{hops[-1]} (median {median(hops):g}), places forward "
            f"{places[0]}-{places[-1]} (median {median(places):g})")


def _drill_rows(ctx: Context, backend: str, ledger: Any, size: int, note: str) -> list[Row]:
    walmart = ctx.figure(WALMART)
    lots = all_lots(ledger)
    if not lots:
        raise BenchmarkError("the drill ledger has no lots")
    rng = random.Random(ctx.options.seed)
    sample = rng.sample(lots, min(SAMPLES, len(lots)))
    walls, inner, results = _time_drills(ctx, backend, ledger, sample)
    reports, cte_rows, written = _time_reports(ctx, backend, ledger,
                                               results[:REPORT_SAMPLES])
    p = f"drill.{backend}"
    med, p99 = median(walls), percentile(walls, 99)
    slowest = sample[max(range(len(walls)), key=walls.__getitem__)]
    common = (f"{len(sample)} lots drawn with seed {ctx.options.seed} from all "
              f"{len(lots):,} lots of a {size:,}-record ledger; {note}")
    return [
        figure(f"{p}.median", med, "ms", op="<=", target=DRILL_MEDIAN_MS, baseline=walmart,
               notes=f"drill(ledger, lot), back and forward with quantities, no files; "
                     f"{common}; trace-only elapsed_ms median {median(inner):.1f} ms; first "
                     f"drill {walls[0]:.1f} ms; {_family_sizes(results)}"),
        figure(f"{p}.p99", p99, "ms", op="<=", target=DRILL_P99_MS, baseline=walmart,
               notes=f"slowest {max(walls):.1f} ms ({slowest})"),
        info(f"{p}.times_faster_than_walmart", WALMART_MS / med, "×",
             f"{WALMART} / median drill = {WALMART_MS:g} ms / {med:.1f} ms "
             f"(p99: {WALMART_MS / p99:.0f}×)"),
        figure(f"{p}.report.median", median(reports), "ms", op="<=", target=REPORT_MS,
               baseline=walmart,
               notes=f"report_input + write_drill_report (summary.json, CTE CSV and XLSX, path "
                     f"SVG and PNG) for the first {len(reports)} drilled lots; "
                     f"{min(cte_rows)}-{max(cte_rows)} CTE rows; {written / 1e6:.1f} MB written"),
        info(f"{p}.report.max", max(reports), "ms",
             f"slowest report of {len(reports)} ({max(cte_rows):,} CTE rows in the largest)"),
    ]


# -- benchmarks ------------------------------------------------------------------------------
@benchmark("baseline.walmart", description="cited: Walmart / IBM Food Trust mango trace-back",
           provides=(WALMART,))
def walmart_baseline(ctx: Context) -> list[Row]:
    return [info(WALMART, WALMART_MS, "ms",
                 "cited, not measured: Walmart traced a package of sliced mangoes back to its "
                 "farm in 2.2 s on IBM Food Trust (Hyperledger Fabric), against 6 days 18 h "
                 "26 min by hand (Walmart / IBM, 2018)")]


@benchmark("drill.sqlite", description="recall drill on a generated market ledger (SQLite)",
           provides=("drill.sqlite.median", "drill.sqlite.p99",
                     "drill.sqlite.times_faster_than_walmart", "drill.sqlite.report.median",
                     "drill.sqlite.report.max", "drill.sqlite.build"))
def drill_sqlite(ctx: Context) -> list[Row]:
    from tracelib.ledger import Ledger

    stream = drill_stream(ctx)
    built = drill_ledger(ctx)
    b = built.build
    ledger = Ledger.open(built.url)
    try:
        rows = _drill_rows(ctx, "sqlite", ledger, built.size,
                           f"SQLite {sqlite3.sqlite_version} (WAL), database "
                           f"{b.get('db_mb', '?')} MB")
    finally:
        ledger.close()
    gen = ("cached stream" if stream.cached and not stream.seconds
           else f"stream generated and signed in {stream.seconds:.0f} s"
           + (" (an earlier run)" if stream.cached else ""))
    rows.append(info(
        "drill.sqlite.build", b["rate"], "events/s",
        f"{'reused from an earlier run: ' if built.cached else ''}{shape_text(stream)}; "
        f"appended in {b['append_s']:.0f} s ({b['batches']} batches of "
        f"{ctx.options.batch:,}, slowest {b['slowest_batch_rate']:,.0f}/s), checkpoints "
        f"{b['checkpoint_s']:.0f} s, wall {b['wall_s']:.0f} s; {gen}"))
    return rows


@contextmanager
def postgres_drill_ledger(ctx: Context) -> Iterator[tuple[Any, dict[str, Any], Any]]:
    """The drill stream appended to a fresh PostgreSQL schema, as much of it as the build
    budget allows: (the open ledger, the build's figures, the schema's size note)."""
    from tracelib.ledger import Ledger
    from tracelib_demo.generator import derive_key

    stream = drill_stream(ctx)
    spec = stream.spec
    op_key = derive_key(spec.seed, spec.operator)
    with pg_schema(ctx) as (url, size_note):
        ledger = Ledger.create(url, operator_key=op_key, operator=spec.operator,
                               operator_name=OPERATOR_NAME,
                               origin="bench.tracelib.example/drill", now=workload.BENCH_NOW)
        try:
            yield ledger, _append_stream(ctx, "postgres", ledger, stream, op_key,
                                         budget_s=PG_BUILD_BUDGET_S), size_note
        finally:
            ledger.close()


@benchmark("drill.postgres", description="recall drill on the same stream (PostgreSQL, fresh "
           "schema)", provides=("drill.postgres.median", "drill.postgres.p99",
                                "drill.postgres.times_faster_than_walmart",
                                "drill.postgres.report.median", "drill.postgres.report.max",
                                "drill.postgres.build"), postgres=True)
def drill_postgres(ctx: Context) -> list[Row]:
    stream = drill_stream(ctx)
    with postgres_drill_ledger(ctx) as (ledger, b, size_note):
        size = ledger.size
        storage = size_note()
        if b["cut"]:
            note = (f"PostgreSQL: building all {stream.events:,} events did not fit in "
                    f"{PG_BUILD_BUDGET_S / 60:g} min, so the largest prefix that did is "
                    f"used: {b['events']:,} events; {storage}")
        else:
            note = f"the whole stream; {storage}"
        rows = _drill_rows(ctx, "postgres", ledger, size, note)
    build_note = (f"{b['events']:,} of {stream.events:,} events appended in "
                  f"{b['append_s']:.0f} s ({b['batches']} batches, slowest "
                  f"{b['slowest_batch_rate']:,.0f}/s), checkpoints {b['checkpoint_s']:.0f} s, "
                  f"wall {b['wall_s']:.0f} s")
    if b["cut"]:
        build_note += (f"; stopped: the {PG_BUILD_BUDGET_S / 60:g} min build budget ran out "
                       f"(at {b['rate']:,.0f} events/s all {stream.events:,} would take "
                       f"~{stream.events / b['rate'] / 60:.0f} min)")
    rows.append(info("drill.postgres.build", b["rate"], "events/s", build_note,
                     events=b["events"], cut=b["cut"]))
    return rows
