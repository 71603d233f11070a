"""Lots, stock and shipments as seen inside one append transaction.

Reads go through a cache that is filled in bulk per chunk (:meth:`prefetch`);
writes stay in the cache and reach the database in batches (:meth:`flush`), so
a chunk of a thousand hops costs a handful of statements, not thousands.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..kinds import Needs
from ..store.supply import LotRow, ShipmentRow, StockRow, SupplySql

__all__ = ["SupplyState"]



class SupplyState:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lots: dict[str, LotRow | None] = {}
        self._stock: dict[tuple[str, str], StockRow | None] = {}
        self._shipments: dict[tuple[str, str], ShipmentRow | None] = {}
        self._new_lots: dict[str, LotRow] = {}
        self._changed_lots: dict[str, LotRow] = {}
        self._new_stock: dict[tuple[str, str], StockRow] = {}
        self._changed_stock: dict[tuple[str, str], StockRow] = {}
        self._new_shipments: dict[tuple[str, str], ShipmentRow] = {}
        self._changed_shipments: dict[tuple[str, str], ShipmentRow] = {}
        self._edges: list[tuple[str, str, int]] = []
        self._events: list[tuple[str, int]] = []
        self._readings: list[dict[str, Any]] = []

    # -- bulk reads -------------------------------------------------------------
    def prefetch(self, needs: Needs) -> None:
        """Load in a few queries every lot, stock row and shipment a chunk will touch."""
        codes, places, ships = needs.lots, needs.places, needs.shipments
        want_lots = [c for c in codes if c not in self._lots]
        found_lots = SupplySql.lots(self.conn, want_lots)
        for code in want_lots:
            self._lots[code] = found_lots.get(code)
        # A stock row exists only for a lot in ``lots`` (every kind that makes one checks or
        # creates the lot first), so none is looked up for a lot the ledger does not hold:
        # an origin's new lot costs one lookup, not two.
        lots_here = self._lots
        want_stock = [k for k in places if k not in self._stock]
        found_stock = SupplySql.stock(self.conn, [
            (lot.seq, code, place) for code, place in want_stock
            if (lot := lots_here[code]) is not None])
        for key in want_stock:
            self._stock[key] = found_stock.get(key)
        want_ships = [k for k in ships if k not in self._shipments]
        found_ships = SupplySql.shipments(self.conn, want_ships)
        for key in want_ships:
            self._shipments[key] = found_ships.get(key)

    # -- lots ---------------------------------------------------------------------
    def lot(self, code: str) -> LotRow | None:
        if code not in self._lots:
            self._lots[code] = SupplySql.lots(self.conn, [code]).get(code)
        return self._lots[code]

    def add_lot(self, row: LotRow) -> None:
        self._lots[row.lot] = row
        self._new_lots[row.lot] = row

    def touch_lot(self, row: LotRow) -> None:
        if row.lot not in self._new_lots:
            self._changed_lots[row.lot] = row

    # -- stock ----------------------------------------------------------------------
    def stock(self, code: str, location: str) -> StockRow | None:
        key = (code, location)
        if key not in self._stock:
            lot = self.lot(code)  # no stock without a lot: its seq is the row's key
            self._stock[key] = (None if lot is None else
                                SupplySql.stock(self.conn, [(lot.seq, code, location)]).get(key))
        return self._stock[key]

    def stock_for_update(self, code: str, location: str, unit: str) -> StockRow:
        """The stock row of a lot at a location, created empty if absent; marked changed.
        The lot must exist (made earlier, or earlier in this batch)."""
        key = (code, location)
        row = self.stock(code, location)
        if row is None:
            lot = self.lot(code)
            if lot is None:
                raise LookupError(f"stock of lot {code!r}, which the ledger does not hold")
            row = StockRow(lot.seq, code, location, unit)
            self._stock[key] = row
            self._new_stock[key] = row
        elif key not in self._new_stock:
            self._changed_stock[key] = row
        return row

    # -- shipments --------------------------------------------------------------------
    def shipment(self, ship_event: str, code: str) -> ShipmentRow | None:
        key = (ship_event, code)
        if key not in self._shipments:
            self._shipments[key] = SupplySql.shipments(self.conn, [key]).get(key)
        return self._shipments[key]

    def add_shipment(self, row: ShipmentRow) -> None:
        key = (row.ship_event, row.lot)
        self._shipments[key] = row
        self._new_shipments[key] = row

    def touch_shipment(self, row: ShipmentRow) -> None:
        key = (row.ship_event, row.lot)
        if key not in self._new_shipments:
            self._changed_shipments[key] = row

    # -- append-only rows -----------------------------------------------------------------
    def add_edge(self, parent: str, child: str, seq: int) -> None:
        self._edges.append((parent, child, seq))

    def parents(self, code: str) -> list[str]:
        """The lots ``code`` was made from: in the ledger, and earlier in this batch."""
        found = [parent for parent, _ in SupplySql.parents(self.conn, [code])]
        found += [parent for parent, child, _ in self._edges if child == code]
        return found

    def add_lot_event(self, code: str, seq: int) -> None:
        self._events.append((code, seq))

    def add_excursion(self, seq: int, reading: int, time: str, celsius: str, limit: str,
                      storage: str) -> None:
        self._readings.append({"seq": seq, "reading": reading, "time": time, "celsius": celsius,
                               "limit_celsius": limit, "storage": storage})

    def flush(self) -> None:
        SupplySql.write(
            self.conn, new_lots=self._new_lots.values(), changed_lots=self._changed_lots.values(),
            new_stock=self._new_stock.values(), changed_stock=self._changed_stock.values(),
            new_shipments=self._new_shipments.values(),
            changed_shipments=self._changed_shipments.values(),
            edges=self._edges, events=self._events, readings=self._readings)
        for pending in (self._new_lots, self._changed_lots, self._new_stock, self._changed_stock,
                        self._new_shipments, self._changed_shipments):
            pending.clear()
        self._edges, self._events, self._readings = [], [], []
