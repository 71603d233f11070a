"""Scan counts per stall and local day — a number only: no address, agent or cookie.

A scan is a read; writing (and fsyncing) a row per page view would serialize every worker
behind the ledger's write lock. Counts are buffered in the worker's memory and added to
the table at most every ``SCAN_FLUSH_SECONDS`` (and by `scans_on`, so a reader sees its own
worker's scans). A page never waits for the write lock to count its scan: while another
writer holds it (a large import), the counts stay buffered for the next flush. A worker
that dies loses the counts it has not written yet."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .extension import service
from .state import scan_counts

__all__ = ["count_scan", "flush_scans", "scans_on"]


class _Buffer:
    """One app's scans not yet written."""

    def __init__(self) -> None:
        self.pending: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.last_flush = time.monotonic()


def _buffer() -> _Buffer:
    found = current_app.extensions.get("tracelib_scans")
    if found is None:
        found = current_app.extensions.setdefault("tracelib_scans", _Buffer())
    assert isinstance(found, _Buffer)
    return found


def count_scan(stall: str, day: date) -> None:
    """Add one scan; a failure to count never fails the page (it is logged)."""
    if not current_app.config["COUNT_SCANS"] or service().counts_engine is None:
        return
    buffer = _buffer()
    with buffer.lock:
        buffer.pending[(stall, day.isoformat())] += 1
        due = time.monotonic() - buffer.last_flush >= float(
            current_app.config.get("SCAN_FLUSH_SECONDS", 5))
    if due:
        flush_scans(wait=False)


def flush_scans(*, wait: bool = True) -> None:
    """Add the buffered counts to the table, in one write transaction. ``wait=False``: if
    another writer holds the lock (SQLite), keep the counts for the next flush instead."""
    buffer = _buffer()
    with buffer.lock:
        batch = dict(buffer.pending)
        buffer.pending.clear()
        buffer.last_flush = time.monotonic()
    if not batch:
        return
    rows = [{"stall": stall, "day": day, "scans": n} for (stall, day), n in sorted(batch.items())]
    try:
        with service().counts_writer(wait=wait) as conn:
            conn.execute(_upsert(conn.dialect.name), rows)  # one statement, many rows
    except SQLAlchemyError as e:  # a locked or unreachable database: keep them, do not fail
        with buffer.lock:
            buffer.pending.update(batch)
        current_app.logger.log(logging.INFO if not wait else logging.WARNING,
                               "%d scans not counted yet: %s", sum(batch.values()), e)


def _upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE`` (SQLite ≥ 3.24, PostgreSQL): one atomic statement
    that adds a row's count to the stored one."""
    from sqlalchemy.dialects import postgresql, sqlite

    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(scan_counts)
    return statement.on_conflict_do_update(
        index_elements=[scan_counts.c.stall, scan_counts.c.day],
        set_={"scans": scan_counts.c.scans + statement.excluded.scans})


def scans_on(stall: str, day: date) -> int:
    engine = service().counts_engine
    if engine is None:  # a read-only instance without STATE_URL counts nothing
        return 0
    flush_scans()
    with engine.connect() as conn:
        found = conn.execute(select(scan_counts.c.scans).where(
            scan_counts.c.stall == stall, scan_counts.c.day == day.isoformat())).scalar()
    return int(found or 0)
