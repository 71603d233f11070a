"""A market's public board (公示), as a regulator publishes it: the day's rapid tests stall
by stall and positives first, each positive with the action taken on its lot at that stall
(下架, 销毁, 复检中, 已放行) and its time; the day's inspections (日常监督检查) at the market
and its stalls; and whether the market published before opening (docs/contract.md "The
market board"). None of this imports Flask."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, tzinfo
from typing import Any

from .. import canonical
from ..errors import NotFoundError
from ..ledger import Ledger
from ..store import Connection
from ..store.alerts import AlertsSql
from ..store.inspections import InspectionsSql
from ..store.supply import SupplySql
from ..store.tests import TestsSql
from ..timeutil import parse_rfc3339
from ._shared import inspection_row, newest_first, test_row

__all__ = ["ACTIONS", "DEFAULT_OPENING", "RESULT_ORDER", "board_view", "markets_with_boards",
           "opening_time"]

# docs/contract.md "The market board": a market opens at 07:00 local unless its location
# details give `opening_time`.
DEFAULT_OPENING = "07:00"
_HHMM = re.compile(r"\A([01][0-9]|2[0-3]):([0-5][0-9])\Z")

# The order results are published in: positives first, then suspect, then negative.
RESULT_ORDER = ("positive", "suspect", "negative")

HELD, DISPOSED, RETESTING, RELEASED = "held", "disposed", "retesting", "released"
# The actions a positive's lot can have been given at its stall (下架, 销毁, 复检中, 已放行).
ACTIONS = (HELD, DISPOSED, RETESTING, RELEASED)
_BY_KIND = {"hold": HELD, "dispose": DISPOSED, "release": RELEASED}


def markets_with_boards(ledger: Ledger) -> list[dict[str, str]]:
    """Every market with stalls (each has a board, docs/contract.md "The market board"):
    ``id`` and ``name``, by id. Public: a market's name is on its gate."""
    with ledger.store.reader() as conn:
        return [{"id": str(m["id"]), "name": str(m["name"] or m["id"])}
                for m in AlertsSql.markets(conn)]


def board_view(ledger: Ledger, market_id: str, *, today: date, tz: tzinfo) -> dict[str, Any]:
    """The market's public board (公示) of ``today``, a local date in ``tz`` (the service's
    ``TRACELIB_TIMEZONE``): the market's opening time is read in it."""
    store = ledger.store
    day = today.isoformat()
    with store.reader() as conn:
        market = store.location(conn, market_id)
        if market is None:
            raise NotFoundError(f"unknown market {market_id!r}")
        if market.type not in ("market", "wholesale_market"):
            raise NotFoundError(f"{market_id!r} is a {market.type}, not a market")
        stalls = store.stalls_in(conn, market_id)
        stall_ids = [s["id"] for s in stalls]
        rows = TestsSql.rapid_at_stalls_on(conn, stall_ids, day)
        positives = [r for r in rows if r["result"] == "positive"]
        actions = _actions(ledger, conn, positives)
        inspected = InspectionsSql.on_day_at(conn, [market_id, *stall_ids], day)
        regulators = {r.actor: store.party(conn, r.actor) for r in inspected}
        first = TestsSql.first_rapid_recorded(conn, stall_ids, day)

    names = {market.id: market.name, **{s["id"]: s["name"] for s in stalls}}
    numbers = {s["id"]: _number(s["details"]) for s in stalls}
    by_stall: dict[str, list[dict[str, Any]]] = {}
    results: list[dict[str, Any]] = []
    for r in newest_first(rows):
        shown = test_row(r)
        if r["result"] == "positive":
            shown["action"] = actions.get(int(r["seq"]))
        by_stall.setdefault(r["stall"], []).append(shown)
        results.append({**shown, "stall": {"id": r["stall"], "name": names.get(r["stall"]),
                                           "number": numbers.get(r["stall"])}})
    rank = {result: i for i, result in enumerate(RESULT_ORDER)}
    results.sort(key=lambda t: rank.get(t["result"], len(rank)))  # stable: newest first within
    counts = {"negative": 0, "suspect": 0, "positive": 0}
    for r in rows:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    out_stalls = [{"id": s["id"], "name": s["name"], "number": numbers[s["id"]],
                   "tests": by_stall.get(s["id"], [])} for s in stalls]
    inspections = []
    for row in inspected:
        party = regulators.get(row.actor)
        shown_row = inspection_row(row, party.name if party else None) or {}
        inspections.append({**shown_row, "place": {"id": row.location,
                                                   "name": names.get(row.location)}})
    return {"market": {"id": market.id, "name": market.name}, "day": day,
            "stalls": out_stalls, "totals": {"tests": len(rows), **counts},
            "results": results, "inspections": inspections,
            "publication": _publication(market.details, today, tz, first)}


def _number(details: Any) -> Any:
    return details.get("number") if isinstance(details, dict) else None


def opening_time(details: Any) -> str:
    """A market's opening time, "HH:MM" local: its `opening_time` detail, else 07:00."""
    given = details.get("opening_time") if isinstance(details, dict) else None
    return given if isinstance(given, str) and _HHMM.match(given) else DEFAULT_OPENING


def _publication(details: Any, today: date, tz: tzinfo,
                 first: tuple[str, str] | None) -> dict[str, Any]:
    """Whether the day's board was published before the market opened: it is published when
    the ledger records the day's first rapid test at one of its stalls (that is when the
    board shows it)."""
    opens = opening_time(details)
    hour, minute = (int(part) for part in opens.split(":"))
    opening = datetime.combine(today, time(hour, minute), tz)
    if first is None:
        return {"opening_time": opens, "opens_at": opening.isoformat(), "published_at": None,
                "event": None, "state": "none"}
    published = parse_rfc3339(first[0]).astimezone(tz)
    return {"opening_time": opens, "opens_at": opening.isoformat(),
            "published_at": published.isoformat(), "event": first[1],
            "state": "on_time" if published < opening else "late"}


def _actions(ledger: Ledger, conn: Connection, positives: list[dict[str, Any]]
             ) -> dict[int, dict[str, Any] | None]:
    """Each positive's action (by its seq): the newest, since the test, of what happened to
    its lot at its stall (docs/contract.md "The market board")."""
    lots = sorted({str(p["lot"]) for p in positives if p["lot"] is not None})
    if not lots:
        return {int(p["seq"]): None for p in positives}
    tests = TestsSql.of_lots(conn, lots)
    since = min(int(p["seq"]) for p in positives)
    later = [seq for seq in SupplySql.event_seqs(conn, lots) if seq > since]
    records = [r for r in ledger.store.record_rows(conn, later) if r["kind"] in _BY_KIND]
    touched = _lots_of(records)
    out: dict[int, dict[str, Any] | None] = {}
    for p in positives:
        seq, lot, stall = int(p["seq"]), p["lot"], p["stall"]
        found: list[tuple[int, str, str, str]] = []  # (seq, action, time, event id)
        if lot is not None and p["follow_up"] is not None:  # the test held the lot there
            found.append((seq, HELD, p["time"], p["event_id"]))
        for t in tests:
            if int(t["seq"]) <= seq or t["lot"] != lot or t["stall"] not in (stall, None):
                continue
            action = _test_action(t)
            if action is not None:
                found.append((int(t["seq"]), action, t["time"], t["event_id"]))
        for r in records:
            if int(r["seq"]) > seq and r["location"] == stall and lot in touched[int(r["seq"])]:
                found.append((int(r["seq"]), _BY_KIND[r["kind"]], r["event_time"],
                              r["event_id"]))
        if not found:
            out[seq] = None
            continue
        _, action, at, event = max(found)
        out[seq] = {"state": action, "time": at, "event": event}
    return out


def _test_action(t: dict[str, Any]) -> str | None:
    """What a later test of the lot does to a positive: a negative retest or a passing lab
    result releases it, a suspect retest leaves it awaiting another (复检中), a positive
    retest or a failing lab result keeps it held; a test that settles nothing (a lab
    result with no limit, a first test) is no action."""
    if t["kind"] == "lab":
        return {"pass": RELEASED, "fail": HELD}.get(t["result"])
    if not t["retest"]:
        return HELD if t["result"] == "positive" else None
    return {"negative": RELEASED, "suspect": RETESTING, "positive": HELD}[t["result"]]


def _lots_of(records: Iterable[dict[str, Any]]) -> dict[int, set[str]]:
    """The lots each hold, release or disposal record acts on (its inputs)."""
    out: dict[int, set[str]] = {}
    for r in records:
        body = canonical.loads(bytes(r["body"]))
        out[int(r["seq"])] = {str(i.get("lot")) for i in body.get("inputs", [])
                              if isinstance(i, dict)}
    return out
