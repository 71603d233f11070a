"""SQL for finding a lot, a place, a party, an event or an origin certificate by what a
regulator types (:func:`tracelib.views.find.find` reads it)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Text, cast, or_, select

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
    def origin_bodies(conn: Connection, certificate_no: str,
                      limit: int) -> list[tuple[int, str, bytes]]:
        """``(seq, event id, body)`` of origin records whose stored bytes may hold
        ``"no":"<certificate_no>"``, the certificate's number as RFC 8785 writes it in the
        canonical body (docs/contract.md ``origin``).

        No index serves it: it reads the ``origin`` records (``ix_records_kind``) and
        matches their bodies, one pass over every origin record. The pattern may match
        more than asked (LIKE's ``%`` and ``_`` in a number, and each backslash of the JSON
        escapes, match any character, so no dialect's escape rules matter): the caller
        keeps only certificates whose number is exactly the one asked for."""
        needle = json.dumps({"no": certificate_no}, ensure_ascii=False,
                            separators=(",", ":"))[1:-1].replace("\\", "_")
        pattern = f"%{needle}%"
        if conn.dialect.name == "sqlite":  # SQLite's LIKE matches a BLOB only cast to TEXT
            match = cast(records.c.body, Text).like(pattern)
        else:  # PostgreSQL: bytea LIKE bytea
            match = records.c.body.op("LIKE")(pattern.encode("utf-8"))
        rows = conn.execute(
            select(records.c.seq, records.c.event_id, records.c.body)
            .where(records.c.kind == "origin", match)
            .order_by(records.c.seq).limit(limit)).all()
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]
