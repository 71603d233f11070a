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

from .events import Event
from .limits import active_table
from .standards.limits import LimitsTable
from .store.bulk import insert_tuples, placeholder, select_where_in
from .store.schema import test_results

__all__ = ["RESULT_COLUMNS", "TEST_KINDS", "TestResults"]

#: The order of a result row's values (:meth:`TestResults.add`).
RESULT_COLUMNS = ("seq", "event_id", "kind", "stall", "location", "lot", "day", "time", "item",
                  "method", "sample", "commodity", "rate", "result", "value_mg_kg",
                  "limit_mg_kg", "table_version", "retest", "residue", "follow_up",
                  "follow_up_seq", "explanation")
_STALL, _LOT, _FOLLOW_UP, _FOLLOW_UP_SEQ = (
    RESULT_COLUMNS.index(c) for c in ("stall", "lot", "follow_up", "follow_up_seq"))
_OPEN = "held"  # the status of a follow-up not yet closed
#: The kinds that record a test; each names its lot (when known) in ``data.lot``.
TEST_KINDS = frozenset(("rapid_test", "lab_test"))
_LIFTS = frozenset(("release", "dispose"))  # close the follow-ups of their input lots
_CLOSE_SQL = "UPDATE test_results SET follow_up = {m}, follow_up_seq = {m} WHERE seq = {m}"


class TestResults:
    __test__ = False  # not a pytest class

    def __init__(self, conn: Connection, store: object) -> None:
        self.conn = conn
        self.store = store
        self._rows: list[list[Any]] = []
        self._buffered: dict[int, list[Any]] = {}  # seq -> its row, until flushed
        self._open: dict[str, dict[int, str | None]] = {}  # lot -> {seq: stall} held
        self._closes: list[tuple[str, int, int]] = []  # (status, by seq, seq) to store
        self._limits: LimitsTable | None = None

    def limits(self) -> LimitsTable:
        """The active limits table; read once per append (tables are loaded outside the
        chain, never by an event, so it cannot change inside the transaction)."""
        if self._limits is None:
            self._limits = active_table(self.conn, self.store)
        return self._limits

    def prefetch_for(self, events: Iterable[Event]) -> None:
        """Read the open follow-ups of the lots a chunk's tests, releases and disposals
        name (any other lot is read when first needed)."""
        lots: set[str] = set()
        for event in events:
            if event.kind in TEST_KINDS:
                lot = event.data.get("lot")
                if isinstance(lot, str):
                    lots.add(lot)
            elif event.kind in _LIFTS:
                lots.update(item.lot for item in event.inputs)
        self.prefetch(lots)

    def prefetch(self, lots: Iterable[str]) -> None:
        """Read the open follow-ups of ``lots`` not read yet, in a few statements."""
        wanted = sorted({lot for lot in lots if lot not in self._open})
        for lot in wanted:
            self._open[lot] = {}
        for row in select_where_in(self.conn, test_results, "lot", wanted,
                                   columns=("seq", "lot", "stall"), also={"follow_up": _OPEN}):
            self._open[row["lot"]][int(row["seq"])] = row["stall"]

    def _open_of(self, lot: str) -> dict[int, str | None]:
        if lot not in self._open:
            self.prefetch((lot,))
        return self._open[lot]

    def add(self, **row: Any) -> None:
        """Queue one result row (every :data:`RESULT_COLUMNS` name but ``follow_up_seq``,
        given by keyword)."""
        values = [row.get(name) for name in RESULT_COLUMNS]
        lot, seq = values[_LOT], int(row["seq"])
        if values[_FOLLOW_UP] == _OPEN and lot is not None:
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
        insert_tuples(self.conn, test_results, RESULT_COLUMNS, [tuple(r) for r in self._rows])
        if self._closes:
            self.conn.exec_driver_sql(_CLOSE_SQL.format(m=placeholder(self.conn)), self._closes)
        self._rows, self._buffered, self._closes = [], {}, []
