"""The service's own tables (not the ledger's): API tokens and scan counts.

They live in the service database (``SERVICE_DB``, by default the ledger's own database)
under a separate :class:`~sqlalchemy.MetaData`, created with ``create_all`` when the app
starts: nothing here is part of the tamper-evident ledger, and the ledger's migrations
never see these tables. Scan counts may have a database of their own (``STATE_URL``): a
read-only instance, reading a replica of the primary's databases, counts scans there.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column, Engine, Index, MetaData, String, Table

__all__ = ["api_tokens", "create_tables", "metadata", "scan_counts"]

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


def create_tables(engine: Engine, only: Sequence[Table] | None = None) -> None:
    """Create the service's tables (or ``only`` these) where they do not exist yet."""
    metadata.create_all(engine, tables=only)
