"""Witness cosigning (C2SP tlog-witness): the add-checkpoint round trip to a local
``tracelib witness serve`` over real HTTP.

A ledger grows by :data:`EVENTS_PER_CHECKPOINT` operator-signed events between
:data:`CHECKPOINTS` checkpoints; after each, the checkpoint is sent to the witness (a
separate process on 127.0.0.1) with the consistency proof from the size it cosigned last.
Timed: :func:`tracelib.witness.request_cosignature` — the proof built from the ledger, the
POST, the witness's checks and durable write, and the returned cosignature verified — per
checkpoint. Target: median ≤ :data:`ROUND_TRIP_MEDIAN_MS`; p99 reported beside.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from ._core import BenchmarkError, Context, Row, benchmark, figure, info, median, percentile

ROUND_TRIP_MEDIAN_MS = 20.0
CHECKPOINTS = 200
EVENTS_PER_CHECKPOINT = 5


def _start_witness(folder: Path, log_vkey: str) -> tuple[subprocess.Popen[str], str, str]:
    """``tracelib witness serve`` on a free port; returns the process, its URL and vkey."""
    key_file = folder / "witness.key"
    key_file.unlink(missing_ok=True)
    made = subprocess.run([sys.executable, "-m", "tracelib_cli.main", "witness", "keygen",
                           "bench.witness.example/w", "--out", str(key_file)],
                          capture_output=True, text=True, check=True)
    vkey = made.stdout.strip()
    logs = folder / "logs.txt"
    logs.write_text(f"log {log_vkey}\n")
    proc = subprocess.Popen([sys.executable, "-m", "tracelib_cli.main", "witness", "serve",
                             "--key", str(key_file), "--logs", str(logs), "--state",
                             str(folder / "state"), "--port", "0"],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            return proc, found.group(1), vkey
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise BenchmarkError("tracelib witness serve did not start")


@benchmark("witness.add_checkpoint", description="add-checkpoint round trip to a local "
           "`tracelib witness serve` (real HTTP), growing ledger",
           provides=("witness.add_checkpoint.median", "witness.add_checkpoint.p99"))
def add_checkpoint(ctx: Context) -> list[Row]:
    import shutil

    from tracelib.events import sign_event
    from tracelib.keys import SigningKey
    from tracelib.ledger import Ledger
    from tracelib.note import CosignatureVerifier
    from tracelib.store.witnesses import CosignatureRow, WitnessesSql
    from tracelib.timeutil import utcnow
    from tracelib.witness import WitnessTarget, request_cosignature

    folder = ctx.options.work / "witness"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    key = SigningKey.generate()
    ledger = Ledger.create(f"sqlite:///{(folder / 'ledger.db').resolve()}", operator_key=key,
                           operator="operator", now=utcnow())
    proc, url, vkey = _start_witness(folder, ledger.checkpoint_verifiers()[0].to_string())
    target = WitnessTarget("bench", CosignatureVerifier.parse(vkey), url)
    timings: list[float] = []
    old = 0
    try:
        with ctx.step(f"{CHECKPOINTS} checkpoints sent to the witness"):
            for n in range(CHECKPOINTS):
                events = [sign_event({"id": f"bench-party-{n}-{i}", "kind": "register",
                                      "time": utcnow().isoformat(), "actor": "operator",
                                      "location": ledger.office,
                                      "data": {"parties": [{"id": f"farm-{n}-{i}",
                                                            "name": f"Farm {n}-{i}",
                                                            "role": "farm"}]}}, key)
                          for i in range(EVENTS_PER_CHECKPOINT)]
                ledger.append(events)
                signed = ledger.sign_checkpoint(key)
                size = signed.size

                def proof_from(o: int, size: int = size) -> tuple[bytes, ...]:
                    return ledger.consistency_proof(o, size).proof

                start = time.perf_counter()
                answer = request_cosignature(target, signed.note, size, old, proof_from)
                timings.append((time.perf_counter() - start) * 1000)
                if not answer.cosigned:
                    raise BenchmarkError(f"the witness did not cosign: {answer.describe()}")
                with WitnessesSql.writing(ledger.store.engine) as conn:
                    co = answer.cosignatures[0]
                    WitnessesSql.add_cosignatures(conn, [CosignatureRow(
                        size, "bench", co.key_id.hex(), co.timestamp, co.line)])
                old = size
    finally:
        proc.terminate()
        proc.wait(10)
        ledger.close()
    return [
        figure("witness.add_checkpoint.median", median(timings), "ms",
               target=ROUND_TRIP_MEDIAN_MS, op="<=",
               notes=f"{CHECKPOINTS} checkpoints, +{EVENTS_PER_CHECKPOINT} records each, "
                     "proof + POST + durable write + cosignature verified"),
        info("witness.add_checkpoint.p99", percentile(timings, 99), "ms",
             notes=f"ledger of {ledger_size(CHECKPOINTS)} records at the end"),
    ]


def ledger_size(checkpoints: int) -> int:
    return 1 + checkpoints * EVENTS_PER_CHECKPOINT
