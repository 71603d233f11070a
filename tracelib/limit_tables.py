"""Which GB 2763 limits table judges lab results: the shipped starter table until a user
loads their authoritative table (``tracelib limits load``), which becomes the active
version. Every lab result records the version that judged it. The table model and its
lookups are :mod:`tracelib.standards.limits`; this module keeps tables in a ledger."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from .errors import ValidationError
from .events import sign_event
from .keys import SigningKey
from .standards import LimitDecision, LimitsTable
from .store import Store
from .store.limits import LimitsSql
from .timeutil import format_utc, utcnow

__all__ = ["LoadedTable", "active_table", "explain", "load_table", "remember_table"]

_CACHE: dict[tuple[str, str], LimitsTable] = {}


class _Receipt(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def recorded_at(self) -> str: ...


class _Appends(Protocol):
    @property
    def operator(self) -> str: ...

    @property
    def store(self) -> Store: ...

    @property
    def office(self) -> str: ...

    def append(self, events: Iterable[Mapping[str, Any]]) -> Sequence[_Receipt]: ...


class _HasStore(Protocol):
    @property
    def store(self) -> Store: ...


@dataclass(frozen=True)
class LoadedTable:
    version: str
    sha256: str
    rows: int
    loaded_at: str
    seq: int


def load_table(ledger: _Appends, csv_text: str, version: str, *, key: SigningKey,
               actor: str | None = None, location: str | None = None,
               now: datetime | None = None) -> LoadedTable:
    """Load a full limits table through the ledger: a ``limits`` event signed with ``key`` by
    ``actor`` (the operator by default, or a regulator) that makes it the active version.

    The whole table is checked before anything is stored, and a version is loaded once
    (:class:`ValidationError` naming ``data.csv`` and the row, or ``data.version``,
    otherwise)."""
    actor = actor or ledger.operator
    if location is None and actor != ledger.operator:
        raise ValidationError(f"give the location {actor!r} signs at (a location it holds)",
                              field="location")
    moment = now or utcnow()
    event = {"id": f"limits-{_id_part(version)}-{moment.strftime('%Y%m%dT%H%M%S%f')}",
             "kind": "limits", "time": format_utc(moment), "actor": actor,
             "location": location or ledger.office,
             "data": {"version": version, "csv": csv_text}}
    # The kind's rules check the whole table (naming the row) and the version at append.
    receipt = ledger.append([sign_event(event, key)])[0]
    with ledger.store.reader() as conn:
        stored = LimitsSql.loaded(conn, version)
    assert stored is not None  # the limits event just appended stored it
    sha256, rows = stored
    return LoadedTable(version, sha256, rows, receipt.recorded_at, receipt.seq)


def remember_table(table: LimitsTable, sha256: str) -> None:
    """Keep a table just loaded, so the next read of it does not parse its text again."""
    _CACHE[(table.version, sha256)] = table


def _id_part(version: str) -> str:
    """A version name as a piece of an event id (ids allow letters, digits and ``.-_:``)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_"
                   for c in version)[:100]


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
