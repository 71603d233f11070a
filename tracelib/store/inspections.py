"""SQL for the inspections table: the regulator's 日常监督检查 of a place and where each
one's rectification stands (docs/contract.md "inspection", "rectification")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection, select, update

from .bulk import insert_rows, select_where_in
from .schema import inspections
from .states import InspectionResult, Rectification

__all__ = ["InspectionRow", "InspectionsSql"]


@dataclass
class InspectionRow:
    seq: int
    event_id: str
    location: str
    actor: str
    day: str
    time: str
    result: str
    deadline: str | None = None
    rectification: str | None = None  # tracelib.store.states.Rectification; None: compliant
    reported_seq: int | None = None
    closed_seq: int | None = None

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "seq", "event_id", "location", "actor", "day", "time", "result", "deadline",
        "rectification", "reported_seq", "closed_seq")

    def to_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.COLUMNS}

    @classmethod
    def from_row(cls, row: Any) -> InspectionRow:
        return cls(**{name: row[name] for name in cls.COLUMNS})


class InspectionsSql:
    @staticmethod
    def by_event(conn: Connection, event_ids: Sequence[str]) -> dict[str, InspectionRow]:
        """The inspections recorded by the events ``event_ids``, by event id."""
        rows = select_where_in(conn, inspections, "event_id", sorted(set(event_ids)))
        return {r["event_id"]: InspectionRow.from_row(r) for r in rows}

    @staticmethod
    def latest_at(conn: Connection, location: str) -> InspectionRow | None:
        """The latest inspection of ``location`` (the highest seq), if any."""
        row = conn.execute(select(inspections).where(inspections.c.location == location)
                           .order_by(inspections.c.seq.desc()).limit(1)).mappings().first()
        return None if row is None else InspectionRow.from_row(row)

    @staticmethod
    def on_day_at(conn: Connection, places: Sequence[str], day: str) -> list[InspectionRow]:
        """The inspections of any of ``places`` on the local day ``day``, in seq order."""
        rows = select_where_in(conn, inspections, "location", sorted(set(places)),
                               also={"day": day})
        return sorted((InspectionRow.from_row(r) for r in rows), key=lambda r: r.seq)

    @staticmethod
    def standing_of(conn: Connection, location: str, first: str, last: str
                    ) -> tuple[int, int, int]:
        """For the red and black lists of ``location``: (inspections of the local days
        ``first``..``last``, those of them not compliant, non-compliant inspections whose
        rectification is not closed, whatever their day)."""
        rows = conn.execute(select(inspections.c.day, inspections.c.result,
                                   inspections.c.rectification)
                            .where(inspections.c.location == location)).all()
        within = [r for r in rows if first <= r.day <= last]
        return (len(within),
                sum(1 for r in within if r.result != InspectionResult.COMPLIANT),
                sum(1 for r in rows if r.result == InspectionResult.NON_COMPLIANT
                    and r.rectification != Rectification.CLOSED))

    @staticmethod
    def write(conn: Connection, new: Iterable[InspectionRow],
              changed: Iterable[InspectionRow]) -> None:
        insert_rows(conn, inspections, [r.to_row() for r in new])
        for r in changed:
            conn.execute(update(inspections).where(inspections.c.seq == r.seq).values(
                rectification=r.rectification, reported_seq=r.reported_seq,
                closed_seq=r.closed_seq))
