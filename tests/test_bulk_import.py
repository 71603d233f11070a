"""A large import commits in pieces: other writers get in between them, a refused event
keeps what was committed before it, and running the same import again continues where it
stopped (stored events answer with their original receipts). API batches stay one
transaction.

The pieces are made small here (chunks of ``PIECE`` events, a commit after every chunk) so that a few
hundred events make many of them.
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import NOW
from tests.helpers import Network, origin_event, stored_event_ids
from tracelib.append import Receipt, pipeline
from tracelib.errors import ValidationError
from tracelib.ledger import Ledger
from tracelib.store.engine import LOCK_WAIT_OPTION, WRITER_OPTION

PIECE = 25


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "CHUNK", PIECE)
    monkeypatch.setattr(pipeline, "HELD_CHUNK", PIECE)


def _unknown_lot_sale(net: Network) -> dict[str, Any]:
    """A well-formed sale that the rules refuse (no such lot on hand)."""
    return net.event("stall-a01", {"kind": "sale", "location": "stall-a01",
                                   "inputs": [{"lot": "LOT-NOWHERE", "qty": "1", "unit": "kg"}],
                                   "data": {"receipt": "R-NOWHERE"}})


@pytest.mark.usefixtures("small_pieces")
def test_another_writer_gets_in_between_the_pieces_of_a_large_append(network: Network) -> None:
    ledger = network.ledger
    batch = [origin_event(network, f"LOT-BULK-{i}") for i in range(20 * PIECE)]
    other = origin_event(network, "LOT-OTHER-WRITER")
    found: dict[str, Receipt | BaseException] = {}

    def other_writer() -> None:
        try:
            with Ledger.open(ledger.store.url) as second:
                found["receipt"] = second.append([other], now=NOW)[0]
        except BaseException as e:  # reported by the assertion below
            found["error"] = e

    thread = threading.Thread(target=other_writer)

    def first_chunk_in(_n: int) -> None:
        if thread.ident is None:  # the import holds the write lock now
            thread.start()

    receipts = ledger.append(batch, now=NOW, progress=first_chunk_in, hold_seconds=0)
    thread.join(60)
    assert not thread.is_alive()
    assert "error" not in found, found
    theirs = found["receipt"]
    assert isinstance(theirs, Receipt) and not theirs.duplicate
    ours = [r.seq for r in receipts]
    # The other writer waited for one piece, not for the whole import.
    assert ours[0] < theirs.seq < ours[-1]
    assert sorted([*ours, theirs.seq]) == list(range(ours[0], ours[-1] + 1))
    report = ledger.verify()
    assert report.ok, report.problem


@pytest.mark.usefixtures("small_pieces")
def test_a_refused_event_keeps_the_pieces_before_it_and_a_rerun_continues(
        network: Network) -> None:
    ledger = network.ledger
    size = ledger.size
    batch = [origin_event(network, f"LOT-RERUN-{i}") for i in range(8 * PIECE)]
    bad_at = 5 * PIECE + 7  # in the sixth piece
    fixed = batch[bad_at]
    batch[bad_at] = _unknown_lot_sale(network)
    settled: list[int] = []

    with pytest.raises(ValidationError) as refused:
        ledger.append(batch, now=NOW, hold_seconds=0, committed=settled.append)
    assert refused.value.line == bad_at + 1
    assert settled and settled[-1] == 5 * PIECE  # five pieces committed, then the refusal
    assert ledger.size == size + 5 * PIECE
    ids = [e["id"] for e in batch]
    assert stored_event_ids(ledger, ids) == set(ids[:5 * PIECE])
    first_run = {ledger.record_for_event(i).seq for i in ids[:5 * PIECE]}

    batch[bad_at] = fixed  # the same file, corrected, appended again
    receipts = ledger.append(batch, now=NOW, hold_seconds=0)
    assert [r.duplicate for r in receipts] == [True] * (5 * PIECE) + [False] * (3 * PIECE)
    assert {r.seq for r in receipts[:5 * PIECE]} == first_run  # the original receipts
    assert [r.seq for r in receipts] == list(range(size, size + 8 * PIECE))
    report = ledger.verify()
    assert report.ok, report.problem


@pytest.mark.usefixtures("small_pieces")
def test_without_hold_seconds_a_batch_is_still_all_or_nothing(network: Network) -> None:
    ledger = network.ledger
    size = ledger.size
    batch = [origin_event(network, f"LOT-ATOMIC-{i}") for i in range(4 * PIECE)]
    batch.append(_unknown_lot_sale(network))
    with pytest.raises(ValidationError):
        ledger.append(batch, now=NOW)
    assert ledger.size == size


def test_a_writer_waits_for_the_lock_only_as_long_as_it_asked(tmp_path: Path,
                                                              operator_key: Any) -> None:
    """SQLite writers wait for the lock themselves (no fair queue in SQLite); one that
    asked not to wait fails at once, and the usual writer gets in once the lock is free."""
    from sqlalchemy.exc import OperationalError

    path = tmp_path / "ledger.db"
    with Ledger.create(path, operator_key=operator_key, now=NOW) as ledger:
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with ledger.store.engine.connect() as conn:
                impatient = conn.execution_options(**{WRITER_OPTION: True,
                                                      LOCK_WAIT_OPTION: 0.0})
                with pytest.raises(OperationalError, match="locked"):
                    impatient.begin()
            release = threading.Timer(0.3, holder.execute, args=("COMMIT",))
            release.start()
            with ledger.store.writer() as conn:  # waits until the holder commits
                assert ledger.store.size(conn) == 1
            release.join()
        finally:
            holder.close()


_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}


@pytest.mark.usefixtures("small_pieces")
def test_tracelib_append_commits_in_pieces_and_says_what_was_stored(
        network: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tracelib_cli import ledger_cmds
    from tracelib_cli.main import cli

    monkeypatch.setattr(ledger_cmds, "HOLD_SECONDS", 0)
    ledger = network.ledger
    size = ledger.size
    batch = [origin_event(network, f"LOT-CLI-{i}") for i in range(6 * PIECE)]
    bad_at = 4 * PIECE + 3
    fixed = batch[bad_at]
    batch[bad_at] = _unknown_lot_sale(network)
    events = tmp_path / "import.jsonl"

    def write() -> None:
        events.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in batch),
                          encoding="utf-8")

    def run(*options: str) -> Any:
        return CliRunner(**_APART).invoke(
            cli, ["--db", ledger.store.url, "--keystore", str(tmp_path / "keys"), "append",
                  "--no-checkpoint", *options, str(events)])

    write()
    atomic = run("--atomic")
    assert atomic.exit_code == 1
    assert "nothing was stored" in atomic.stderr
    assert ledger.size == size

    pieces = run()
    assert pieces.exit_code == 1
    assert f"line {bad_at + 1}" in pieces.stderr
    assert (f"the first {4 * PIECE} event(s), up to line {4 * PIECE}, are in the ledger"
            in pieces.stderr), pieces.stderr
    assert ledger.size == size + 4 * PIECE

    batch[bad_at] = fixed
    write()
    rerun = run()
    assert rerun.exit_code == 0, rerun.stderr
    assert (f"appended {2 * PIECE} event(s), {4 * PIECE} already present; "
            f"ledger size {size + 6 * PIECE}") in rerun.stdout
