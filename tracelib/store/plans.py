"""Sampling plans (``plan`` events) read from the records themselves: a plan is a handful of
records a year, found through ``ix_records_kind``; it adds no derived table."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from .schema import records

__all__ = ["latest_plan"]


def latest_plan(conn: Connection, year: int) -> tuple[str, dict[str, Any]] | None:
    """``(event id, data)`` of the latest ``plan`` record for ``year`` (a later plan for the
    same year replaces the earlier, docs/contract.md "plan"), or None."""
    rows = conn.execute(select(records.c.event_id, records.c.body)
                        .where(records.c.kind == "plan").order_by(records.c.seq.desc()))
    for event_id, body in rows:
        data = json.loads(bytes(body).decode("utf-8"))["data"]
        if data.get("year") == year:
            return str(event_id), dict(data)
    return None
