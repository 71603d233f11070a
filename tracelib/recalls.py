"""Recall drills (追溯演练) and recalls.

A drill answers "where did it come from, where did it go, how much is still out
there" for a suspect lot, records a ``drill`` event (the question, a SHA-256
digest of the answer, the time taken) as evidence, and can write a report folder
a regulator can file. A recall puts every downstream lot still on hand on hold,
in operator-signed ``hold`` events, and names the places to visit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import canonical
from .errors import ValidationError
from .events import sign_event
from .ids import MAX_ID
from .keys import SigningKey
from .kinds import KINDS, facts_at_location
from .ledger import Ledger, Receipt
from .quantity import MICRO, format_micro
from .report import (
    CriticalTrackingEvent,
    DrillReportFiles,
    DrillReportInput,
    FsmaRangeReport,
    LocationDescription,
    NodeStock,
    PathEdge,
    PathNode,
    write_drill_report,
)
from .store import Store
from .store.supply import LotRow, SupplySql
from .timeutil import CHINA, format_utc, parse_rfc3339, to_micros, utcnow
from .views.catering import CanteenReached, canteens_reached
from .views.tracing import Trace, trace

__all__ = ["DrillResult", "RecallResult", "drill", "fsma_range", "parse_range_bound", "recall",
           "report_input"]

def _event_id(prefix: str, *parts: str, stamp: str) -> str:
    """``prefix-part-…-stamp``; when lot and location codes make that longer than an event id
    may be, the parts are replaced by a digest of them."""
    text = "-".join((prefix, *parts, stamp))
    if len(text) <= MAX_ID:
        return text
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"{prefix}-{digest}-{stamp}"


@dataclass(frozen=True)
class DrillResult:
    lot: str
    question: str
    trace: Trace
    elapsed_ms: float
    answer_digest: str
    receipt: Receipt | None = None
    files: DrillReportFiles | None = None
    #: the canteens the lot's family was received at, schools among them
    canteens: tuple[CanteenReached, ...] = ()

    def summary(self) -> dict[str, Any]:
        stalls = [loc for loc in self.trace.locations if loc.type == "stall"]
        schools = [c for c in self.canteens if c.school]
        return {**self.trace.to_dict(), "question": self.question,
                "elapsed_ms": round(self.elapsed_ms, 3), "answer_digest": self.answer_digest,
                "counts": {"origins": len(self.trace.origins),
                           "upstream_lots": len(self.trace.upstream_lots),
                           "downstream_lots": len(self.trace.downstream_lots),
                           "locations": len(self.trace.locations), "stalls": len(stalls),
                           "stalls_with_stock": sum(1 for s in stalls if s.on_hand > 0),
                           "canteens": len(self.canteens), "schools": len(schools)},
                "canteens_reached": [c.to_dict() for c in self.canteens],
                "schools_reached": [c.to_dict() for c in schools],
                "drill_event": None if self.receipt is None else self.receipt.to_dict()}


def drill(ledger: Ledger, lot: str, *, question: str | None = None,
          key: SigningKey | None = None, report_dir: str | Path | None = None,
          now: datetime | None = None, actor: str | None = None) -> DrillResult:
    """Trace ``lot`` both ways, timed. With ``key`` record a ``drill`` event signed by
    ``actor`` (default: the operator; a regulator may sign one too), whose key it is; with
    ``report_dir`` write summary.json, the FSMA-204 sheet (CSV, XLSX) and the path picture
    (SVG, PNG) there."""
    question = question or f"追溯演练: 批次 {lot} 从哪里来、到哪里去、还有多少在售?"
    started = time.perf_counter()
    answer = trace(ledger, lot)
    elapsed = (time.perf_counter() - started) * 1000
    digest = answer.digest()
    with ledger.store.reader() as conn:
        reached = [loc.location for loc in answer.locations]
        canteens = canteens_reached(ledger.store.locations(conn, reached), reached)
    receipt = None
    moment = now or utcnow()
    if key is not None:
        event = {"id": _event_id("drill", lot, stamp=moment.strftime("%Y%m%dT%H%M%S%f")),
                 "kind": "drill",
                 "time": moment.isoformat(), "actor": actor or ledger.operator,
                 "location": ledger.office,
                 "data": {"question": question, "lot": lot, "answer_digest": digest,
                          "elapsed_ms": f"{elapsed:.3f}"}}
        receipt = ledger.append([sign_event(event, key)], now=moment)[0]
    result = DrillResult(lot, question, answer, elapsed, digest, receipt, canteens=canteens)
    if report_dir is not None:
        files = write_drill_report(Path(report_dir),
                                   report_input(ledger, result, generated_at=format_utc(moment)))
        result = DrillResult(lot, question, answer, elapsed, digest, receipt, files, canteens)
    return result


def report_input(ledger: Ledger, result: DrillResult, *, generated_at: str) -> DrillReportInput:
    """The drill report's rows: one CTE per lot per event of every lot in the family,
    and the path as locations joined by shipments."""
    answer = result.trace
    family = sorted({answer.lot, *answer.upstream_lots, *answer.downstream_lots})
    store = ledger.store
    with store.reader() as conn:
        lots = SupplySql.lots(conn, family)
        seqs = SupplySql.event_seqs(conn, family)
        docs = [canonical.loads(bytes(r["body"])) for r in store.record_rows(conn, seqs)]
        shipments = SupplySql.shipments_of_lots(conn, family)
        excursion_seqs = {int(e["seq"]) for e in SupplySql.excursions(
            conn, sorted({s.ship_seq for s in shipments}))}
        places = {s.from_location for s in shipments} | {s.to_location for s in shipments}
        places |= {row.location for row in lots.values()}
        locations = store.locations(conn, places)
        # The market each stall belongs to (its parent), named even when the stock did not
        # pass through the market itself: the picture draws a band per market.
        parents = {loc.parent for loc in locations.values() if loc.type == "stall" and loc.parent}
        markets = store.locations(conn, parents)
        stock_rows = SupplySql.stock_of_lots(conn, sorted({answer.lot, *answer.downstream_lots}))
    name = {loc: (locations[loc].name if loc in locations else loc) for loc in places}
    stock = _node_stock(answer, stock_rows, lots)
    ctes = []
    for doc in docs:
        for role in ("outputs", "inputs"):
            for item in doc.get(role, []):
                if item["lot"] not in lots:
                    continue
                ctes.append(_cte(doc, item, lots, name))
    held_places = {loc for _, loc in answer.held}
    edges: dict[tuple[str, str, str], list[Any]] = {}
    for ship in shipments:
        unit = lots[ship.lot].unit
        acc = edges.setdefault((ship.from_location, ship.to_location, unit),
                               [set(), 0, False])
        acc[0].add(ship.lot)
        acc[1] += ship.qty
        acc[2] = acc[2] or ship.ship_seq in excursion_seqs
    return DrillReportInput(
        lot=result.lot, question=result.question, generated_at=generated_at,
        summary=result.summary(), ctes=tuple(ctes),
        nodes=tuple(_path_node(loc, name[loc], locations.get(loc), markets, stock.get(loc, ()))
                    for loc in sorted(places)),
        edges=tuple(PathEdge(src, dst, tuple(sorted(acc[0])), Decimal(acc[1]) / MICRO, unit,
                             excursion=acc[2], held=dst in held_places,
                             recalled=any(lots[code].recalled_seq is not None
                                          for code in acc[0]))
                    for (src, dst, unit), acc in sorted(edges.items())),
        held_locations=frozenset(held_places))


def _path_node(ident: str, name: str, place: Any, markets: dict[str, Any],
               stock: tuple[NodeStock, ...]) -> PathNode:
    """A location of the picture; a stall with the market it belongs to (its parent)."""
    if place is None:
        return PathNode(ident, name, "unknown", stock=stock)
    market = place.parent if place.type == "stall" and place.parent else ""
    market_name = markets[market].name if market in markets else market
    return PathNode(ident, name, place.type, market=market, market_name=market_name,
                    stock=stock)


def _node_stock(answer: Trace, rows: Sequence[Any], lots: dict[str, LotRow]
                ) -> dict[str, tuple[NodeStock, ...]]:
    """Received, sold and on hand per location and unit (the trace's location totals), and how
    much of what is on hand is held or recalled — on hand but not on sale."""
    held: dict[tuple[str, str], int] = {}
    for row in rows:
        lot = lots.get(row.lot)
        if row.on_hand > 0 and (row.hold_seq is not None
                                or (lot is not None and lot.recalled_seq is not None)):
            key = (row.location, row.unit)
            held[key] = held.get(key, 0) + row.on_hand
    out: dict[str, list[NodeStock]] = {}
    for total in answer.locations:
        out.setdefault(total.location, []).append(NodeStock(
            total.unit, Decimal(total.received) / MICRO, Decimal(total.sold) / MICRO,
            Decimal(total.on_hand) / MICRO,
            Decimal(min(held.get((total.location, total.unit), 0), total.on_hand)) / MICRO))
    return {loc: tuple(entries) for loc, entries in out.items()}


def _cte(doc: dict[str, Any], item: dict[str, str], lots: dict[str, Any],
         name: dict[str, str]) -> CriticalTrackingEvent:
    """The CTE row of one lot of one event, as the event's kind describes it (a kind no
    longer registered: its location and its own id)."""
    kind = doc["kind"]
    spec = KINDS.get(kind)
    facts = (spec.cte_facts if spec else facts_at_location)(doc)
    lot = lots[item["lot"]]
    target = facts.target
    return CriticalTrackingEvent(
        event_id=doc["id"], kind=kind, cte=(spec.cte if spec else None) or kind,
        kind_zh=spec.label_zh if spec else "", traceability_lot_code=item["lot"],
        quantity=Decimal(item["qty"]), unit=item["unit"], product=lot.product or "",
        from_location=facts.source, from_location_name=name.get(facts.source, facts.source),
        to_location=target,
        to_location_name=name.get(target, "消费者 consumer" if target == "consumer" else target),
        date=doc["time"], tlc_source=lot.location,
        tlc_source_name=name.get(lot.location, lot.location),
        reference_document_type=facts.reference_type,
        reference_document_number=facts.reference_number or doc["id"])


# -- FSMA 204 by date range -----------------------------------------------------------------
#: records read from the database at a time: one window's bodies are in memory at once
RANGE_WINDOW = 5_000


def parse_range_bound(text: str, *, field: str, tz: tzinfo = CHINA) -> datetime:
    """A bound of a date range: a local date ``YYYY-MM-DD`` (its midnight in ``tz``, China
    Standard Time by default) or an RFC 3339 time with an offset."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError as e:
            raise ValidationError(f"not a valid date: {text!r} ({e})", field=field) from e
        return datetime.combine(day, datetime.min.time(), tz)
    try:
        return parse_rfc3339(text, field=field)
    except ValidationError:
        raise ValidationError(f"expected a date like 2026-11-22 or an RFC 3339 time like "
                              f"2026-11-22T06:10:00+08:00, got {text!r}", field=field) from None


def fsma_range(ledger: Ledger, *, since: datetime, until: datetime,
               product: str | None = None, generated_at: str | None = None,
               progress: Callable[[int], None] | None = None,
               window: int = RANGE_WINDOW) -> FsmaRangeReport:
    """The FSMA 204 sortable spreadsheet's rows for a date range (21 CFR 1.1455(c)(3)(ii)):
    one row per lot per event, as the drill builds them, for every event of a kind with a
    critical tracking event (``KindSpec.cte``) whose event time (the CTE's date) is at or
    after ``since`` and before ``until`` (instants, whatever offset each event was recorded
    in); with ``product``, only the lots of that product (the lot's ``product``). Each
    location a row names is described from master data (name, type, address, phone, the
    holder's name).

    The records are read in one read transaction, ``window`` at a time (``progress`` is
    called with each window's record count): memory holds one window of records, the rows
    in range, the lots they name and their locations, never the whole ledger's bodies.
    ``since`` not before ``until``, a naive time or a product no lot has is a
    :class:`ValidationError` naming the field; no event in range is an empty report."""
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValidationError("expected a time with a UTC offset", field=name)
    if since >= until:
        raise ValidationError(f"since ({since.isoformat()}) must be before until "
                              f"({until.isoformat()})", field="until")
    low, high = to_micros(since), to_micros(until)
    cte_kinds = {name for name, spec in KINDS.items() if spec.cte}
    store = ledger.store
    lots: dict[str, LotRow] = {}
    ctes: list[CriticalTrackingEvent] = []
    with store.reader() as conn:
        if product is not None and not SupplySql.has_product(conn, product):
            raise ValidationError(f"no lot in the ledger is of product {product!r}",
                                  field="product")
        size = store.size(conn)
        for start in range(0, size, window):
            docs = []
            count = 0
            for row in Store.scan_records(conn, start, min(size, start + window)):
                count += 1
                if row[8] not in cte_kinds:  # kind
                    continue
                if low <= to_micros(parse_rfc3339(row[11])) < high:  # event_time
                    docs.append(canonical.loads(bytes(row[3])))  # body
            wanted = sorted({item["lot"] for doc in docs
                             for role in ("outputs", "inputs") for item in doc.get(role, [])}
                            - lots.keys())
            if wanted:
                lots.update(SupplySql.lots(conn, wanted))
            for doc in docs:
                for role in ("outputs", "inputs"):
                    for item in doc.get(role, []):
                        lot = lots.get(item["lot"])
                        if lot is None or (product is not None and lot.product != product):
                            continue
                        ctes.append(_cte(doc, item, lots, {}))
            if progress is not None:
                progress(count)
        places = {p for c in ctes for p in (c.from_location, c.to_location, c.tlc_source)}
        registered = store.locations(conn, places)
        holders = store.parties_by_id(conn, {loc.holder for loc in registered.values()
                                             if loc.holder})
    described = {ident: LocationDescription(
        ident, loc.name, loc.type, _text(loc.details.get("address")),
        _text(loc.details.get("phone")),
        holders[loc.holder].name if loc.holder in holders else (loc.holder or ""))
        for ident, loc in registered.items()}
    names = {ident: d.name for ident, d in described.items()}
    rows = tuple(dataclasses.replace(
        c, from_location_name=names.get(c.from_location, c.from_location_name),
        to_location_name=names.get(c.to_location, c.to_location_name),
        tlc_source_name=names.get(c.tlc_source, c.tlc_source_name)) for c in ctes)
    return FsmaRangeReport(since=since.isoformat(), until=until.isoformat(), product=product,
                           generated_at=generated_at or format_utc(utcnow()), ctes=rows,
                           locations=described)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class RecallHold:
    location: str
    name: str
    type: str
    lots: tuple[tuple[str, str, str], ...]  # (lot, qty on hand, unit)
    already_held: bool = False  # held before the recall (e.g. by a positive test)


@dataclass(frozen=True)
class RecallResult:
    lot: str
    reason: str
    holds: tuple[RecallHold, ...]
    in_transit: tuple[tuple[str, str, str, str], ...]  # (ship event, lot, to location, qty)
    recalled_lots: tuple[str, ...]
    receipts: tuple[Receipt, ...]
    #: the canteens holding stock or with stock on the way, schools among them
    canteens: tuple[CanteenReached, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"lot": self.lot, "reason": self.reason,
                "canteens_reached": [c.to_dict() for c in self.canteens],
                "schools_reached": [c.to_dict() for c in self.canteens if c.school],
                "holds": [{"location": h.location, "name": h.name, "type": h.type,
                           "lots": [{"lot": lot, "qty": q, "unit": u} for lot, q, u in h.lots],
                           "already_held": h.already_held}
                          for h in self.holds],
                "in_transit": [{"ship_event": e, "lot": lot, "to": to, "qty": q}
                               for e, lot, to, q in self.in_transit],
                "recalled_lots": list(self.recalled_lots)}


def recall(ledger: Ledger, lot: str, *, key: SigningKey, reason: str,
           now: datetime | None = None, actor: str | None = None) -> RecallResult:
    """Recall ``lot`` and every lot made from it, in one transaction of events signed with
    ``key`` by ``actor`` (default: the operator; or a regulator, who may act on any lot
    anywhere): a ``hold`` per location where stock is on hand (the places to visit), and a
    ``recall`` of every such lot still on hand or in transit, so stock on the road cannot
    be sold when it arrives."""
    answer = trace(ledger, lot, back=False)
    family = [lot, *answer.downstream_lots]
    with ledger.store.reader() as conn:
        stock_rows = SupplySql.stock_of_lots(conn, family)
        transit = [s for s in SupplySql.shipments_of_lots(conn, family) if s.receive_seq is None]
        units = {code: row.unit for code, row in SupplySql.lots(conn, family).items()}
        rows = [r for r in stock_rows if r.on_hand > 0]
        places = ledger.store.locations(conn, {r.location for r in rows} |
                                        {s.to_location for s in transit})
    by_place: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: (r.location, r.lot)):
        by_place.setdefault(row.location, []).append(row)
    outstanding: dict[str, int] = {}
    for row in stock_rows:
        outstanding[row.lot] = outstanding.get(row.lot, 0) + row.on_hand
    for ship in transit:
        outstanding[ship.lot] = outstanding.get(ship.lot, 0) + ship.qty
    moment = now or utcnow()
    signer = actor or ledger.operator
    stamp = moment.strftime("%Y%m%dT%H%M%S%f")
    events = []
    holds = []
    for place, items in sorted(by_place.items()):
        inputs = [{"lot": r.lot, "qty": format_micro(r.on_hand), "unit": r.unit} for r in items]
        to_hold = [i for i, r in zip(inputs, items, strict=True) if r.hold_seq is None]
        if to_hold:
            events.append(sign_event({
                "id": _event_id("recall-hold", lot, place, stamp=stamp), "kind": "hold",
                "time": moment.isoformat(), "actor": signer, "location": place,
                "inputs": to_hold, "data": {"reason": reason, "recall_of": lot}}, key))
        info = places.get(place)
        holds.append(RecallHold(place, info.name if info else place,
                                info.type if info else "unknown",
                                tuple((i["lot"], i["qty"], i["unit"]) for i in inputs),
                                already_held=not to_hold))
    recalled = sorted(code for code, qty in outstanding.items() if qty > 0)
    if recalled:
        events.append(sign_event({
            "id": _event_id("recall", lot, stamp=stamp), "kind": "recall",
            "time": moment.isoformat(), "actor": signer, "location": ledger.office,
            "inputs": [{"lot": code, "qty": format_micro(outstanding[code]), "unit": units[code]}
                       for code in recalled],
            "data": {"reason": reason, "recall_of": lot}}, key))
    receipts: Sequence[Receipt] = ledger.append(events, now=moment) if events else []
    return RecallResult(lot, reason, tuple(holds),
                        tuple((s.ship_event, s.lot, s.to_location, format_micro(s.qty))
                              for s in sorted(transit, key=lambda s: (s.ship_seq, s.lot))),
                        tuple(recalled), tuple(receipts),
                        canteens_reached(places, [*by_place, *(s.to_location for s in transit)]))
