"""The service's own tables (not the ledger's): API tokens, scan counts and the console's
sign-in sessions.

They live in the service database (``SERVICE_DB``, by default the ledger's own database)
under a separate :class:`~sqlalchemy.MetaData`, created with ``create_all`` when the app
starts: nothing here is part of the tamper-evident ledger, and the ledger's migrations
never see these tables.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Index, MetaData, String, Table

__all__ = ["api_tokens", "console_sessions", "create_tables", "metadata", "scan_counts"]

metadata = MetaData()

# An API token is stored only as the SHA-256 of its text; it acts for one party.
api_tokens = Table(
    "svc_api_tokens", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("party", String(200), nullable=False, index=True),
    Column("label", String(200)),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

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


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
