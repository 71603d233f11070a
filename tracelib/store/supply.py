"""SQL for the supply-chain indexes (lots, edges, stock, shipments, excursions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, select

from .schema import excursions, lot_edges, lot_events, lots, shipments, stock

__all__ = ["LotRow", "ShipmentRow", "StockRow", "SupplySql"]

_IN = 500


@dataclass
class LotRow:
    lot: str
    unit: str
    product: str | None
    storage: str | None
    gtin: str | None
    seq: int
    kind: str
    location: str
    imported: bool = False
    import_docs: set[str] = field(default_factory=set)
    recalled_seq: int | None = None

    def to_row(self) -> dict[str, Any]:
        return {"lot": self.lot, "unit": self.unit, "product": self.product,
                "storage": self.storage, "gtin": self.gtin, "seq": self.seq, "kind": self.kind,
                "location": self.location, "imported": int(self.imported),
                "import_docs": json.dumps(sorted(self.import_docs)),
                "recalled_seq": self.recalled_seq}


@dataclass
class StockRow:
    lot: str
    location: str
    unit: str
    received: int = 0
    sold: int = 0
    shipped: int = 0
    consumed: int = 0
    on_hand: int = 0
    hold_seq: int | None = None
    hold_reason: str | None = None

    def to_row(self) -> dict[str, Any]:
        return {"lot": self.lot, "location": self.location, "unit": self.unit,
                "received": self.received, "sold": self.sold, "shipped": self.shipped,
                "consumed": self.consumed, "on_hand": self.on_hand, "hold_seq": self.hold_seq,
                "hold_reason": self.hold_reason}


@dataclass
class ShipmentRow:
    ship_event: str
    lot: str
    ship_seq: int
    qty: int
    from_location: str
    to_location: str
    received_qty: int | None = None
    receive_seq: int | None = None
    discrepancy: int | None = None

    def to_row(self) -> dict[str, Any]:
        return {"ship_event": self.ship_event, "lot": self.lot, "ship_seq": self.ship_seq,
                "qty": self.qty, "from_location": self.from_location,
                "to_location": self.to_location, "received_qty": self.received_qty,
                "receive_seq": self.receive_seq, "discrepancy": self.discrepancy}


def _where_in(conn: Connection, query: Select[Any], column: Any,
              values: Sequence[Any]) -> Iterator[Any]:
    """Rows of ``query`` with ``column IN values``, a bounded IN-list at a time."""
    for start in range(0, len(values), _IN):
        yield from conn.execute(query.where(column.in_(values[start:start + _IN]))).mappings()


def _lot(row: Any) -> LotRow:
    return LotRow(row["lot"], row["unit"], row["product"], row["storage"], row["gtin"],
                  int(row["seq"]), row["kind"], row["location"], bool(row["imported"]),
                  set(json.loads(row["import_docs"])), row["recalled_seq"])


def _stock(row: Any) -> StockRow:
    return StockRow(row["lot"], row["location"], row["unit"], int(row["received"]),
                    int(row["sold"]), int(row["shipped"]), int(row["consumed"]),
                    int(row["on_hand"]), row["hold_seq"], row["hold_reason"])


def _shipment(row: Any) -> ShipmentRow:
    return ShipmentRow(**{k: row[k] for k in ShipmentRow.__dataclass_fields__})


class SupplySql:
    """Parameterized reads and batched writes of the supply-chain indexes."""

    @staticmethod
    def lots(conn: Connection, codes: Sequence[str]) -> dict[str, LotRow]:
        return {row["lot"]: _lot(row) for row in _where_in(conn, select(lots), lots.c.lot, codes)}

    @staticmethod
    def stock(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StockRow]:
        # By lot, then filtered here: SQLite answers a row-value IN with a table scan.
        wanted = set(keys)
        codes = sorted({code for code, _ in wanted})
        rows = _where_in(conn, select(stock), stock.c.lot, codes)
        return {key: _stock(row) for row in rows if (key := (row["lot"], row["location"])) in wanted}

    @staticmethod
    def stock_of_lots(conn: Connection, codes: Sequence[str]) -> list[StockRow]:
        return [_stock(r) for r in _where_in(conn, select(stock), stock.c.lot, codes)]

    @staticmethod
    def stock_at(conn: Connection, location: str) -> list[StockRow]:
        query = (select(stock).where(stock.c.location == location, stock.c.on_hand > 0)
                 .order_by(stock.c.lot))
        return [_stock(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def stock_at_type(conn: Connection, location_type: str) -> list[StockRow]:
        """Stock on hand at every location of a type (e.g. every stall)."""
        from .schema import locations

        query = (select(stock).join(locations, locations.c.id == stock.c.location)
                 .where(locations.c.type == location_type, stock.c.on_hand > 0))
        return [_stock(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def shipments(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str],
                                                                             ShipmentRow]:
        wanted = set(keys)
        events = sorted({event for event, _ in wanted})
        rows = _where_in(conn, select(shipments), shipments.c.ship_event, events)
        return {key: _shipment(row) for row in rows
                if (key := (row["ship_event"], row["lot"])) in wanted}

    @staticmethod
    def shipments_of_lots(conn: Connection, codes: Sequence[str]) -> list[ShipmentRow]:
        rows = _where_in(conn, select(shipments), shipments.c.lot, codes)
        return sorted((_shipment(r) for r in rows), key=lambda s: (s.ship_seq, s.lot))

    @staticmethod
    def children(conn: Connection, parents: Sequence[str]) -> list[tuple[str, str]]:
        query = select(lot_edges.c.parent, lot_edges.c.child)
        return [(r["parent"], r["child"]) for r in _where_in(conn, query, lot_edges.c.parent, parents)]

    @staticmethod
    def parents(conn: Connection, children: Sequence[str]) -> list[tuple[str, str]]:
        query = select(lot_edges.c.parent, lot_edges.c.child)
        return [(r["parent"], r["child"]) for r in _where_in(conn, query, lot_edges.c.child, children)]

    @staticmethod
    def event_seqs(conn: Connection, codes: Sequence[str]) -> list[int]:
        rows = _where_in(conn, select(lot_events.c.seq), lot_events.c.lot, codes)
        return sorted({int(r["seq"]) for r in rows})

    @staticmethod
    def excursions(conn: Connection, seqs: Sequence[int]) -> list[dict[str, Any]]:
        rows = _where_in(conn, select(excursions), excursions.c.seq, seqs)
        return sorted((dict(r) for r in rows), key=lambda r: (r["seq"], r["reading"]))

    @staticmethod
    def write(conn: Connection, *, new_lots: Iterable[LotRow], changed_lots: Iterable[LotRow],
              new_stock: Iterable[StockRow], changed_stock: Iterable[StockRow],
              new_shipments: Iterable[ShipmentRow], changed_shipments: Iterable[ShipmentRow],
              edges: list[dict[str, Any]], events: list[dict[str, Any]],
              readings: list[dict[str, Any]]) -> None:
        _insert(conn, lots, [r.to_row() for r in new_lots])
        _update(conn, lots, [r.to_row() for r in changed_lots], ("lot",))
        _insert(conn, stock, [r.to_row() for r in new_stock])
        _update(conn, stock, [r.to_row() for r in changed_stock], ("lot", "location"))
        _insert(conn, shipments, [r.to_row() for r in new_shipments])
        _update(conn, shipments, [r.to_row() for r in changed_shipments], ("ship_event", "lot"))
        _insert(conn, lot_edges, edges)
        _insert(conn, lot_events, events)
        _insert(conn, excursions, readings)


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def _update(conn: Connection, table: Any, rows: list[dict[str, Any]],
            keys: tuple[str, ...]) -> None:
    if not rows:
        return
    from sqlalchemy import bindparam

    where = [table.c[k] == bindparam(f"k_{k}") for k in keys]
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in rows[0] if c not in keys}
    params = [{**{f"k_{k}": r[k] for k in keys},
               **{f"v_{c}": r[c] for c in r if c not in keys}} for r in rows]
    conn.execute(table.update().where(*where).values(**values), params)
