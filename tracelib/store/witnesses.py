"""Registered witnesses (``witnesses``, ledger state written by the append engine from
``register`` events) and the cosignatures they returned (``checkpoint_cosignatures``, not
ledger state: written outside the append engine's lock, each in a short transaction of its
own). docs/contract.md "Witnesses".

Rows leave this module as :class:`WitnessRow` and :class:`CosignatureRow`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from .engine import WRITER_OPTION
from .schema import checkpoint_cosignatures, witnesses

__all__ = ["CosignatureRow", "WitnessRow", "WitnessesSql"]


@dataclass(frozen=True)
class WitnessRow:
    """A registered witness: its name in this ledger, its C2SP cosigner vkey and its
    tlog-witness submission prefix; ``seq`` is the register record that set it."""

    name: str
    vkey: str
    url: str
    seq: int


@dataclass(frozen=True)
class CosignatureRow:
    """A witness's cosignature line for the checkpoint of ``size`` records."""

    size: int
    witness: str
    key_id: str
    timestamp: int
    line: str


class WitnessesSql:
    """The queries of the ``witnesses`` and ``checkpoint_cosignatures`` tables."""

    @staticmethod
    @contextmanager
    def writing(engine: Any) -> Iterator[Connection]:
        """A short write transaction for cosignatures (SQLite: ``BEGIN IMMEDIATE``), without
        the append engine's lock, which this table does not need."""
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITER_OPTION: True})
            with conn.begin():
                yield conn

    @staticmethod
    def save_witness(conn: Connection, row: WitnessRow) -> None:
        """Insert or replace the witness named ``row.name`` (the append engine's flush)."""
        conn.execute(delete(witnesses).where(witnesses.c.name == row.name))
        conn.execute(insert(witnesses).values(name=row.name, vkey=row.vkey, url=row.url,
                                              seq=row.seq))

    @staticmethod
    def witness(conn: Connection, name: str) -> WitnessRow | None:
        row = conn.execute(select(witnesses).where(witnesses.c.name == name)).mappings().first()
        return None if row is None else WitnessRow(row["name"], row["vkey"], row["url"],
                                                   int(row["seq"]))

    @staticmethod
    def witnesses(conn: Connection) -> list[WitnessRow]:
        rows = conn.execute(select(witnesses).order_by(witnesses.c.name)).mappings()
        return [WitnessRow(r["name"], r["vkey"], r["url"], int(r["seq"])) for r in rows]

    @staticmethod
    def add_cosignatures(conn: Connection, rows: Iterable[CosignatureRow]) -> None:
        """Store each row, replacing an earlier line of the same witness for the same size."""
        for row in rows:
            conn.execute(delete(checkpoint_cosignatures).where(
                checkpoint_cosignatures.c.size == row.size,
                checkpoint_cosignatures.c.witness == row.witness))
            conn.execute(insert(checkpoint_cosignatures).values(
                size=row.size, witness=row.witness, key_id=row.key_id,
                timestamp=row.timestamp, line=row.line))

    @staticmethod
    def cosignatures(conn: Connection, size: int | None = None) -> list[CosignatureRow]:
        """The stored cosignatures (of the checkpoint of ``size`` records), by size then
        witness."""
        stmt = select(checkpoint_cosignatures).order_by(checkpoint_cosignatures.c.size,
                                                        checkpoint_cosignatures.c.witness)
        if size is not None:
            stmt = stmt.where(checkpoint_cosignatures.c.size == size)
        return [CosignatureRow(int(r["size"]), r["witness"], r["key_id"], int(r["timestamp"]),
                               r["line"]) for r in conn.execute(stmt).mappings()]

    @staticmethod
    def cosigned_sizes(conn: Connection) -> list[int]:
        """The checkpoint sizes that have at least one stored cosignature, largest first."""
        rows = conn.execute(select(checkpoint_cosignatures.c.size).distinct()
                            .order_by(checkpoint_cosignatures.c.size.desc()))
        return [int(r[0]) for r in rows]

    @staticmethod
    def marker(conn: Connection) -> tuple[int, int]:
        """``(largest cosigned size, lines stored for it)``: changes when a cosignature of the
        newest cosigned checkpoint arrives (what a cache of the witnessed status keys on)."""
        top = conn.execute(select(func.max(checkpoint_cosignatures.c.size))).scalar()
        if top is None:
            return (-1, 0)
        count = conn.execute(select(func.count()).select_from(checkpoint_cosignatures)
                             .where(checkpoint_cosignatures.c.size == top)).scalar()
        return (int(top), int(count or 0))

    @staticmethod
    def newest_cosigned_size(conn: Connection, witness: str) -> int | None:
        """The largest checkpoint size ``witness`` cosigned, as stored."""
        row = conn.execute(select(checkpoint_cosignatures.c.size)
                           .where(checkpoint_cosignatures.c.witness == witness)
                           .order_by(checkpoint_cosignatures.c.size.desc()).limit(1)).first()
        return None if row is None else int(row[0])
