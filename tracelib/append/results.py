"""Test results as seen inside one append transaction.

A day at a market appends its rapid tests by the hundred; each adds a row to
``test_results``. The rows are kept here and written per chunk with one
executemany (:meth:`TestResults.flush`), like the supply indexes.

Open follow-ups (results whose lot a failure put on hold) are tracked here too, per
lot: a lot's open follow-ups are read from the table once, the first time the append
needs them, and kept up to date as the batch opens and closes them; closing one that
is still buffered edits the buffered row, closing a stored one queues an UPDATE for
the next flush. A retest then costs no statement of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from ..limit_tables import active_table, remember_table
from ..standards.limits import LimitsTable
from ..store.limits import LimitsSql
from ..store.states import FollowUp
from ..store.tests import TestsSql

__all__ = ["RESULT_COLUMNS", "TestResults"]

#: The order of a result row's values (:meth:`TestResults.add`).
RESULT_COLUMNS = ("seq", "event_id", "kind", "stall", "location", "lot", "day", "time", "item",
                  "method", "sample", "commodity", "rate", "result", "value_mg_kg",
                  "limit_mg_kg", "table_version", "retest", "residue", "follow_up",
                  "follow_up_seq", "explanation", "sampling", "stage", "category",
                  "business_type")
_STALL, _LOT, _FOLLOW_UP, _FOLLOW_UP_SEQ = (
    RESULT_COLUMNS.index(c) for c in ("stall", "lot", "follow_up", "follow_up_seq"))


class TestResults:
    __test__ = False  # not a pytest class

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._rows: list[list[Any]] = []
        self._buffered: dict[int, list[Any]] = {}  # seq -> its row, until flushed
        self._open: dict[str, dict[int, str | None]] = {}  # lot -> {seq: stall} held
        self._closes: list[tuple[str, int, int]] = []  # (status, by seq, seq) to store
        self._limits: LimitsTable | None = None

    def limits(self) -> LimitsTable:
        """The active limits table: read once per append, then the one a ``limits`` event
        of this append loaded."""
        if self._limits is None:
            self._limits = active_table(self.conn)
        return self._limits

    def limits_loaded(self, version: str) -> bool:
        return LimitsSql.exists(self.conn, version)

    def load_limits(self, table: LimitsTable, *, csv: str, sha256: str, seq: int,
                    loaded_at: str) -> None:
        """Store a table a ``limits`` event loaded and make it the active one."""
        LimitsSql.insert(self.conn, version=table.version, sha256=sha256,
                         rows=len(table.rows), csv=csv, loaded_at=loaded_at, seq=seq)
        remember_table(table, sha256)
        self._limits = table

    def prefetch(self, lots: Iterable[str]) -> None:
        """Read the open follow-ups of ``lots`` not read yet, in a few statements."""
        wanted = sorted({lot for lot in lots if lot not in self._open})
        for lot in wanted:
            self._open[lot] = {}
        for seq, lot, stall in TestsSql.open_follow_ups(self.conn, wanted):
            self._open[lot][seq] = stall

    def _open_of(self, lot: str) -> dict[int, str | None]:
        if lot not in self._open:
            self.prefetch((lot,))
        return self._open[lot]

    def add(self, **row: Any) -> None:
        """Queue one result row (every :data:`RESULT_COLUMNS` name but ``follow_up_seq``,
        given by keyword)."""
        values = [row.get(name) for name in RESULT_COLUMNS]
        lot, seq = values[_LOT], int(row["seq"])
        if values[_FOLLOW_UP] == FollowUp.OPEN and lot is not None:
            self._open_of(lot)[seq] = values[_STALL]
        self._rows.append(values)
        self._buffered[seq] = values

    def close_follow_ups(self, lot: str, stall: str | None, seq: int, status: str) -> list[str]:
        """Set the status of the open follow-ups of ``lot`` (at ``stall``, or anywhere);
        return the stalls they were at."""
        opened = self._open_of(lot)
        closing = [s for s, at in opened.items() if stall is None or at == stall]
        places = set()
        for result_seq in closing:
            at = opened.pop(result_seq)
            if at is not None:
                places.add(at)
            buffered = self._buffered.get(result_seq)
            if buffered is not None:
                buffered[_FOLLOW_UP], buffered[_FOLLOW_UP_SEQ] = status, seq
            else:
                self._closes.append((status, seq, result_seq))
        return sorted(places)

    def flush(self) -> None:
        TestsSql.write(self.conn, RESULT_COLUMNS, [tuple(r) for r in self._rows],
                             self._closes)
        self._rows, self._buffered, self._closes = [], {}, []
