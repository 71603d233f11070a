"""SQL for finding a lot, a place, a party, an event or an origin certificate by what a
regulator types (:func:`tracelib.views.find.find` reads it)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, or_, select

from .schema import locations, lots, parties, records

__all__ = ["FindSql"]

#: A LIKE pattern's own characters, escaped with this character (SQL:2016 8.5 <like predicate>).
_ESCAPE = "\\"


def _literal(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern."""
    return (text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%")
            .replace("_", _ESCAPE + "_"))


class FindSql:
    """Each query is bounded by ``limit`` rows; ids match exactly, names by substring."""

    @staticmethod
    def lot(conn: Connection, code: str) -> dict[str, Any] | None:
        row = conn.execute(select(lots.c.lot, lots.c.product, lots.c.unit, lots.c.location,
                                  lots.c.recalled_seq).where(lots.c.lot == code)).mappings().first()
        return dict(row) if row else None

    @staticmethod
    def event(conn: Connection, event_id: str) -> dict[str, Any] | None:
        row = conn.execute(select(records.c.seq, records.c.event_id, records.c.kind,
                                  records.c.actor, records.c.location, records.c.event_time)
                           .where(records.c.event_id == event_id)).mappings().first()
        return dict(row) if row else None

    @staticmethod
    def places(conn: Connection, text: str, limit: int) -> list[dict[str, Any]]:
        """Locations whose id is ``text`` or whose name contains it, exact ids first."""
        pattern = f"%{_literal(text)}%"
        rows = conn.execute(
            select(locations.c.id, locations.c.name, locations.c.type, locations.c.parent,
                   locations.c.details)
            .where(or_(locations.c.id == text,
                       locations.c.name.like(pattern, escape=_ESCAPE)))
            .order_by((locations.c.id != text), locations.c.id).limit(limit)).mappings()
        return [{**r, "details": json.loads(r["details"])} for r in rows]

    @staticmethod
    def parties(conn: Connection, text: str, limit: int) -> list[dict[str, Any]]:
        """Parties whose id is ``text`` or whose name contains it, exact ids first."""
        pattern = f"%{_literal(text)}%"
        rows = conn.execute(
            select(parties.c.id, parties.c.name, parties.c.role)
            .where(or_(parties.c.id == text, parties.c.name.like(pattern, escape=_ESCAPE)))
            .order_by((parties.c.id != text), parties.c.id).limit(limit)).mappings()
        return [dict(r) for r in rows]

    @staticmethod
    def certificate_records(conn: Connection, certificate_no: str,
                            limit: int) -> list[tuple[int, str, bytes]]:
        """``(seq, event id, body)`` of the origin records whose certificate number is
        exactly ``certificate_no`` (docs/contract.md ``origin``), oldest first: the lots
        they made are found by the number (``ix_lots_certificate_no``), their records by
        seq, so the cost does not grow with the ledger."""
        made = select(lots.c.seq).where(lots.c.certificate_no == certificate_no)
        rows = conn.execute(
            select(records.c.seq, records.c.event_id, records.c.body)
            .where(records.c.seq.in_(made))
            .order_by(records.c.seq).limit(limit)).all()
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]
