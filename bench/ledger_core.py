"""Ledger-core figures at N events, on SQLite and on PostgreSQL, each beside its baseline.

* append with signature checks: ``Ledger.append`` in batches of 10,000 pre-signed
  ``origin`` events (events/s, parsing the JSON lines untimed), target
  ≥ 0.75 × raw single-core Ed25519 verify;
* whole-ledger ``verify(state=False)`` (records, tree, checkpoints) in a subprocess:
  records/s (target ≥ 1.6 × raw verify) and peak RSS = max(ru_maxrss of the process, of its
  children) (target ≤ 200 MB);
* ``verify()`` with the derived tables replayed and compared, in a subprocess: records/s
  (target ≥ 1.2 × raw verify, both cores) and peak RSS (target ≤ 250 MB);
* ``Ledger.reindex()``: seconds to rebuild every derived table from the records;
* the raw verify rate each ratio is taken against is measured alongside: a 0.25 s burst
  after every append batch (untimed), and 1 s bursts just before and after verify
  (``….append.raw_verify``, ``….verify.raw_verify``); the machine's speed drifts by a
  quarter over minutes here, so a rate measured once at the start of a 20-minute run
  says little about the minutes being compared. The start-of-run baseline
  (``baseline.ed25519.verify``) and the ratio against it are in each figure's notes.
* ``Ledger.inclusion_proof`` over 1,000 random seqs and ``consistency_proof`` over
  1,000 random pairs at the full size, database reads included: median ≤ 1 ms and
  ≤ 2 ms (p99 reported).

The operator signs a checkpoint after every batch (untimed, as a log publishing
its tree head), so verify checks checkpoints too and proofs are served against
the latest one. Every proof returned is verified afterwards (untimed).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import workload
from ._core import BenchmarkError, Context, Row, benchmark, figure, info, median, percentile
from ._postgres import pg_schema
from .baselines import VerifyProbe, _db_files, _unlink_db, signed_events

REPO = Path(__file__).resolve().parent.parent
VERIFY = "baseline.ed25519.verify"
APPEND_FACTOR = 0.75
VERIFY_FACTOR = 1.6
RSS_LIMIT_MB = 200.0
STATE_FACTOR = 1.2  # verify with the derived tables replayed and compared
STATE_RSS_LIMIT_MB = 250.0
INCLUSION_MS = 1.0
CONSISTENCY_MS = 2.0
PROBE_AFTER_BATCH_S = 0.25
PROBE_AROUND_VERIFY_S = 1.0


def _figure_names(backend: str) -> tuple[str, ...]:
    p = f"ledger.{backend}"
    return (f"{p}.append.raw_verify", f"{p}.append", f"{p}.verify.raw_verify", f"{p}.verify.rate",
            f"{p}.verify.peak_rss", f"{p}.verify.rss_main",
            f"{p}.verify.rss_workers", f"{p}.verify_state.raw_verify", f"{p}.verify_state.rate",
            f"{p}.verify_state.peak_rss", f"{p}.verify_state.rss_main",
            f"{p}.verify_state.rss_workers", f"{p}.reindex", f"{p}.inclusion.median",
            f"{p}.inclusion.p99",
            f"{p}.consistency.median", f"{p}.consistency.p99")


#: Figures with a target (the issue's "ledger-core figures"), per backend.
TARGET_FIGURES = ("append", "verify.rate", "verify.peak_rss", "verify_state.rate",
                  "verify_state.peak_rss", "inclusion.median", "consistency.median")


@benchmark("ledger.sqlite", description="ledger core on SQLite (WAL file in the work folder)",
           provides=_figure_names("sqlite"))
def ledger_sqlite(ctx: Context) -> list[Row]:
    db = ctx.options.work / f"ledger-n{ctx.options.events}-s{ctx.options.seed}.db"

    def size_note() -> str:
        return f"database {sum(p.stat().st_size for p in _db_files(db)) / 1e6:,.0f} MB"

    @contextmanager
    def database() -> Iterator[tuple[str, Callable[[], str]]]:
        _unlink_db(db)
        db.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield f"sqlite:///{db.resolve()}", size_note
        finally:
            if not ctx.options.keep_db:
                _unlink_db(db)

    return _ledger_figures(ctx, "sqlite", database)


@benchmark("ledger.postgres", description="ledger core on PostgreSQL (fresh schema, dropped after)",
           provides=_figure_names("postgres"), postgres=True)
def ledger_postgres(ctx: Context) -> list[Row]:
    return _ledger_figures(ctx, "postgres", lambda: pg_schema(ctx))


def _ledger_figures(ctx: Context, backend: str, database: Callable[[], Any]) -> list[Row]:
    """The figures on the ledger ``database()`` makes: a context manager yielding its URL
    and a function describing its size."""
    from tracelib.ledger import Ledger

    opts = ctx.options
    path = signed_events(ctx)
    start_verify = ctx.figure(VERIFY)
    append_probe, verify_probe = VerifyProbe(opts.seed), VerifyProbe(opts.seed)
    state_probe = VerifyProbe(opts.seed)
    sqlite_rate = ctx.figure("baseline.sqlite.insert")
    pm_append = ctx.figure("baseline.pymerkle.inmemory.append")
    pm_incl = ctx.figure("baseline.pymerkle.sqlite.inclusion.median")
    pm_incl99 = ctx.figure("baseline.pymerkle.sqlite.inclusion.p99")
    pm_cons = ctx.figure("baseline.pymerkle.sqlite.consistency.median")
    pm_cons99 = ctx.figure("baseline.pymerkle.sqlite.consistency.p99")
    idle_rss = ctx.figure("baseline.process.rss")
    p = f"ledger.{backend}"
    n, seed = opts.events, opts.seed
    op_key = workload.operator_key(seed)
    now = workload.BENCH_NOW

    with database() as (url, size_note):
        # -- set-up (untimed): genesis and the register events for ~2,000 parties.
        net = workload.build_network(seed)
        ledger = Ledger.create(url, operator_key=op_key, operator="operator",
                               operator_name="云阳县市场监督管理局",
                               origin="bench.tracelib.example/county", now=now)
        try:
            ledger.append(net.signed_register_events(), now=now)
            ledger.sign_checkpoint(op_key, now=now)
            first = ledger.size

            # -- append: batches of pre-signed events through Ledger.append, after writing
            # back the dirty pages earlier suites left (their write-back would compete).
            os.sync()
            timed = checkpoint_s = 0.0
            batch_rates: list[float] = []
            with ctx.step(f"{backend}: Ledger.append {n:,} events in batches of "
                          f"{opts.batch:,}", total=n) as advance:
                for batch in workload.iter_event_batches(path, opts.batch):
                    docs = [json.loads(line) for line in batch]  # untimed: wire -> dicts
                    started = time.perf_counter()
                    receipts = ledger.append(docs, now=now, pause_gc=True)
                    spent = time.perf_counter() - started
                    timed += spent
                    batch_rates.append(len(docs) / spent)
                    if len(receipts) != len(docs) or any(r.duplicate for r in receipts):
                        raise BenchmarkError(f"append returned {len(receipts)} receipts for "
                                             f"{len(docs)} events (or duplicates)")
                    started = time.perf_counter()
                    ledger.sign_checkpoint(op_key, now=now)
                    checkpoint_s += time.perf_counter() - started
                    append_probe.burst(PROBE_AFTER_BATCH_S)
                    advance(len(docs))
            size = ledger.size
            if size != first + n:
                raise BenchmarkError(f"ledger holds {size:,} records, expected {first + n:,}")
            append_rate = n / timed
            storage = size_note()
            checkpoints = len(batch_rates) + 1

            # -- verify, in a subprocess (peak RSS of it and its workers).
            verify_probe.burst(PROBE_AROUND_VERIFY_S)
            verify = _run_verify(ctx, backend, url, size, chain_only=True)
            verify_probe.burst(PROBE_AROUND_VERIFY_S)
            rep = verify["report"]
            v_rate = size / verify["seconds"]
            rss_main, rss_workers, self_ru, peak = _rss(verify)

            # -- verify with the derived tables replayed and compared (subprocess).
            state_probe.burst(PROBE_AROUND_VERIFY_S)
            state = _run_verify(ctx, backend, url, size, chain_only=False)
            state_probe.burst(PROBE_AROUND_VERIFY_S)
            s_rate = size / state["seconds"]
            s_main, s_workers, s_self_ru, s_peak = _rss(state)

            # -- reindex: every derived table rebuilt from the records (in this process).
            with ctx.step(f"{backend}: Ledger.reindex() of {size:,} records",
                          total=size) as advance:
                started = time.perf_counter()
                ledger.reindex(progress=advance)
                reindex_s = time.perf_counter() - started

            # -- proofs at the full size, database reads included.
            rng = random.Random(seed + 2)
            incl, cons = _time_proofs(ctx, backend, ledger, size, opts.samples, rng)
        finally:
            ledger.close()

    append_notes = (f"{n:,} events in {timed:.1f} s ({len(batch_rates)} batches; first "
                    f"{batch_rates[0]:,.0f}/s, last {batch_rates[-1]:,.0f}/s, slowest "
                    f"{min(batch_rates):,.0f}/s); = {append_rate / sqlite_rate['value']:.2f} × "
                    f"raw sqlite3 insert, {append_rate / pm_append['value']:.2f} × pymerkle "
                    f"in-memory append; {checkpoints} checkpoints signed untimed "
                    f"({checkpoint_s:.1f} s); {storage}; "
                    f"{_against_start(append_rate, start_verify)}")
    verify_notes = (f"{size:,} records and {rep['checkpoints_checked']} checkpoints in "
                    f"{verify['seconds']:.1f} s on {_cores()} worker processes (subprocess); "
                    f"{_against_start(v_rate, start_verify)}")
    append_raw = info(f"{p}.append.raw_verify", append_probe.rate, "sig/s",
                      f"raw one-core Ed25519 verify, {append_probe.count:,} in "
                      f"{append_probe.seconds:.1f} s of bursts after each append batch")
    verify_raw = info(f"{p}.verify.raw_verify", verify_probe.rate, "sig/s",
                      f"raw one-core Ed25519 verify, {verify_probe.count:,} in "
                      f"{verify_probe.seconds:.1f} s just before and after verify")
    state_raw = info(f"{p}.verify_state.raw_verify", state_probe.rate, "sig/s",
                     f"raw one-core Ed25519 verify, {state_probe.count:,} in "
                     f"{state_probe.seconds:.1f} s just before and after verify with replay")
    state_notes = (f"{size:,} records replayed through the append rules into a scratch "
                   f"database and every derived table compared, with "
                   f"{state['report']['checkpoints_checked']} checkpoints, in "
                   f"{state['seconds']:.1f} s; {_cores()} worker processes check the records "
                   f"while the main process replays (subprocess); "
                   f"{s_rate / state_raw['value']:.2f} × the raw verify beside it; "
                   f"{_against_start(s_rate, start_verify)}")
    return [
        append_raw,
        figure(f"{p}.append", append_rate, "events/s", op=">=", factor=APPEND_FACTOR,
               baseline=append_raw, notes=append_notes,
               batch_rates=[round(r) for r in batch_rates]),  # in the JSON: growth effects
        verify_raw,
        figure(f"{p}.verify.rate", v_rate, "records/s", op=">=", factor=VERIFY_FACTOR,
               baseline=verify_raw, notes=verify_notes),
        figure(f"{p}.verify.peak_rss", peak, "MB", op="<=", target=RSS_LIMIT_MB,
               baseline=idle_rss,
               notes=f"max(process {rss_main:.1f} MB, children {rss_workers:.1f} MB)"),
        info(f"{p}.verify.rss_main", rss_main, "MB",
             f"VmHWM of the verify process (its ru_maxrss, {self_ru:.0f} MB, carries the "
             "bench process's size across exec)"),
        info(f"{p}.verify.rss_workers", rss_workers, "MB",
             "ru_maxrss of RUSAGE_CHILDREN: the largest verification worker (upper bound)"),
        state_raw,
        figure(f"{p}.verify_state.rate", s_rate, "records/s", op=">=", factor=STATE_FACTOR,
               baseline=state_raw, notes=state_notes),
        figure(f"{p}.verify_state.peak_rss", s_peak, "MB", op="<=", target=STATE_RSS_LIMIT_MB,
               baseline=idle_rss,
               notes=f"max(process {s_main:.1f} MB, children {s_workers:.1f} MB)"),
        info(f"{p}.verify_state.rss_main", s_main, "MB",
             f"VmHWM of the verify process with replay (its ru_maxrss: {s_self_ru:.0f} MB)"),
        info(f"{p}.verify_state.rss_workers", s_workers, "MB",
             "ru_maxrss of RUSAGE_CHILDREN: the largest verification worker (upper bound)"),
        info(f"{p}.reindex", reindex_s, "s",
             f"Ledger.reindex(): every derived table rebuilt from {size:,} records in one "
             f"transaction ({size / reindex_s:,.0f} records/s)"),
        figure(f"{p}.inclusion.median", median(incl), "ms", op="<=", target=INCLUSION_MS,
               baseline=pm_incl,
               notes=f"{len(incl):,} random seqs at size {size:,} against the latest "
                     f"checkpoint; every proof verified"),
        figure(f"{p}.inclusion.p99", percentile(incl, 99), "ms", baseline=pm_incl99),
        figure(f"{p}.consistency.median", median(cons), "ms", op="<=", target=CONSISTENCY_MS,
               baseline=pm_cons,
               notes=f"{len(cons):,} random pairs 1 ≤ size1 ≤ size2 ≤ {size:,}; "
                     "every proof verified"),
        figure(f"{p}.consistency.p99", percentile(cons, 99), "ms", baseline=pm_cons99),
    ]


def _against_start(rate: float, start_verify: Row) -> str:
    start = float(start_verify["value"])
    return f"{rate / start:.2f} × the start-of-run raw verify ({start:,.0f}/s)"


def _cores() -> int:
    from tracelib._cores import cpu_count

    return cpu_count()


def _rss(verify: dict[str, Any]) -> tuple[float, float, float, float]:
    """MB: the verify process's VmHWM, its largest worker, its ru_maxrss, and the peak."""
    rss_main = verify["rss_main_kb"] * 1024 / 1e6
    rss_workers = verify["rss_children_kb"] * 1024 / 1e6
    self_ru = verify["ru_maxrss_self_kb"] * 1024 / 1e6
    return rss_main, rss_workers, self_ru, max(rss_main, rss_workers)


def _run_verify(ctx: Context, backend: str, url: str, size: int, *,
                chain_only: bool) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "bench._verify_child", url,
           *(["--chain-only"] if chain_only else [])]
    result: dict[str, Any] | None = None
    what = "verify(state=False)" if chain_only else "verify() with replay"
    with ctx.step(f"{backend}: Ledger.{what} of {size:,} records (subprocess)",
                  total=size) as advance:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.startswith("P "):
                advance(int(line[2:]))
            elif line.startswith("R "):
                result = json.loads(line[2:])
        err = proc.stderr.read()
        code = proc.wait()
    if code != 0 or result is None:
        raise BenchmarkError(f"verify subprocess exited {code}: {err.strip()[-2000:]}")
    if not result["report"]["ok"]:
        raise BenchmarkError(f"{what} failed on the benchmark ledger: {result['report']}")
    return result


def _time_proofs(ctx: Context, backend: str, ledger: Any, size: int, samples: int,
                 rng: random.Random) -> tuple[list[float], list[float]]:
    latest = ledger.latest_checkpoint()
    if latest is None or latest.size != size:
        raise BenchmarkError("no checkpoint at the full size")
    seqs = [rng.randrange(size) for _ in range(samples)]
    pairs = [tuple(sorted((rng.randrange(1, size + 1), rng.randrange(1, size + 1))))
             for _ in range(samples)]
    incl: list[float] = []
    proofs: list[Any] = []
    with ctx.step(f"{backend}: {samples:,} inclusion proofs at {size:,}",
                  total=samples) as advance:
        for seq in seqs:
            started = time.perf_counter_ns()
            proof = ledger.inclusion_proof(seq)
            incl.append((time.perf_counter_ns() - started) / 1e6)
            proofs.append(proof)
            advance(1)
    for proof in proofs:  # untimed: every proof must verify against the checkpoint
        if proof.size != size or proof.root != latest.root:
            raise BenchmarkError(f"inclusion proof of seq {proof.seq} is against size "
                                 f"{proof.size}, expected the checkpoint at {size}")
        proof.verify()
    cons: list[float] = []
    proofs = []
    with ctx.step(f"{backend}: {samples:,} consistency proofs up to {size:,}",
                  total=samples) as advance:
        for a, b in pairs:
            started = time.perf_counter_ns()
            proof = ledger.consistency_proof(a, b)
            cons.append((time.perf_counter_ns() - started) / 1e6)
            proofs.append(proof)
            advance(1)
    for proof in proofs:
        proof.verify()
    return incl, cons
