"""Whole derived tables, read and written generically from their SQLAlchemy metadata: what
``verify`` streams to compare a ledger's tables with the ones its records give, and what
``reindex`` clears before rebuilding them. The SQL is built from the schema's own table
and column names only; every value travels as a bound parameter."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select

from .bulk import driver_cursor, insert_tuples
from .schema import lot_events, metadata

__all__ = ["TablesSql"]

# Rows fetched from the server at a time when a PostgreSQL table is streamed.
_FETCH = 5000
_NAMES = itertools.count()


def _ordered_sql(table: Table, dialect: str) -> str:
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    order = []
    for column in table.primary_key.columns:
        name = f'"{column.name}"'
        # Text keys in code-point order on both databases (SQLite's BINARY collation of
        # UTF-8 text): PostgreSQL's own order depends on the database's collation.
        if dialect == "postgresql" and column.type.python_type is str:
            name += ' COLLATE "C"'
        order.append(name)
    return (f'SELECT {columns} FROM "{table.name}" '  # noqa: S608 - names from the schema
            f"ORDER BY {', '.join(order)}")


class TablesSql:
    @staticmethod
    def create_all(engine: Engine) -> None:
        """Create every ledger table (a scratch database for a replay)."""
        metadata.create_all(engine)

    @staticmethod
    @contextmanager
    def ordered_rows(conn: Connection, table: Table) -> Iterator[Iterator[tuple[Any, ...]]]:
        """Every row of ``table`` as a plain tuple (its columns in the metadata's order), by
        primary key in code-point order, streamed: never the whole table in memory."""
        sql = _ordered_sql(table, conn.dialect.name)
        if conn.dialect.name == "postgresql":
            # A server-side cursor (psycopg's named cursor) sends the rows in batches; a
            # client-side one would hold the whole result.
            named: Any = conn.connection.cursor(name=f"tracelib_scan_{next(_NAMES)}")
            try:
                named.itersize = _FETCH
                named.execute(sql)
                yield iter(named)
            finally:
                named.close()
            return
        with driver_cursor(conn) as cursor:
            cursor.execute(sql)
            yield iter(cursor)

    @staticmethod
    def all_rows(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
        """Every row of a small table (limits tables), in primary-key order."""
        with TablesSql.ordered_rows(conn, table) as rows:
            return list(rows)

    @staticmethod
    def insert(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        insert_tuples(conn, table, [c.name for c in table.columns], rows)

    @staticmethod
    def clear(conn: Connection, tables: Sequence[Table]) -> None:
        for table in tables:
            conn.execute(delete(table))

    @staticmethod
    def delete_where(conn: Connection, table: Table, column: str, value: Any) -> None:
        conn.execute(delete(table).where(table.c[column] == value))

    @staticmethod
    def last_lot_event(conn: Connection, lot: str) -> int | None:
        """The newest record that touched ``lot`` after the one that made it."""
        found = conn.execute(select(func.max(lot_events.c.seq))
                             .where(lot_events.c.lot == lot)).scalar()
        return None if found is None else int(found)
