"""Appending a batch of signed events: one write transaction, in chunks that are
validated and signature-checked in a process pool while the writer applies each kind's
rules, hashes the records into the chain and the Merkle tree, and inserts them.

Invariants kept here (checked again by :func:`tracelib.verify.verify_ledger`): records are
numbered 0, 1, 2, … with each carrying the previous record's hash; every record's event is
signed by a key of its actor registered earlier and valid at record time (record 0, the
genesis ``register``, by the operator key it registers); every perfect subtree of level
>= 1 is stored when its last leaf is appended; record time never goes backwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import merkle
from .._gcpause import cyclic_gc_paused
from ..directory import KeyRecord, Location
from ..errors import ConflictError, SignatureError, ValidationError
from ..events import Event
from ..kinds import kind_spec
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
from .sigpool import SignatureJob, assemble, prepare_stream

__all__ = ["CHUNK", "DirectoryCache", "Progress", "Receipt", "append_events"]

CHUNK = 1000  # events validated, hashed and inserted together inside one transaction
DIRECTORY_CACHE_MAX = 300_000  # parties, locations and keys kept between appends
Progress = Callable[[int], None]
_FUTURE_SKEW_US = FUTURE_SKEW // timedelta(microseconds=1)
#: The directory an append read, with the directory stamp it is valid for
#: (Store.directory_stamp): the next append starts from it while no register event came.
DirectoryCache = tuple[int, Directory]


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
                  pause_gc: bool = False) -> tuple[list[Receipt], DirectoryCache | None]:
    """Append signed events in one transaction and return one receipt per event.

    The same id with the same bytes returns the original receipt; with other
    bytes it raises ConflictError. Any rejected event rejects the whole batch
    (nothing is stored) with an error naming the event, its position (or
    ``lines[i]``) and the field.
    """
    moment = now or utcnow()
    receipts: list[Receipt] = []
    jobs: list[tuple[SignatureJob, list[tuple[int, Event]]]] = []
    with (cyclic_gc_paused() if pause_gc else nullcontext()), store.writer() as conn:
        ctx = BatchContext(store, conn, operator)
        stamp = store.directory_stamp(conn)
        if cached is not None and cached[0] == stamp:
            ctx.adopt(cached[1])
        size = store.size(conn)
        # Record time never goes backwards (verify checks it): key validity and
        # revocation are judged at record time, so a caller's earlier `now` must
        # not bring a revoked key back.
        last = store.last_recorded_at(conn, size)
        recorded_at = format_utc(moment)
        if last is not None and recorded_at < last:
            recorded_at = last
        recorded_us = to_micros(parse_rfc3339(recorded_at))
        prev = store.last_hash(conn, size) or GENESIS_PREV
        frontier = store.get_nodes(conn, merkle.root_plan(size))
        tree = merkle.CompactRange(0, size, [frontier[n] for n in merkle.root_plan(size)])
        seen: dict[str, Receipt] = {}
        seen_bodies: dict[str, bytes] = {}
        position = 0
        known_keys: dict[str, bytes | None] = {}

        def keys_for(chunk: list[object]) -> dict[str, bytes]:
            """Public keys (already in the ledger) of the key ids a chunk is signed with."""
            claimed = {k for item in chunk if (k := _sig_key(item)) is not None}
            new = claimed - known_keys.keys()
            ctx.prefetch_keys(new)
            for key_id in new:
                record = ctx.key(key_id)
                known_keys[key_id] = None if record is None else record.public_key
            return {k: v for k in claimed if (v := known_keys.get(k)) is not None}

        for chunk, prepared in prepare_stream(iter(_chunked(events, CHUNK)), keys_for):
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
                        raise ConflictError(f"line {line}: event {event.id!r} is already in the "
                                            f"ledger at seq {earlier['seq']} with other content")
                    receipts.append(Receipt(int(earlier["seq"]), event.id,
                                            bytes(earlier["hash"]), earlier["recorded_at"],
                                            duplicate=True))
                    continue
                if event.id in seen:
                    if seen_bodies[event.id] != event.body:
                        raise ConflictError(f"line {line}: event {event.id!r} appears twice in "
                                            "this batch with different content")
                    first = seen[event.id]
                    receipts.append(Receipt(first.seq, first.event_id, first.hash,
                                            first.recorded_at, duplicate=True))
                    continue
                try:
                    key = _admit(ctx, operator, event, size, recorded_us)
                except ValidationError as e:
                    raise e.at(line=line, event_id=event.id) from e
                assert event.sig is not None
                if id(event) not in checked:  # else verified in the pool (same key id)
                    sig_items.append((key.public_key, event.body, event.sig.value))
                    signed_by.append((line, event))
                digest = merkle.leaf_hash(record_bytes(size, prev, event.body, event.sig.key,
                                                       event.sig.value, recorded_at))
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
        for job in jobs:
            _settle(job)
        directory = ctx.directory()
    # Committed: keep what this append knows of the directory for the next one (a
    # bounded cache; another writer's register event changes the stamp and voids it).
    return receipts, (stamp, directory) if len(directory) <= DIRECTORY_CACHE_MAX else None


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
    if event.kind != "register":
        place = ctx.location(event.location)
        if place is None:
            raise ValidationError(f"unknown location {event.location!r}", field="location")
        _check_acts_here(ctx, operator, event.actor, event.kind, place)
    if spec.apply is not None:
        ctx.seq = seq
        spec.apply(ctx, event, seq)
    return key


def _check_acts_here(ctx: BatchContext, operator: str, actor: str, kind: str,
                     place: Location) -> None:
    """A party acts only where it may: at a location it holds, or one whose parent it
    holds (a market's test room at its stalls); a carrier may ship (pick up) anywhere;
    the operator and regulators may act anywhere."""
    if actor == operator:
        return
    party = ctx.party(actor)
    if party is not None and (party.role == "regulator"
                              or (party.role == "carrier" and kind == "ship")):
        return
    if place.holder == actor:
        return
    parent = ctx.location(place.parent) if place.parent else None
    if parent is not None and parent.holder == actor:
        return
    raise ValidationError(f"{actor!r} does not hold {place.id!r} (held by "
                          f"{place.holder!r}) and cannot act there", field="actor")


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
