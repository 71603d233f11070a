"""Persistence for the ledger: one class, :class:`Store`, over SQLAlchemy Core.

All SQL lives here and is parameterized. Rows are converted to tracelib's own
dataclasses in this package only.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, and_, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from ..directory import KeyRecord, Location, Party
from ..errors import NotFoundError, StorageError, TracelibError
from ..merkle import NodeId
from .bulk import driver_cursor, insert_tuples, placeholder, select_where_in
from .engine import WRITER_OPTION, make_engine, make_settled_engine, normalize_url
from .faults import storage_error
from .schema import checkpoints, keys, locations, meta, nodes, parties, records

__all__ = ["RECORD_COLUMNS", "Connection", "Head", "Store"]

# ``Connection`` (what :meth:`Store.reader` yields) is named here for the type hints of
# callers that hand it back to the store's reads and never run SQL on it themselves.

T = TypeVar("T")

#: The order of the values in a record row tuple (:meth:`Store.insert_records`).
RECORD_COLUMNS = ("seq", "event_id", "kind", "actor", "location", "event_time", "prev_hash",
                  "hash", "body", "key_id", "signature", "recorded_at")

_MIGRATIONS = Path(__file__).with_name("migrations")
# One writer per ledger: the advisory lock's key is derived from the database and schema
# the ledger lives in, so ledgers in other schemas or databases do not wait on each other.
#
# The same statement turns sequential scans off for the rest of the transaction: an append's
# reads are key lookups of a chunk's lots, stock, events and parties (`= ANY(array)`), and
# while a long load outruns autovacuum's ANALYZE the planner, believing the tables still
# small, answered them with sequential scans whose cost grows with the table (a 1,000,000-
# event load slowed from 5,700 to 2,200 events/s). Queries without a usable index still scan.
_PG_WRITER_LOCK = ("SELECT pg_advisory_xact_lock(hashtextextended("
                   "'tracelib:' || current_database() || '.' || current_schema(), 0)), "
                   "set_config('enable_seqscan', 'off', true)")
_IN_CHUNK = 500  # bound on IN-list sizes
# The size, the newest checkpoint and the one at a given size (NULL: none asked), at once.
_HEAD_SQL = ("SELECT (SELECT max(seq) FROM records), latest.size, latest.note, latest.root, "
             "at_size.note, at_size.root "
             "FROM (SELECT 1) AS one LEFT JOIN "
             "(SELECT size, note, root FROM checkpoints ORDER BY size DESC LIMIT 1) AS latest "
             "ON 1 = 1 LEFT JOIN checkpoints AS at_size ON at_size.size = {mark}")
_PG_NODES_SQL = ("SELECT 0, seq, hash FROM records WHERE seq = ANY(%s) UNION ALL "
                 "SELECT n.level, n.idx, n.hash FROM nodes AS n "
                 "JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) "
                 "ON n.level = w.level AND n.idx = w.idx")


def _pipelines(conn: Connection) -> bool:
    """Whether ``conn`` can send several statements in one round trip: psycopg's pipeline
    mode, which needs libpq 14 or newer (the psycopg[binary] wheels bundle one)."""
    if conn.dialect.name != "postgresql":
        return False
    from psycopg import Pipeline

    return bool(Pipeline.is_supported())


def _fetch_all(conn: Connection, statements: Sequence[tuple[str, tuple[Any, ...]]]
               ) -> list[list[tuple[Any, ...]]]:
    """Every row of each statement, as plain driver rows; several statements on PostgreSQL
    go in one pipeline (one round trip)."""
    with driver_cursor(conn) as cursor:
        if len(statements) > 1 and _pipelines(conn):
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cursors = [cursor, *(raw.cursor() for _ in statements[1:])]
            try:
                with raw.pipeline():
                    for each, (sql, params) in zip(cursors, statements, strict=True):
                        each.execute(sql, params)
                return [each.fetchall() for each in cursors]
            finally:
                for extra in cursors[1:]:
                    extra.close()
        results = []
        for sql, params in statements:
            cursor.execute(sql, params)
            results.append(cursor.fetchall())
        return results


def _node_hashes(results: Iterable[Iterable[tuple[Any, ...]]]) -> dict[NodeId, bytes]:
    """Node id -> hash from rows of ``(level, idx, hash)``."""
    return {(int(level), int(idx)): bytes(digest)
            for rows in results for level, idx, digest in rows}


class Head(NamedTuple):
    """What a proof needs to know first (:meth:`Store.head`)."""

    size: int
    latest_size: int | None
    latest_note: str | None
    latest_root: bytes | None
    note_at_size: str | None
    root_at_size: bytes | None


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# The bulk scan's statement, the bounds bound by the driver in its own placeholder style
# (sqlite3: qmark, psycopg: format).
_SCAN_QMARK = ("SELECT seq, prev_hash, hash, body, key_id, signature, recorded_at, "
               "event_id, kind, actor, location, event_time "
               "FROM records WHERE seq >= ? AND seq < ? ORDER BY seq")
_SCAN = {"qmark": _SCAN_QMARK, "format": _SCAN_QMARK.replace("?", "%s"),
         "pyformat": _SCAN_QMARK.replace("?", "%s")}


class Store:
    """The ledger's database. Thread-compatible; one per process is enough."""

    def __init__(self, db: str | os.PathLike[str]) -> None:
        self.url = normalize_url(db)
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        self._settled_engine: Engine | None = None

    def close(self) -> None:
        self.engine.dispose()
        if self._settled_engine is not None:
            self._settled_engine.dispose()

    # -- schema -------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        from alembic import command  # imported here: it costs ~0.4 s at every start
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.faults(), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @staticmethod
    @functools.cache
    def head_revision() -> str:
        """The newest Alembic revision this tracelib ships (what :meth:`migrate` upgrades
        to); a schema at another revision is behind the code. Read once per process."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        return ScriptDirectory.from_config(cfg).get_current_head() or "none"

    def schema_revision(self) -> str | None:
        """The schema's Alembic revision; None when the database holds no tracelib schema.
        A database that cannot be reached or does not exist is a :class:`StorageError`."""
        try:
            with self.reader() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError:  # SQLite: no such table
            return None
        except StorageError:
            raise
        except Exception as e:  # e.g. psycopg UndefinedTable
            if "alembic_version" in str(e):
                return None
            raise TracelibError(f"cannot read the database schema version: {e}") from e

    def in_recovery(self) -> bool:
        """Whether the database is a PostgreSQL standby replaying its primary's WAL
        (``pg_is_in_recovery()``, PostgreSQL manual §9.27.4 "Recovery Control Functions"):
        it serves reads and refuses every write. Always False on SQLite."""
        if self.dialect != "postgresql":
            return False
        with self.reader() as conn:
            return bool(conn.execute(text("SELECT pg_is_in_recovery()")).scalar())

    # -- transactions ---------------------------------------------------------
    @contextmanager
    def faults(self) -> Iterator[None]:
        """Turn the database's own failures (a full disk, a lost connection, a server that
        does not answer, a missing database, bytes no tracelib wrote) met inside the block
        into a :class:`StorageError` that says so in one line; others pass unchanged."""
        try:
            yield
        except Exception as e:
            error = storage_error(e, self.url)
            if error is None:
                raise
            raise error from e

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A write transaction holding the single-writer lock; commits on success."""
        with self.faults(), self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITER_OPTION: True})
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(text(_PG_WRITER_LOCK))
                yield conn

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot of the ledger."""
        with self.faults(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def settled_read(self, read: Callable[[Connection], T]) -> T:
        """``read(conn)`` for reads of what appends never change once committed (records,
        subtree hashes, checkpoints below a size read first), which need no common snapshot.

        On PostgreSQL each statement runs on its own (autocommit) on a connection of a
        second, lean engine, so a proof costs its two queries' round trips and nothing
        more; a connection the server dropped (a restart, an idle timeout) is discarded and
        ``read`` runs once more on a fresh one. On SQLite it is :meth:`reader`."""
        if self.dialect != "postgresql":
            with self.reader() as conn:
                return read(conn)
        with self.faults():
            return self._settled_read(read)

    def _settled_read(self, read: Callable[[Connection], T]) -> T:
        if self._settled_engine is None:
            self._settled_engine = make_settled_engine(self.url)
        engine = self._settled_engine
        driver_error = engine.dialect.loaded_dbapi.Error
        for attempt in (1, 2):
            with engine.connect() as conn:
                try:
                    return read(conn)
                except DBAPIError as e:  # through SQLAlchemy: it has invalidated the connection
                    if attempt == 2 or not e.connection_invalidated:
                        raise
                except driver_error as e:  # through a driver cursor (bulk.driver_cursor)
                    if attempt == 2 or not engine.dialect.is_disconnect(
                            e, conn.connection.dbapi_connection, None):
                        raise
                    conn.invalidate()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- meta -----------------------------------------------------------------
    def get_meta(self, conn: Connection, name: str) -> str | None:
        return conn.execute(select(meta.c.value).where(meta.c.name == name)).scalar()

    def put_meta(self, conn: Connection, name: str, value: str) -> None:
        if self.get_meta(conn, name) is None:
            conn.execute(meta.insert().values(name=name, value=value))
        else:
            conn.execute(meta.update().where(meta.c.name == name).values(value=value))

    # -- records --------------------------------------------------------------
    def first_undecodable(self, conn: Connection) -> tuple[str, int, str] | None:
        """The first row holding text that is not UTF-8, as ``(table, key, column)`` with
        the record's seq (the checkpoint's size): bytes no tracelib wrote, which SQLite
        stores as they were given and its driver cannot read back. None when there is none
        (always on PostgreSQL, which refuses such text)."""
        if self.dialect != "sqlite":
            return None
        for table, key in ((records, "seq"), (checkpoints, "size")):
            names = [c.name for c in table.columns if c.name != key]
            casts = ", ".join(f"typeof({n}), CAST({n} AS BLOB)" for n in names)
            with driver_cursor(conn) as cursor:
                cursor.execute(f"SELECT {key}, {casts} FROM {table.name} "  # noqa: S608
                               f"ORDER BY {key}")
                for row in cursor:
                    for i, name in enumerate(names):
                        kind, raw = row[1 + 2 * i], row[2 + 2 * i]
                        if kind == "text":
                            try:
                                bytes(raw).decode("utf-8")
                            except UnicodeDecodeError:
                                return table.name, int(row[0]), name
        return None

    @staticmethod
    def scan_records(conn: Connection, start: int, end: int) -> Iterator[Any]:
        """Records [start, end) in seq order as plain driver tuples (seq, prev_hash, hash,
        body, key_id, signature, recorded_at, event_id, kind, actor, location, event_time):
        the DB-API cursor itself, inside the connection's transaction (SQLAlchemy's row
        objects cost ~3 µs a record, which a whole-ledger verify cannot afford)."""
        style = conn.dialect.paramstyle
        if style not in _SCAN:  # pragma: no cover - tracelib runs on sqlite3 and psycopg only
            raise TracelibError(f"unsupported database driver parameter style {style!r}")
        with driver_cursor(conn) as cursor:  # closed even when a caller stops early
            if style == "qmark":
                cursor.execute(_SCAN[style], (start, end))
            else:
                # psycopg: rows in PostgreSQL's binary format; bytea in text format travels as
                # hex, which the server writes and the client decodes (2.4 against 4.0 µs a
                # record of client CPU on a 150,000-record scan).
                cursor.execute(_SCAN[style], (start, end), binary=True)
            yield from cursor

    def size(self, conn: Connection) -> int:
        last = conn.execute(select(func.max(records.c.seq))).scalar()
        return 0 if last is None else int(last) + 1

    def head(self, conn: Connection, at_size: int | None = None) -> Head:
        """The ledger's size, its newest checkpoint's size, note and root, and the note and
        root of the checkpoint at ``at_size`` (if asked and signed), in one statement."""
        return self.head_and_nodes(conn, at_size, ())[0]

    def head_and_nodes(self, conn: Connection, at_size: int | None,
                       ids: Iterable[NodeId]) -> tuple[Head, dict[NodeId, bytes]]:
        """:meth:`head` and :meth:`get_nodes` together; on PostgreSQL both statements go in
        one pipeline (one round trip), so a proof that guessed its tree size right costs
        a single exchange with the server."""
        head_sql = (_HEAD_SQL.format(mark=placeholder(conn)), (at_size,))
        head_rows, *node_rows = _fetch_all(conn, [head_sql, *self._nodes_statements(conn, ids)])
        last, latest_size, latest_note, latest_root, at_note, at_root = head_rows[0]
        head = Head(0 if last is None else int(last) + 1,
                    None if latest_size is None else int(latest_size), latest_note,
                    None if latest_root is None else bytes(latest_root), at_note,
                    None if at_root is None else bytes(at_root))
        return head, _node_hashes(node_rows)

    def directory_stamp(self, conn: Connection) -> int:
        """The seq of the newest ``register`` record (-1 if none): parties, locations and
        keys change only through register events, so while this stays the same, so do
        they (an index read of ix_records_kind)."""
        last = conn.execute(select(func.max(records.c.seq))
                            .where(records.c.kind == "register")).scalar()
        return -1 if last is None else int(last)

    def last_hash(self, conn: Connection, size: int) -> bytes | None:
        if size == 0:
            return None
        return conn.execute(select(records.c.hash).where(records.c.seq == size - 1)).scalar()

    def last_recorded_at(self, conn: Connection, size: int) -> str | None:
        if size == 0:
            return None
        value = conn.execute(select(records.c.recorded_at).where(records.c.seq == size - 1)).scalar()
        return None if value is None else str(value)

    def insert_records(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert record rows, tuples in :data:`RECORD_COLUMNS` order."""
        insert_tuples(conn, records, RECORD_COLUMNS, rows)

    def record_row(self, conn: Connection, seq: int) -> dict[str, Any]:
        row = conn.execute(select(records).where(records.c.seq == seq)).mappings().first()
        if row is None:
            raise NotFoundError(f"no record at seq {seq}")
        return dict(row)

    def record_row_by_event(self, conn: Connection, event_id: str) -> dict[str, Any]:
        row = conn.execute(select(records).where(records.c.event_id == event_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no event with id {event_id!r}")
        return dict(row)

    def find_events(self, conn: Connection, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored records for the given event ids (for idempotent appends)."""
        return {row["event_id"]: dict(row)
                for row in select_where_in(conn, records, "event_id", list(event_ids))}

    def iter_record_rows(self, conn: Connection, start: int, end: int,
                         *, kind: str | None = None) -> Iterator[dict[str, Any]]:
        query = select(records).where(records.c.seq >= start, records.c.seq < end)
        if kind is not None:
            query = query.where(records.c.kind == kind)
        result = conn.execute(query.order_by(records.c.seq).execution_options(yield_per=2000))
        try:
            for row in result.mappings():
                yield dict(row)
        finally:  # a caller that stops early must not leave a server-side cursor open
            result.close()

    # -- Merkle nodes ---------------------------------------------------------
    def insert_nodes(self, conn: Connection, rows: list[tuple[int, int, bytes]]) -> None:
        """Insert subtree hashes, ``(level, idx, hash)`` tuples."""
        insert_tuples(conn, nodes, ("level", "idx", "hash"), rows)

    def get_nodes(self, conn: Connection, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of the given nodes; level 0 is a record's leaf hash. Missing ids are absent.

        One statement for a proof's ~40 nodes (leaves from ``records``, the rest from
        ``nodes``), sent as driver-level SQL: building that many bound expressions in
        SQLAlchemy costs more than the query."""
        return _node_hashes(_fetch_all(conn, self._nodes_statements(conn, ids)))

    def _nodes_statements(self, conn: Connection,
                          ids: Iterable[NodeId]) -> list[tuple[str, tuple[Any, ...]]]:
        wanted = sorted(set(ids))
        leaves = [idx for level, idx in wanted if level == 0]
        inner = [(level, idx) for level, idx in wanted if level > 0]
        if not wanted:
            return []
        if conn.dialect.name == "postgresql":
            # Array parameters: one statement text whatever the count, so psycopg prepares
            # it once; both halves are primary-key lookups.
            return [(_PG_NODES_SQL, (leaves, [lv for lv, _ in inner], [ix for _, ix in inner]))]
        return [self._sqlite_nodes_sql(leaves[i:i + 200], inner[i:i + 200])
                for i in range(0, max(len(leaves), len(inner)), 200)]

    @staticmethod
    def _sqlite_nodes_sql(leaves: Sequence[int],
                          inner: Sequence[NodeId]) -> tuple[str, tuple[int, ...]]:
        # `(level = ? AND idx = ?) OR …`: SQLite answers it from the primary key
        # (MULTI-INDEX OR); a row-value IN on (level, idx) would scan the table.
        parts: list[str] = []
        if leaves:
            parts.append(f"SELECT 0, seq, hash FROM records WHERE seq IN "  # noqa: S608
                         f"({', '.join('?' for _ in leaves)})")
        if inner:
            terms = " OR ".join("(level = ? AND idx = ?)" for _ in inner)
            parts.append(f"SELECT level, idx, hash FROM nodes WHERE {terms}")  # noqa: S608
        return " UNION ALL ".join(parts), (*leaves, *(v for node in inner for v in node))

    def nodes_in_range(self, conn: Connection, max_level: int, start: int,
                       end: int, *, min_level: int = 1) -> dict[NodeId, bytes]:
        """Stored nodes of levels min_level..max_level lying inside leaves [start, end)."""
        found: dict[NodeId, bytes] = {}
        conditions = [and_(nodes.c.level == level, nodes.c.idx >= start >> level,
                           nodes.c.idx < end >> level)
                      for level in range(min_level, max_level + 1)]
        for condition in conditions:
            for level, idx, digest in conn.execute(
                    select(nodes.c.level, nodes.c.idx, nodes.c.hash).where(condition)):
                found[(int(level), int(idx))] = digest
        return found

    def node_hashes(self, conn: Connection, level: int, start: int, end: int) -> list[bytes]:
        """The stored hashes of the level-``level`` nodes lying inside leaves [start, end),
        in index order, read as plain driver rows (verify reads ~8,000 a chunk: through
        SQLAlchemy rows that was ~1.5 % of its time). A missing node is simply absent."""
        mark = placeholder(conn)
        with driver_cursor(conn) as cursor:
            cursor.execute(f"SELECT hash FROM nodes WHERE level = {mark} AND idx >= {mark} "  # noqa: S608
                           f"AND idx < {mark} ORDER BY idx",
                           (level, start >> level, end >> level))
            return [bytes(digest) for (digest,) in cursor]

    def nodes_above(self, conn: Connection, level: int) -> dict[NodeId, bytes]:
        rows = conn.execute(select(nodes.c.level, nodes.c.idx, nodes.c.hash)
                            .where(nodes.c.level > level))
        return {(int(lv), int(ix)): h for lv, ix, h in rows}

    # -- checkpoints ----------------------------------------------------------
    def version_sql(self) -> str:
        """A statement without parameters answering ``(last seq, newest signed checkpoint
        size)``, NULL for none: two primary-key lookups (an index's last entry each),
        compiled for this store's dialect, for a caller that polls it on a raw driver
        connection to tell cheaply whether the ledger has changed."""
        statement = select(select(func.max(records.c.seq)).scalar_subquery(),
                           select(func.max(checkpoints.c.size)).scalar_subquery())
        return str(statement.compile(dialect=self.engine.dialect))

    def insert_checkpoint(self, conn: Connection, size: int, root: bytes, note: str,
                          created_at: str) -> None:
        conn.execute(checkpoints.insert().values(size=size, root=root, note=note,
                                                 created_at=created_at))

    def latest_checkpoint(self, conn: Connection) -> dict[str, Any] | None:
        row = conn.execute(select(checkpoints).order_by(checkpoints.c.size.desc()).limit(1))
        found = row.mappings().first()
        return dict(found) if found else None

    def checkpoint_at(self, conn: Connection, size: int) -> dict[str, Any] | None:
        row = conn.execute(select(checkpoints).where(checkpoints.c.size == size)).mappings().first()
        return dict(row) if row else None

    def all_checkpoints(self, conn: Connection) -> list[dict[str, Any]]:
        rows = conn.execute(select(checkpoints).order_by(checkpoints.c.size)).mappings()
        return [dict(r) for r in rows]

    # -- directory: parties, locations, keys ---------------------------------
    def party(self, conn: Connection, party_id: str) -> Party | None:
        row = conn.execute(select(parties).where(parties.c.id == party_id)).mappings().first()
        return Party(row["id"], row["name"], row["role"], int(row["seq"])) if row else None

    def parties_by_id(self, conn: Connection, ids: Iterable[str]) -> dict[str, Party]:
        return {row["id"]: Party(row["id"], row["name"], row["role"], int(row["seq"]))
                for row in select_where_in(conn, parties, "id", sorted(set(ids)))}

    def location(self, conn: Connection, location_id: str) -> Location | None:
        row = conn.execute(select(locations).where(locations.c.id == location_id)).mappings().first()
        return _location(row) if row else None

    def locations(self, conn: Connection, ids: Iterable[str]) -> dict[str, Location]:
        return {row["id"]: _location(row)
                for row in select_where_in(conn, locations, "id", sorted(set(ids)))}

    def record_rows(self, conn: Connection, seqs: Iterable[int]) -> list[dict[str, Any]]:
        wanted = sorted(set(seqs))
        rows: list[dict[str, Any]] = []
        for part in _chunks(wanted):
            rows.extend(dict(r) for r in conn.execute(
                select(records).where(records.c.seq.in_(part)).order_by(records.c.seq)).mappings())
        return rows

    def stalls_in(self, conn: Connection, market: str) -> list[dict[str, Any]]:
        """The stalls whose parent is ``market``, by id: ``id``, ``name`` and ``details``
        (the parsed JSON) of each."""
        rows = conn.execute(select(locations.c.id, locations.c.name, locations.c.details)
                            .where(locations.c.parent == market, locations.c.type == "stall")
                            .order_by(locations.c.id)).mappings()
        return [{"id": r["id"], "name": r["name"], "details": json.loads(r["details"])}
                for r in rows]

    def locations_held_by(self, conn: Connection, party: str) -> list[Location]:
        """The locations whose ``holder`` is ``party``, by id (a read scope's own places)."""
        rows = conn.execute(select(locations).where(locations.c.holder == party)
                            .order_by(locations.c.id)).mappings()
        return [_location(r) for r in rows]

    def child_locations(self, conn: Connection, parent: str) -> list[Location]:
        rows = conn.execute(select(locations).where(locations.c.parent == parent)
                            .order_by(locations.c.id)).mappings()
        return [_location(r) for r in rows]

    def key(self, conn: Connection, key_id: str) -> KeyRecord | None:
        row = conn.execute(select(keys).where(keys.c.key_id == key_id)).mappings().first()
        return _key(row) if row else None

    def keys_by_id(self, conn: Connection, key_ids: Iterable[str]) -> dict[str, KeyRecord]:
        return {row["key_id"]: _key(row)
                for row in select_where_in(conn, keys, "key_id", sorted(set(key_ids)))}

    def keys_of(self, conn: Connection, party_id: str) -> list[KeyRecord]:
        rows = conn.execute(select(keys).where(keys.c.party == party_id)
                            .order_by(keys.c.registered_seq)).mappings()
        return [_key(r) for r in rows]

    def save_party(self, conn: Connection, party: Party) -> None:
        values = {"name": party.name, "role": party.role, "seq": party.seq}
        if self.party(conn, party.id) is None:
            conn.execute(parties.insert().values(id=party.id, **values))
        else:
            conn.execute(parties.update().where(parties.c.id == party.id).values(**values))

    def save_location(self, conn: Connection, loc: Location) -> None:
        values = {"name": loc.name, "type": loc.type, "parent": loc.parent, "holder": loc.holder,
                  "details": json.dumps(dict(loc.details), ensure_ascii=False, sort_keys=True),
                  "seq": loc.seq}
        if self.location(conn, loc.id) is None:
            conn.execute(locations.insert().values(id=loc.id, **values))
        else:
            conn.execute(locations.update().where(locations.c.id == loc.id).values(**values))

    def save_key(self, conn: Connection, key: KeyRecord) -> None:
        values = {"party": key.party, "public_key": key.public_key,
                  "valid_from_us": key.valid_from_us, "registered_seq": key.registered_seq,
                  "revoked_at_us": key.revoked_at_us, "revoked_seq": key.revoked_seq}
        if self.key(conn, key.key_id) is None:
            conn.execute(keys.insert().values(key_id=key.key_id, **values))
        else:
            conn.execute(keys.update().where(keys.c.key_id == key.key_id).values(**values))


def _location(row: Any) -> Location:
    return Location(row["id"], row["name"], row["type"], row["parent"], row["holder"],
                    int(row["seq"]), json.loads(row["details"]))


def _key(row: Any) -> KeyRecord:
    return KeyRecord(row["key_id"], row["party"], bytes(row["public_key"]),
                     int(row["valid_from_us"]), int(row["registered_seq"]),
                     None if row["revoked_at_us"] is None else int(row["revoked_at_us"]),
                     None if row["revoked_seq"] is None else int(row["revoked_seq"]))
