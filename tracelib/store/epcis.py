"""SQL of the EPCIS 2.0 query (:mod:`tracelib.epcis.query`) and of its event hash ID index.

The query selects candidate records here, by what SQL can decide from the records' own
columns (kind, location, ``recorded_at``, the event time), in seq order; the caller maps each
candidate with its kind's EPCIS mapping and decides the rest. An eventTime range reads the
index revision 0021 adds over the existing columns, of the instant in UTC: on SQLite
``julianday(upper(event_time))`` (exact to well under a millisecond), on PostgreSQL
``tracelib_utc(event_time)``; the window is read a second wider than asked and the caller
decides exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, select

from .bulk import insert_tuples
from .schema import epcis_event_ids, epcis_id_cursor, locations, lots, records

__all__ = ["EpcisSql", "IdCursor"]

_EPOCH_JD = 2440587.5  # the Julian day of 1970-01-01T00:00:00Z
_CURSOR = "ids"


#: How much wider than asked an eventTime window is read (the caller decides exactly).
_MARGIN = timedelta(seconds=1)
#: On PostgreSQL a window at most this long is read from ``ix_records_kind_utc`` and sorted,
#: not found by walking the primary key in seq order: event times rise with the seqs, so the
#: planner's guess that a window's records are spread evenly over the seqs sends a one-day
#: page through every record before that day (38.9 ms against 2.4 ms, EXPLAIN ANALYZE at
#: 200,000 events). A longer window may match so many records that the walk is quicker.
_INDEXED_WINDOW = timedelta(days=7)


def _julian(moment: datetime) -> float:
    return moment.timestamp() / 86400.0 + _EPOCH_JD


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


class IdCursor(tuple[int, int, str]):
    """(indexed, stamp, base): records below ``indexed`` are in the ID index, built while the
    directory stamp was ``stamp``, with names under ``base``."""

    @property
    def indexed(self) -> int:
        return int(self[0])

    @property
    def stamp(self) -> int:
        return int(self[1])

    @property
    def base(self) -> str:
        return str(self[2])


class EpcisSql:
    """Candidate records of a query, the discovery lists and the event hash ID index."""

    @staticmethod
    def candidates(conn: Connection, *, kinds: Sequence[str], after: int, limit: int,
                   before: int | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   recorded_since: str | None = None, recorded_until: str | None = None,
                   places: Sequence[str] | None = None) -> list[tuple[int, str]]:
        """(seq, kind) of up to ``limit`` records after seq ``after``, in seq order, of
        ``kinds``, at ``places`` (None: anywhere), recorded in [``recorded_since``,
        ``recorded_until``) (``recorded_at`` text, UTC) and whose event time may fall in
        [``since``, ``until``) — a superset: the caller decides the time exactly; below seq
        ``before`` when given."""
        if not kinds or (places is not None and not places):
            return []
        query = select(records.c.seq, records.c.kind).where(
            records.c.kind.in_(sorted(kinds)), records.c.seq > after)
        if before is not None:
            query = query.where(records.c.seq < before)
        if since is not None or until is not None:
            if conn.dialect.name == "sqlite":
                instant: Any = func.julianday(func.upper(records.c.event_time))
                low: Any = None if since is None else _julian(since - _MARGIN)
                high: Any = None if until is None else _julian(until + _MARGIN)
            else:
                instant = func.tracelib_utc(records.c.event_time)
                low = None if since is None else _naive_utc(since - _MARGIN)
                high = None if until is None else _naive_utc(until + _MARGIN)
            if low is not None:
                query = query.where(instant >= low)
            if high is not None:
                query = query.where(instant < high)
        if recorded_since is not None:
            query = query.where(records.c.recorded_at >= recorded_since)
        if recorded_until is not None:
            query = query.where(records.c.recorded_at < recorded_until)
        if places is not None:
            query = query.where(records.c.location.in_(sorted(places)))
        order: Any = records.c.seq
        if (conn.dialect.name != "sqlite" and since is not None and until is not None
                and until - since <= _INDEXED_WINDOW):
            order = records.c.seq + 0  # not the primary key's order: the window's index
        rows = conn.execute(query.order_by(order).limit(limit)).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    @staticmethod
    def first_recorded(conn: Connection, recorded: str, size: int) -> int:
        """The first seq recorded at or after ``recorded`` (``recorded_at`` text, UTC;
        ``size`` when none): a binary search on seq, since an append never records a time
        before the previous record's (tracelib.append.pipeline)."""
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            at = conn.execute(select(records.c.recorded_at)
                              .where(records.c.seq == middle)).scalar()
            if at is not None and str(at) >= recorded:
                high = middle
            else:
                low = middle + 1
        return low

    @staticmethod
    def gtins(conn: Connection, codes: Sequence[str]) -> dict[str, str | None]:
        """The GTIN of each of the lots ``codes`` that exists (None: it has none)."""
        out: dict[str, str | None] = {}
        for part in _parts(codes):
            out.update((str(r[0]), None if r[1] is None else str(r[1])) for r in conn.execute(
                select(lots.c.lot, lots.c.gtin).where(lots.c.lot.in_(part))))
        return out

    @staticmethod
    def locations_after(conn: Connection, after: str | None, limit: int
                        ) -> list[tuple[str, dict[str, Any]]]:
        """(id, details) of up to ``limit`` registered locations after ``after``, by id."""
        query = select(locations.c.id, locations.c.details)
        if after is not None:
            query = query.where(locations.c.id > after)
        rows = conn.execute(query.order_by(locations.c.id).limit(limit)).all()
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    @staticmethod
    def locations_with_gln(conn: Connection, gln: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, details) of the locations whose details may name GLN ``gln`` (a text
        search; the caller reads the details)."""
        rows = conn.execute(select(locations.c.id, locations.c.details)
                            .where(locations.c.details.contains(gln))).all()
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    @staticmethod
    def lots_after(conn: Connection, after: str | None, limit: int
                   ) -> list[tuple[str, str | None]]:
        """(lot, gtin) of up to ``limit`` lots after ``after``, by code."""
        query = select(lots.c.lot, lots.c.gtin)
        if after is not None:
            query = query.where(lots.c.lot > after)
        rows = conn.execute(query.order_by(lots.c.lot).limit(limit)).all()
        return [(str(r[0]), None if r[1] is None else str(r[1])) for r in rows]

    # -- the event hash ID index (not ledger state) ------------------------------------------

    @staticmethod
    def id_cursor(conn: Connection) -> IdCursor | None:
        row = conn.execute(select(epcis_id_cursor.c.indexed, epcis_id_cursor.c.stamp,
                                  epcis_id_cursor.c.base)
                           .where(epcis_id_cursor.c.name == _CURSOR)).first()
        return None if row is None else IdCursor((int(row[0]), int(row[1]), str(row[2])))

    @staticmethod
    def reset_ids(conn: Connection, stamp: int, base: str) -> None:
        """Empty the index and start it again from the first record."""
        conn.execute(delete(epcis_event_ids))
        conn.execute(delete(epcis_id_cursor))
        conn.execute(epcis_id_cursor.insert().values(name=_CURSOR, indexed=0, stamp=stamp,
                                                     base=base))

    @staticmethod
    def add_ids(conn: Connection, rows: Sequence[tuple[str, int]], indexed: int) -> None:
        """Add (hash ID, seq) rows (an ID already present keeps its first seq) and move the
        cursor to ``indexed``."""
        fresh = dict(reversed(rows))  # the first seq of an ID repeated within the batch
        if fresh:
            known = {str(r[0]) for part in _parts(sorted(fresh)) for r in conn.execute(
                select(epcis_event_ids.c.hash_id).where(epcis_event_ids.c.hash_id.in_(part)))}
            new = [(h, s) for h, s in sorted(fresh.items(), key=lambda kv: kv[1])
                   if h not in known]
            if new:
                insert_tuples(conn, epcis_event_ids, ("hash_id", "seq"), new)
        conn.execute(epcis_id_cursor.update().where(epcis_id_cursor.c.name == _CURSOR)
                     .values(indexed=indexed))

    @staticmethod
    def refresh_statistics(conn: Connection) -> None:
        """Refresh the planner's statistics of the event ID index (``ANALYZE``) after a large
        fill, on PostgreSQL; SQLite plans these lookups from the indexes alone."""
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("ANALYZE epcis_event_ids")

    @staticmethod
    def ids_of_seqs(conn: Connection, seqs: Sequence[int]) -> dict[int, str]:
        """The hash IDs the index holds for ``seqs`` (``ix_epcis_event_ids_seq``)."""
        out: dict[int, str] = {}
        for start in range(0, len(seqs), 500):
            out.update((int(r[1]), str(r[0])) for r in conn.execute(
                select(epcis_event_ids.c.hash_id, epcis_event_ids.c.seq)
                .where(epcis_event_ids.c.seq.in_(seqs[start:start + 500]))))
        return out

    @staticmethod
    def seq_of_id(conn: Connection, hash_id: str) -> int | None:
        found = conn.execute(select(epcis_event_ids.c.seq)
                             .where(epcis_event_ids.c.hash_id == hash_id)).scalar()
        return None if found is None else int(found)


def _parts(items: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
