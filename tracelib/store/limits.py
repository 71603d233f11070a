"""Loaded GB 2763 limits tables (``limit_tables``) and which one is active (``meta``)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, select

from .schema import limit_tables, meta

__all__ = ["ACTIVE", "LimitsSql", "StoredTable"]

ACTIVE = "limits_version"  # the meta key naming the active version


class StoredTable(NamedTuple):
    version: str
    sha256: str
    csv: str


class LimitsSql:
    @staticmethod
    def active(conn: Connection) -> StoredTable | None:
        """The active table as loaded, or None while the starter table is in force."""
        version = conn.execute(select(meta.c.value).where(meta.c.name == ACTIVE)).scalar()
        if version is None:
            return None
        row = conn.execute(select(limit_tables.c.sha256, limit_tables.c.csv)
                           .where(limit_tables.c.version == version)).first()
        return None if row is None else StoredTable(version, row[0], row[1])

    @staticmethod
    def loaded(conn: Connection, version: str) -> tuple[str, int] | None:
        """The SHA-256 and row count of a loaded table, or None."""
        row = conn.execute(select(limit_tables.c.sha256, limit_tables.c.rows)
                           .where(limit_tables.c.version == version)).first()
        return None if row is None else (str(row[0]), int(row[1]))

    @staticmethod
    def exists(conn: Connection, version: str) -> bool:
        return conn.execute(select(limit_tables.c.version)
                            .where(limit_tables.c.version == version)).first() is not None

    @staticmethod
    def insert(conn: Connection, *, version: str, sha256: str, rows: int, csv: str,
               loaded_at: str, seq: int) -> None:
        """Store a loaded table and make it the active one."""
        conn.execute(limit_tables.insert().values(version=version, sha256=sha256, rows=rows,
                                                  csv=csv, loaded_at=loaded_at, seq=seq))
        if conn.execute(select(meta.c.value).where(meta.c.name == ACTIVE)).first() is None:
            conn.execute(meta.insert().values(name=ACTIVE, value=version))
        else:
            conn.execute(meta.update().where(meta.c.name == ACTIVE).values(value=version))
