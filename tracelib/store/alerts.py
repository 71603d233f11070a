"""SQL for the regulator's alerts (:mod:`tracelib.views.alerts`): each read is answered from
an index that holds only the rows an alert is about (the partial indexes of revision 0013),
or from a primary key, so the day's work list costs the same at a thousand events or a
million."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, literal_column, select
from sqlalchemy.sql.elements import ColumnClause

from .bulk import driver_cursor, placeholder, select_where_in
from .schema import locations, records, shipments, stock, test_results
from .states import FollowUp
from .supply import ShipmentRow, StockRow, _shipment, _stock

__all__ = ["MARKET_TYPES", "AlertsSql"]

#: The location types whose stalls test their goods every morning and publish the results.
MARKET_TYPES = ("market", "wholesale_market")

# Written into the statement, not bound: a partial index is used only when the query's
# WHERE clause implies the index's own, which a bound parameter cannot show the planner.
_OPEN: ColumnClause[str] = literal_column(f"'{FollowUp.OPEN}'")
_ZERO: ColumnClause[int] = literal_column("0")


class AlertsSql:
    """Parameterized reads for the alerts. Rows are plain dicts or the supply dataclasses."""

    @staticmethod
    def open_follow_ups(conn: Connection) -> list[dict[str, Any]]:
        """Every test result whose follow-up is open (``ix_test_results_open``)."""
        t = test_results
        query = (select(t.c.seq, t.c.event_id, t.c.kind, t.c.stall, t.c.location, t.c.lot,
                        t.c.time, t.c.item, t.c.commodity, t.c.sample, t.c.result)
                 .where(t.c.follow_up == _OPEN).order_by(t.c.seq))
        return [dict(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def held_stock(conn: Connection) -> list[StockRow]:
        """Stock on hand that a hold is in force on, anywhere (``ix_stock_held``)."""
        query = (select(stock).where(stock.c.hold_seq.is_not(None), stock.c.on_hand > _ZERO)
                 .order_by(stock.c.hold_seq))
        return [_stock(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def in_transit(conn: Connection) -> list[ShipmentRow]:
        """Shipments not yet received (``ix_shipments_in_transit``)."""
        query = (select(shipments).where(shipments.c.receive_seq.is_(None))
                 .order_by(shipments.c.ship_seq, shipments.c.lot))
        return [_shipment(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def excursions_from(conn: Connection, first_seq: int) -> list[dict[str, Any]]:
        """Temperature excursions of the hops recorded at or after ``first_seq`` (the
        primary key's range), as plain driver rows."""
        columns = ("seq", "reading", "time", "celsius", "limit_celsius", "storage")
        mark = placeholder(conn)
        with driver_cursor(conn) as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM excursions "  # noqa: S608
                           f"WHERE seq >= {mark} ORDER BY seq, reading", (first_seq,))
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    @staticmethod
    def first_seq_recorded_at(conn: Connection, stamp: str) -> int:
        """The first record whose ``recorded_at`` is ``stamp`` or later (the ledger's size
        when none is). Recording times never go back (the append engine keeps them in seq
        order), so this is a binary search over the primary key: a few dozen lookups for a
        billion records, and no index on the time."""
        last = conn.execute(select(func.max(records.c.seq))).scalar()
        low, high = 0, (-1 if last is None else int(last)) + 1
        at = select(records.c.recorded_at)
        while low < high:
            middle = (low + high) // 2
            value = conn.execute(at.where(records.c.seq == middle)).scalar()
            if value is not None and str(value) < stamp:
                low = middle + 1
            else:
                high = middle
        return low

    @staticmethod
    def record_heads(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Each record's event id, kind, actor, location, event time and recording time,
        without its body."""
        rows = select_where_in(conn, records, "seq", sorted(set(seqs)),
                               columns=("seq", "event_id", "kind", "actor", "location",
                                        "event_time", "recorded_at"))
        return {int(r["seq"]): dict(r) for r in rows}

    @staticmethod
    def shipments_of_events(conn: Connection, ship_events: Sequence[str]) -> list[ShipmentRow]:
        """Every lot's row of the shipments ``ship_events`` (the primary key's prefix)."""
        rows = select_where_in(conn, shipments, "ship_event", sorted(set(ship_events)))
        return sorted((_shipment(r) for r in rows), key=lambda s: (s.ship_seq, s.lot))

    @staticmethod
    def markets(conn: Connection) -> list[dict[str, Any]]:
        """Every market (:data:`MARKET_TYPES`) that has stalls: ``id``, ``name``, ``holder``."""
        m, s = locations, locations.alias("stall")
        has_stalls = (select(s.c.id).where(s.c.parent == m.c.id, s.c.type == "stall")
                      .exists())
        query = (select(m.c.id, m.c.name, m.c.holder)
                 .where(m.c.type.in_(MARKET_TYPES), has_stalls).order_by(m.c.id))
        return [dict(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def rapid_tests_published(conn: Connection, day: str) -> dict[str, tuple[str, str]]:
        """Each market's first rapid test of the local day ``day`` at one of its stalls:
        market → (when the ledger recorded it, its event id). From that day's tests only
        (``ix_test_results_day_figures``), their stalls and records by primary key; the
        first by seq is the first recorded (recording times never go back)."""
        t, place = test_results, locations
        query = (select(place.c.parent, records.c.recorded_at, records.c.event_id)
                 .select_from(t.join(place, place.c.id == t.c.stall)
                              .join(records, records.c.seq == t.c.seq))
                 .where(and_(t.c.day == day, t.c.kind == "rapid", place.c.parent.is_not(None)))
                 .order_by(t.c.seq))
        out: dict[str, tuple[str, str]] = {}
        for r in conn.execute(query):
            out.setdefault(str(r.parent), (str(r.recorded_at), str(r.event_id)))
        return out

    @staticmethod
    def unslaughtered_meat(conn: Connection, names: Sequence[str],
                           suffixes: Sequence[str]) -> list[dict[str, Any]]:
        """Stock on hand at stalls of lots that are meat — their product one of ``names``
        or ending in one of ``suffixes`` — not imported, and with no lot made by
        ``slaughter`` in their line (the lot itself or any ancestor through the lot
        edges): ``lot``, ``location``, ``on_hand``, ``unit``, ``product``, ``kind`` and
        ``seq`` (the record that made the lot). One statement: the stalls' stock by
        ``ix_stock_on_hand``, each lot by its code, the lines up the edges by
        ``ix_lot_edges_child``."""
        if not names and not suffixes:
            return []
        mark = placeholder(conn)
        is_meat = " OR ".join([f"l.product IN ({', '.join(mark for _ in names)})"] * bool(names)
                              + [f"l.product LIKE {mark}"] * len(suffixes))
        # Only the driver's placeholders are formatted into the text; every value is bound.
        sql = (
            "WITH RECURSIVE meat AS ("  # noqa: S608
            " SELECT s.lot, s.location, s.on_hand, s.unit, l.product, l.kind, l.seq"
            " FROM locations AS place"
            " JOIN stock AS s ON s.location = place.id AND s.on_hand > 0"
            " JOIN lots AS l ON l.lot = s.lot"
            " WHERE place.type = 'stall' AND l.imported = 0 AND l.kind <> 'slaughter'"
            f" AND ({is_meat})),"
            # Up the edges from each meat lot, stopping at a lot made by slaughter.
            " line(start, lot, kind) AS ("
            " SELECT DISTINCT lot, lot, kind FROM meat"
            " UNION SELECT line.start, e.parent, made.kind FROM line"
            " JOIN lot_edges AS e ON e.child = line.lot"
            " JOIN lots AS made ON made.lot = e.parent"
            " WHERE line.kind <> 'slaughter')"
            " SELECT lot, location, on_hand, unit, product, kind, seq FROM meat"
            " WHERE lot NOT IN (SELECT start FROM line WHERE kind = 'slaughter')"
            " ORDER BY location, lot")
        params = (*names, *(f"%{suffix}" for suffix in suffixes))
        columns = ("lot", "location", "on_hand", "unit", "product", "kind", "seq")
        with driver_cursor(conn) as cursor:
            cursor.execute(sql, params)
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
