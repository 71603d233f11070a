"""Batched INSERTs straight through the database driver.

An append writes thousands of rows per chunk into a handful of tables. Going
through SQLAlchemy Core's ``executemany`` costs more per row than SQLite's own
insert (parameter dicts rebuilt, every ``bytes`` wrapped by a bind processor), so
the hot tables are written with one prepared statement and row tuples instead.
The SQL is built from the table's own column names only; every value travels as
a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["IN_LIST", "driver_cursor", "insert_rows", "insert_tuples", "placeholder",
           "select_where_in"]

#: The longest IN-list sent in one statement (SQLite's default host-parameter limit is
#: 32,766, PostgreSQL's 65,535; shorter lists keep statements small and plans simple).
IN_LIST = 500

# DB-API paramstyles (PEP 249) of the drivers tracelib supports: sqlite3 (qmark) and
# psycopg 3 (format / pyformat: both take %s with a tuple).
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": "?"}


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A DB-API cursor on ``conn``'s own connection, inside its transaction; closed after."""
    cursor = conn.connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def placeholder(conn: Connection) -> str:
    """The driver's positional parameter marker (``?`` for sqlite3, ``%s`` for psycopg)."""
    return _PLACEHOLDER[conn.dialect.paramstyle]


@lru_cache(maxsize=64)
def _insert_sql(table_name: str, columns: tuple[str, ...], paramstyle: str) -> str:
    mark = _PLACEHOLDER[paramstyle]
    names = ", ".join(f'"{c}"' for c in columns)
    return (f'INSERT INTO "{table_name}" ({names}) '  # noqa: S608 - names from the schema
            f"VALUES ({', '.join(mark for _ in columns)})")


def insert_tuples(conn: Connection, table: Table, columns: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` with one executemany."""
    if not rows:
        return
    _check_columns(table, columns)
    if conn.dialect.name == "postgresql":
        # COPY: the server takes the rows as one stream rather than running the INSERT
        # once per row (an append's inserts cost the server ~3× less this way), in the
        # binary format: bytea travels as it is instead of hex (10,000 record-shaped
        # rows: 3.4 → 1.3 µs a row of client CPU, 5.3 → 2.2 µs a row in all).
        names = ", ".join(f'"{c}"' for c in columns)
        types = _binary_copy_types(table, tuple(columns))
        with driver_cursor(conn) as cursor, cursor.copy(
                f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        return
    sql = _insert_sql(table.name, tuple(columns), conn.dialect.paramstyle)
    conn.exec_driver_sql(sql, list(rows))


# PostgreSQL types of the columns tracelib writes, by their DDL (binary COPY needs each
# field in its column's own binary form; varchar takes text's).
_BINARY_COPY_TYPES = {"BIGINT": "int8", "INTEGER": "int4", "SMALLINT": "int2",
                      "BYTEA": "bytea", "TEXT": "text", "VARCHAR": "text"}


@lru_cache(maxsize=64)
def _binary_copy_types(table: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = []
    for name in columns:
        ddl = table.c[name].type.compile(dialect=dialect).split("(")[0]
        if ddl not in _BINARY_COPY_TYPES:
            raise TypeError(f"{table.name}.{name}: no binary COPY type for {ddl}")
        types.append(_BINARY_COPY_TYPES[ddl])
    return tuple(types)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dict rows (all with the same keys) into ``table`` with one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    insert_tuples(conn, table, columns, [tuple(r[c] for c in columns) for r in rows])


def _check_columns(table: Table, names: Sequence[str]) -> None:
    for name in names:  # only the schema's own identifiers reach the SQL text
        if name not in table.c:
            raise KeyError(f"{table.name} has no column {name!r}")


def select_where_in(conn: Connection, table: Table, key: str, values: Sequence[Any], *,
                    columns: Sequence[str] | None = None,
                    also: Mapping[str, Any] | None = None) -> Iterator[Mapping[Any, Any]]:
    """Every row of ``table`` whose ``key`` is one of ``values`` (and whose columns equal
    ``also``), IN-list by IN-list: the bulk reads of an append, a few statements for a
    thousand events. ``columns`` limits the columns read (default: all)."""
    names = tuple(columns) if columns is not None else tuple(c.name for c in table.c)
    extra = dict(also or {})
    _check_columns(table, (key, *names, *extra))
    mark = _PLACEHOLDER[conn.dialect.paramstyle]
    column_list = ", ".join(f'"{c}"' for c in names)
    select = f'SELECT {column_list} FROM "{table.name}" WHERE '  # noqa: S608 - schema names
    conditions = "".join(f' AND "{c}" = {mark}' for c in extra)
    fixed = tuple(extra.values())
    if conn.dialect.name == "postgresql":
        # One array parameter, planned afresh each time: psycopg prepares a statement it
        # sees often, and a plan made while an append's tables were small (a sequential
        # scan) would be kept as they grew — appends slowed tenfold by 50,000 lots.
        with driver_cursor(conn) as cursor:
            for start in range(0, len(values), IN_LIST):
                cursor.execute(select + f'"{key}" = ANY(%s)' + conditions,
                               (list(values[start:start + IN_LIST]), *fixed), prepare=False)
                for row in cursor.fetchall():
                    yield dict(zip(names, row, strict=True))
        return
    for start in range(0, len(values), IN_LIST):
        part = tuple(values[start:start + IN_LIST])
        sql = select + f'"{key}" IN ({", ".join(mark for _ in part)})' + conditions
        yield from conn.exec_driver_sql(sql, (*part, *fixed)).mappings()
