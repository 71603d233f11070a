"""Baselines, measured in the same run as the figures they anchor (docs/scaling.md).

* raw single-core Ed25519 sign and verify (``cryptography``) on ~600-byte messages;
* raw ``sqlite3`` batched insert of rows shaped like ledger records (WAL file,
  one transaction per 10,000 rows);
* pymerkle 7 (a peer): ``InmemoryTree`` append rate and ``SqliteTree``
  inclusion / consistency proof times over the same leaves;
* the peak RSS of an idle process that imports tracelib (what verify's RSS
  sits on top of).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import workload
from ._core import Context, Row, benchmark, info, median, percentile

MESSAGE_SIZE = 600


def signed_events(ctx: Context) -> Path:
    """The signed JSONL of the run's N origin events (made once, cached on disk)."""

    def make() -> Path:
        n, seed = ctx.options.events, ctx.options.seed
        path = workload.events_path(ctx.options.work, n, seed)
        if path.exists():
            ctx.log(f"signed events: cached {path}")
            return path
        with ctx.step(f"sign {n:,} events (pool of {_cores()}; cached in "
                      f"{ctx.options.work})", total=n) as advance:
            path, _ = workload.ensure_signed_events(ctx.options.work, n, seed,
                                                    workers=_cores(), progress=advance)
        return path

    path: Path = ctx.resource("signed_events", make)
    return path


def _cores() -> int:
    from tracelib._cores import cpu_count

    return cpu_count()


# -- Ed25519 -----------------------------------------------------------------------
class VerifyProbe:
    """Short bursts of the raw one-core Ed25519 verify, run between the timed steps of a
    long benchmark: the machine's speed drifts over minutes (other tenants, clocks), so a
    ratio is fairest against the raw rate measured alongside what it is compared with."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
        self._verify = key.public_key().verify
        self._pairs = [(m, key.sign(m)) for m in (rng.randbytes(MESSAGE_SIZE) for _ in range(64))]
        self.count = 0
        self.seconds = 0.0

    def burst(self, seconds: float) -> None:
        started = time.perf_counter()
        while True:
            for message, signature in self._pairs:
                self._verify(signature, message)
            self.count += len(self._pairs)
            elapsed = time.perf_counter() - started
            if elapsed >= seconds:
                self.seconds += elapsed
                return

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


@benchmark("baseline.crypto", description="raw single-core Ed25519 sign / verify (cryptography)",
           provides=("baseline.ed25519.sign", "baseline.ed25519.verify"))
def crypto(ctx: Context) -> list[Row]:
    rng = random.Random(ctx.options.seed)
    key = Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    messages = [rng.randbytes(MESSAGE_SIZE) for _ in range(64)]
    budget = ctx.options.min_seconds

    signs = 0
    with ctx.step(f"Ed25519 sign for {budget:g} s", total=None):
        started = time.perf_counter()
        while True:
            for message in messages:
                key.sign(message)
            signs += len(messages)
            sign_s = time.perf_counter() - started
            if sign_s >= budget:
                break
    sign_rate = signs / sign_s
    probe = VerifyProbe(ctx.options.seed)  # the same key and messages as above
    with ctx.step(f"Ed25519 verify for {budget:g} s", total=None):
        probe.burst(budget)
    verify_rate, verifies, verify_s = probe.rate, probe.count, probe.seconds
    return [
        info("baseline.ed25519.sign", sign_rate, "sig/s",
             f"{signs:,} signatures of {MESSAGE_SIZE}-byte messages in {sign_s:.2f} s, one core"),
        info("baseline.ed25519.verify", verify_rate, "sig/s",
             f"{verifies:,} verifications of {MESSAGE_SIZE}-byte messages in {verify_s:.2f} s, "
             "one core"),
    ]


# -- sqlite3 -------------------------------------------------------------------------
_RECORDS_DDL = """
CREATE TABLE records (
    seq INTEGER PRIMARY KEY, event_id VARCHAR(200) NOT NULL UNIQUE, kind VARCHAR(32) NOT NULL,
    actor VARCHAR(200) NOT NULL, location VARCHAR(200) NOT NULL,
    event_time VARCHAR(40) NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
    body BLOB NOT NULL, key_id VARCHAR(16) NOT NULL, signature BLOB NOT NULL,
    recorded_at VARCHAR(32) NOT NULL);
CREATE INDEX ix_records_kind ON records (kind, seq);
"""


@benchmark("baseline.sqlite", description="raw sqlite3 executemany of ledger-shaped rows",
           provides=("baseline.sqlite.insert",))
def sqlite_insert(ctx: Context) -> list[Row]:
    import base64

    path = signed_events(ctx)
    n = ctx.options.events
    db = ctx.options.work / "baseline-sqlite.db"
    _unlink_db(db)
    con = sqlite3.connect(db, isolation_level=None)
    # The same journal and durability settings as tracelib's engine.
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.executescript(_RECORDS_DDL)
    sql = "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    recorded_at = workload.BENCH_NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prev = bytes(32)
    timed = 0.0
    seq = 0
    with ctx.step(f"sqlite3 insert {n:,} rows (10,000 per transaction)", total=n) as advance:
        for batch in workload.iter_event_batches(path, 10_000):
            rows = []
            for line in batch:  # untimed: shape the rows
                doc = json.loads(line)
                sig = doc.pop("sig")
                body = json.dumps(doc, ensure_ascii=False, sort_keys=True,
                                  separators=(",", ":")).encode()
                digest = hashlib.sha256(b"\x00" + body).digest()
                rows.append((seq, doc["id"], doc["kind"], doc["actor"], doc["location"],
                             doc["time"], prev, digest, body, sig["key"],
                             base64.b64decode(sig["value"]), recorded_at))
                prev = digest
                seq += 1
            started = time.perf_counter()
            con.execute("BEGIN")
            con.executemany(sql, rows)
            con.execute("COMMIT")
            timed += time.perf_counter() - started
            advance(len(rows))
    con.close()
    size_mb = sum(p.stat().st_size for p in _db_files(db)) / 1e6
    _unlink_db(db)
    return [info("baseline.sqlite.insert", seq / timed, "rows/s",
                 f"{seq:,} rows in {timed:.1f} s; WAL, synchronous=FULL, same table and "
                 f"indexes as the ledger's records; {size_mb:,.0f} MB")]


def _db_files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def _unlink_db(db: Path) -> None:
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        p.unlink(missing_ok=True)


# -- pymerkle --------------------------------------------------------------------------
@benchmark("baseline.pymerkle", description="pymerkle 7: InmemoryTree append, SqliteTree proofs",
           provides=("baseline.pymerkle.inmemory.append",
                     "baseline.pymerkle.sqlite.inclusion.median",
                     "baseline.pymerkle.sqlite.inclusion.p99",
                     "baseline.pymerkle.sqlite.consistency.median",
                     "baseline.pymerkle.sqlite.consistency.p99"))
def pymerkle_baseline(ctx: Context) -> list[Row]:
    import pymerkle

    path = signed_events(ctx)
    n = ctx.options.events
    budget = ctx.options.pymerkle_budget
    rows: list[Row] = []

    # InmemoryTree: append the signed event lines one by one.
    tree = pymerkle.InmemoryTree()
    appended = 0
    spent = 0.0
    cut = False
    with ctx.step(f"pymerkle InmemoryTree append {n:,} leaves (≤ {budget:g} s)",
                  total=n) as advance:
        for batch in workload.iter_event_batches(path, 10_000):
            started = time.perf_counter()
            for line in batch:
                tree.append_entry(line)
            spent += time.perf_counter() - started
            appended += len(batch)
            advance(len(batch))
            if spent > budget and appended < n:
                cut = True
                break
    del tree
    note = f"{appended:,} leaves (the signed event lines) in {spent:.1f} s"
    if cut:
        note += f"; stopped at {appended:,} of {n:,}: the {budget:g} s budget ran out"
    rows.append(info("baseline.pymerkle.inmemory.append", appended / spent, "leaves/s", note))

    # SqliteTree: build with its batch append_entries, then time proofs at the full size.
    db = ctx.options.work / "baseline-pymerkle.db"
    _unlink_db(db)
    sq = pymerkle.SqliteTree(str(db))
    built = 0
    spent = 0.0
    cut = False
    with ctx.step(f"pymerkle SqliteTree.append_entries {n:,} leaves (≤ {budget:g} s)",
                  total=n) as advance:
        for batch in workload.iter_event_batches(path, 50_000):
            started = time.perf_counter()
            sq.append_entries(batch)
            spent += time.perf_counter() - started
            built += len(batch)
            advance(len(batch))
            if spent > budget and built < n:
                cut = True
                break
    size = sq.get_size()
    build_note = f"tree of {size:,} leaves built by append_entries in {spent:.1f} s"
    if cut:
        build_note += (f"; stopped at {size:,} of {n:,} leaves: the {budget:g} s "
                       "budget ran out")
    rng = random.Random(ctx.options.seed + 1)
    samples = ctx.options.samples
    incl: list[float] = []
    with ctx.step(f"pymerkle SqliteTree: {samples:,} inclusion proofs at {size:,}",
                  total=samples) as advance:
        for _ in range(samples):
            index = rng.randrange(1, size + 1)
            started = time.perf_counter_ns()
            proof = sq.prove_inclusion(index, size)
            incl.append((time.perf_counter_ns() - started) / 1e6)
            advance(1)
    root = sq.get_root(size)
    pymerkle.verify_inclusion(sq.get_leaf(index), root, proof)
    cons: list[float] = []
    with ctx.step(f"pymerkle SqliteTree: {samples:,} consistency proofs up to {size:,}",
                  total=samples) as advance:
        for _ in range(samples):
            a, b = sorted((rng.randrange(1, size + 1), rng.randrange(1, size + 1)))
            started = time.perf_counter_ns()
            sq.prove_consistency(a, b)
            cons.append((time.perf_counter_ns() - started) / 1e6)
            advance(1)
    sq.close()
    _unlink_db(db)
    common = (f"{build_note}; default subroot cache (warmed by the proofs themselves); "
              f"first proof {incl[0]:.1f} ms")
    rows += [
        info("baseline.pymerkle.sqlite.inclusion.median", median(incl), "ms",
             f"{samples:,} random leaves at size {size:,}; {common}", size=size),
        info("baseline.pymerkle.sqlite.inclusion.p99", percentile(incl, 99), "ms",
             f"size {size:,}", size=size),
        info("baseline.pymerkle.sqlite.consistency.median", median(cons), "ms",
             f"{samples:,} random pairs up to size {size:,}; first proof {cons[0]:.1f} ms",
             size=size),
        info("baseline.pymerkle.sqlite.consistency.p99", percentile(cons, 99), "ms",
             f"size {size:,}", size=size),
    ]
    return rows


# -- process RSS ---------------------------------------------------------------------
_IDLE = ("import tracelib.ledger, tracelib.verify, tracelib.store; "
         "from bench._verify_child import vm_hwm_kb; print(vm_hwm_kb())")


@benchmark("baseline.process", description="peak RSS of an idle process importing tracelib",
           provides=("baseline.process.rss",))
def process_rss(ctx: Context) -> list[Row]:
    out = subprocess.run([sys.executable, "-c", _IDLE], check=True, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent.parent)
    kb = int(out.stdout.strip())  # VmHWM, KiB (not ru_maxrss: see bench._verify_child)
    return [info("baseline.process.rss", kb * 1024 / 1e6, "MB",
                 "VmHWM of `python -c 'import tracelib.ledger, tracelib.verify'`")]
