"""A market's public board (公示) of the day's rapid tests, stall by stall. None of this
imports Flask."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..errors import NotFoundError
from ..ledger import Ledger
from ..store.tests import TestsSql
from ._shared import newest_first, test_row

__all__ = ["board_view"]


def board_view(ledger: Ledger, market_id: str, *, today: date) -> dict[str, Any]:
    """The market's public board (公示) of ``today``'s rapid tests, stall by stall."""
    store = ledger.store
    with store.reader() as conn:
        market = store.location(conn, market_id)
        if market is None:
            raise NotFoundError(f"unknown market {market_id!r}")
        if market.type not in ("market", "wholesale_market"):
            raise NotFoundError(f"{market_id!r} is a {market.type}, not a market")
        stalls = store.stalls_in(conn, market_id)
        rows = TestsSql.rapid_at_stalls_on(conn, [s["id"] for s in stalls], today.isoformat())
    by_stall: dict[str, list[dict[str, Any]]] = {}
    for r in newest_first(rows):
        by_stall.setdefault(r["stall"], []).append(test_row(r))
    counts = {"negative": 0, "suspect": 0, "positive": 0}
    for r in rows:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    out_stalls = []
    for s in stalls:
        details = s["details"]
        out_stalls.append({"id": s["id"], "name": s["name"],
                           "number": details.get("number") if isinstance(details, dict) else None,
                           "tests": by_stall.get(s["id"], [])})
    return {"market": {"id": market.id, "name": market.name}, "day": today.isoformat(),
            "stalls": out_stalls, "totals": {"tests": len(rows), **counts}}
