"""EPCIS 2.0 export: a ledger's events as one GS1 ``EPCISDocument`` (EPCIS 2.0 §9.3, JSON/
JSON-LD binding), streamed.

Each kind owns its mapping (``KindSpec.epcis``, shown kind by kind in docs/events.md); kinds
with none (register, limits, plan, drill, inspection, rectification) are left out and
counted. To every mapped event the export adds what only the stored record knows: its
``recordTime`` (when the ledger recorded it) and, under the tracelib namespace, its ``seq``
and record hash. Lots, locations and parties are named from master data: a lot's GTIN
(``lots.gtin``), a location's GLN (``register`` ``gln``/``gln_extension``) and its holder.

The writer holds one event at a time: records are read with the store's scan cursor (or, for
one lot's trace, in chunks of its family's seqs) and written as they are mapped. An export of
:data:`POOL_FROM` records or more computes its event hash IDs in the worker pool the append
engine uses (:func:`tracelib.append.sigpool.pool`, one worker a core, each ending with its
parent): each event's JSON goes there in chunks of :data:`POOL_CHUNK`, at most
:data:`IN_FLIGHT` chunks at a time, and the IDs come back in order, so memory stays bounded
whatever the ledger's size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import orjson

from .._cores import cpu_count
from ..append.sigpool import pool
from ..cbv import EPCIS_CONTEXT, NAMESPACE, PREFIX, EpcisNames
from ..eventhash import event_hash_id, event_hash_ids
from ..kinds import KINDS
from ..ledger import Ledger
from ..store.supply import SupplySql
from ..timeutil import format_utc, parse_rfc3339, to_micros, utcnow
from ..views.tracing import trace

#: The namespace prefixes an exported event uses beyond the standard context's.
NAMESPACES = {PREFIX: NAMESPACE}

__all__ = ["IN_FLIGHT", "NAMESPACES", "POOL_CHUNK", "POOL_FROM", "ExportSummary",
           "document_head", "epcis_events", "export_document", "names_for", "place_names", "stored_event",
           "with_record", "write_document"]

#: Records read at a time for one lot's trace.
_CHUNK = 1000
#: Exports of fewer records than this (a lot's trace, a day) hash their events in the calling
#: process and never start the pool: its workers are interpreters of their own that import
#: the append engine (the first answers from a fresh pool took 6.7 s on two cores at load 11),
#: and a quick-path hash ID costs about 30 µs.
POOL_FROM = 20_000
#: Events a pool worker hashes at a time, and the chunks out at once: the export holds at
#: most POOL_CHUNK × (IN_FLIGHT + 1) events (as JSON).
POOL_CHUNK = 250
IN_FLIGHT = 8


@dataclass
class ExportSummary:
    """What an export wrote: events per kind, and records of kinds with no EPCIS event."""

    events: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "by_kind": dict(sorted(self.by_kind.items())),
                "skipped": dict(sorted(self.skipped.items()))}


def place_names(loc: Any) -> tuple[tuple[str, str | None] | None, str | None]:
    """What names a registered location (or None) in an event: its GLN and GLN extension
    from master data (``register`` ``gln``/``gln_extension``), if any, and its holder."""
    number = loc.details.get("gln") if loc is not None else None
    extension = loc.details.get("gln_extension") if loc is not None else None
    return ((str(number), None if extension is None else str(extension))
            if number else None, loc.holder if loc is not None else None)


def names_for(ledger: Ledger, conn: Any, base: str) -> EpcisNames:
    """The ledger's master data as :class:`EpcisNames`: the GTIN of every lot that has one
    (read once), each location's GLN and holder (read once per location named)."""
    gtins = dict(SupplySql.gtins(conn))
    places: dict[str, tuple[tuple[str, str | None] | None, str | None]] = {}

    def place(location: str) -> tuple[tuple[str, str | None] | None, str | None]:
        found = places.get(location)
        if found is None:
            found = places[location] = place_names(ledger.store.location(conn, location))
        return found

    return _Names(base.rstrip("/"), gtin=gtins.get, gln=lambda loc: place(loc)[0],
                  holder=lambda loc: place(loc)[1])


@dataclass
class _Names(EpcisNames):
    """:class:`EpcisNames` remembering the lots it named: a lot appears in about ten events
    (made, shipped, received, split, sold), and naming it looks up its GTIN and encodes it."""

    _lots: dict[str, str] = field(default_factory=dict, repr=False)

    def lot(self, lot: str) -> str:
        uri = self._lots.get(lot)
        if uri is None:
            if len(self._lots) >= _LOTS_REMEMBERED:
                self._lots.clear()
            uri = self._lots[lot] = super().lot(lot)
        return uri


_LOTS_REMEMBERED = 1 << 16


def _rows(ledger: Ledger, conn: Any, lot: str | None
          ) -> tuple[int, Iterator[tuple[Any, ...]]]:
    """How many records to export, and (seq, hash, body, recorded_at, kind, event_time) of
    each, in seq order: all of them, or those of ``lot``'s trace (the lot, the lots it came
    from and the lots made from it: every record that made or touched one)."""
    store = ledger.store
    if lot is None:
        size = store.size(conn)
        return size, ((row[0], row[2], row[3], row[6], row[8], row[11])
                      for row in store.scan_records(conn, 0, size))
    answer = trace(ledger, lot)
    family = sorted({lot, *answer.upstream_lots, *answer.downstream_lots})
    seqs = SupplySql.event_seqs(conn, family)

    def chunks() -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(seqs), _CHUNK):
            for r in store.record_rows(conn, seqs[start:start + _CHUNK]):
                yield (r["seq"], r["hash"], r["body"], r["recorded_at"], r["kind"],
                       r["event_time"])

    return len(seqs), chunks()


def epcis_events(ledger: Ledger, conn: Any, names: EpcisNames, *, lot: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 summary: ExportSummary | None = None,
                 pool_from: int = POOL_FROM) -> Iterator[dict[str, Any]]:
    """The ledger's events as EPCIS 2.0 events, one at a time, in seq order: every event
    (or those of ``lot``'s trace) whose time is in [``since``, ``until``). From ``pool_from``
    records on (and with more than one core) the event hash IDs are computed in the worker
    pool, a few chunks ahead of the caller."""
    summary = summary if summary is not None else ExportSummary()
    count, rows = _rows(ledger, conn, lot)
    return _events(count, rows, names, since, until, summary, pool_from)


def _events(count: int, rows: Iterator[tuple[Any, ...]], names: EpcisNames,
            since: datetime | None, until: datetime | None, summary: ExportSummary,
            pool_from: int) -> Iterator[dict[str, Any]]:
    mapped = _mapped(rows, names, since, until, summary)
    if count < pool_from or cpu_count() == 1:
        for event, record in mapped:
            # The GS1 event hash ID (CBV 2.0 §8.9, docs/contract.md "EPCIS") over the event
            # as mapped, before this ledger's own record fields: another system re-exporting
            # the same event names it with the same ID.
            event["eventID"] = event_hash_id(event, NAMESPACES)
            yield _recorded(event, record)
        return
    for text in _pooled(mapped):
        yield orjson.loads(text)


def _mapped(rows: Iterator[tuple[Any, ...]], names: EpcisNames, since: datetime | None,
            until: datetime | None, summary: ExportSummary
            ) -> Iterator[tuple[dict[str, Any], tuple[Any, ...]]]:
    """Each record's event as its kind maps it (counted in ``summary``), with the record."""
    low = None if since is None else to_micros(since)
    high = None if until is None else to_micros(until)
    mappings: dict[str, Callable[..., dict[str, Any] | None] | None] = {}
    by_kind = summary.by_kind
    for record in rows:
        kind, event_time = record[4], record[5]
        if low is not None or high is not None:
            moment = to_micros(parse_rfc3339(event_time))
            if (low is not None and moment < low) or (high is not None and moment >= high):
                continue
        if kind not in mappings:
            spec = KINDS.get(kind)
            mappings[kind] = spec.epcis if spec is not None else None
        mapping = mappings[kind]
        event = mapping(orjson.loads(bytes(record[2])), names) if mapping is not None else None
        if event is None:
            summary.skipped[kind] = summary.skipped.get(kind, 0) + 1
            continue
        summary.events += 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
        yield event, record


def _recorded(event: dict[str, Any], record: tuple[Any, ...]) -> dict[str, Any]:
    """The event with what only the stored record knows, after its ``eventID``."""
    return with_record(event, seq=record[0], record_hash=record[1], recorded_at=record[3])


def with_record(event: dict[str, Any], *, seq: Any, record_hash: Any,
                recorded_at: Any) -> dict[str, Any]:
    """``event`` with what only the stored record knows, after its ``eventID``: when the
    ledger recorded it (``recordTime``), its ``tracelib:seq`` and ``tracelib:recordHash``."""
    event["recordTime"] = str(recorded_at)
    event[f"{PREFIX}:seq"] = int(seq)
    event[f"{PREFIX}:recordHash"] = bytes(record_hash).hex()
    return event


def stored_event(kind: str, doc: Mapping[str, Any], names: EpcisNames, *, seq: Any,
                 record_hash: Any, recorded_at: Any, hash_id: str | None = None
                 ) -> dict[str, Any] | None:
    """One stored record (its kind, its event's wire form, its seq, hash and recording
    time) as the export writes it: the kind's mapping, its GS1 event hash ID as ``eventID``
    (``hash_id`` when the caller knows it for the same names), then the record's fields;
    None for a kind with no EPCIS event. The query and the subscriptions answer with it."""
    spec = KINDS.get(kind)
    event = spec.epcis(doc, names) if spec is not None and spec.epcis is not None else None
    if event is None:
        return None
    event["eventID"] = hash_id if hash_id is not None else event_hash_id(event, NAMESPACES)
    return with_record(event, seq=seq, record_hash=record_hash, recorded_at=recorded_at)


def _pooled(mapped: Iterator[tuple[dict[str, Any], tuple[Any, ...]]]) -> Iterator[bytes]:
    """The events of ``mapped`` as JSON, with their hash IDs from the worker pool, in order,
    keeping at most :data:`IN_FLIGHT` chunks out. Each event is written once, as mapped: the
    pool gets that JSON to hash, and the writer the same JSON with ``eventID`` and the
    record's fields spliced on at its end (as :func:`write_document` would write them)."""
    pending: deque[tuple[list[bytes], list[tuple[Any, ...]], Future[list[str]]]] = deque()

    def done() -> Iterator[bytes]:
        texts, records, future = pending.popleft()
        for text, record, event_id in zip(texts, records, future.result(), strict=True):
            yield text[:-1] + b"," + orjson.dumps({
                "eventID": event_id, "recordTime": str(record[3]), f"{PREFIX}:seq": int(record[0]),
                f"{PREFIX}:recordHash": bytes(record[1]).hex()})[1:]

    texts: list[bytes] = []
    records: list[tuple[Any, ...]] = []
    for event, record in mapped:
        texts.append(orjson.dumps(event))
        records.append(record)
        if len(texts) == POOL_CHUNK:
            pending.append((texts, records, pool().submit(
                event_hash_ids, b"[" + b",".join(texts) + b"]", NAMESPACES)))
            texts, records = [], []
            if len(pending) >= IN_FLIGHT:
                yield from done()
    if texts:
        pending.append((texts, records, pool().submit(
            event_hash_ids, b"[" + b",".join(texts) + b"]", NAMESPACES)))
    while pending:
        yield from done()


def document_head(now: datetime) -> bytes:
    """An EPCISDocument's opening, up to its eventList's first event: the GS1 context and
    the tracelib namespace (EPCIS 2.0 §9.3, JSON-LD 1.1 compact IRIs)."""
    head = orjson.dumps({"@context": [EPCIS_CONTEXT, {PREFIX: NAMESPACE}],
                         "type": "EPCISDocument", "schemaVersion": "2.0",
                         "creationDate": format_utc(now)})
    return head[:-1] + b',"epcisBody":{"eventList":['


def write_document(events: Iterable[dict[str, Any]], out: IO[bytes], *,
                   now: datetime | None = None) -> None:
    """Write an EPCISDocument holding ``events`` to ``out``, one event at a time."""
    out.write(document_head(now or utcnow()))
    first = True
    for event in events:
        if not first:
            out.write(b",")
        out.write(orjson.dumps(event))
        first = False
    out.write(b"]}}")


def export_document(ledger: Ledger, out: IO[bytes], *, base: str, lot: str | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    now: datetime | None = None, pool_from: int = POOL_FROM) -> ExportSummary:
    """Export the ledger (or ``lot``'s trace; events in [``since``, ``until``)) to ``out``
    as one EPCISDocument; lots without a GTIN and locations without a GLN are named under
    ``base``, the ledger's public URL."""
    summary = ExportSummary()
    with ledger.store.reader() as conn:
        names = names_for(ledger, conn, base)
        count, rows = _rows(ledger, conn, lot)
        if count < pool_from or cpu_count() == 1:
            write_document(_events(count, rows, names, since, until, summary, pool_from), out,
                           now=now)
            return summary
        # A long export: the events' JSON straight from the pool's pipeline, not parsed back.
        out.write(document_head(now or utcnow()))
        first = True
        for text in _pooled(_mapped(rows, names, since, until, summary)):
            if not first:
                out.write(b",")
            out.write(text)
            first = False
        out.write(b"]}}")
    return summary
