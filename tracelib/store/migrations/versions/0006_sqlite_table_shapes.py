"""SQLite: test results keyed by the rowid (seq INTEGER). PostgreSQL is unchanged.

This revision also rebuilt lots and stock WITHOUT ROWID; revision 0008 reshapes both
again (stock keyed by its lot's seq, lots a rowid table), so they are left to it.

Databases created at 0002/0003 from the current schema module already have this
shape; older SQLite databases are rebuilt here, rows copied unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Table, inspect, text

from tracelib.store.schema import test_results

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rebuild(bind: Connection, table: Table, done_marker: str) -> None:
    """Recreate ``table`` from the schema module if its stored SQL lacks ``done_marker``."""
    sql = bind.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"),
                       {"n": table.name}).scalar()
    if sql is None or done_marker in sql.upper():
        return
    for index in table.indexes:  # names are reused by the new table
        bind.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
    old = f"{table.name}_before_0006"
    bind.execute(text(f'ALTER TABLE "{table.name}" RENAME TO "{old}"'))
    table.create(bind)
    # The columns the old table has: a later revision's column (0015 test_results.sampling)
    # is added by that revision, and SQLite would read a quoted name it lacks as a string.
    kept = {c["name"] for c in inspect(bind).get_columns(old)}
    columns = ", ".join(f'"{c.name}"' for c in table.c if c.name in kept)
    bind.execute(text(f'INSERT INTO "{table.name}" ({columns}) '  # noqa: S608 - schema names
                      f'SELECT {columns} FROM "{old}"'))
    bind.execute(text(f'DROP TABLE "{old}"'))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _rebuild(bind, test_results, "SEQ INTEGER")


def downgrade() -> None:
    """Nothing to undo: the rebuilt tables hold the same columns and rows."""
