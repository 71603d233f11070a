"""Inspections as seen inside one append transaction: read by event id through a cache,
written when the engine flushes, so a rectification later in the same batch sees the
inspection it closes."""

from __future__ import annotations

from sqlalchemy import Connection

from ..store.inspections import InspectionRow, InspectionsSql

__all__ = ["InspectionState"]


class InspectionState:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._rows: dict[str, InspectionRow | None] = {}
        self._new: dict[str, InspectionRow] = {}
        self._changed: dict[str, InspectionRow] = {}

    def inspection(self, event_id: str) -> InspectionRow | None:
        if event_id not in self._rows:
            self._rows[event_id] = InspectionsSql.by_event(self.conn, [event_id]).get(event_id)
        return self._rows[event_id]

    def add(self, row: InspectionRow) -> None:
        self._rows[row.event_id] = row
        self._new[row.event_id] = row

    def touch(self, row: InspectionRow) -> None:
        if row.event_id not in self._new:
            self._changed[row.event_id] = row

    def flush(self) -> None:
        InspectionsSql.write(self.conn, self._new.values(), self._changed.values())
        self._new.clear()
        self._changed.clear()
