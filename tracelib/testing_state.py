"""Test results as seen inside one append transaction.

A day at a market appends its rapid tests by the hundred; each adds a row to
``test_results``. The rows are kept here and written per chunk with one
executemany (:meth:`TestResults.flush`), like the supply indexes. The rare
statements that read the table — closing a lot's open follow-ups — flush first,
so they see the batch's own earlier results.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from .limits import active_table
from .standards.limits import LimitsTable
from .store.bulk import insert_tuples
from .store.schema import test_results

__all__ = ["RESULT_COLUMNS", "TestResults"]

#: The order of a result row's values (:meth:`TestResults.add`).
RESULT_COLUMNS = ("seq", "event_id", "kind", "stall", "location", "lot", "day", "time", "item",
                  "method", "sample", "commodity", "rate", "result", "value_mg_kg",
                  "limit_mg_kg", "table_version", "retest", "residue", "follow_up",
                  "explanation")


class TestResults:
    __test__ = False  # not a pytest class

    def __init__(self, conn: Connection, store: object) -> None:
        self.conn = conn
        self.store = store
        self._rows: list[tuple[Any, ...]] = []
        self._limits: LimitsTable | None = None

    def limits(self) -> LimitsTable:
        """The active limits table; read once per append (tables are loaded outside the
        chain, never by an event, so it cannot change inside the transaction)."""
        if self._limits is None:
            self._limits = active_table(self.conn, self.store)
        return self._limits

    def add(self, **row: Any) -> None:
        """Queue one result row (every :data:`RESULT_COLUMNS` name, given by keyword)."""
        self._rows.append(tuple(row[name] for name in RESULT_COLUMNS))

    def close_follow_ups(self, lot: str, stall: str | None, seq: int, status: str) -> list[str]:
        """Set the status of the open follow-ups of ``lot`` (at ``stall``, or anywhere);
        return the stalls they were at."""
        self.flush()
        where = [test_results.c.lot == lot, test_results.c.follow_up == "held"]
        if stall is not None:
            where.append(test_results.c.stall == stall)
        places = sorted({p for (p,) in self.conn.execute(
            select(test_results.c.stall).where(*where)) if p is not None})
        if places:
            self.conn.execute(update(test_results).where(*where)
                              .values(follow_up=status, follow_up_seq=seq))
        return places

    def flush(self) -> None:
        insert_tuples(self.conn, test_results, RESULT_COLUMNS, self._rows)
        self._rows = []
