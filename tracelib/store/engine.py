"""Engines for the embedded default (SQLite, WAL) and PostgreSQL (psycopg 3).

Writers are serialized so the hash chain never forks: on SQLite a write
transaction starts with ``BEGIN IMMEDIATE`` (one writer at a time, readers go on
in WAL); on PostgreSQL it takes a transaction-scoped advisory lock.

PostgreSQL queues lock waiters in order. SQLite has no queue: a writer that finds the
lock taken sleeps and tries again, and its own busy handler sleeps up to 100 ms between
tries, so a writer that releases the lock and takes it again within that time (a large
import committing in pieces) could keep the others out for as long as it runs. Writers
here therefore wait for the lock themselves, trying every :data:`LOCK_POLL_SECONDS`, so
that a pause of a few tries between an import's commits lets every waiting writer in.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import ValidationError

__all__ = ["LOCK_POLL_SECONDS", "LOCK_WAIT_OPTION", "LOCK_WAIT_SECONDS", "WRITER_OPTION",
           "default_keystore", "display_url", "make_engine", "make_settled_engine",
           "normalize_url"]

WRITER_OPTION = "tracelib_writer"
#: Execution option: seconds a SQLite writer waits for the write lock (default
#: :data:`LOCK_WAIT_SECONDS`; 0 tries once, for work that can be done later instead).
LOCK_WAIT_OPTION = "tracelib_lock_wait"
LOCK_WAIT_SECONDS = 60.0  # a SQLite writer's wait for the write lock, and busy_timeout
LOCK_POLL_SECONDS = 0.005  # the longest sleep between a waiting SQLite writer's tries
WRITER_CACHE_KIB = 262144  # SQLite page cache of a write transaction (PRAGMA cache_size)
WAL_AUTOCHECKPOINT_PAGES = 100_000  # PRAGMA wal_autocheckpoint (4 KiB pages: ~400 MB)


def normalize_url(db: str | os.PathLike[str]) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (SQLite)."""
    text = os.fspath(db)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    try:
        url = make_url(text)
    except ArgumentError as e:
        raise ValidationError(f"not a database URL or path: {text!r}", field="db") from e
    if url.drivername == "postgresql":  # psycopg 3 is the supported driver
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def display_url(db: str | os.PathLike[str]) -> str:
    """The database URL with any password masked, for messages."""
    return make_url(normalize_url(db)).render_as_string(hide_password=True)


def sqlite_file(db: str | os.PathLike[str]) -> Path | None:
    """The file of a SQLite database (URL or path); None for a server database or an
    in-memory one."""
    url = make_url(normalize_url(db))
    database = url.database
    if not url.drivername.startswith("sqlite") or not database or database == ":memory:" \
            or database.startswith("file:"):
        return None
    return Path(database)


def default_keystore(db: str | os.PathLike[str]) -> Path:
    """The keystore beside the database: ``./data/x.db`` → ``./data/x-keys``; for a
    server URL, ``./tracelib-keys`` (docs/contract.md "CLI environment")."""
    url = normalize_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        return path.with_name(f"{path.stem}-keys")
    return Path("tracelib-keys").resolve()


def make_engine(db: str | os.PathLike[str]) -> Engine:
    url = normalize_url(db)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the sqlite3 module (SQLAlchemy's
            # documented pysqlite recipe) so that writers can BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            # Copy the WAL back into the database every ~400 MB rather than SQLite's default
            # ~4 MB: the copy runs in the committing writer, and an append touches pages all
            # over the lot indexes, which a later append dirties again; the longer they stay
            # in the WAL, the fewer times each is copied. 300,000-event appends ran 6,900/s
            # with the default, 8,400/s at ~80 MB; on a 900,000-record ledger, 100,000 more
            # origin events wrote 23.7 kB an event at ~80 MB, 17.1 kB at ~400 MB.
            # Durability is unchanged: every commit still syncs the WAL.
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            cursor.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            writer = connection.get_execution_options().get(WRITER_OPTION, False)
            if writer:
                # An append updates several indexes with keys in no particular order (event
                # ids, lot codes); a page cache that holds their upper levels and many of
                # their leaves keeps a large ledger's batches from re-reading pages for every
                # row, and from spilling dirty pages to the WAL before the commit (at 900,000
                # records, 10,000-event batches read 27 kB an event from the file with 64 MB,
                # 15 kB with 256 MB, and wrote 17.0 against 15.5 kB). The cache fills only
                # with what the transaction touches: an API request's 1,000 events take a few
                # MB. Readers keep the default (2 MB), so a service worker stays small.
                connection.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            if writer:
                _begin_immediate(connection, float(connection.get_execution_options().get(
                    LOCK_WAIT_OPTION, LOCK_WAIT_SECONDS)))
            else:
                connection.exec_driver_sql("BEGIN")

        def _end(connection: Any) -> None:
            if connection.get_execution_options().get(WRITER_OPTION, False):
                connection.exec_driver_sql("PRAGMA cache_size=-2000")  # back to the default

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)

        return engine
    return create_engine(url, pool_pre_ping=True)


def _begin_immediate(connection: Any, wait: float) -> None:
    """``BEGIN IMMEDIATE``, trying again every few milliseconds for up to ``wait`` seconds
    while another writer holds the lock (see the module's docstring)."""
    raw = connection.connection.dbapi_connection
    deadline = time.monotonic() + wait
    delay = 0.0005
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    break  # not the lock: let SQLAlchemy raise it, as its own error
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, LOCK_POLL_SECONDS)
        # The last try, through SQLAlchemy: "database is locked" (or whatever else went
        # wrong) as its OperationalError.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")


def make_settled_engine(db: str | os.PathLike[str]) -> Engine:
    """A PostgreSQL engine for reads that need no snapshot (:meth:`Store.settled_read`):
    every connection in autocommit from the start, and no ``SELECT 1`` before each use
    (a dropped connection is retried by the caller instead). On loopback the ping and the
    isolation switches cost ~0.3 of a 1 ms proof."""
    return create_engine(normalize_url(db), isolation_level="AUTOCOMMIT", pool_size=2)
