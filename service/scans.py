"""Scan counts per stall and local day — a number only: no address, agent or cookie."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .extension import service
from .state import scan_counts

__all__ = ["count_scan", "scans_on"]


def count_scan(stall: str, day: date) -> None:
    """Add one scan; a failure to count never fails the page (it is logged)."""
    if not current_app.config["COUNT_SCANS"]:
        return
    try:
        with service().state_writer() as conn:
            conn.execute(_upsert(conn.dialect.name, stall, day.isoformat()))
    except SQLAlchemyError as e:  # a locked or unreachable database: log, do not fail
        current_app.logger.warning("scan of %s not counted: %s", stall, e)


def _upsert(dialect: str, stall: str, day: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE`` (SQLite ≥ 3.24, PostgreSQL): one atomic statement."""
    from sqlalchemy.dialects import postgresql, sqlite

    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = make(scan_counts).values(stall=stall, day=day, scans=1)
    return statement.on_conflict_do_update(
        index_elements=[scan_counts.c.stall, scan_counts.c.day],
        set_={"scans": scan_counts.c.scans + 1})


def scans_on(stall: str, day: date) -> int:
    engine = service().state_engine
    assert engine is not None
    with engine.connect() as conn:
        found = conn.execute(select(scan_counts.c.scans).where(
            scan_counts.c.stall == stall, scan_counts.c.day == day.isoformat())).scalar()
    return int(found or 0)
