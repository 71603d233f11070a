"""SQL for EPCIS capture: the GLNs registered for locations (master data, read to name
places back), and the capture jobs table (``epcis_captures``, not ledger state)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from .schema import epcis_captures, locations

__all__ = ["CaptureJobRow", "CaptureSql"]


@dataclass(frozen=True)
class CaptureJobRow:
    id: str
    party: str | None
    behaviour: str
    created_at: str
    finished_at: str | None
    success: bool
    events: int
    stored: int
    errors: list[dict[str, Any]]


class CaptureSql:
    @staticmethod
    def located_glns(conn: Connection) -> Iterator[tuple[str, str, str | None]]:
        """(location, GLN, GLN extension or None) of every location registered with a GLN."""
        rows = conn.execute(select(locations.c.id, locations.c.details)
                            .where(locations.c.details.like('%"gln"%')))
        for location, details in rows:
            found = json.loads(details)
            gln = found.get("gln")
            if gln:
                extension = found.get("gln_extension")
                yield location, str(gln), None if extension is None else str(extension)

    @staticmethod
    def save_job(conn: Connection, job: CaptureJobRow) -> None:
        conn.execute(epcis_captures.insert().values(
            id=job.id, party=job.party, behaviour=job.behaviour, created_at=job.created_at,
            finished_at=job.finished_at, success=int(job.success), events=job.events,
            stored=job.stored, errors=json.dumps(job.errors, ensure_ascii=False)))

    @staticmethod
    def job(conn: Connection, capture_id: str) -> CaptureJobRow | None:
        row = conn.execute(select(epcis_captures).where(epcis_captures.c.id == capture_id)
                           ).mappings().first()
        if row is None:
            return None
        return CaptureJobRow(row["id"], row["party"], row["behaviour"], row["created_at"],
                             row["finished_at"], bool(row["success"]), int(row["events"]),
                             int(row["stored"]), json.loads(row["errors"]))
