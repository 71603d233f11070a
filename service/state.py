"""The service's own tables (not the ledger's): API tokens, scan counts and the console's
sign-in sessions.

They live in the service database (``SERVICE_DB``, by default the ledger's own database)
under a separate :class:`~sqlalchemy.MetaData`, created with ``create_all`` when the app
starts: nothing here is part of the tamper-evident ledger, and the ledger's migrations
never see these tables. Scan counts may have a database of their own (``STATE_URL``): a
read-only instance, reading a replica of the primary's databases, counts scans there. A
column added to a table after its first release is added to an existing database by
:func:`create_tables` too (:data:`ADDED_COLUMNS`): nullable, so rows written before it keep
their meaning.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Engine, Index, MetaData, String, Table, inspect, text
from sqlalchemy.exc import DBAPIError

__all__ = ["api_tokens", "console_sessions", "create_tables", "metadata", "scan_counts"]

metadata = MetaData()

# An API token is stored only as the SHA-256 of its text; it acts for one party, with
# its scopes space-separated (RFC 6749 §3.3); NULL for a token issued before tokens
# carried scopes (it keeps write and read:own, service/access.py DEFAULT_SCOPES).
api_tokens = Table(
    "svc_api_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("party", String(200), nullable=False, index=True),
    Column("label", String(200)),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
    Column("scopes", String(200)),
    # A device token (a stall's scale or till, docs/contract.md "Receipts"): the stall it is
    # bound to and the device's name; NULL for a party's token.
    Column("stall", String(200)),
    Column("device", String(200)),
)

#: Columns added after a table's first release: (table, column), each nullable.
ADDED_COLUMNS = ((api_tokens, api_tokens.c.scopes), (api_tokens, api_tokens.c.stall),
                 (api_tokens, api_tokens.c.device))

# Scans of a stall's page per local day: no address, no agent, no cookie, only a count.
scan_counts = Table(
    "svc_scan_counts", metadata,
    Column("stall", String(200), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("scans", BigInteger, nullable=False),
)
Index("ix_svc_scan_counts_day", scan_counts.c.day)

# A sign-in to the regulator's console (service/console/sessions.py): kept by the SHA-256 of
# the random session id its cookie carries, with the SHA-256 of the API token it signed in
# with (never the token), so revoking the token ends the session. Times in microseconds
# since the epoch, UTC.
console_sessions = Table(
    "svc_console_sessions", metadata,
    Column("session_sha256", String(64), primary_key=True),
    Column("party", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False, index=True),
    Column("created_us", BigInteger, nullable=False),
    Column("seen_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)


def create_tables(engine: Engine, only: Sequence[Table] | None = None) -> None:
    """Create the service's tables (or ``only`` these) where they do not exist yet, and add
    :data:`ADDED_COLUMNS` missing from an older database."""
    metadata.create_all(engine, tables=only)
    for table, column in ADDED_COLUMNS:
        if only is None or table in only:
            _add_column(engine, table, column)


def _has_column(engine: Engine, table: Table, column: Column[object]) -> bool:
    return column.name in {c["name"] for c in inspect(engine).get_columns(table.name)}


def _add_column(engine: Engine, table: Table, column: Column[object]) -> None:
    if _has_column(engine, table, column):
        return
    kind = column.type.compile(dialect=engine.dialect)
    name, where = engine.dialect.identifier_preparer.quote(column.name), table.name
    guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {where} ADD COLUMN {guard}{name} {kind}"))
    except DBAPIError:  # another process starting at the same time added it first
        if not _has_column(engine, table, column):
            raise
