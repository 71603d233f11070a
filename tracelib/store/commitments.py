"""SQL for producers' standing (docs/contract.md "Producers' standing"): the broken
commitments the append engine writes, and the reads of the producer page — a producer's
lots and certificates through the places it holds, and the tests of their descendants."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Connection, func, select

from .bulk import insert_rows
from .schema import broken_commitments, lot_edges, lots, test_results

__all__ = ["CommitmentRow", "CommitmentsSql"]

#: Origin lots and entries: the lots whose makers promised something of the goods.
MAKERS = ("origin", "entry")


@dataclass
class CommitmentRow:
    test_seq: int
    source_lot: str
    source_seq: int
    source_kind: str
    tested_lot: str
    certificate_no: str | None
    producer: str | None
    location: str
    stall: str | None
    analyte: str
    day: str

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "test_seq", "source_lot", "source_seq", "source_kind", "tested_lot", "certificate_no",
        "producer", "location", "stall", "analyte", "day")

    def to_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.COLUMNS}

    @classmethod
    def from_row(cls, row: Any) -> CommitmentRow:
        return cls(**{name: row[name] for name in cls.COLUMNS})


_PART = 500  # lot codes per IN list


def _parts(codes: Sequence[str]) -> Iterable[Sequence[str]]:
    ordered = sorted(set(codes))
    for start in range(0, len(ordered), _PART):
        yield ordered[start:start + _PART]


class CommitmentsSql:
    @staticmethod
    def write(conn: Connection, new: Iterable[CommitmentRow]) -> None:
        insert_rows(conn, broken_commitments, [r.to_row() for r in new])

    @staticmethod
    def of_producer(conn: Connection, producer: str, limit: int) -> list[CommitmentRow]:
        """The producer's broken commitments, newest test first, at most ``limit``."""
        rows = conn.execute(select(broken_commitments)
                            .where(broken_commitments.c.producer == producer)
                            .order_by(broken_commitments.c.test_seq.desc(),
                                      broken_commitments.c.source_lot)
                            .limit(limit)).mappings()
        return [CommitmentRow.from_row(r) for r in rows]

    @staticmethod
    def counts_of_producer(conn: Connection, producer: str, since: str, until: str
                           ) -> tuple[int, int]:
        """How many failures (distinct lab tests) were traced back to the producer: in all,
        and on the days ``since`` to ``until`` (both included)."""
        c = broken_commitments.c
        total = conn.execute(select(func.count(func.distinct(c.test_seq)))
                             .where(c.producer == producer)).scalar_one()
        recent = conn.execute(select(func.count(func.distinct(c.test_seq)))
                              .where(c.producer == producer, c.day >= since,
                                     c.day <= until)).scalar_one()
        return int(total), int(recent)

    @staticmethod
    def lots_made_at(conn: Connection, places: Sequence[str], limit: int
                     ) -> list[dict[str, Any]]:
        """The lots made at ``places``, newest first, at most ``limit``: code, seq, kind,
        product, certificate number."""
        if not places:
            return []
        rows = conn.execute(select(lots.c.lot, lots.c.seq, lots.c.kind, lots.c.product,
                                   lots.c.certificate_no, lots.c.location)
                            .where(lots.c.location.in_(sorted(set(places))))
                            .order_by(lots.c.seq.desc()).limit(limit)).mappings()
        return [dict(r) for r in rows]

    @staticmethod
    def made_counts(conn: Connection, places: Sequence[str]) -> tuple[int, int]:
        """Lots made at ``places``, and distinct certificates (origin records) they were
        made under."""
        if not places:
            return 0, 0
        where = lots.c.location.in_(sorted(set(places)))
        made = conn.execute(select(func.count()).select_from(lots).where(where)).scalar_one()
        certs = conn.execute(select(func.count(func.distinct(lots.c.seq)))
                             .where(where, lots.c.kind == "origin")).scalar_one()
        return int(made), int(certs)

    @staticmethod
    def children(conn: Connection, parents: Sequence[str]) -> list[str]:
        """The lots made from ``parents`` (one step down the lot edges)."""
        out: list[str] = []
        for part in _parts(parents):
            out.extend(r[0] for r in conn.execute(select(lot_edges.c.child)
                                                  .where(lot_edges.c.parent.in_(part))))
        return out

    @staticmethod
    def tests_of(conn: Connection, codes: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """(lot, day, kind, result) of every test of the lots ``codes``."""
        c = test_results.c
        out: list[tuple[str, str, str, str]] = []
        for part in _parts(codes):
            out.extend((r[0], r[1], r[2], r[3]) for r in conn.execute(
                select(c.lot, c.day, c.kind, c.result).where(c.lot.in_(part))))
        return out

    @staticmethod
    def test_details(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The test results at ``seqs``, by seq."""
        if not seqs:
            return {}
        rows = conn.execute(select(test_results)
                            .where(test_results.c.seq.in_(sorted(set(seqs))))).mappings()
        return {int(r["seq"]): dict(r) for r in rows}
