"""The ledger, keystore and service tables of one app: opened once, kept in
``app.extensions["tracelib"]`` (bound with :meth:`TracelibService.init_app`, as flaskr binds
its extensions)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app
from sqlalchemy import Connection, Engine

from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.store import Store
from tracelib.store.engine import (
    LOCK_WAIT_OPTION,
    WRITER_OPTION,
    default_keystore,
    make_engine,
    normalize_url,
)
from tracelib.views.stall import StandingRules

from .state import create_tables

__all__ = ["LedgerWatch", "TracelibService", "service"]

CHINA = timezone(timedelta(hours=8), "CST")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
            return CHINA  # no tz database on this machine: China has no DST
        raise


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
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        db = str(app.config["DB"])
        self.ledger = Ledger.open(db)
        self.watch = LedgerWatch(self.ledger.store)
        self.keystore = Keystore(app.config.get("KEYSTORE") or default_keystore(db))
        state = app.config.get("SERVICE_DB") or db
        if normalize_url(state) == self.ledger.store.url:
            self.state_engine = self.ledger.store.engine
        else:
            self.state_engine = make_engine(state)
            self._own_state_engine = True
        create_tables(self.state_engine)
        self.zone = _zone(str(app.config["TIMEZONE"]))
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

    @contextmanager
    def state_writer(self, *, wait: bool = True) -> Iterator[Connection]:
        """A write transaction on the service tables (SQLite: ``BEGIN IMMEDIATE``, so two
        writers never deadlock upgrading a read lock). ``wait=False``: on SQLite, fail at
        once (``OperationalError``) rather than wait while another writer holds the lock."""
        assert self.state_engine is not None
        with self.state_engine.connect() as conn:
            options: dict[str, Any] = {WRITER_OPTION: True}
            if not wait:
                options[LOCK_WAIT_OPTION] = 0.0
            conn = conn.execution_options(**options)
            with conn.begin():
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
        if self._own_state_engine and self.state_engine is not None:
            self.state_engine.dispose()
        if self.ledger is not None:
            self.ledger.close()


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def service() -> TracelibService:
    ext: TracelibService = current_app.extensions["tracelib"]
    return ext


def ledger() -> Ledger:
    found = service().ledger
    assert found is not None
    return found
