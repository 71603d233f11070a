"""SQL for the test index (``test_results``): rapid tests and lab results, as the stall and
lot pages, the market board, the KPI report and the CLI read them, and as the append engine
writes them (new rows per chunk, open follow-ups read per lot and closed in one
executemany)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select

from .bulk import insert_tuples, placeholder, select_where_in
from .schema import locations, records, test_results
from .states import FollowUp

__all__ = ["TestsSql"]

_IN_CHUNK = 500  # bound on IN-list sizes
_CLOSE_SQL = "UPDATE test_results SET follow_up = {m}, follow_up_seq = {m} WHERE seq = {m}"


class TestsSql:
    """Parameterized statements on ``test_results``. Each row read is a plain dict of its
    columns."""

    __test__ = False  # not a pytest test class, whatever its name

    @staticmethod
    def by_event(conn: Connection, event_id: str) -> dict[str, Any] | None:
        """The result the test event ``event_id`` recorded, if any."""
        row = conn.execute(select(test_results).where(test_results.c.event_id == event_id)
                           ).mappings().first()
        return None if row is None else dict(row)

    @staticmethod
    def outcomes_between(conn: Connection, stall: str, first: str, last: str
                         ) -> list[tuple[str, str | None]]:
        """``(result, follow_up)`` of every test at ``stall`` of the local days
        ``first``..``last`` (ISO dates, both included)."""
        rows = conn.execute(select(test_results.c.result, test_results.c.follow_up)
                            .where(test_results.c.stall == stall,
                                   test_results.c.day >= first,
                                   test_results.c.day <= last)).all()
        return [(r.result, r.follow_up) for r in rows]

    @staticmethod
    def rapid_on(conn: Connection, stall: str, day: str) -> list[dict[str, Any]]:
        """The rapid tests at ``stall`` of the local day ``day``."""
        rows = conn.execute(select(test_results).where(
            test_results.c.stall == stall, test_results.c.day == day,
            test_results.c.kind == "rapid")).mappings().all()
        return [dict(r) for r in rows]

    @staticmethod
    def rapid_at_stalls_on(conn: Connection, stalls: Sequence[str], day: str
                           ) -> list[dict[str, Any]]:
        """The rapid tests at any of ``stalls`` of the local day ``day``."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(stalls), _IN_CHUNK):
            rows.extend(dict(r) for r in conn.execute(select(test_results).where(
                test_results.c.stall.in_(stalls[start:start + _IN_CHUNK]),
                test_results.c.day == day,
                test_results.c.kind == "rapid")).mappings().all())
        return rows

    @staticmethod
    def by_seqs(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The results recorded at ``seqs`` (those that are tests), by seq."""
        return {int(r["seq"]): dict(r)
                for r in select_where_in(conn, test_results, "seq", sorted(set(seqs)))}

    @staticmethod
    def first_rapid_recorded(conn: Connection, stalls: Sequence[str], day: str
                             ) -> tuple[str, str] | None:
        """The first rapid test of the local day ``day`` at any of ``stalls`` to be recorded:
        (when the ledger recorded it, its event id), or None. The first by seq is the first
        recorded (recording times never go back)."""
        first: tuple[int, str, str] | None = None
        for start in range(0, len(stalls), _IN_CHUNK):
            row = conn.execute(
                select(test_results.c.seq, records.c.recorded_at, records.c.event_id)
                .select_from(test_results.join(records, records.c.seq == test_results.c.seq))
                .where(test_results.c.stall.in_(stalls[start:start + _IN_CHUNK]),
                       test_results.c.day == day, test_results.c.kind == "rapid")
                .order_by(test_results.c.seq).limit(1)).first()
            if row is not None and (first is None or int(row.seq) < first[0]):
                first = (int(row.seq), str(row.recorded_at), str(row.event_id))
        return None if first is None else (first[1], first[2])

    @staticmethod
    def latest_lab(conn: Connection, stall: str, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` newest lab results (by seq) of ``stall``."""
        rows = conn.execute(select(test_results).where(
            test_results.c.stall == stall, test_results.c.kind == "lab")
            .order_by(test_results.c.seq.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    @staticmethod
    def of_lots(conn: Connection, codes: Sequence[str]) -> list[dict[str, Any]]:
        """Every test of any of the lots ``codes``."""
        rows = conn.execute(select(test_results).where(test_results.c.lot.in_(codes))
                            ).mappings().all()
        return [dict(r) for r in rows]

    @staticmethod
    def year_counts(conn: Connection, year: int, *, closed: Sequence[str],
                    market: str | None = None) -> list[tuple[Any, ...]]:
        """Tests of ``year`` counted by ``(day, kind, result, residue, closed, sampling,
        category, stage, n)``, where ``closed`` tells whether the follow-up is one of
        ``closed``; only the tests of the stalls of ``market`` when given."""
        t = test_results
        # Grouped by the columns of ix_test_results_day_figures in its order (the follow-up
        # itself, not whether it is closed): the index is read in order and aggregated as it
        # goes, with no sort of the year's rows; ``closed`` is worked out per group here.
        keys = (t.c.day, t.c.kind, t.c.result, t.c.residue, t.c.follow_up, t.c.sampling,
                t.c.category, t.c.stage)
        query = (select(*keys, func.count().label("n"))
                 .where(and_(t.c.day >= f"{year}-01-01", t.c.day <= f"{year}-12-31"))
                 .group_by(*keys))
        if market is not None:
            stalls = select(locations.c.id).where(locations.c.parent == market)
            query = query.where(t.c.stall.in_(stalls))
        done = frozenset(closed)
        return [(day, kind, result, residue, follow_up in done, sampling, category, stage, n)
                for day, kind, result, residue, follow_up, sampling, category, stage, n
                in conn.execute(query).all()]

    # -- the append engine's statements ----------------------------------------
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
