"""SQL for the attachments table: which record cites which blob, with the citing event's
actor and location (docs/contract.md "Attachments")."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from .bulk import insert_tuples
from .schema import attachments

__all__ = ["AttachmentRow", "AttachmentsSql"]

_COLUMNS = ("name", "seq", "actor", "location")


@dataclass(frozen=True)
class AttachmentRow:
    name: str  # sha256:<64 hex>
    seq: int  # the citing record
    actor: str
    location: str


class AttachmentsSql:
    @staticmethod
    def write(conn: Connection, rows: Iterable[AttachmentRow]) -> None:
        insert_tuples(conn, attachments, _COLUMNS,
                      [(r.name, r.seq, r.actor, r.location) for r in rows])

    @staticmethod
    def citing(conn: Connection, name: str) -> list[AttachmentRow]:
        """The records citing blob ``name``, oldest first."""
        rows = conn.execute(select(attachments).where(attachments.c.name == name)
                            .order_by(attachments.c.seq)).mappings()
        return [AttachmentRow(r["name"], r["seq"], r["actor"], r["location"]) for r in rows]

    @staticmethod
    def count_names(conn: Connection) -> int:
        """How many distinct blobs the ledger cites."""
        return int(conn.execute(select(func.count(attachments.c.name.distinct()))).scalar_one())

    @staticmethod
    def names(conn: Connection, *, batch: int = 1000) -> Iterator[tuple[str, int]]:
        """Every cited blob once, with the first record citing it, in name order; read in
        batches by key (memory stays bounded however many blobs are cited)."""
        after = ""
        while True:
            rows = conn.execute(
                select(attachments.c.name, func.min(attachments.c.seq))
                .where(attachments.c.name > after).group_by(attachments.c.name)
                .order_by(attachments.c.name).limit(batch)).all()
            if not rows:
                return
            for name, seq in rows:
                yield str(name), int(seq)
            after = str(rows[-1][0])
