"""Appending a batch of signed events: one write transaction (or, for a large import, one
every ``hold_seconds``), in chunks that are validated and signature-checked in a process
pool while the writer applies each kind's rules, hashes the records into the chain and the
Merkle tree, and inserts them.

Invariants kept here (checked again by :func:`tracelib.verify.verify_ledger`): records are
numbered 0, 1, 2, … with each carrying the previous record's hash; every record's event is
signed by a key of its actor registered earlier and valid at record time (record 0, the
genesis ``register``, by the operator key it registers); every perfect subtree of level
>= 1 is stored when its last leaf is appended; record time never goes backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .. import merkle
from .._gcpause import cyclic_gc_paused
from ..blobs import BLOB_NAME, cited_field, missing_attachment
from ..directory import KeyRecord
from ..errors import ConflictError, SignatureError, ValidationError
from ..events import Event
from ..keys import SigningKey
from ..kinds import authorize, kind_spec
from ..record import GENESIS_PREV, record_bytes
from ..store import Store
from ..timeutil import (
    FUTURE_SKEW,
    format_duration,
    format_utc,
    from_micros,
    parse_rfc3339,
    to_micros,
    utcnow,
)
from .context import BatchContext, Directory
from .sigpool import ChunkKeys, Prepared, SignatureJob, assemble, prepare_stream

__all__ = ["CHUNK", "COMMIT_PAUSE", "BlobCheck", "DirectoryCache", "Progress", "Receipt",
           "append_events"]

CHUNK = 1000  # events validated, hashed and inserted together inside one transaction
# The chunk of an append committing in pieces (hold_seconds): it commits only between
# chunks, so a chunk should take well under hold_seconds even on a slow or busy machine.
HELD_CHUNK = 250
# Seconds a large append committing in pieces (hold_seconds) waits between its commits on
# SQLite: several of a waiting writer's tries (engine.LOCK_POLL_SECONDS), so every writer
# waiting for the lock gets it before the append takes it again.
COMMIT_PAUSE = 0.03
# An import taking the lock back finds it was taken when waiting took longer than this
# (an uncontended BEGIN takes well under a millisecond); it then gives way (_writer).
CONTENDED_SECONDS = 0.01
GIVE_WAY_MAX = 3
DIRECTORY_CACHE_MAX = 300_000  # parties, locations and keys kept between appends
Progress = Callable[[int], None]
_FUTURE_SKEW_US = FUTURE_SKEW // timedelta(microseconds=1)
#: The directory an append read, with the directory stamp it is valid for
#: (Store.directory_stamp): the next append starts from it while no register event came.
DirectoryCache = tuple[int, Directory]
#: Whether a blob is in the blob store: asked of every attachment an appended event cites,
#: outside the ledger's rules (docs/integrity.md "Attachments"); replay never asks it.
BlobCheck = Callable[[str], bool]


@dataclass(frozen=True)
class Receipt:
    """What the ledger answers for an appended event (the same again for a duplicate)."""

    seq: int
    event_id: str
    hash: bytes
    recorded_at: str
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "id": self.event_id, "hash": self.hash.hex(),
                "recorded_at": self.recorded_at, "duplicate": self.duplicate}


def append_events(store: Store, operator: str, events: Iterable[Event | Mapping[str, Any]], *,
                  now: datetime | None = None, lines: Sequence[int] | None = None,
                  progress: Progress | None = None, cached: DirectoryCache | None = None,
                  pause_gc: bool = False, hold_seconds: float | None = None,
                  committed: Progress | None = None, blobs_present: BlobCheck | None = None,
                  signed_here: Mapping[str, SigningKey] | None = None
                  ) -> tuple[list[Receipt], DirectoryCache | None]:
    """Append signed events and return one receipt per event.

    The same id with the same bytes returns the original receipt; with other
    bytes it raises ConflictError. A rejected event raises an error naming the
    event, its position (or ``lines[i]``) and the field.

    With ``hold_seconds`` None the events go in one transaction: a rejected event rejects
    the whole batch and nothing is stored. With a number, the append commits whenever its
    transaction has held the write lock that long (between chunks of :data:`HELD_CHUNK`
    events), lets other writers in (:data:`COMMIT_PAUSE` on SQLite; PostgreSQL queues
    them), and goes on in a new transaction: a rejected event then rejects the events
    since the last commit and all after it, and what was committed stays. Appending the
    same events again continues where it stopped, since stored events return their
    original receipts. ``committed(n)`` is called after each commit with the number of
    events settled so far (stored now or before).

    With ``blobs_present``, an event citing an attachment (its kind's
    ``KindSpec.attachments``) for which it answers False is refused, naming the blob and
    the field that cites it.

    ``signed_here`` (key id → signing key) holds the keys the caller signed events with
    itself (an EPCIS capture signing as each event's party): a signature by one of them
    whose public key is byte for byte the key the ledger registered under that id is checked
    by making it again and comparing (Ed25519 signing is deterministic, RFC 8032 §5.1.6: the
    body's one signature under that key comes out), at about a third of the cost of
    verifying it. A signature that differs is refused as any bad signature is.
    """
    receipts: list[Receipt] = []
    seen: dict[str, Receipt] = {}
    seen_bodies: dict[str, bytes] = {}
    known_keys: dict[str, bytes | None] = {}
    position = 0
    ctx: BatchContext | None = None
    pause = COMMIT_PAUSE if store.dialect == "sqlite" else 0.0

    def keys_for(chunk: list[object]) -> ChunkKeys:
        """Public keys (already in the ledger) of the key ids a chunk is signed with, and
        the seeds of those among them the caller signed with itself (``signed_here``)."""
        assert ctx is not None
        claimed = {k for item in chunk if (k := _sig_key(item)) is not None}
        new = claimed - known_keys.keys()
        ctx.prefetch_keys(new)
        for key_id in new:
            record = ctx.key(key_id)
            known_keys[key_id] = None if record is None else record.public_key
        public = {k: v for k in claimed if (v := known_keys.get(k)) is not None}
        if not signed_here:
            return public, None
        seeds = {k: own.private_bytes() for k, v in public.items()
                 if (own := signed_here.get(k)) is not None and own.public.raw == v}
        return public, seeds or None

    stream: Iterator[tuple[list[object], list[Prepared]]] | None = None
    finished = False
    with cyclic_gc_paused() if pause_gc else nullcontext():
        while not finished:
            with _writer(store, give_way=hold_seconds is not None and bool(receipts)) as conn:
                started = time.monotonic()
                ctx = BatchContext(store, conn, operator)
                stamp = store.directory_stamp(conn)
                if cached is not None and cached[0] == stamp:
                    ctx.adopt(cached[1])
                size = store.size(conn)
                # Record time never goes backwards (verify checks it): key validity and
                # revocation are judged at record time, so a caller's earlier `now` must
                # not bring a revoked key back.
                last = store.last_recorded_at(conn, size)
                recorded_at = format_utc(now or utcnow())
                if last is not None and recorded_at < last:
                    recorded_at = last
                recorded_us = to_micros(parse_rfc3339(recorded_at))
                prev = store.last_hash(conn, size) or GENESIS_PREV
                frontier = store.get_nodes(conn, merkle.root_plan(size))
                tree = merkle.CompactRange(0, size,
                                           [frontier[n] for n in merkle.root_plan(size)])
                jobs: list[tuple[SignatureJob, list[tuple[int, Event]]]] = []
                if stream is None:  # the pool prepares chunks ahead, across commits
                    size_of_chunk = CHUNK if hold_seconds is None else HELD_CHUNK
                    stream = prepare_stream(iter(_chunked(events, size_of_chunk)), keys_for)
                finished = True
                for chunk, prepared in stream:
                    chunk_started = time.monotonic()
                    parsed: list[tuple[int, Event]] = []
                    checked: set[int] = set()
                    for item, (parts, problem, sig_ok) in zip(chunk, prepared, strict=True):
                        line = lines[position] if lines is not None else position + 1
                        position += 1
                        if parts is None:
                            assert problem is not None
                            raise ValidationError(problem[0], field=problem[1], line=line,
                                                  event_id=problem[2])
                        event_or_none = assemble(item, parts)
                        if sig_ok is False:
                            assert event_or_none.sig is not None
                            raise SignatureError(
                                f"signature does not verify with key {event_or_none.sig.key}",
                                field="sig.value", line=line, event_id=event_or_none.id)
                        if sig_ok:
                            checked.add(id(event_or_none))
                        parsed.append((line, event_or_none))
                    stored = store.find_events(conn, [e.id for _, e in parsed])
                    ctx.prefetch([e for _, e in parsed])
                    rows: list[tuple[Any, ...]] = []
                    new_nodes: list[tuple[int, int, bytes]] = []
                    sig_items: list[tuple[bytes, bytes, bytes]] = []
                    signed_by: list[tuple[int, Event]] = []

                    def keep_node(level: int, index: int, digest: bytes,
                                  sink: list[tuple[int, int, bytes]] = new_nodes) -> None:
                        sink.append((level, index, digest))

                    for line, event in parsed:
                        earlier = stored.get(event.id)
                        if earlier is not None:
                            if bytes(earlier["body"]) != event.body:
                                raise ConflictError(
                                    f"line {line}: event {event.id!r} is already in the "
                                    f"ledger at seq {earlier['seq']} with other content")
                            receipts.append(Receipt(int(earlier["seq"]), event.id,
                                                    bytes(earlier["hash"]),
                                                    earlier["recorded_at"], duplicate=True))
                            continue
                        if event.id in seen:
                            if seen_bodies[event.id] != event.body:
                                raise ConflictError(
                                    f"line {line}: event {event.id!r} appears twice in "
                                    "this batch with different content")
                            first = seen[event.id]
                            receipts.append(Receipt(first.seq, first.event_id, first.hash,
                                                    first.recorded_at, duplicate=True))
                            continue
                        cited = len(ctx.cited)
                        try:
                            key = _admit(ctx, operator, event, size, recorded_us)
                            if blobs_present is not None and len(ctx.cited) > cited:
                                for row in ctx.cited[cited:]:
                                    if not blobs_present(row.name):
                                        raise missing_attachment(
                                            row.name, cited_field(event.data, row.name))
                        except ValidationError as e:
                            raise e.at(line=line, event_id=event.id) from e
                        assert event.sig is not None
                        if id(event) not in checked:  # else verified in the pool (same key id)
                            sig_items.append((key.public_key, event.body, event.sig.value))
                            signed_by.append((line, event))
                        digest = merkle.leaf_hash(record_bytes(
                            size, prev, event.body, event.sig.key, event.sig.value,
                            recorded_at))
                        tree.append(digest, keep_node)
                        rows.append((size, event.id, event.kind, event.actor, event.location,
                                     event.time_text, prev, digest, event.body, event.sig.key,
                                     event.sig.value, recorded_at))  # RECORD_COLUMNS order
                        if event.kind == "register":
                            stamp = size
                        receipt = Receipt(size, event.id, digest, recorded_at)
                        receipts.append(receipt)
                        seen[event.id] = receipt
                        seen_bodies[event.id] = event.body
                        prev = digest
                        size += 1
                    if sig_items:
                        jobs.append((SignatureJob(sig_items), signed_by))
                    ctx.flush()
                    store.insert_records(conn, rows)
                    store.insert_nodes(conn, new_nodes)
                    if progress is not None:
                        progress(len(parsed))
                    if len(jobs) > 4:  # bound memory: settle old signature checks as we go
                        _settle(jobs.pop(0))
                    if hold_seconds is not None:
                        # Commit now if the next chunk, taking as long as this one, would
                        # hold the lock past hold_seconds; go on in a new transaction.
                        done_at = time.monotonic()
                        if 2 * done_at - started - chunk_started >= hold_seconds:
                            finished = False
                            break
                for job in jobs:  # every signature of what commits now is checked
                    _settle(job)
                directory = ctx.directory()
                # What this transaction knows of the directory, for the next one (a
                # bounded cache; another writer's register event changes the stamp).
                cached = (stamp, directory) if len(directory) <= DIRECTORY_CACHE_MAX else None
            if committed is not None:
                committed(len(receipts))
            if not finished and pause:
                time.sleep(pause)  # other writers take the lock now (engine.py)
    return receipts, cached


@contextmanager
def _writer(store: Store, *, give_way: bool) -> Iterator[Connection]:
    """:meth:`Store.writer`; with ``give_way``, a transaction that had to wait for the lock
    (another writer held it) gives it up again, up to :data:`GIVE_WAY_MAX` times, and waits
    :data:`COMMIT_PAUSE`: the other writer may have more to write at once (the API signs a
    checkpoint after each append), and an import resuming between the two would make it
    wait a whole piece."""
    tries = 0
    while True:
        asked = time.monotonic()
        with store.writer() as conn:
            contended = time.monotonic() - asked > CONTENDED_SECONDS
            if not (give_way and contended and tries < GIVE_WAY_MAX):
                yield conn
                return
        tries += 1  # nothing written: the empty transaction just ends
        time.sleep(COMMIT_PAUSE)


def _admit(ctx: BatchContext, operator: str, event: Event, seq: int, recorded_us: int) -> KeyRecord:
    """Run the kind's rules and return the key that must have signed the event."""
    if event.sig is None:
        raise SignatureError("event is not signed (no sig) and no local key signed it",
                             field="sig")
    if event.time_us > recorded_us + _FUTURE_SKEW_US:  # docs/contract.md "Event": time
        ahead = timedelta(microseconds=event.time_us - recorded_us)
        raise ValidationError(f"time {event.time_text} is {format_duration(ahead)} after the "
                              f"time of recording ({format_utc(from_micros(recorded_us))}); "
                              f"an event may be at most {format_duration(FUTURE_SKEW)} ahead",
                              field="time")
    spec = kind_spec(event.kind)
    if seq == 0:
        # Genesis: the operator registers itself and the key that signs this very record.
        if event.kind != "register" or event.actor != operator:
            raise ValidationError("the first record must be the operator's register event",
                                  field="kind")
        assert spec.apply is not None
        ctx.seq = seq
        spec.apply(ctx, event, seq)
        key = ctx.key(event.sig.key)
        if key is None or key.party != operator:
            raise SignatureError("the genesis event must be signed by the operator key it "
                                 "registers", field="sig.key")
        return key
    key = ctx.key(event.sig.key)
    if ctx.party(event.actor) is None:
        raise ValidationError(f"unregistered actor {event.actor!r}", field="actor")
    if key is None:
        raise SignatureError(f"unknown key {event.sig.key}; register it first",
                             field="sig.key")
    problem = key.problem_at(actor=event.actor, seq=seq, time_us=recorded_us)
    if problem is not None:
        raise SignatureError(problem, field="sig.key")
    if event.kind != "register" and ctx.location(event.location) is None:
        raise ValidationError(f"unknown location {event.location!r}", field="location")
    # Who may sign the kind and where (docs/contract.md "Authority"): ledger state only, so a
    # replay of the records through these rules answers the same.
    authorize(ctx, spec, event)
    if spec.apply is not None:
        ctx.seq = seq
        spec.apply(ctx, event, seq)
    if spec.attachments is not None:  # docs/contract.md "Attachments"
        names = spec.attachments(event.data)
        for name in names:
            if not isinstance(name, str) or not BLOB_NAME.match(name):
                raise ValidationError(f"{str(name)[:100]!r} is not an attachment name: expected "
                                      "sha256: and 64 lowercase hex digits",
                                      field=cited_field(event.data, name))
        ctx.cite(event, seq, names)
    return key


def _settle(job: tuple[SignatureJob, list[tuple[int, Event]]]) -> None:
    checker, signed = job
    bad = checker.failures()
    if bad:
        line, event = signed[bad[0]]
        assert event.sig is not None
        raise SignatureError(f"signature does not verify with key {event.sig.key}",
                             field="sig.value", line=line, event_id=event.id)


def _sig_key(item: object) -> str | None:
    """The key id an incoming event claims to be signed with, if it looks like one."""
    if type(item) is dict:  # the common case, without the ABC checks below
        sig = item.get("sig")
        key = sig.get("key") if type(sig) is dict else None
        return key if type(key) is str else None
    if isinstance(item, Event):
        return item.sig.key if item.sig is not None else None
    if isinstance(item, Mapping):
        sig = item.get("sig")
        if isinstance(sig, Mapping) and isinstance(sig.get("key"), str):
            return str(sig["key"])
    return None


def _chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
