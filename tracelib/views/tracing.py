"""Trace a lot backward to every origin and forward to every location and sale.

Backward: the lot's ancestors through ``transform``/``slaughter`` edges, each
origin with its certificate, and the cold-chain hops on the way with their
temperature readings and excursions — every shipment of the lot itself, and of each
ancestor only the route that brought it to where the next lot of the line was made, up to
that handover (never the ancestor's later movements).
Forward: the lot and every lot made from it, with quantities per location and unit —
received, sold, on hand — from the stock index kept in the append transaction (mass
balance makes them exact).

The JSON shape is docs/contract.md "Trace JSON".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import canonical
from ..errors import NotFoundError
from ..ledger import Ledger
from ..quantity import format_micro
from ..store import Connection
from ..store.supply import SupplySql
from ..timeutil import parse_rfc3339

__all__ = ["Entry", "Hop", "LocationTotals", "Origin", "Trace", "trace"]


@dataclass(frozen=True)
class Origin:
    lot: str
    event: str
    seq: int
    location: str
    certificate: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"lot": self.lot, "event": self.event, "seq": self.seq,
                "location": self.location, "certificate": self.certificate}


@dataclass(frozen=True)
class Entry:
    """Where a lot of the line entered the ledger from a supplier outside it (an ``entry``
    event, docs/contract.md "entry"): the supplier and the vouchers seen."""

    lot: str
    event: str
    seq: int
    location: str
    supplier: dict[str, Any]
    product: str
    category: str
    vouchers: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"lot": self.lot, "event": self.event, "seq": self.seq,
                "location": self.location, "supplier": self.supplier, "product": self.product,
                "category": self.category, "vouchers": list(self.vouchers)}


@dataclass(frozen=True)
class Hop:
    """One shipment of one lot: from, to, how much, and what the thermometer said."""

    lot: str
    ship_event: str
    ship_seq: int
    time: str
    from_location: str
    to_location: str
    qty: int
    unit: str
    received_qty: int | None
    receive_seq: int | None
    temperatures: tuple[dict[str, str], ...] = ()
    excursions: tuple[dict[str, str], ...] = ()
    refused: str | None = None  # a hop refused at its destination: the reject's reason

    def to_dict(self) -> dict[str, Any]:
        out = self._fields()
        if self.refused is not None:
            out["refused"] = self.refused
        return out

    def _fields(self) -> dict[str, Any]:
        return {"lot": self.lot, "ship_event": self.ship_event, "time": self.time,
                "from": self.from_location, "to": self.to_location,
                "qty": format_micro(self.qty), "unit": self.unit,
                "received": None if self.received_qty is None else format_micro(self.received_qty),
                "discrepancy": None if self.received_qty in (None, self.qty)
                else format_micro((self.received_qty or 0) - self.qty),
                "temperatures": list(self.temperatures), "excursions": list(self.excursions)}


@dataclass(frozen=True)
class LocationTotals:
    location: str
    type: str
    name: str
    unit: str
    received: int
    sold: int
    on_hand: int
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location, "type": self.type, "unit": self.unit,
                "received": format_micro(self.received), "sold": format_micro(self.sold),
                "on_hand": format_micro(self.on_hand), "name": self.name, "held": self.held}


@dataclass(frozen=True)
class Trace:
    lot: str
    back: bool
    forward: bool
    upstream_lots: tuple[str, ...] = ()
    origins: tuple[Origin, ...] = ()
    entries: tuple[Entry, ...] = ()
    path: tuple[Hop, ...] = ()
    downstream_lots: tuple[str, ...] = ()
    locations: tuple[LocationTotals, ...] = ()
    held: tuple[tuple[str, str], ...] = field(default=())  # (lot, location) on hold

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lot": self.lot}
        if self.back:
            out["upstream"] = {"lots": list(self.upstream_lots),
                               "origins": [o.to_dict() for o in self.origins],
                               "path": [h.to_dict() for h in self.path]}
            if self.entries:
                out["upstream"]["entries"] = [e.to_dict() for e in self.entries]
        if self.forward:
            out["downstream"] = {"lots": list(self.downstream_lots),
                                 "locations": [loc.to_dict() for loc in self.locations]}
        return out

    def digest(self) -> str:
        import hashlib

        return hashlib.sha256(canonical.dumps(self.to_dict())).hexdigest()


def _closure(conn: Connection, start: str, step: Any) -> list[str]:
    """Breadth-first closure over lot edges (``step`` = SupplySql.parents or .children)."""
    seen = {start}
    frontier = [start]
    while frontier:
        pairs = step(conn, frontier)
        nxt = []
        for parent, child in pairs:
            other = parent if step is SupplySql.parents else child
            if other not in seen:
                seen.add(other)
                nxt.append(other)
        frontier = nxt
    seen.discard(start)
    return sorted(seen)


def trace(ledger: Ledger, lot: str, *, back: bool = True, forward: bool = True,
          since: datetime | None = None, until: datetime | None = None) -> Trace:
    """Trace ``lot``. ``since``/``until`` keep only hops whose ship time is in the window."""
    store = ledger.store
    with store.reader() as conn:
        found = SupplySql.lots(conn, [lot])
        if lot not in found:
            raise NotFoundError(f"unknown lot {lot!r}")
        result: dict[str, Any] = {}
        if back:
            ancestors = _closure(conn, lot, SupplySql.parents)
            line = [lot, *ancestors]
            rows = SupplySql.lots(conn, line)
            origin_lots = [r for r in rows.values() if r.kind == "origin"]
            entry_lots = [r for r in rows.values() if r.kind == "entry"]
            bodies = {int(r["seq"]): r for r in store.record_rows(
                conn, sorted({o.seq for o in [*origin_lots, *entry_lots]}))}
            origins = []
            for row in sorted(origin_lots, key=lambda r: (r.seq, r.lot)):
                doc = canonical.loads(bytes(bodies[row.seq]["body"]))
                origins.append(Origin(row.lot, doc["id"], row.seq, row.location,
                                      doc["data"]["certificate"]))
            entries = []
            for row in sorted(entry_lots, key=lambda r: (r.seq, r.lot)):
                doc = canonical.loads(bytes(bodies[row.seq]["body"]))
                data = doc["data"]
                entries.append(Entry(row.lot, doc["id"], row.seq, row.location,
                                     data["supplier"], data["product"], data["category"],
                                     tuple(data.get("vouchers", []))))
            result.update(upstream_lots=tuple(ancestors), origins=tuple(origins),
                          entries=tuple(entries),
                          path=tuple(_hops(conn, store, line, rows, since, until)))
        if forward:
            descendants = _closure(conn, lot, SupplySql.children)
            totals, held = _totals(conn, store, [lot, *descendants])
            result.update(downstream_lots=tuple(descendants), locations=totals, held=held)
    return Trace(lot, back, forward, **result)


def _on_the_way(conn: Connection, lot: str, line: list[str], rows: dict[str, Any],
                shipments: list[Any]) -> list[Any]:
    """The shipments that led to ``lot``: all of the lot's own, and of each ancestor only
    those that brought it, before the handover, to where a lot of the line was made from it.

    Walked backward in record order from each handover (the ``transform``/``slaughter``
    record that made the child, at the child's location): a shipment of the ancestor is on
    the way when it was received at a place the ancestor had to be at, before it had to be
    there; then the ancestor had to be at the shipment's origin before it left. So the
    ancestor's later movements — the rest of a split lot shipped on the next day, even
    back along the same route — are never on the child's path."""
    due: dict[str, dict[str, int]] = {}  # ancestor → place → the seq it had to be there by
    in_line = set(line)
    for parent, child in SupplySql.parents(conn, line):
        if parent in in_line and parent != lot:
            made = rows[child]
            places = due.setdefault(parent, {})
            places[made.location] = max(places.get(made.location, -1), int(made.seq))
    by_lot: dict[str, list[Any]] = {}
    for ship in shipments:
        by_lot.setdefault(ship.lot, []).append(ship)
    kept = list(by_lot.get(lot, []))
    for ancestor, places in due.items():
        for ship in sorted(by_lot.get(ancestor, []), key=lambda s: s.ship_seq, reverse=True):
            by = places.get(ship.to_location)
            if by is None or ship.receive_seq is None or ship.receive_seq >= by:
                continue  # not received there before the handover: not on the way
            kept.append(ship)
            places[ship.from_location] = max(places.get(ship.from_location, -1),
                                             int(ship.ship_seq))
    return kept


def _hops(conn: Connection, store: Any, line: list[str], rows: dict[str, Any],
          since: datetime | None, until: datetime | None) -> Iterable[Hop]:
    shipments = _on_the_way(conn, line[0], line, rows,
                            SupplySql.shipments_of_lots(conn, line))
    seqs = sorted({s.ship_seq for s in shipments})
    bodies = {int(r["seq"]): canonical.loads(bytes(r["body"]))
              for r in store.record_rows(conn, seqs)}
    readings: dict[int, list[dict[str, str]]] = {}
    for exc in SupplySql.excursions(conn, seqs):
        readings.setdefault(int(exc["seq"]), []).append(
            {"time": exc["time"], "celsius": exc["celsius"], "limit": exc["limit_celsius"],
             "storage": exc["storage"]})
    for ship in sorted(shipments, key=lambda s: (s.ship_seq, s.lot)):
        doc = bodies[ship.ship_seq]
        moment = parse_rfc3339(doc["time"])
        if (since and moment < since) or (until and moment >= until):
            continue
        yield Hop(ship.lot, ship.ship_event, ship.ship_seq, doc["time"], ship.from_location,
                  ship.to_location, ship.qty, rows[ship.lot].unit, ship.received_qty,
                  ship.receive_seq, tuple(doc["data"].get("temperatures", [])),
                  tuple(readings.get(ship.ship_seq, [])), ship.reject_reason)


def _totals(conn: Connection, store: Any, family: list[str]
            ) -> tuple[tuple[LocationTotals, ...], tuple[tuple[str, str], ...]]:
    sums: dict[tuple[str, str], list[int]] = {}
    held: list[tuple[str, str]] = []
    for row in SupplySql.stock_of_lots(conn, family):
        if row.received == 0:
            continue
        acc = sums.setdefault((row.location, row.unit), [0, 0, 0, 0])
        acc[0] += row.received
        acc[1] += row.sold
        acc[2] += row.on_hand
        if row.hold_seq is not None:
            acc[3] = 1
            held.append((row.lot, row.location))
    places = store.locations(conn, [loc for loc, _ in sums])
    totals = []
    for (loc, unit), (received, sold, on_hand, is_held) in sorted(sums.items()):
        place = places.get(loc)
        totals.append(LocationTotals(loc, place.type if place else "unknown",
                                     place.name if place else loc, unit, received, sold,
                                     on_hand, bool(is_held)))
    return tuple(totals), tuple(sorted(held))
