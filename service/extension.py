"""The ledger, keystore and service tables of one app: opened once, kept in
``app.extensions["tracelib"]`` (bound with :meth:`TracelibService.init_app`, as flaskr binds
its extensions)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Connection, Engine

from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.store import Store
from tracelib.store.engine import (
    LOCK_WAIT_OPTION,
    WRITER_OPTION,
    default_keystore,
    display_url,
    make_engine,
    normalize_url,
)
from tracelib.timeutil import local_zone
from tracelib.views.stall import StandingRules

from .links import check_base_url
from .state import create_tables, scan_counts

__all__ = ["LedgerWatch", "TracelibService", "primary_url_setting", "read_only_setting", "service"]

class LedgerWatch:
    """Tells cheaply whether the ledger has changed, for caches keyed by its version.

    :meth:`version` is ``(size, newest signed checkpoint size)``: every append changes the
    first, every signed checkpoint the second, and nothing else changes what a scan shows
    (the ledger is append-only; its derived tables are written in the append's
    transaction). It is read with one raw statement on a connection kept outside the pool,
    in autocommit: no pool checkout, no transaction of SQLAlchemy's. On SQLite that costs
    4-9 µs, within 3 µs of ``PRAGMA data_version`` (which would need a second query when
    it changes) and a twentieth of :attr:`Ledger.size <tracelib.ledger.Ledger.size>`'s
    read transaction; on PostgreSQL, one round trip.

    Read before a view is built, the version is never newer than what the view's read
    transaction sees, so a view is at least as new as its key. The connection is reopened
    in a forked child and after a database error (one retry).
    """

    def __init__(self, store: Store) -> None:
        self._engine = store.engine
        self._sql = store.version_sql()  # the last seq and the newest checkpoint, no parameters
        self._lock = threading.Lock()
        self._conn: Any = None  # a detached DBAPI connection, owned by this process
        self._pid = 0
        self._inherited: list[Any] = []  # a parent's connection: never used nor closed here

    def version(self) -> tuple[int, int]:
        errors = self._engine.dialect.loaded_dbapi.Error
        with self._lock:
            try:
                return self._read()
            except errors:
                self._drop()
                return self._read()

    def _read(self) -> tuple[int, int]:
        cursor = self._connection().cursor()
        try:
            cursor.execute(self._sql)
            last, signed = cursor.fetchone()
        finally:
            cursor.close()
        return (-1 if last is None else int(last)) + 1, int(signed or 0)

    def _connection(self) -> Any:
        if self._conn is not None and self._pid != os.getpid():
            self._inherited.append(self._conn)  # closing it could release the parent's locks
            self._conn = None
        if self._conn is None:
            fairy = self._engine.raw_connection()
            fairy.detach()  # ours until close(): the pool opens another in its place
            dbapi = fairy.dbapi_connection
            assert dbapi is not None
            dbapi.rollback()  # a pre-ping may have begun a transaction
            self._engine.dialect.set_isolation_level(dbapi, "AUTOCOMMIT")
            self._conn, self._pid = dbapi, os.getpid()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            try:
                conn.close()
            except self._engine.dialect.loaded_dbapi.Error:
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


class TracelibService:
    """Everything a request needs from outside Flask."""

    def __init__(self, app: Flask | None = None) -> None:
        self.ledger: Ledger | None = None
        self.state_engine: Engine | None = None
        self._own_state_engine = False
        #: Where scan counts are written (``STATE_URL``, else the service tables' database);
        #: None on a read-only instance without a ``STATE_URL``: scans are not counted.
        self.counts_engine: Engine | None = None
        self._own_counts_engine = False
        #: A read-only instance never writes the ledger's database (service/read_only.py).
        self.read_only = False
        self.primary_url: str | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        db = str(app.config["DB"])
        self.ledger = Ledger.open(db, blobs=app.config.get("BLOBS") or None)
        self.watch = LedgerWatch(self.ledger.store)
        self.keystore = Keystore(app.config.get("KEYSTORE") or default_keystore(db))
        self._read_only(app, db)
        state = app.config.get("SERVICE_DB") or db
        if normalize_url(state) == self.ledger.store.url:
            self.state_engine = self.ledger.store.engine
        else:
            self.state_engine = make_engine(state)
            self._own_state_engine = True
        if not self.read_only:  # a read-only instance reads the tokens the primary keeps
            create_tables(self.state_engine)
        self._scan_counts(app, state)
        self.zone = local_zone(str(app.config["TIMEZONE"]))
        clock = app.config.get("NOW")
        self._clock: Callable[[], datetime] = (
            clock if callable(clock) else (lambda: clock) if isinstance(clock, datetime)
            else (lambda: datetime.now(UTC)))
        self.rules = StandingRules(
            window_days=int(app.config["STANDING_WINDOW_DAYS"]),
            red_min_tests=int(app.config["STANDING_RED_MIN_TESTS"]),
            red_min_pass_rate=_decimal(app.config["STANDING_RED_MIN_PASS_RATE"]),
            black_on_any_failure=bool(app.config["STANDING_BLACK_ON_ANY_FAILURE"]))
        app.extensions["tracelib"] = self

    def _read_only(self, app: Flask, db: str) -> None:
        """Configured (``READ_ONLY``) or found out: a ledger database that is a standby in
        recovery refuses every write, so the instance is read-only whatever it was told."""
        assert self.ledger is not None
        configured = read_only_setting(app.config.get("READ_ONLY"))
        self.primary_url = primary_url_setting(app.config.get("PRIMARY_URL"))
        standby = self.ledger.store.in_recovery()
        self.read_only = configured or standby
        if not self.read_only:
            return
        app.config["SIGN_CHECKPOINTS"] = False  # signing stores a checkpoint: the primary's job
        why = ("the ledger database is a PostgreSQL standby in recovery (pg_is_in_recovery())"
               if standby else "READ_ONLY is set")
        app.logger.warning("read-only instance: %s; serving reads of %s, answering writes "
                           "with 503 naming %s", why, display_url(db),
                           self.primary_url or "no primary (set PRIMARY_URL)")

    def _scan_counts(self, app: Flask, state: str) -> None:
        """Scan counts go to ``STATE_URL`` when set, else beside the service tables; a
        read-only instance writes nothing else, so it counts only into a ``STATE_URL``."""
        counts = app.config.get("STATE_URL")
        if counts and normalize_url(counts) != normalize_url(state):
            self.counts_engine = make_engine(counts)
            self._own_counts_engine = True
            create_tables(self.counts_engine, only=(scan_counts,))
        elif counts:
            self.counts_engine = self.state_engine
            create_tables(self.counts_engine, only=(scan_counts,))
        elif not self.read_only:
            self.counts_engine = self.state_engine
        else:
            app.logger.warning("read-only instance without STATE_URL: scans are not counted")

    @contextmanager
    def state_writer(self, *, wait: bool = True) -> Iterator[Connection]:
        """A write transaction on the service tables (SQLite: ``BEGIN IMMEDIATE``, so two
        writers never deadlock upgrading a read lock). ``wait=False``: on SQLite, fail at
        once (``OperationalError``) rather than wait while another writer holds the lock."""
        assert self.state_engine is not None
        with _writer(self.state_engine, wait=wait) as conn:
            yield conn

    @contextmanager
    def counts_writer(self, *, wait: bool = True) -> Iterator[Connection]:
        """A write transaction on the scan counts' database (:attr:`counts_engine`), as
        :meth:`state_writer`."""
        assert self.counts_engine is not None
        with _writer(self.counts_engine, wait=wait) as conn:
            yield conn

    def now(self) -> datetime:
        return self._clock().astimezone(self.zone)

    def today(self) -> date:
        return self.now().date()

    def ledger_version(self) -> tuple[int, int]:
        """See :class:`LedgerWatch`: changes with every append and signed checkpoint."""
        return self.watch.version()

    def close(self) -> None:
        self.watch.close()
        if self._own_counts_engine and self.counts_engine is not None:
            self.counts_engine.dispose()
        if self._own_state_engine and self.state_engine is not None:
            self.state_engine.dispose()
        if self.ledger is not None:
            self.ledger.close()


@contextmanager
def _writer(engine: Engine, *, wait: bool) -> Iterator[Connection]:
    with engine.connect() as conn:
        options: dict[str, Any] = {WRITER_OPTION: True}
        if not wait:
            options[LOCK_WAIT_OPTION] = 0.0
        conn = conn.execution_options(**options)
        with conn.begin():
            yield conn


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def read_only_setting(value: Any) -> bool:
    """``READ_ONLY`` as configured: a bool, 0 or 1, or ``true``/``false``, ``yes``/``no``,
    ``on``/``off`` (``TRACELIB_READ_ONLY=1``); anything else is a ValueError at start,
    never a guess."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"READ_ONLY must be 1 or 0 (true or false), got {value!r}")


def primary_url_setting(value: Any) -> str | None:
    """``PRIMARY_URL``: the public base URL of the writable service that a read-only
    instance sends writers to, without a trailing slash; ValueError when it is not an
    http(s) URL with a host."""
    if value is None or value == "":
        return None
    return check_base_url(str(value), "PRIMARY_URL")


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def service() -> TracelibService:
    ext: TracelibService = current_app.extensions["tracelib"]
    return ext


def ledger() -> Ledger:
    found = service().ledger
    assert found is not None
    return found
