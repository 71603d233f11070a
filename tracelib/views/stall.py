"""What a shopper's scan shows: a stall, a lot, a market's board.

:func:`stall_view` answers the QR code at a market stall (小家大市一码通: "at payment
the shopper sees the stall, the origin of what it sells, and its pesticide-residue
results"). Its output is the docs/contract.md "Scan JSON" shape, with additive fields:

* ``stall``: ``id``, ``name``, ``market`` (the parent location), ``licences``
  ``{business, food}`` (亮证亮照); additive ``number``, ``market_name``, ``holder``.
* ``on_hand``: every lot with stock > 0 at the stall, its origin (traced back through
  transforms and slaughter to the origin certificate) and whether it is held (下架).
* ``tests``: the stall's rapid tests of ``today`` (the ``day`` column: the test's local
  date in its own offset), newest first.
* ``holds``: lots held at the stall (a hold event, a positive test, a recall), and lots
  recalled anywhere that the stall still has on hand.
* ``checkpoint``: the tree head the shown records are proven against (the latest signed
  checkpoint when it covers them all, else the current head, ``signed: false``).
* ``record``: the 30-day record and the standing (红黑榜) by :class:`StandingRules`.
* ``lab_results``: the stall's latest laboratory results.
* ``inspection``: the stall's latest inspection (日常监督检查, shown in the 公示栏 beside
  the licences): its result, day, rectification deadline and where the rectification
  stands, and the regulator that signed it; ``null`` when never inspected. Never the
  inspectors' names (docs/contract.md "Who may read what").
* ``proofs``: each shown record's seq and the URL of its inclusion proof at
  ``checkpoint.size``.

:func:`~tracelib.views.lot.lot_view` is the lot page and
:func:`~tracelib.views.board.board_view` the market's board. None of this imports Flask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ..directory import Location
from ..errors import NotFoundError
from ..ledger import Ledger
from ..quantity import format_micro
from ..store import Connection
from ..store.inspections import InspectionsSql
from ..store.states import FollowUp, HeldByTest
from ..store.supply import SupplySql
from ..store.tests import TestsSql
from ._shared import event_data, head, inspection_row, lab_row, newest_first, test_row

__all__ = ["StandingRules", "stall_view"]

# Results that count as a failure on the record: a positive rapid test, a failed lab test.
FAILED_RESULTS = ("positive", "fail")


@dataclass(frozen=True)
class StandingRules:
    """The rules of the red and black lists (红黑榜), over the last ``window_days`` days
    (today included). Configurable: each county sets its own.

    * **black** (黑榜): at least one failed test (a positive rapid test or a failed lab
      result) in the window whose follow-up is still open (``follow_up == "held"``: the
      lot is held and not yet cleared, released or confirmed and disposed), or, when
      ``black_on_any_failure`` is set, any failed test in the window; or an open
      non-compliant inspection: a 日常监督检查 of the stall found 不符合 whose
      rectification a regulator has not closed (whatever its day).
    * **red** (红榜): at least ``red_min_tests`` tests in the window, a pass rate of at
      least ``red_min_pass_rate`` percent, no open hold at the stall, and no inspection in
      the window found 基本符合 or 不符合 (rectified or not).
    * otherwise **none**.

    Pass rate = (tests − failed) / tests × 100, rounded down to 0.1 (a suspect rapid
    result is not a failure: it is flagged, not judged).
    """

    window_days: int = 30
    red_min_tests: int = 20
    red_min_pass_rate: Decimal = Decimal("100")
    black_on_any_failure: bool = False
    lab_results_limit: int = 10

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {self.window_days}")
        if self.red_min_tests < 1:
            raise ValueError(f"red_min_tests must be at least 1, got {self.red_min_tests}")


DEFAULT_RULES = StandingRules()


def _stall(ledger: Ledger, conn: Connection, stall_id: str) -> Location:
    place = ledger.store.location(conn, stall_id)
    if place is None:
        raise NotFoundError(f"unknown stall {stall_id!r}")
    if place.type != "stall":
        raise NotFoundError(f"{stall_id!r} is a {place.type}, not a stall")
    return place


def _licences(place: Location) -> dict[str, str | None]:
    raw = place.details.get("licences")
    given = raw if isinstance(raw, dict) else {}
    out: dict[str, str | None] = {"business": given.get("business"), "food": given.get("food")}
    out.update({k: v for k, v in given.items() if k not in out})
    return out


def _origin_summary(cert: dict[str, Any]) -> dict[str, Any]:
    keep = ("no", "origin_place", "product", "producer", "issued_at", "basis")
    return {k: cert[k] for k in keep if k in cert}


def _record(conn: Connection, stall_id: str, today: date, rules: StandingRules,
            open_holds: int) -> dict[str, Any]:
    first = (today - timedelta(days=rules.window_days - 1)).isoformat()
    rows = TestsSql.outcomes_between(conn, stall_id, first, today.isoformat())
    tests = len(rows)
    failed = [(result, follow_up) for result, follow_up in rows if result in FAILED_RESULTS]
    rate = None
    if tests:
        exact = Decimal(tests - len(failed)) * 100 / Decimal(tests)
        rate = exact.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    open_failures = sum(1 for _, follow_up in failed if follow_up == FollowUp.OPEN)
    inspected, not_compliant, open_non_compliant = InspectionsSql.standing_of(
        conn, stall_id, first, today.isoformat())
    if open_failures or (rules.black_on_any_failure and failed) or open_non_compliant:
        standing = "black"
    elif (tests >= rules.red_min_tests and rate is not None
          and rate >= rules.red_min_pass_rate and open_holds == 0 and not_compliant == 0):
        standing = "red"
    else:
        standing = "none"
    return {"window_days": rules.window_days, "tests_30d": tests, "failed_30d": len(failed),
            "pass_rate_30d": None if rate is None else str(rate),
            "open_follow_ups": open_failures, "open_holds": open_holds,
            "inspections_30d": inspected, "not_compliant_30d": not_compliant,
            "open_non_compliant": open_non_compliant, "standing": standing}


def stall_view(ledger: Ledger, stall_id: str, *, today: date,
               rules: StandingRules = DEFAULT_RULES,
               proof_url: str, witnessed: int | None = None) -> dict[str, Any]:
    """The scan JSON of ``stall_id`` (docs/contract.md "Scan JSON", plus additive fields).
    ``witnessed``: the newest witnessed checkpoint's size, which proofs are against when it
    covers the shown records (:func:`tracelib.views._shared.head`).

    Raises NotFoundError for an unknown location or one that is not a stall.
    """
    store = ledger.store
    with store.reader() as conn:
        place = _stall(ledger, conn, stall_id)
        market = store.location(conn, place.parent) if place.parent else None
        holder = store.party(conn, place.holder) if place.holder else None
        stock = SupplySql.stock_at(conn, stall_id)
        lots = SupplySql.lots(conn, [s.lot for s in stock])
        held_rows = SupplySql.held_at(conn, stall_id)
        today_rows = TestsSql.rapid_on(conn, stall_id, today.isoformat())
        lab_rows = TestsSql.latest_lab(conn, stall_id, rules.lab_results_limit)
        recalled = {code: row for code, row in lots.items() if row.recalled_seq is not None}
        recall_docs = event_data(ledger, conn, [int(r.recalled_seq or 0) for r in recalled.values()])
        origins_of, entries_of = _origins(ledger, conn, [s.lot for s in stock])
        inspected = InspectionsSql.latest_at(conn, stall_id)
        inspector = (store.party(conn, inspected.actor) if inspected is not None else None)

    holds: list[dict[str, Any]] = []
    for held in held_rows:
        by_test = HeldByTest.read(held.hold_reason)
        holds.append({"lot": held.lot, "reason": held.hold_reason or "", "seq": held.hold_seq,
                      "qty": format_micro(held.on_hand), "unit": held.unit, "kind": "hold",
                      "test": ({"outcome": by_test[0], "item": by_test[1]} if by_test
                               else None)})
    held_lots = {h["lot"] for h in holds}
    for code, lot_row in sorted(recalled.items()):
        if code in held_lots:
            continue
        doc = recall_docs.get(int(lot_row.recalled_seq or 0), {})
        reason = doc.get("data", {}).get("reason", "") if isinstance(doc, dict) else ""
        holds.append({"lot": code, "reason": reason, "seq": lot_row.recalled_seq,
                      "kind": "recall", "test": None})
        held_lots.add(code)

    on_hand: list[dict[str, Any]] = []
    origin_seqs: list[int] = []
    for s in stock:
        lot = lots.get(s.lot)
        origins = origins_of.get(s.lot, [])
        origin_seqs.extend(o["seq"] for o in origins)
        on_hand.append({
            "lot": s.lot, "product": lot.product if lot else None, "qty": format_micro(s.on_hand),
            "unit": s.unit, "held": s.lot in held_lots,
            "origin": origins[0] if origins else None,
            "origins": origins, "entries": entries_of.get(s.lot, []),
            "gtin": lot.gtin if lot else None,
        })

    tests = [test_row(r) for r in newest_first(today_rows)]
    labs = [lab_row(r) for r in newest_first(lab_rows)]
    with store.reader() as conn:
        record = _record(conn, stall_id, today, rules, len(holds))
        shown: list[tuple[str, int]] = ([("test", t["seq"]) for t in tests]
                                        + [("lab_test", t["seq"]) for t in labs]
                                        + [("origin", s) for s in origin_seqs]
                                        + [("entry", e["seq"]) for item in on_hand
                                           for e in item["entries"]]
                                        + [("hold", int(h["seq"])) for h in holds
                                           if h["seq"] is not None]
                                        + ([("inspection", inspected.seq)] if inspected else []))
        needed = max([seq for _, seq in shown], default=-1) + 1
        tree_head = head(ledger, conn, needed, witnessed)
    proofs: list[dict[str, Any]] = []
    seen: set[int] = set()
    for what, seq in shown:
        if seq in seen:
            continue
        seen.add(seq)
        proofs.append({"seq": seq, "what": what,
                       "url": proof_url.format(seq=seq, size=tree_head["size"])})
    return {
        "stall": {"id": place.id, "name": place.name, "market": place.parent,
                  "licences": _licences(place), "number": place.details.get("number"),
                  "market_name": market.name if market else None,
                  "holder": ({"id": holder.id, "name": holder.name} if holder
                             else ({"id": place.holder, "name": None} if place.holder else None)),
                  "address": place.details.get("address"),
                  # docs/contract.md "Payments": the stall's payment link, else its market's
                  "payment_url": (place.details.get("payment_url")
                                  or (market.details.get("payment_url") if market else None))},
        "on_hand": on_hand,
        "tests": tests,
        "holds": holds,
        "checkpoint": tree_head,
        "record": record,
        "lab_results": labs,
        "inspection": inspection_row(inspected, inspector.name if inspector else None),
        "proofs": proofs,
    }


def _origins(ledger: Ledger, conn: Connection, codes: list[str]
             ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Each lot's origins and entries (as :func:`tracelib.views.tracing.trace` finds them
    backward, ordered by seq), for many lots in a handful of queries: one closure over the
    lot edges for all."""
    parents: dict[str, set[str]] = {}
    seen = set(codes)
    frontier = list(codes)
    while frontier:
        found: list[str] = []
        for parent, child in SupplySql.parents(conn, frontier):
            parents.setdefault(child, set()).add(parent)
            if parent not in seen:
                seen.add(parent)
                found.append(parent)
        frontier = found
    rows = SupplySql.lots(conn, sorted(seen))
    made = {code: row for code, row in rows.items() if row.kind in ("origin", "entry")}
    bodies = event_data(ledger, conn, [row.seq for row in made.values()])
    out: dict[str, list[dict[str, Any]]] = {}
    entries: dict[str, list[dict[str, Any]]] = {}
    for code in codes:
        line, todo = {code}, [code]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in line:
                    line.add(parent)
                    todo.append(parent)
        mine = sorted((made[c] for c in line if c in made), key=lambda r: (r.seq, r.lot))
        out[code] = [{"lot": r.lot, "event": bodies[r.seq]["id"], "seq": r.seq,
                      "party": bodies[r.seq]["actor"],
                      "certificate": _origin_summary(bodies[r.seq]["data"]["certificate"])}
                     for r in mine if r.kind == "origin"]
        entries[code] = [_entry_summary(r.lot, r.seq, r.location, bodies[r.seq])
                         for r in mine if r.kind == "entry"]
    return out, entries


def _entry_summary(lot: str, seq: int, location: str, body: dict[str, Any]) -> dict[str, Any]:
    """Where goods from outside the ledger came from (docs/contract.md "entry"): the
    supplier and the vouchers checked at entry, as the trace JSON's ``upstream.entries``."""
    data = body["data"]
    return {"lot": lot, "event": body["id"], "seq": seq, "location": location,
            "product": data.get("product"), "category": data.get("category"),
            "supplier": dict(data.get("supplier") or {}),
            "vouchers": [dict(v) for v in data.get("vouchers") or ()]}
