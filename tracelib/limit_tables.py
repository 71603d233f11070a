"""Which GB 2763 limits table judges lab results: the shipped starter table until a user
loads their authoritative table (``tracelib limits load``), which becomes the active
version. Every lab result records the version that judged it. The table model and its
lookups are :mod:`tracelib.standards.limits`; this module keeps tables in a ledger."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import Connection

from .errors import ValidationError
from .standards import LimitDecision, LimitsTable
from .store import Store
from .store.limits import ACTIVE, LimitsSql
from .timeutil import format_utc, utcnow

__all__ = ["LoadedTable", "active_table", "explain", "load_table"]

_CACHE: dict[tuple[str, str], LimitsTable] = {}


class _HasStore(Protocol):
    @property
    def store(self) -> Store: ...


@dataclass(frozen=True)
class LoadedTable:
    version: str
    sha256: str
    rows: int
    loaded_at: str


def load_table(ledger: _HasStore, csv_text: str, version: str, *,
               now: datetime | None = None) -> LoadedTable:
    """Validate a full limits table and make it the active version (a version is loaded once)."""
    if not version or len(version) > 100:
        raise ValidationError("give a version name of 1-100 characters", field="version")
    table = LimitsTable.from_csv(io.StringIO(csv_text), version)
    digest = hashlib.sha256(csv_text.encode("utf-8")).hexdigest()
    loaded = LoadedTable(version, digest, len(table.rows), format_utc(now or utcnow()))
    store = ledger.store
    with store.writer() as conn:
        if LimitsSql.exists(conn, version):
            raise ValidationError(f"limits table version {version!r} is already loaded",
                                  field="version")
        LimitsSql.insert(conn, version=version, sha256=digest, rows=loaded.rows, csv=csv_text,
                         loaded_at=loaded.loaded_at)
        store.put_meta(conn, ACTIVE, version)
    _CACHE[(version, digest)] = table
    return loaded


def active_table(conn: Connection) -> LimitsTable:
    """The active table inside a transaction (the starter table when none was loaded)."""
    stored = LimitsSql.active(conn)
    if stored is None:
        return LimitsTable.starter()
    key = (stored.version, stored.sha256)
    if key not in _CACHE:
        _CACHE[key] = LimitsTable.from_csv(io.StringIO(stored.csv), stored.version)
    return _CACHE[key]


def explain(ledger: _HasStore, pesticide: str, commodity: str, on: date) -> LimitDecision:
    """Which row of the active table applies to ``pesticide`` on ``commodity``, and why."""
    with ledger.store.reader() as conn:
        table = active_table(conn)
    return table.lookup(pesticide, commodity, on)
