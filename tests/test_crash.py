"""A crash mid-batch leaves no partial batch (one writer: appends are serialized).

A child process appends a big batch in one transaction and is SIGKILLed (with its
signature-checking pool) after the first chunk is inserted but before the commit.
The ledger must then be exactly as before, verify, and accept the same batch again.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NOW
from tests.helpers import Network, child_env, origin_event, stored_event_ids, write_script
from tracelib.append import CHUNK
from tracelib.ledger import Ledger

BATCH = 6_000  # six append chunks; the kill comes after the first
KILL_AFTER_CHUNKS = 1

APPEND_SCRIPT = """
    import json
    import sys
    from datetime import datetime

    from tracelib.ledger import Ledger


    def main() -> None:
        url, path, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
        with open(path, encoding="utf-8") as f:
            events = [json.loads(line) for line in f]
        ledger = Ledger.open(url)
        print("ready", flush=True)
        ledger.append(events, now=now, progress=lambda n: print(f"chunk {n}", flush=True))
        print("committed", flush=True)


    if __name__ == "__main__":  # the signature pool spawns workers that re-import this file
        main()
"""


class _Lines:
    """Lines from a child's stdout with a timeout, read straight from the pipe (no buffer
    that could hold a line select() does not see)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""

    def next(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no line from the child within {timeout} s")
            data = os.read(self.fd, 4096)
            if not data:
                raise AssertionError(f"the child closed its output after {self.buffer!r}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()


@pytest.mark.slow
def test_sigkill_mid_batch_leaves_no_partial_batch(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    ledger.append([origin_event(network, f"LOT-PRE-{i}") for i in range(25)], now=NOW)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    size, root = ledger.size, ledger.root()

    batch = [origin_event(network, f"LOT-CRASH-{i}") for i in range(BATCH)]
    ids = [e["id"] for e in batch]
    events = tmp_path / "batch.jsonl"
    events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in batch),
                      encoding="utf-8")
    script = write_script(tmp_path / "append_batch.py", APPEND_SCRIPT)
    # A session of its own, so the kill takes the child's spawned pool workers too.
    proc = subprocess.Popen([sys.executable, script, ledger.store.url, str(events),
                             NOW.isoformat()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(), start_new_session=True)
    lines = _Lines(proc)
    try:
        assert lines.next(60) == "ready"
        for _ in range(KILL_AFTER_CHUNKS):  # chunks inserted, the transaction still open
            line = lines.next(60)
            assert line == f"chunk {CHUNK}", line
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.stdout is not None and proc.stderr is not None
        rest = (lines.buffer + proc.stdout.read()).decode()
        errors = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, errors
    assert "committed" not in rest

    # A new connection, as after a restart: nothing of the batch, the same tree.
    with Ledger.open(ledger.store.url) as after:
        assert after.size == size
        assert after.root() == root
        assert stored_event_ids(after, ids) == set()
        report = after.verify()
        assert report.ok and report.size == size, report.problem
        # The same batch goes in again, whole.
        receipts = after.append(batch, now=NOW)
        assert [r.seq for r in receipts] == list(range(size, size + BATCH))
        assert not any(r.duplicate for r in receipts)
        assert after.size == size + BATCH
        assert len(stored_event_ids(after, ids)) == BATCH
        after.consistency_proof(size).verify()  # the batch only extended the tree
        assert after.inclusion_proof(size + BATCH - 1).leaf_hash == receipts[-1].hash


def test_failed_batch_in_process_leaves_nothing_and_the_writer_lock_free(
        network: Network) -> None:
    """The in-process analogue: an exception raised from inside the append (here by the
    progress callback, after the first chunk is inserted) rolls the whole batch back and
    releases the writer lock."""
    ledger = network.ledger
    size = ledger.size
    batch = [origin_event(network, f"LOT-ABORT-{i}") for i in range(CHUNK + 10)]

    def boom(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ledger.append(batch, now=NOW, progress=boom)
    assert ledger.size == size
    assert stored_event_ids(ledger, [e["id"] for e in batch]) == set()
    assert len(ledger.append(batch, now=NOW)) == len(batch)
    assert ledger.verify().ok
