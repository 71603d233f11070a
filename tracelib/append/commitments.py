"""Broken commitments found inside one append transaction, written when the engine flushes
(docs/contract.md "Producers' standing")."""

from __future__ import annotations

from sqlalchemy import Connection

from ..store.commitments import CommitmentRow, CommitmentsSql

__all__ = ["CommitmentState"]


class CommitmentState:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._new: list[CommitmentRow] = []

    def add(self, row: CommitmentRow) -> None:
        self._new.append(row)

    def flush(self) -> None:
        if self._new:
            CommitmentsSql.write(self.conn, self._new)
            self._new.clear()
