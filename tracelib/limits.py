"""Which GB 2763 limits table judges lab results: the shipped starter table until a user
loads their authoritative table (``tracelib limits load``), which becomes the active
version. Every lab result records the version that judged it."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from .errors import ValidationError
from .standards import LimitDecision, LimitsTable
from .store.schema import limit_tables
from .timeutil import format_utc, utcnow

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["LoadedTable", "active_table", "explain", "load_table"]

ACTIVE = "limits_version"
_CACHE: dict[tuple[str, str], LimitsTable] = {}


@dataclass(frozen=True)
class LoadedTable:
    version: str
    sha256: str
    rows: int
    loaded_at: str


def load_table(ledger: Ledger, csv_text: str, version: str, *,
               now: datetime | None = None) -> LoadedTable:
    """Validate a full limits table and make it the active version (a version is loaded once)."""
    if not version or len(version) > 100:
        raise ValidationError("give a version name of 1-100 characters", field="version")
    table = LimitsTable.from_csv(io.StringIO(csv_text), version)
    digest = hashlib.sha256(csv_text.encode("utf-8")).hexdigest()
    loaded = LoadedTable(version, digest, len(table.rows), format_utc(now or utcnow()))
    with ledger.store.writer() as conn:
        if conn.execute(select(limit_tables.c.version)
                        .where(limit_tables.c.version == version)).first():
            raise ValidationError(f"limits table version {version!r} is already loaded",
                                  field="version")
        conn.execute(limit_tables.insert().values(version=version, sha256=digest,
                                                  rows=loaded.rows, csv=csv_text,
                                                  loaded_at=loaded.loaded_at))
        ledger.store.put_meta(conn, ACTIVE, version)
    _CACHE[(version, digest)] = table
    return loaded


def active_table(conn: Connection, store: object) -> LimitsTable:
    """The active table inside a transaction (starter table when none was loaded)."""
    from .store import Store

    assert isinstance(store, Store)
    version = store.get_meta(conn, ACTIVE)
    if version is None:
        return LimitsTable.starter()
    row = conn.execute(select(limit_tables.c.sha256, limit_tables.c.csv)
                       .where(limit_tables.c.version == version)).first()
    if row is None:
        return LimitsTable.starter()
    key = (version, row[0])
    if key not in _CACHE:
        _CACHE[key] = LimitsTable.from_csv(io.StringIO(row[1]), version)
    return _CACHE[key]


def explain(ledger: Ledger, pesticide: str, commodity: str, on: date) -> LimitDecision:
    """Which row of the active table applies to ``pesticide`` on ``commodity``, and why."""
    with ledger.store.reader() as conn:
        table = active_table(conn, ledger.store)
    return table.lookup(pesticide, commodity, on)
