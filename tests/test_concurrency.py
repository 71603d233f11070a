"""Concurrent writers (one writer: appends are serialized): processes appending at once never fork
the chain, lose or repeat an event; the same events sent twice at once are stored once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import NOW
from tests.helpers import Network, child_env, origin_event, record_rows, write_script
from tracelib.store.schema import records

WRITERS = 4
BATCHES = 50
PER_BATCH = 10

WRITER_SCRIPT = """
    import json
    import sys
    from datetime import datetime

    from tracelib.ledger import Ledger


    def main() -> None:
        url, path, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
        with open(path, encoding="utf-8") as f:
            batches = json.load(f)
        with Ledger.open(url) as ledger:
            ledger.size  # connect before the start signal
            print("ready", flush=True)
            assert sys.stdin.readline() == "go\\n"
            receipts = []
            for batch in batches:
                receipts.extend(r.to_dict() for r in ledger.append(batch, now=now))
        print(json.dumps(receipts), flush=True)


    if __name__ == "__main__":
        main()
"""


def _run_writers(url: str, tmp_path: Path, work: list[list[list[dict[str, Any]]]]
                 ) -> list[list[dict[str, Any]]]:
    """Start one process per entry of ``work``, release them together, return receipts."""
    script = write_script(tmp_path / "writer.py", WRITER_SCRIPT)
    procs = []
    try:
        for n, batches in enumerate(work):
            path = tmp_path / f"batches-{n}.json"
            path.write_text(json.dumps(batches, ensure_ascii=False), encoding="utf-8")
            procs.append(subprocess.Popen(
                [sys.executable, script, url, str(path), NOW.isoformat()],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, env=child_env()))
        for proc in procs:  # every writer is connected before any starts
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n", proc.stderr and proc.stderr.read()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def _ids_stored_once(network: Network) -> Counter[str]:
    with network.ledger.store.engine.connect() as conn:
        rows = conn.execute(select(records.c.event_id, func.count())
                            .group_by(records.c.event_id)).all()
    return Counter({event_id: count for event_id, count in rows})


@pytest.mark.slow
def test_concurrent_writers(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    setup = ledger.size
    work = [[[origin_event(network, f"LOT-W{w}-{b}-{i}") for i in range(PER_BATCH)]
             for b in range(BATCHES)] for w in range(WRITERS)]
    results = _run_writers(ledger.store.url, tmp_path, work)

    total = WRITERS * BATCHES * PER_BATCH
    assert ledger.size == setup + total
    rows = record_rows(ledger)
    assert [r["seq"] for r in rows] == list(range(setup + total))  # contiguous, no gaps
    counts = _ids_stored_once(network)
    assert set(counts.values()) == {1}
    sent = [e["id"] for batches in work for batch in batches for e in batch]
    assert set(sent) <= set(counts)
    # Each writer's receipts: its own events, in order, none a duplicate, seqs disjoint.
    seqs: list[int] = []
    for batches, receipts in zip(work, results, strict=True):
        assert [r["id"] for r in receipts] == [e["id"] for b in batches for e in b]
        assert not any(r["duplicate"] for r in receipts)
        mine = [r["seq"] for r in receipts]
        assert mine == sorted(mine)
        seqs += mine
    assert sorted(seqs) == list(range(setup, setup + total))
    by_seq = {r["seq"]: r for r in rows}
    for receipts in results:
        for r in receipts:
            assert (by_seq[r["seq"]]["event_id"], bytes(by_seq[r["seq"]]["hash"]).hex()) == (
                r["id"], r["hash"])
    report = ledger.verify()
    assert report.ok and report.size == setup + total, report.problem


@pytest.mark.slow
def test_same_events_from_two_writers_are_stored_once(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    setup = ledger.size
    events = [origin_event(network, f"LOT-SAME-{i}") for i in range(100)]
    batches = [events[i:i + PER_BATCH] for i in range(0, len(events), PER_BATCH)]
    first, second = _run_writers(ledger.store.url, tmp_path, [batches, batches[::-1]])

    assert ledger.size == setup + len(events)
    counts = _ids_stored_once(network)
    assert set(counts.values()) == {1}
    assert {e["id"] for e in events} <= set(counts)
    # Both writers got a receipt for every event, and the two agree on seq and hash;
    # for each event exactly one of them appended it.
    a = {r["id"]: r for r in first}
    b = {r["id"]: r for r in second}
    assert set(a) == set(b) == {e["id"] for e in events}
    for event_id in a:
        assert (a[event_id]["seq"], a[event_id]["hash"]) == (b[event_id]["seq"],
                                                             b[event_id]["hash"])
        assert a[event_id]["duplicate"] != b[event_id]["duplicate"]
    assert sorted(r["seq"] for r in a.values()) == list(range(setup, setup + len(events)))
    assert ledger.verify().ok
