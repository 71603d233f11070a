"""Events by their GS1 event hash ID (``GET /epcis/events/{eventID}``, ``tracelib epcis
index``): an index from each exported event's ``eventID`` to its record's seq.

The ID is the hash of the event as mapped, so it depends on master data: a lot's GTIN, a
location's GLN and holder. The index (``epcis_event_ids``, not ledger state) is filled from the
records in seq order, in batches, from a high-water mark (``epcis_id_cursor``): every lookup
first catches up (at most ``budget`` records; the CLI catches up whole). A hit is checked by
mapping the record again, so an index built before master data changed never returns the
wrong event. A miss while the directory (``Store.directory_stamp``: the newest ``register``
record) has changed since the index was started, or a stale hit, starts the index again from
the first record: an event whose ID changed because its master data did is found once the
rebuild has passed it. Until the index has read every record, an absent ID is not known to be
absent (:attr:`Lookup.complete` is False).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..ledger import Ledger
from ..store.epcis import EpcisSql
from .query import _prefetch, epcis_event, lazy_names

__all__ = ["BATCH", "Lookup", "catch_up", "find_event"]

#: Records mapped and hashed per write transaction.
BATCH = 2000


@dataclass
class Lookup:
    """What a lookup found: the event (as the export maps it) and its stored form, or
    None; ``complete``: the index had read every record (an absent ID is absent)."""

    event: dict[str, Any] | None
    stored: dict[str, Any] | None
    complete: bool
    indexed: int
    size: int


#: After indexing this many records at once, the database's planner statistics are refreshed:
#: PostgreSQL's autovacuum may analyze the table long after a large catch-up, and until it
#: does, looking a page's IDs up by seq walked all 1,000,000 rows (120 ms, against ~1 ms).
_ANALYZE_FROM = 50_000


def catch_up(ledger: Ledger, base: str, *, budget: int | None = None,
             restart: bool = False, progress: Callable[[int, int], None] | None = None
             ) -> tuple[int, int]:
    """Index the records not yet indexed (at most ``budget``; None: all), starting again
    from the first when ``restart``, the base URL changed or there is no index yet.
    Returns (records indexed, ledger size)."""
    store = ledger.store
    base = base.rstrip("/")
    with store.reader() as conn:  # the writer's lock only when there is something to write
        cursor = EpcisSql.id_cursor(conn)
    if restart or cursor is None or cursor.base != base:
        with store.writer() as conn:
            EpcisSql.reset_ids(conn, store.directory_stamp(conn), base)
        indexed = 0
    else:
        indexed = cursor.indexed
    done = 0
    while True:
        with store.reader() as conn:
            size = store.size(conn)
            if indexed >= size or (budget is not None and done >= budget):
                break
            step = min(BATCH, size - indexed, BATCH if budget is None else budget - done)
            names, cache = lazy_names(ledger, conn, base)
            rows = list(store.iter_record_rows(conn, indexed, indexed + step))
            docs = [(row, orjson.loads(bytes(row["body"]))) for row in rows]
            _prefetch(ledger, conn, cache, (doc for _, doc in docs))
            found = []
            for row, doc in docs:
                event = epcis_event(row, doc, names)
                if event is not None:
                    found.append((str(event["eventID"]), int(row["seq"])))
        with store.writer() as conn:
            cursor = EpcisSql.id_cursor(conn)
            if cursor is None or cursor.indexed != indexed:
                indexed = 0 if cursor is None else cursor.indexed  # another writer moved it
                continue
            EpcisSql.add_ids(conn, found, indexed + step)
        indexed += step
        done += step
        if progress is not None:
            progress(indexed, size)
    if done >= _ANALYZE_FROM:
        with store.writer() as conn:
            EpcisSql.refresh_statistics(conn)
    return indexed, size


def _at(ledger: Ledger, base: str, seq: int) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    with ledger.store.reader() as conn:
        row = ledger.store.record_row(conn, seq)
        names, _ = lazy_names(ledger, conn, base)
        doc = orjson.loads(bytes(row["body"]))
        return epcis_event(row, doc, names), doc


def find_event(ledger: Ledger, base: str, event_id: str, *, budget: int = 2_000) -> Lookup:
    """The event whose GS1 event hash ID is ``event_id``, after catching the index up by
    at most ``budget`` records (see the module's words on master data)."""
    base = base.rstrip("/")
    restarted = False
    while True:
        indexed, size = catch_up(ledger, base, budget=budget, restart=False)
        with ledger.store.reader() as conn:
            seq = EpcisSql.seq_of_id(conn, event_id)
            cursor = EpcisSql.id_cursor(conn)
            stamp = ledger.store.directory_stamp(conn)
        if seq is not None:
            event, doc = _at(ledger, base, seq)
            if event is not None and event["eventID"] == event_id:
                return Lookup(event, doc, indexed >= size, indexed, size)
        stale = seq is not None or (cursor is not None and cursor.stamp != stamp)
        if not stale or restarted:
            return Lookup(None, None, indexed >= size, indexed, size)
        catch_up(ledger, base, budget=0, restart=True)
        restarted = True
