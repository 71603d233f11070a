"""Re-derive a whole ledger from its stored bytes, in constant memory, on every core.

Lesson of immudb CVE-2022-36111: check every link relied on, not only the ends.
For every record: the seq is the next one, ``prev`` is the previous record's
hash, the stored hash is the leaf hash of the record's bytes, the body is
canonical and agrees with the indexed columns, the signing key belonged to the
actor and was valid when the record was made (key history re-derived from the
``register`` events themselves, not from the keys index), and the signature
verifies. Every stored subtree hash is recomputed, and so is the root at every
stored checkpoint, whose signed note must verify against an operator key.

The records are split into chunks aligned to 2**13 leaves; workers check chunks
independently (each returns its compact range) and the parent merges the
ranges in order, checking the chain across chunk boundaries, the subtree
hashes above the chunk level, and the checkpoints.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import canonical, merkle
from ._sigpool import cpu_count
from .directory import KeyRecord
from .errors import IntegrityError, TracelibError
from .keys import VerifyKey, key_id, verify_batch
from .note import Checkpoint, NoteVerifier, open_note
from .record import GENESIS_PREV, record_bytes
from .store import Store
from .timeutil import parse_rfc3339, to_micros

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["CHUNK_LEVEL", "VerifyReport", "verify_ledger"]

CHUNK_LEVEL = 13
CHUNK = 1 << CHUNK_LEVEL
# tracelib.timeutil.format_utc: fixed width, so text order is time order.
_RECORD_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\Z")


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify_ledger`. ``bad_seq`` is the first bad record."""

    ok: bool
    size: int
    records_checked: int
    checkpoints_checked: int
    seconds: float
    bad_seq: int | None = None
    problem: str | None = None

    def raise_for_problem(self) -> None:
        if not self.ok:
            raise IntegrityError(self.problem or "verification failed", seq=self.bad_seq)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "size": self.size, "records_checked": self.records_checked,
                "checkpoints_checked": self.checkpoints_checked,
                "seconds": round(self.seconds, 3), "bad_seq": self.bad_seq,
                "problem": self.problem}


@dataclass
class _Chunk:
    start: int
    end: int
    count: int = 0
    first_prev: bytes | None = None
    last_hash: bytes | None = None
    first_time: str | None = None
    last_time: str | None = None
    hashes: list[bytes] = field(default_factory=list)
    partials: dict[int, list[bytes]] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


# Per-process state of a verification worker.
_STATE: dict[str, Any] = {}


def _init_worker(url: str, keys: dict[str, KeyRecord], operator: str) -> None:
    _STATE.clear()
    _STATE.update(url=url, keys=keys, operator=operator, store=None)


def _store() -> Store:
    if _STATE.get("store") is None:
        _STATE["store"] = Store(_STATE["url"])
    store: Store = _STATE["store"]
    return store


def _check_chunk(task: tuple[int, int, tuple[int, ...]]) -> _Chunk:
    """Check records [start, end) and the subtree hashes that lie inside them."""
    start, end, checkpoint_sizes = task
    keys: dict[str, KeyRecord] = _STATE["keys"]
    operator: str = _STATE["operator"]
    out = _Chunk(start, end)
    tree = merkle.CompactRange(start, start)
    visited: list[tuple[int, int, bytes]] = []
    sig_items: list[tuple[bytes, bytes, bytes]] = []
    sig_seqs: list[int] = []
    wanted = set(checkpoint_sizes)
    store = _store()
    expected = start
    prev: bytes | None = None

    def visit(level: int, index: int, digest: bytes) -> None:
        visited.append((level, index, digest))

    with store.reader() as conn:
        for row in store.iter_record_rows(conn, start, end):
            seq = int(row["seq"])
            if seq != expected:
                out.problems.append((expected, f"record missing: expected seq {expected}, "
                                               f"found seq {seq} next"))
                break
            try:
                stored_prev, stored_hash = bytes(row["prev_hash"]), bytes(row["hash"])
                body, signature = bytes(row["body"]), bytes(row["signature"])
                leaf_bytes = record_bytes(seq, stored_prev, body, row["key_id"], signature,
                                          row["recorded_at"])
            except (TypeError, ValueError, AttributeError) as e:  # e.g. a non-ASCII key id
                out.problems.append((seq, f"record columns are malformed: {e}"))
                break
            recorded = str(row["recorded_at"])
            if not _RECORD_TIME.match(recorded):
                out.problems.append((seq, f"record time {recorded!r} is not in the ledger's "
                                          "form YYYY-MM-DDTHH:MM:SS.ffffffZ"))
                break
            if prev is None:
                out.first_prev, out.first_time = stored_prev, recorded
            elif out.last_time is not None and recorded < out.last_time:
                out.problems.append((seq, f"record time goes backwards: {recorded} after "
                                          f"{out.last_time}"))
            if prev is not None and stored_prev != prev:
                out.problems.append((seq, f"chain broken: prev hash expected {prev.hex()}, "
                                          f"found {stored_prev.hex()}"))
            leaf = merkle.leaf_hash(leaf_bytes)
            if leaf != stored_hash:
                out.problems.append((seq, f"record hash mismatch: stored {stored_hash.hex()}, "
                                          f"the record's bytes hash to {leaf.hex()}"))
            problem = _check_event(seq, row, body, keys, operator, sig_items)
            if problem is not None:
                out.problems.append((seq, problem))
            else:
                sig_seqs.append(seq)
            tree.append(leaf, visit)
            if seq + 1 in wanted:
                out.partials[seq + 1] = list(tree.hashes)
            prev = stored_hash
            out.last_time = recorded
            expected = seq + 1
            if out.problems:
                break
        if not out.problems and expected < end:
            out.problems.append((expected, f"record missing: expected seq {expected}, "
                                           "found none"))
        if not out.problems:
            stored = store.nodes_in_range(conn, CHUNK_LEVEL, start, end)
            for level, index, digest in visited:
                found = stored.get((level, index))
                if found != digest:
                    out.problems.append(_node_problem(level, index, digest, found))
                    break
    for i in verify_batch(sig_items):
        out.problems.append((sig_seqs[i], "signature does not verify"))
        break
    out.count = expected - start
    out.last_hash = prev
    out.hashes = list(tree.hashes)
    return out


def _check_event(seq: int, row: dict[str, Any], body: bytes, keys: dict[str, KeyRecord],
                 operator: str, sig_items: list[tuple[bytes, bytes, bytes]]) -> str | None:
    """Check one record's body against its columns and its key; queue its signature."""
    try:
        doc = canonical.loads(body)
        if canonical.dumps(doc) != body:
            return "stored event bytes are not canonical (RFC 8785)"
        for column, name in (("event_id", "id"), ("kind", "kind"), ("actor", "actor"),
                             ("location", "location"), ("event_time", "time")):
            if doc.get(name) != row[column]:
                return (f"indexed {column} {row[column]!r} does not match the event's "
                        f"{name} {doc.get(name)!r}")
        parse_rfc3339(doc["time"])
        recorded_us = to_micros(parse_rfc3339(row["recorded_at"], field="recorded_at"))
    except TracelibError as e:
        return f"stored event does not parse: {e}"
    key = keys.get(row["key_id"])
    if key is None:
        return f"signed with key {row['key_id']}, which no register event before it registers"
    if seq == 0:
        if doc["kind"] != "register" or doc["actor"] != operator or key.registered_seq != 0:
            return "the genesis record must be the operator's self-signed register event"
    else:
        if doc["kind"] == "register" and doc["actor"] != operator:
            return (f"register events are signed by the operator {operator!r}, "
                    f"not {doc['actor']!r}")
        problem = key.problem_at(actor=doc["actor"], seq=seq, time_us=recorded_us)
        if problem is not None:
            return problem
    sig_items.append((key.public_key, body, bytes(row["signature"])))
    return None


def _node_problem(level: int, index: int, expected: bytes,
                  found: bytes | None) -> tuple[int, str]:
    first, last = index << level, ((index + 1) << level) - 1
    got = "missing" if found is None else found.hex()
    return (last, f"subtree hash (level {level}, index {index}) over seq {first}..{last}: "
                  f"expected {expected.hex()}, found {got}")


def _key_history(store: Store, size: int,
                 operator: str) -> tuple[dict[str, KeyRecord], list[tuple[int, str]]]:
    """Keys and revocations as the operator's register events themselves say (not the keys
    index). As at append, a key is registered once and revoked once; register events by
    anyone but the operator change nothing (their own records are reported as bad)."""
    keys: dict[str, KeyRecord] = {}
    with store.reader() as conn:
        for row in store.iter_record_rows(conn, 0, size, kind="register"):
            seq = int(row["seq"])
            try:
                doc = canonical.loads(bytes(row["body"]))
                if doc.get("kind") != "register" or doc.get("actor") != operator:
                    continue
                data = doc.get("data", {})
                for item in data.get("keys", []):
                    raw = VerifyKey.from_base64(item["public_key"]).raw
                    if key_id(raw) in keys:
                        continue
                    valid_from = to_micros(parse_rfc3339(item["valid_from"]))
                    keys[key_id(raw)] = KeyRecord(key_id(raw), item["party"], raw, valid_from, seq)
                for item in data.get("revoke", []):
                    old = keys[item["key_id"]]
                    if old.revoked_seq is not None:
                        continue
                    at = to_micros(parse_rfc3339(item["revoked_at"]))
                    keys[old.key_id] = KeyRecord(old.key_id, old.party, old.public_key,
                                                 old.valid_from_us, old.registered_seq, at, seq)
            except (TracelibError, KeyError, TypeError, AttributeError):
                continue  # the record's own check reports it
    return keys, []


def verify_ledger(ledger: Ledger, *, workers: int | None = None,
                  progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Re-derive the whole ledger; report the first bad seq and what is wrong."""
    started = time.perf_counter()
    store = ledger.store
    with store.reader() as conn:
        size = store.size(conn)
        checkpoints = store.all_checkpoints(conn)
        high_nodes = store.nodes_above(conn, CHUNK_LEVEL)
    keys, _ = _key_history(store, size, ledger.operator)
    operator_keys = [k for k in keys.values() if k.party == ledger.operator]
    by_size = {int(c["size"]): c for c in checkpoints}
    for cp_size in sorted(by_size):
        if cp_size > size:
            return _report(False, size, size, 0, started, size,
                           f"checkpoint at size {cp_size} but the ledger holds only {size} "
                           "records: records were removed from the end")
    tasks = [(start, min(start + CHUNK, size),
              tuple(s for s in by_size if start < s <= min(start + CHUNK, size)))
             for start in range(0, size, CHUNK)]
    workers = cpu_count() if workers is None else max(1, workers)
    in_memory = store.url in ("sqlite://", "sqlite:///:memory:")
    tree = merkle.CompactRange(0, 0)
    checked = cps_checked = 0
    last: bytes = GENESIS_PREV
    last_time = ""
    for chunk in _run(tasks, store.url, keys, ledger.operator,
                      1 if in_memory or len(tasks) < 2 else workers):
        problems = list(chunk.problems)
        if chunk.first_prev is not None and chunk.first_prev != last:
            problems.append((chunk.start, f"chain broken: prev hash expected {last.hex()}, "
                                          f"found {chunk.first_prev.hex()}"))
        if chunk.first_time is not None and chunk.first_time < last_time:
            problems.append((chunk.start, f"record time goes backwards: {chunk.first_time} "
                                          f"after {last_time}"))
        for cp_size, partial in sorted(chunk.partials.items()):
            if any(seq < cp_size for seq, _ in problems):
                break
            head = tree.copy()
            head.merge(merkle.CompactRange(chunk.start, cp_size, partial))
            # A checkpoint verifies with an operator key registered before its size and
            # not revoked by then.
            usable = [NoteVerifier.for_key(ledger.origin, VerifyKey.from_bytes(k.public_key))
                      for k in operator_keys if k.registered_seq < cp_size
                      and (k.revoked_seq is None or k.revoked_seq >= cp_size)]
            problem = _check_checkpoint(by_size[cp_size], head.root(), ledger.origin, usable)
            if problem:
                problems.append((cp_size - 1, problem))
            cps_checked += 1
        if not problems:
            bad_nodes: list[tuple[int, str]] = []

            def visit(level: int, index: int, digest: bytes,
                      sink: list[tuple[int, str]] = bad_nodes) -> None:
                found = high_nodes.get((level, index))
                if level > CHUNK_LEVEL and found != digest and not sink:
                    sink.append(_node_problem(level, index, digest, found))

            tree.merge(merkle.CompactRange(chunk.start, chunk.end, chunk.hashes), visit)
            problems.extend(bad_nodes)
        checked += chunk.count
        if progress is not None:
            progress(chunk.count)
        if problems:
            seq, message = min(problems)
            return _report(False, size, checked, cps_checked, started, seq, message)
        last = chunk.last_hash or last
        last_time = chunk.last_time or last_time
    return _report(True, size, checked, cps_checked, started, None, None)


def _run(tasks: list[tuple[int, int, tuple[int, ...]]], url: str, keys: dict[str, KeyRecord],
         operator: str, workers: int) -> Iterator[_Chunk]:
    if workers == 1:
        _init_worker(url, keys, operator)
        try:
            yield from map(_check_chunk, tasks)
        finally:
            store = _STATE.get("store")
            if store is not None:
                store.close()
            _STATE.clear()
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(url, keys, operator)) as pool:
        yield from pool.imap(_check_chunk, tasks, chunksize=1)


def _check_checkpoint(row: dict[str, Any], root: bytes, origin: str,
                      verifiers: list[NoteVerifier]) -> str | None:
    size = int(row["size"])
    if bytes(row["root"]) != root:
        return (f"checkpoint at size {size}: stored root {bytes(row['root']).hex()}, "
                f"recomputed {root.hex()}")
    try:
        text, _ = open_note(row["note"], verifiers)
        body = Checkpoint.parse(text)
    except TracelibError as e:
        return f"checkpoint at size {size}: signed note does not verify: {e}"
    if (body.origin, body.size, body.root) != (origin, size, root):
        return (f"checkpoint at size {size}: note says origin {body.origin!r}, size {body.size}, "
                f"root {body.root.hex()}; expected {origin!r}, {size}, {root.hex()}")
    return None


def _report(ok: bool, size: int, checked: int, cps: int, started: float, seq: int | None,
            problem: str | None) -> VerifyReport:
    return VerifyReport(ok, size, checked, cps, time.perf_counter() - started, seq, problem)
