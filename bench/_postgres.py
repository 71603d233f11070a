"""A throw-away PostgreSQL schema for a benchmark (ledger core and drill suites)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._core import BenchmarkError, Context


@contextmanager
def pg_schema(ctx: Context) -> Iterator[tuple[str, Callable[[], str]]]:
    """A fresh PostgreSQL schema, dropped after unless --keep-db: yields its URL and a
    function describing its size."""
    from sqlalchemy import create_engine, text

    base = ctx.options.postgres
    assert base is not None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(base)
        with admin.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
    except Exception as e:
        raise BenchmarkError(f"PostgreSQL unreachable at {base}: {str(e).splitlines()[0]}") from e
    ctx.facts["postgres_server_version"] = version

    def size_note() -> str:
        with admin.connect() as conn:
            total = conn.execute(text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind = 'r'"), {"s": schema}).scalar()
        return f"schema {int(total or 0) / 1e6:,.0f} MB; PostgreSQL {version}"

    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}", size_note
    finally:
        if ctx.options.keep_db:
            ctx.log(f"kept PostgreSQL schema {schema}")
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
