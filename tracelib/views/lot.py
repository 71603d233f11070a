"""The lot page (GS1 Digital Link ``gs1:pip``): the lot, where it came from and how, where
it is, its tests, and the inclusion proofs of what it shows. None of this imports Flask."""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from ..store.supply import SupplySql
from ..store.tests import TestsSql
from ._shared import head, lab_row, newest_first, test_row
from .tracing import trace

__all__ = ["lot_view"]


def lot_view(ledger: Ledger, lot: str, *, proof_url: str,
             witnessed: int | None = None) -> dict[str, Any]:
    """The lot page: the lot, its origins with their certificates, the path from the
    origins to here (hops with temperatures and excursions, location names), where it is
    held, its tests, and the inclusion proofs of the shown records (against the newest
    witnessed checkpoint, size ``witnessed``, when it covers them)."""
    back = trace(ledger, lot, forward=True)
    store = ledger.store
    with store.reader() as conn:
        row = SupplySql.lots(conn, [lot])[lot]
        places = {h.from_location for h in back.path} | {h.to_location for h in back.path}
        places |= {o.location for o in back.origins} | {loc.location for loc in back.locations}
        places.add(row.location)
        found = store.locations(conn, places)
        names = {k: v.name for k, v in found.items()}
        family = [lot, *back.upstream_lots]
        tests = TestsSql.of_lots(conn, family)
        needed = max([o.seq for o in back.origins] + [h.ship_seq for h in back.path]
                     + [int(t["seq"]) for t in tests] + [row.seq], default=-1) + 1
        tree_head = head(ledger, conn, needed, witnessed)
    path = []
    for hop in back.path:
        doc = hop.to_dict()
        doc.update(from_name=names.get(hop.from_location), to_name=names.get(hop.to_location),
                   seq=hop.ship_seq, receive_seq=hop.receive_seq)
        path.append(doc)
    origins = []
    for o in back.origins:
        doc = o.to_dict()
        doc["location_name"] = names.get(o.location)
        # whose standing the certificate counts in (docs/contract.md "Producers' standing")
        place = found.get(o.location)
        doc["party"] = place.holder if place is not None else None
        origins.append(doc)
    shown = sorted({row.seq, *(o.seq for o in back.origins), *(h.ship_seq for h in back.path),
                    *(h.receive_seq for h in back.path if h.receive_seq is not None),
                    *(int(t["seq"]) for t in tests)})
    shown = [s for s in shown if s < tree_head["size"]]
    return {
        "lot": lot, "product": row.product, "unit": row.unit, "gtin": row.gtin,
        "storage": row.storage, "kind": row.kind, "made_at": row.location,
        "made_at_name": names.get(row.location),
        "imported": row.imported, "import_docs": sorted(row.import_docs),
        "recalled": row.recalled_seq is not None,
        "upstream_lots": list(back.upstream_lots),
        "origins": origins, "path": path,
        "held_at": [{"lot": code, "location": loc, "name": names.get(loc)}
                    for code, loc in back.held],
        "tests": [test_row(t) if t["kind"] == "rapid" else lab_row(t)
                  for t in newest_first(tests)],
        "checkpoint": tree_head,
        "proofs": [{"seq": s, "url": proof_url.format(seq=s, size=tree_head["size"])}
                   for s in shown],
    }
