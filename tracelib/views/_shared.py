"""What the stall page, the lot page and the board show alike: test and lab rows, newest
first, and the tree head the shown records are proven against."""

from __future__ import annotations

from typing import Any

from .. import canonical
from ..ledger import Ledger
from ..store import Connection
from ..store.inspections import InspectionRow


def event_data(ledger: Ledger, conn: Connection, seqs: list[int]) -> dict[int, dict[str, Any]]:
    return {int(r["seq"]): canonical.loads(bytes(r["body"]))
            for r in ledger.store.record_rows(conn, seqs)}


def test_row(row: Any) -> dict[str, Any]:
    return {"time": row["time"], "item": row["item"], "sample": row["sample"],
            "result": row["result"], "rate": row["rate"], "method": row["method"],
            "lot": row["lot"], "commodity": row["commodity"], "retest": bool(row["retest"]),
            "follow_up": row["follow_up"], "event": row["event_id"], "seq": int(row["seq"])}


def lab_row(row: Any) -> dict[str, Any]:
    return {"time": row["time"], "analyte": row["item"], "commodity": row["commodity"],
            "sample": row["sample"], "lot": row["lot"], "value_mg_kg": row["value_mg_kg"],
            "limit_mg_kg": row["limit_mg_kg"], "result": row["result"],
            "method": row["method"], "follow_up": row["follow_up"], "event": row["event_id"],
            "seq": int(row["seq"])}


def inspection_row(row: InspectionRow | None, regulator_name: str | None) -> dict[str, Any] | None:
    """An inspection as the 公示栏 shows it: what the ``inspections`` row holds, and the
    regulator that signed it; never an inspector's name (docs/contract.md "Who may read
    what")."""
    if row is None:
        return None
    return {"event": row.event_id, "seq": row.seq, "day": row.day, "time": row.time,
            "result": row.result, "rectification_deadline": row.deadline,
            "rectification": row.rectification,
            "regulator": {"id": row.actor, "name": regulator_name}}


def newest_first(rows: list[Any]) -> list[Any]:
    from ..timeutil import parse_rfc3339, to_micros

    return sorted(rows, key=lambda r: (to_micros(parse_rfc3339(r["time"])), int(r["seq"])),
                  reverse=True)


def head(ledger: Ledger, conn: Connection, needed: int,
         witnessed: int | None = None) -> dict[str, Any]:
    """The signed checkpoint covering records < ``needed``, else the current tree head.

    ``witnessed`` is the size of the newest checkpoint a witness policy counts as witnessed
    (docs/contract.md "Witnesses"): when it covers the records, proofs are against it (the
    head says ``witnessed: true``); else the newest signed checkpoint, not yet witnessed."""
    store = ledger.store
    if witnessed is not None and witnessed >= needed:
        row = store.checkpoint_at(conn, witnessed)
        if row is not None:
            return {"size": witnessed, "root": bytes(row["root"]).hex(), "signed": True,
                    "witnessed": True, "origin": ledger.origin}
    latest = store.latest_checkpoint(conn)
    if latest is not None and int(latest["size"]) >= needed:
        return {"size": int(latest["size"]), "root": bytes(latest["root"]).hex(),
                "signed": True, "origin": ledger.origin}
    size = store.size(conn)
    return {"size": size, "root": ledger._root(conn, size).hex(), "signed": False,
            "origin": ledger.origin}
