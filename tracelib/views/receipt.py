"""What a shopper's receipt shows (``/r/<receipt>``, docs/contract.md "Receipts").

:func:`receipt_view` reads one receipt — a ``sale`` event whose id is the receipt id — and
gives what was bought (product, quantity, unit price, amount), each line's origin as a
shopper may read it (:func:`~tracelib.views.disclosure.public_certificate`: certificate
number, place, product, producer), the stall's rapid tests of the sale's day, the proof that
the sale is in the ledger, an ``alerts`` list naming every lot on the receipt that is held
at the stall or recalled now (the banner: 您购买的商品已被召回…), and whether a ``payment``
event paid it. Everything read is ledger state (docs/integrity.md). None of this imports
Flask; the caller passes the proof link template and the payment link template's values.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .. import canonical
from ..errors import NotFoundError
from ..kinds.payment import ID_PREFIX
from ..ledger import Ledger
from ..money import format_yuan, line_amount, parse_yuan
from ..store.supply import SupplySql
from ..store.tests import TestsSql
from ._shared import event_data, head, newest_first, test_row
from .disclosure import public_certificate
from .stall import _origins

__all__ = ["RECEIPT_ID", "payment_template", "receipt_view"]

#: A receipt id as the service makes them: 128 bits, RFC 4648 §6 base32 without padding
#: (26 characters), unguessable (docs/contract.md "Receipts").
RECEIPT_ID = re.compile(r"\A[A-Z2-7]{26}\Z")


def payment_template(ledger: Ledger, stall_id: str) -> str | None:
    """The payment link template of ``stall_id``: its own ``payment_url``, else its
    market's (docs/contract.md "Payments"); None when neither has one."""
    place = ledger.location(stall_id)
    if place is None:
        return None
    own = place.details.get("payment_url")
    if isinstance(own, str):
        return own
    market = ledger.location(place.parent) if place.parent else None
    found = market.details.get("payment_url") if market is not None else None
    return found if isinstance(found, str) else None


def receipt_view(ledger: Ledger, receipt_id: str, *, proof_url: str,
                 witnessed: int | None = None) -> dict[str, Any]:
    """The receipt JSON of ``receipt_id``. Raises NotFoundError when it is not a receipt
    id or names no sale."""
    if not RECEIPT_ID.match(receipt_id):
        raise NotFoundError("no such receipt")
    store = ledger.store
    with store.reader() as conn:
        rows = store.find_events(conn, [receipt_id, ID_PREFIX + receipt_id])
        sale_row = rows.get(receipt_id)
        if sale_row is None or sale_row["kind"] != "sale":
            raise NotFoundError("no such receipt")
        sale = canonical.loads(bytes(sale_row["body"]))
        stall_id = sale["location"]
        place = store.location(conn, stall_id)
        market = store.location(conn, place.parent) if place and place.parent else None
        codes = [item["lot"] for item in sale["inputs"]]
        lots = SupplySql.lots(conn, codes)
        held = {row.lot: row for row in SupplySql.held_at(conn, stall_id) if row.lot in codes}
        recalled = {code: row for code, row in lots.items() if row.recalled_seq is not None}
        recall_docs = event_data(ledger, conn, [int(r.recalled_seq or 0)
                                                for r in recalled.values()])
        origins_of, _ = _origins(ledger, conn, codes)
        day = sale["time"][:10]  # the sale's local date in its own offset
        tests = [test_row(r) for r in newest_first(TestsSql.rapid_on(conn, stall_id, day))]
        seq = int(sale_row["seq"])
        tree_head = head(ledger, conn, seq + 1, witnessed)
        paid_row = rows.get(ID_PREFIX + receipt_id)
    data = sale.get("data", {})
    prices = data.get("unit_prices")
    items: list[dict[str, Any]] = []
    for i, item in enumerate(sale["inputs"]):
        lot = lots.get(item["lot"])
        price = prices[i] if isinstance(prices, list) else None
        found = origins_of.get(item["lot"]) or []
        origin = found[0] if found else None
        items.append({
            "lot": item["lot"], "product": lot.product if lot else None,
            "qty": item["qty"], "unit": item["unit"], "unit_price": price,
            "amount": (format_yuan(line_amount(Decimal(item["qty"]), parse_yuan(price)))
                       if price is not None else None),
            "origin": ({"certificate": public_certificate(origin["certificate"]),
                        "event": origin["event"]} if origin else None)})
    alerts: list[dict[str, Any]] = []
    for code in codes:
        if code in recalled:
            doc = recall_docs.get(int(recalled[code].recalled_seq or 0), {})
            alerts.append({"lot": code, "kind": "recall",
                           "reason": doc.get("data", {}).get("reason", ""),
                           "seq": recalled[code].recalled_seq})
        elif code in held:
            alerts.append({"lot": code, "kind": "hold", "reason": held[code].hold_reason or "",
                           "seq": held[code].hold_seq})
    payment = None
    if paid_row is not None:
        paid = canonical.loads(bytes(paid_row["body"]))["data"]
        payment = {"amount": paid["amount"], "provider_ref": paid["provider_ref"],
                   "paid_at": paid["paid_at"], "seq": int(paid_row["seq"])}
    return {
        "receipt": {"id": receipt_id, "number": data.get("receipt"), "time": sale["time"],
                    "total": data.get("total"), "seq": seq,
                    "proof": proof_url.format(seq=seq, size=tree_head["size"])},
        "stall": {"id": stall_id, "name": place.name if place else stall_id,
                  "number": place.details.get("number") if place else None,
                  "market": place.parent if place else None,
                  "market_name": market.name if market else None},
        "items": items,
        "tests": tests,
        "alerts": alerts,
        "payment": payment,
        "checkpoint": tree_head,
    }
