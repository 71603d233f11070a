"""The database's own failures, told as one line a user can act on.

A full disk, a lost connection, a server that does not answer, a database that does not
exist, or bytes in a column that no tracelib ever wrote are the server's state, not a defect
of the input or of tracelib: :func:`storage_error` turns the driver's exception into a
:class:`~tracelib.errors.StorageError` saying what happened and that nothing was stored (the
transaction that met it was rolled back), and ``None`` for anything else, which stays what
it was.

PostgreSQL failures are recognised by their SQLSTATE (PostgreSQL documentation, Appendix A
"PostgreSQL Error Codes"), SQLite's by its result codes' messages (sqlite.org/rescode.html).
"""

from __future__ import annotations

import os

from sqlalchemy.exc import DBAPIError

from ..errors import StorageError
from .engine import display_url

__all__ = ["storage_error"]

NOTHING_STORED = "nothing was stored"

# SQLSTATE class or code → reason (PostgreSQL Appendix A).
_PG_STATES = (
    ("53100", "full"),         # disk_full
    ("3D000", "missing"),      # invalid_catalog_name: the database does not exist
    ("57P01", "lost"),         # admin_shutdown: the backend was terminated
    ("57P02", "lost"),         # crash_shutdown
    ("57P03", "unreachable"),  # cannot_connect_now: starting up or shutting down
    ("08", "lost"),            # connection_exception
    ("25006", "read_only"),    # read_only_sql_transaction
)
# Fragments of driver messages (no SQLSTATE: failures before or below the protocol).
_MESSAGES = (
    ("database or disk is full", "full"),        # SQLITE_FULL
    ("disk i/o error", "full"),                   # SQLITE_IOERR: writing failed
    ("no space left on device", "full"),
    ("could not decode to utf-8", "corrupt"),     # sqlite3: text that is not UTF-8
    ("database disk image is malformed", "corrupt"),  # SQLITE_CORRUPT
    ("file is not a database", "corrupt"),        # SQLITE_NOTADB
    ("attempt to write a readonly database", "read_only"),  # SQLITE_READONLY
    ("unable to open database file", "missing"),  # SQLITE_CANTOPEN
    ("connection refused", "unreachable"),
    ("could not connect", "unreachable"),
    ("could not translate host name", "unreachable"),
    ("timeout expired", "unreachable"),
    ("no route to host", "unreachable"),
    ("terminating connection", "lost"),
    ("server closed the connection", "lost"),
    ("connection is closed", "lost"),
    ("consuming input failed", "lost"),
    ("connection already closed", "lost"),
    ("ssl connection has been closed", "lost"),
)


def _what(reason: str, where: str) -> str:
    return {
        "full": f"the disk of the database {where} is full (or a file-size limit was reached)",
        "lost": f"the connection to the database {where} was lost",
        "unreachable": f"no database server answers at {where}",
        "missing": f"the database {where} does not exist",
        "read_only": f"the database {where} is read-only",
        "corrupt": f"the database {where} holds bytes tracelib never wrote (it was edited "
                   "outside tracelib; run `tracelib verify`)",
    }[reason]


def _advice(reason: str) -> str:
    return {
        "full": "free some space and run the command again",
        "lost": "check that the server is running and run the command again",
        "unreachable": "start the server or correct --db / TRACELIB_DB",
        "missing": "create it (PostgreSQL: createdb) or correct --db / TRACELIB_DB, "
                   "then run `tracelib init`",
        "read_only": "make it writable and run the command again",
        "corrupt": "restore it from a backup, or run `tracelib verify` to find the record",
    }[reason]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _is_driver_error(exc: BaseException) -> bool:
    """SQLAlchemy's wrapper, or a driver's own error met through a raw cursor."""
    return isinstance(exc, DBAPIError) or \
        type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg")


def _reason(exc: BaseException) -> str | None:
    if not _is_driver_error(exc):
        return None
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        for prefix, reason in _PG_STATES:
            if state.startswith(prefix):
                return reason
    text = _first_line(exc).lower()
    if "database \"" in text and text.endswith("does not exist"):
        return "missing"  # libpq at connect, before any SQLSTATE: database "x" does not exist
    for fragment, reason in _MESSAGES:
        if fragment in text:
            return reason
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "lost"
    return None


def storage_error(exc: BaseException, db: str | os.PathLike[str]) -> StorageError | None:
    """The :class:`StorageError` that ``exc`` (a SQLAlchemy or driver error raised while
    using database ``db``) means, or None when it is not a failure of the database's
    state (any other exception included)."""
    reason = _reason(exc)
    if reason is None:
        return None
    try:
        where = display_url(db)
    except Exception:
        where = "(unnamed)"
    return StorageError(f"{_what(reason, where)} ({_first_line(exc)}); {NOTHING_STORED}; "
                        f"{_advice(reason)}", reason=reason)
