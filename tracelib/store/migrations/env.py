"""Alembic environment: migrations run on the connection tracelib hands over."""

from __future__ import annotations

from alembic import context

from tracelib.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic CLI use
    from tracelib.store.engine import make_engine

    connection = make_engine(context.config.get_main_option("sqlalchemy.url") or "").connect()
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
