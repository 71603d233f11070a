"""The ledger's derived tables, re-derived from its records: every row that pages, traces,
proofs and rules read (parties, locations, keys, lots and their edges, stock, shipments,
excursions, test results and their follow-ups, holds, recalls, the limits tables in force)
is what the records give when they run again through the append rules.

:class:`Replayer` runs stored records through the append engine's own admission and the
kinds' ``apply`` functions (:func:`tracelib.append.pipeline._admit` on a
:class:`~tracelib.append.context.BatchContext`): one set of rules, so a rule added later is
replayed as it is appended. It does not check signatures (``verify`` checks every one).

* :class:`ScratchReplay` replays into a temporary SQLite database and compares every derived
  table with the ledger's, row by row in primary-key order, generically from the tables'
  metadata (a column added later is compared without a change here); ``verify`` runs it.
* :func:`reindex_ledger` rebuilds the derived tables of the ledger itself (``tracelib
  reindex``): the repair after a derived table was damaged or edited.

Which tables are ledger state and which are not is declared once, in :data:`TABLES`
(docs/integrity.md "What verify covers").

GB 2763 limits tables are loaded by ``limits`` events that carry their text, so they are
re-derived like every other row, and each lab result is replayed with the table in force at
its record.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import zip_longest
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table

from .append.context import BatchContext, Directory
from .append.pipeline import DIRECTORY_CACHE_MAX, _admit
from .errors import IntegrityError, TracelibError
from .events import Event
from .store import Store
from .store.limits import ACTIVE
from .store.schema import (
    attachments,
    broken_commitments,
    excursions,
    inspections,
    keys,
    limit_tables,
    locations,
    lot_edges,
    lot_events,
    lots,
    meta,
    parties,
    peer_checkpoints,
    peer_citations,
    peers,
    shipments,
    stock,
    test_results,
    witnesses,
)
from .store.tables import TablesSql
from .timeutil import parse_rfc3339, to_micros

__all__ = ["CHAIN", "CHUNK", "DERIVED", "META_DERIVED", "OUTSIDE", "TABLES", "Difference",
           "ReindexReport", "ReplayError", "Replayer", "ScratchReplay", "derived_tables",
           "reindex_ledger"]

#: Roles of a table in a ledger's database.
CHAIN = "chain"  # the signed records, their Merkle tree and checkpoints: checked link by link
DERIVED = "derived"  # ledger state re-derived from the records: replayed and compared
OUTSIDE = "outside"  # not ledger state: nothing a page, trace, proof or rule reads as such

#: Every table a ledger's database holds, and what it is (docs/integrity.md). A table of
#: ``tracelib.store.schema`` or of the service that is not listed here fails the tests.
TABLES: Mapping[str, str] = {
    "records": CHAIN,
    "nodes": CHAIN,
    "checkpoints": CHAIN,
    "parties": DERIVED,
    "locations": DERIVED,
    "keys": DERIVED,
    "lots": DERIVED,
    "lot_edges": DERIVED,
    "lot_events": DERIVED,
    "stock": DERIVED,
    "shipments": DERIVED,
    "excursions": DERIVED,
    "test_results": DERIVED,
    "inspections": DERIVED,
    "broken_commitments": DERIVED,
    "attachments": DERIVED,
    "limit_tables": DERIVED,
    "witnesses": DERIVED,  # the witnesses the operator registered (register events)
    "peers": DERIVED,
    "peer_checkpoints": DERIVED,
    "peer_citations": DERIVED,
    "meta": DERIVED,
    "checkpoint_cosignatures": OUTSIDE,  # witnesses' cosignature lines: each verifies alone
    "alembic_version": OUTSIDE,  # the schema's migration revision
    "epcis_captures": OUTSIDE,  # what each EPCIS capture answered (its job)
    "epcis_event_ids": OUTSIDE,  # EPCIS event hash ID → seq, a cache refilled from the records
    "epcis_id_cursor": OUTSIDE,  # how far that cache has read, and for which master data
    "svc_api_tokens": OUTSIDE,  # the service's API tokens (hashes)
    "svc_scan_counts": OUTSIDE,  # the service's count of stall-page scans per day
    "svc_console_sessions": OUTSIDE,  # the regulator's console's sign-in sessions (hashes)
    "epcis_queries": OUTSIDE,  # EPCIS named queries
    "epcis_subscriptions": OUTSIDE,  # EPCIS webhook subscriptions and their cursors
    "epcis_deliveries": OUTSIDE,  # the webhook deliveries receivers acknowledged
    "epcis_delivery_lease": OUTSIDE,  # which process delivers, until when
    "peer_notices": OUTSIDE,  # recall notices received from peers, each proven on its own
}

_DERIVED_TABLES: tuple[Table, ...] = (parties, locations, keys, lots, lot_edges, lot_events,
                                      stock, shipments, excursions, test_results, inspections,
                                      broken_commitments, attachments, limit_tables, witnesses,
                                      peers, peer_checkpoints, peer_citations, meta)
#: ``meta`` rows the records give; the others (``operator``, ``origin``) are the ledger's
#: settings from its creation, which verify checks against the genesis record and the
#: checkpoints' signed notes.
META_DERIVED = (ACTIVE, "operator_key")
#: Records replayed together (prefetched, applied, written), as an append's chunks.
CHUNK = 1000


def derived_tables() -> tuple[Table, ...]:
    """The derived tables, in the order verify compares them."""
    assert tuple(t.name for t in _DERIVED_TABLES) == tuple(
        name for name, role in TABLES.items() if role == DERIVED)
    return _DERIVED_TABLES


class ReplayError(IntegrityError):
    """A stored record that the append rules refuse when replayed (``seq`` names it)."""


@dataclass(frozen=True)
class Difference:
    """The first row of a derived table that differs from what the records give."""

    table: str
    row: dict[str, Any]  # the row's primary key
    column: str | None  # None: the whole row is missing or extra
    found: Any = None
    expected: Any = None
    seq: int | None = None  # the record that should have produced the row (its newest)

    @property
    def problem(self) -> str:
        where = f"table {self.table}, row ({_key_text(self.row)})"
        by = f" (produced by seq {self.seq})" if self.seq is not None else ""
        if self.column is None and self.expected is None:
            return f"{where}: row not produced by any record"
        if self.column is None:
            return f"{where}: row missing{by}"
        last = f" (last set by seq {self.seq})" if self.seq is not None else ""
        return (f"{where}: column {self.column} is {self.found!r} where the records give "
                f"{self.expected!r}{last}")


def _key_text(row: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in row.items())


# -- replaying records -----------------------------------------------------------------------

class Replayer:
    """Runs stored records, in seq order, through the append rules into ``conn`` (a write
    transaction on ``store``: a scratch database, or the ledger itself for a reindex)."""

    def __init__(self, store: Store, conn: Connection, operator: str) -> None:
        self.store = store
        self.conn = conn
        self.operator = operator
        self._directory: Directory | None = None
        self._times: dict[str, int] = {}
        self.genesis_key: str | None = None
        self.next_seq = 0  # the seq of the next record to feed

    def _context(self) -> BatchContext:
        ctx = BatchContext(self.store, self.conn, self.operator)
        if self._directory is not None:
            ctx.adopt(self._directory)
        return ctx

    def _record_us(self, recorded: str, seq: int) -> int:
        us = self._times.get(recorded)
        if us is None:
            try:
                us = to_micros(parse_rfc3339(recorded, field="recorded_at"))
            except TracelibError as e:
                raise ReplayError(f"record time does not parse: {e}", seq=seq) from e
            if len(self._times) >= 64:
                self._times.clear()
            self._times[recorded] = us
        return us

    def feed(self, rows: Iterable[Sequence[Any]], *, canonical: bool = False) -> None:
        """Replay stored records: rows of :meth:`Store.scan_records` (seq, prev_hash, hash,
        body, key_id, signature, recorded_at, …), consecutive and in seq order, after the
        ones fed so far. Raises :class:`ReplayError` naming the first record the rules
        refuse. ``canonical``: the records are known to hold events in their own RFC 8785
        form (verify's workers checked them), which is then not established again."""
        parse = Event.from_canonical if canonical else Event.from_stored
        batch: list[tuple[int, Event, str]] = []
        unparsed: ReplayError | None = None  # raised after the records before it are applied
        for row in rows:
            seq, body, key_id, signature, recorded = (int(row[0]), bytes(row[3]), str(row[4]),
                                                      bytes(row[5]), str(row[6]))
            try:
                event = parse(body, key_id, signature)
            except TracelibError as e:
                unparsed = ReplayError(f"stored event does not parse: {e}", seq=seq)
                break
            if seq == 0:
                self.genesis_key = key_id
            batch.append((seq, event, recorded))
        if not batch:
            if unparsed is not None:
                raise unparsed
            return
        ctx = self._context()
        ctx.prefetch([event for _, event, _ in batch])
        for seq, event, recorded in batch:
            try:
                _admit(ctx, self.operator, event, seq, self._record_us(recorded, seq))
            except ReplayError:
                raise
            except (TracelibError, LookupError, ValueError, TypeError, ArithmeticError) as e:
                raise ReplayError(f"the append rules refuse the record on replay: {e}",
                                  seq=seq) from e
        ctx.flush()
        directory = ctx.directory()
        self._directory = directory if len(directory) <= DIRECTORY_CACHE_MAX else None
        self.next_seq = batch[-1][0] + 1
        if unparsed is not None:
            raise unparsed

    def finish(self) -> None:
        """Write the ``meta`` row the records give besides the active limits table (which
        the ``limits`` events set): the operator key, the one that signed the genesis
        record."""
        if self.genesis_key is not None:
            key = self.store.key(self.conn, self.genesis_key)
            if key is not None:
                self.store.put_meta(self.conn, "operator_key",
                                    base64.b64encode(key.public_key).decode("ascii"))


# -- verify: replay into a scratch database and compare -------------------------------------

class ScratchReplay:
    """A replay of a ledger into a temporary SQLite database (a file, so memory stays
    bounded), fed range by range, then compared table by table with the ledger."""

    def __init__(self, ledger_store: Store, operator: str) -> None:
        self.ledger_store = ledger_store
        self._dir = Path(tempfile.mkdtemp(prefix="tracelib-replay-"))
        self.scratch = Store(f"sqlite:///{self._dir / 'replay.db'}")
        self._conn: Connection | None = None
        try:
            TablesSql.create_all(self.scratch.engine)
            conn = self._conn = self.scratch.engine.connect()
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # A scratch copy: no journal, no syncing, a modest page cache.
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-32768"):
                raw.execute(f"PRAGMA {pragma}")
            conn.begin()
            with ledger_store.reader() as ledger_conn:
                settings = [r for r in TablesSql.all_rows(ledger_conn, meta)
                            if r[0] not in META_DERIVED]
            TablesSql.insert(conn, meta, settings)
            self.replayer = Replayer(self.scratch, conn, operator)
        except BaseException:
            self.close()
            raise

    def replay(self, start: int, end: int) -> None:
        """Replay records [start, end) of the ledger (after the ones replayed so far), which
        verify has checked: canonical bodies, signed by a key valid for their actor."""
        assert self._conn is not None
        with self.ledger_store.reader() as ledger_conn:
            # Verify replays a range only after its workers found every record in it sound.
            self._feed(ledger_conn, start, end, canonical=True)
        self._conn.commit()
        self._conn.begin()

    def _feed(self, ledger_conn: Connection, start: int, end: int, *, canonical: bool) -> None:
        for first in range(start, end, CHUNK):
            rows = list(Store.scan_records(ledger_conn, first, min(end, first + CHUNK)))
            self.replayer.feed(rows, canonical=canonical)

    def compare(self) -> Difference | None:
        """The first derived row of the ledger that differs from the replay's, table by
        table (:func:`derived_tables`) in primary-key order; None when all agree."""
        assert self._conn is not None
        with self.ledger_store.reader() as ledger_conn:
            # The derived tables are read in this snapshot, which may hold records appended
            # since verify began: their rows are replayed too (the records themselves are
            # checked by the next verify), so a ledger in use compares as it stands.
            self._feed(ledger_conn, self.replayer.next_seq, self.ledger_store.size(ledger_conn),
                       canonical=False)
            self.replayer.finish()
            for table in derived_tables():
                with (TablesSql.ordered_rows(ledger_conn, table) as found,
                      TablesSql.ordered_rows(self._conn, table) as expected):
                    difference = _first_difference(table, found, expected)
                if difference is not None:
                    return _attributed(*difference, self._conn, table)
        return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.scratch.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> ScratchReplay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _normal(value: Any) -> Any:
    """A value as both databases' drivers may give it: bytes for binary, int for integers."""
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _normal(a), _normal(b)
    if isinstance(a, bytes) and isinstance(b, str):
        return a == b.encode("utf-8")
    if isinstance(a, str) and isinstance(b, bytes):
        return a.encode("utf-8") == b
    return bool(a == b) and type(a) is type(b)


def _first_difference(table: Table, found: Iterable[Sequence[Any]],
                      expected: Iterable[Sequence[Any]]
                      ) -> tuple[Difference, Sequence[Any] | None] | None:
    """The first difference between two streams of a table's rows, both in primary-key
    order, with the row the records give there (None for a row no record produced): equal
    rows cost one tuple comparison; a pair that differs is looked at column by column with
    the drivers' differences set aside (:func:`_same`)."""
    names = [c.name for c in table.columns]
    key_at = [i for i, c in enumerate(table.columns) if c.primary_key]
    for a, b in zip_longest(found, expected):
        if a == b:
            continue
        if b is None:
            return Difference(table.name, {names[i]: a[i] for i in key_at}, None, a, None), None
        if a is None:
            return Difference(table.name, {names[i]: b[i] for i in key_at}, None, None, b), b
        if all(_same(x, y) for x, y in zip(a, b, strict=True)):
            continue
        key_a = tuple(_normal(a[i]) for i in key_at)
        key_b = tuple(_normal(b[i]) for i in key_at)
        if all(_same(x, y) for x, y in zip(key_a, key_b, strict=True)):
            column = next(i for i, (x, y) in enumerate(zip(a, b, strict=True))
                          if not _same(x, y))
            return Difference(table.name, {names[i]: b[i] for i in key_at}, names[column],
                              a[column], b[column]), b
        try:
            extra = key_a < key_b
        except TypeError:  # a key of another type than the schema's: not from any record
            extra = True
        if extra:
            return Difference(table.name, {names[i]: a[i] for i in key_at}, None, a, None), None
        return Difference(table.name, {names[i]: b[i] for i in key_at}, None, None, b), b
    return None


def _attributed(difference: Difference, expected: Sequence[Any] | None, scratch: Connection,
                table: Table) -> Difference:
    """The difference with the seq of the newest record that should have produced the row
    (``expected``): the greatest of its own record columns (``seq``, ``…_seq``) and, for a
    lot's row, the newest record that touched the lot."""
    if expected is None:
        return difference  # a row no record produced
    row = dict(zip((c.name for c in table.columns), expected, strict=True))
    seqs = [int(v) for name, v in row.items()
            if (name == "seq" or name.endswith("_seq")) and isinstance(v, int)]
    lot = row.get("lot")
    if isinstance(lot, str):
        last = TablesSql.last_lot_event(scratch, lot)
        if last is not None:
            seqs.append(last)
    if table.name == "meta" and row.get("name") == "operator_key":
        seqs.append(0)
    return replace(difference, seq=max(seqs) if seqs else None)


# -- reindex: rebuild the ledger's own derived tables ---------------------------------------

@dataclass(frozen=True)
class ReindexReport:
    size: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "seconds": round(self.seconds, 3)}


def reindex_ledger(store: Store, operator: str, *,
                   progress: Callable[[int], None] | None = None) -> ReindexReport:
    """Rebuild every derived table from the records, in one write transaction (nothing
    changes if a record is refused: :class:`ReplayError` names it). The records, the Merkle
    tree and the checkpoints are kept as they are."""
    started = time.perf_counter()
    with store.writer() as conn:
        size = store.size(conn)
        TablesSql.clear(conn, [t for t in derived_tables() if t is not meta])
        replayer = Replayer(store, conn, operator)
        for name in META_DERIVED:
            TablesSql.delete_where(conn, meta, "name", name)
        for start in range(0, size, CHUNK):
            rows = list(Store.scan_records(conn, start, min(size, start + CHUNK)))
            replayer.feed(rows)
            if progress is not None:
                progress(len(rows))
        replayer.finish()
    return ReindexReport(size, time.perf_counter() - started)
