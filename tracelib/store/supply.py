"""SQL for the supply-chain indexes (lots, edges, stock, shipments, excursions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Connection, select

from .bulk import insert_rows, insert_tuples, select_where_in
from .schema import excursions, lot_edges, lot_events, lots, shipments, stock

__all__ = ["LotRow", "ShipmentRow", "StockRow", "SupplySql"]

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
    recalled_by: str | None = None  # the party that signed the recall in force
    certificate_no: str | None = None  # an origin lot's certificate number

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "lot", "unit", "product", "storage", "gtin", "seq", "kind", "location", "imported",
        "import_docs", "recalled_seq", "recalled_by", "certificate_no")

    def to_values(self) -> tuple[Any, ...]:
        """The row's values in :attr:`COLUMNS` order."""
        return (self.lot, self.unit, self.product, self.storage, self.gtin, self.seq, self.kind,
                self.location, int(self.imported),
                json.dumps(sorted(self.import_docs)) if self.import_docs else "[]",
                self.recalled_seq, self.recalled_by, self.certificate_no)

    def to_row(self) -> dict[str, Any]:
        return dict(zip(self.COLUMNS, self.to_values(), strict=True))


@dataclass
class StockRow:
    lot_seq: int  # the record that made the lot (lots.seq): the first part of the key
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
    hold_cause: str | None = None  # a HoldCause while held
    hold_by: str | None = None  # the party that placed the hold in force (its signer)

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "lot_seq", "lot", "location", "unit", "received", "sold", "shipped", "consumed",
        "on_hand", "hold_seq", "hold_reason", "hold_cause", "hold_by")

    def to_values(self) -> tuple[Any, ...]:
        """The row's values in :attr:`COLUMNS` order."""
        return (self.lot_seq, self.lot, self.location, self.unit, self.received, self.sold,
                self.shipped, self.consumed, self.on_hand, self.hold_seq, self.hold_reason,
                self.hold_cause, self.hold_by)

    def to_row(self) -> dict[str, Any]:
        return dict(zip(self.COLUMNS, self.to_values(), strict=True))


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
    reject_reason: str | None = None  # a refused hop: the reject's reason

    def to_row(self) -> dict[str, Any]:
        return {"ship_event": self.ship_event, "lot": self.lot, "ship_seq": self.ship_seq,
                "qty": self.qty, "from_location": self.from_location,
                "to_location": self.to_location, "received_qty": self.received_qty,
                "receive_seq": self.receive_seq, "discrepancy": self.discrepancy,
                "reject_reason": self.reject_reason}


def _lot(row: Any) -> LotRow:
    return LotRow(row["lot"], row["unit"], row["product"], row["storage"], row["gtin"],
                  int(row["seq"]), row["kind"], row["location"], bool(row["imported"]),
                  set(json.loads(row["import_docs"])), row["recalled_seq"], row["recalled_by"],
                  row["certificate_no"])


def _stock(row: Any) -> StockRow:
    return StockRow(int(row["lot_seq"]), row["lot"], row["location"], row["unit"],
                    int(row["received"]),
                    int(row["sold"]), int(row["shipped"]), int(row["consumed"]),
                    int(row["on_hand"]), row["hold_seq"], row["hold_reason"], row["hold_cause"],
                    row["hold_by"])


def _shipment(row: Any) -> ShipmentRow:
    return ShipmentRow(**{k: row[k] for k in ShipmentRow.__dataclass_fields__})


class SupplySql:
    """Parameterized reads and batched writes of the supply-chain indexes."""

    @staticmethod
    def lots(conn: Connection, codes: Sequence[str]) -> dict[str, LotRow]:
        return {row["lot"]: _lot(row) for row in select_where_in(conn, lots, "lot", codes)}

    @staticmethod
    def has_product(conn: Connection, product: str) -> bool:
        """Whether any lot in the ledger is of ``product`` (its exact name)."""
        return conn.execute(select(lots.c.lot).where(lots.c.product == product)
                            .limit(1)).first() is not None

    @staticmethod
    def gtins(conn: Connection) -> Iterator[tuple[str, str]]:
        """(lot, GTIN) of every lot whose product has a GTIN (GS1 Digital Link lot names)."""
        query = select(lots.c.lot, lots.c.gtin).where(lots.c.gtin.is_not(None))
        for row in conn.execute(query):
            yield str(row[0]), str(row[1])

    @staticmethod
    def stock(conn: Connection, keys: Sequence[tuple[int, str, str]]
              ) -> dict[tuple[str, str], StockRow]:
        """Stock rows by (lot's seq, lot code, location), keyed by (lot code, location)."""
        # By the key's first part, then filtered here: SQLite answers a row-value IN with a
        # table scan.
        wanted = {(code, location) for _, code, location in keys}
        rows = select_where_in(conn, stock, "lot_seq", sorted({seq for seq, _, _ in keys}))
        return {key: _stock(row) for row in rows if (key := (row["lot"], row["location"])) in wanted}

    @staticmethod
    def stock_of_lots(conn: Connection, codes: Sequence[str]) -> list[StockRow]:
        """Every stock row of the lots (at every location), found through ``lots``."""
        seqs = sorted({int(r["seq"]) for r in select_where_in(conn, lots, "lot", codes,
                                                               columns=("seq",))})
        wanted = set(codes)
        return [_stock(r) for r in select_where_in(conn, stock, "lot_seq", seqs)
                if r["lot"] in wanted]

    @staticmethod
    def stock_at(conn: Connection, location: str) -> list[StockRow]:
        query = (select(stock).where(stock.c.location == location, stock.c.on_hand > 0)
                 .order_by(stock.c.lot))
        return [_stock(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def held_at(conn: Connection, location: str) -> list[StockRow]:
        """Stock on hand at a location that is held there."""
        query = (select(stock).where(stock.c.location == location, stock.c.on_hand > 0,
                                     stock.c.hold_seq.is_not(None)).order_by(stock.c.lot))
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
        rows = select_where_in(conn, shipments, "ship_event", events)
        return {key: _shipment(row) for row in rows
                if (key := (row["ship_event"], row["lot"])) in wanted}

    @staticmethod
    def shipments_of_lots(conn: Connection, codes: Sequence[str]) -> list[ShipmentRow]:
        rows = select_where_in(conn, shipments, "lot", codes)
        return sorted((_shipment(r) for r in rows), key=lambda s: (s.ship_seq, s.lot))

    @staticmethod
    def children(conn: Connection, parents: Sequence[str]) -> list[tuple[str, str]]:
        rows = select_where_in(conn, lot_edges, "parent", parents)
        return [(r["parent"], r["child"]) for r in rows]

    @staticmethod
    def parents(conn: Connection, children: Sequence[str]) -> list[tuple[str, str]]:
        rows = select_where_in(conn, lot_edges, "child", children)
        return [(r["parent"], r["child"]) for r in rows]

    @staticmethod
    def event_seqs(conn: Connection, codes: Sequence[str]) -> list[int]:
        """Every record that touched one of the lots: the one that made it (``lots.seq``)
        and the later ones (``lot_events``)."""
        made = select_where_in(conn, lots, "lot", codes, columns=("seq",))
        later = select_where_in(conn, lot_events, "lot", codes, columns=("seq",))
        return sorted({int(r["seq"]) for r in made} | {int(r["seq"]) for r in later})

    @staticmethod
    def excursions(conn: Connection, seqs: Sequence[int]) -> list[dict[str, Any]]:
        rows = select_where_in(conn, excursions, "seq", seqs)
        return sorted((dict(r) for r in rows), key=lambda r: (r["seq"], r["reading"]))

    @staticmethod
    def write(conn: Connection, *, new_lots: Iterable[LotRow], changed_lots: Iterable[LotRow],
              new_stock: Iterable[StockRow], changed_stock: Iterable[StockRow],
              new_shipments: Iterable[ShipmentRow], changed_shipments: Iterable[ShipmentRow],
              edges: list[tuple[str, str, int]], events: list[tuple[str, int]],
              readings: list[dict[str, Any]]) -> None:
        insert_tuples(conn, lots, LotRow.COLUMNS, [r.to_values() for r in new_lots])
        _update(conn, lots, [r.to_row() for r in changed_lots], ("lot",))
        insert_tuples(conn, stock, StockRow.COLUMNS, [r.to_values() for r in new_stock])
        _update(conn, stock, [r.to_row() for r in changed_stock], ("lot_seq", "lot", "location"))
        insert_rows(conn, shipments, [r.to_row() for r in new_shipments])
        _update(conn, shipments, [r.to_row() for r in changed_shipments], ("ship_event", "lot"))
        insert_tuples(conn, lot_edges, ("parent", "child", "seq"), edges)
        insert_tuples(conn, lot_events, ("lot", "seq"), events)
        insert_rows(conn, excursions, readings)


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
