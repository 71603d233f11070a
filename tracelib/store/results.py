"""The append engine's statements on ``test_results``: open follow-ups read per lot, new
rows written per chunk, closed follow-ups updated in one executemany."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from .bulk import insert_tuples, placeholder, select_where_in
from .schema import test_results
from .states import FollowUp

__all__ = ["ResultsSql"]

_CLOSE_SQL = "UPDATE test_results SET follow_up = {m}, follow_up_seq = {m} WHERE seq = {m}"


class ResultsSql:
    @staticmethod
    def open_follow_ups(conn: Connection, lots: Sequence[str]) -> list[tuple[int, str, str | None]]:
        """(seq, lot, stall) of every result of ``lots`` whose follow-up is open."""
        return [(int(row["seq"]), row["lot"], row["stall"])
                for row in select_where_in(conn, test_results, "lot", lots,
                                           columns=("seq", "lot", "stall"),
                                           also={"follow_up": FollowUp.OPEN})]

    @staticmethod
    def write(conn: Connection, columns: Sequence[str], rows: list[tuple[Any, ...]],
              closes: list[tuple[str, int, int]]) -> None:
        """Insert new result rows (values in ``columns`` order) and close follow-ups:
        ``closes`` holds (status, closing seq, result seq)."""
        insert_tuples(conn, test_results, tuple(columns), rows)
        if closes:
            conn.exec_driver_sql(_CLOSE_SQL.format(m=placeholder(conn)), closes)
