"""Find what a regulator types: a lot code, a stall or other place, a party, an event id,
or an origin certificate's number (食用农产品承诺达标合格证 ``no``, docs/contract.md
``origin``).

:func:`find` answers every kind of match at once, exact identifiers first: a code that is
both a lot and a certificate number shows both. Places and parties also match by part of
their name (张记 finds 张记蔬菜). Like every view it builds no URL; the caller links each
:class:`Match` by its ``kind`` and ``id``. No SQL here: the reads are
:class:`tracelib.store.find.FindSql`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import canonical
from ..errors import ValidationError
from ..ledger import Ledger
from ..store.find import FindSql

__all__ = ["KINDS", "MAX_QUERY", "Match", "find"]

#: What a match can be, in the order matches are listed.
KINDS = ("lot", "event", "certificate", "stall", "place", "party")
MAX_QUERY = 200
#: At most this many places, parties and certificates each.
LIMIT = 20


@dataclass(frozen=True)
class Match:
    """One thing found: its ``kind`` (:data:`KINDS`), its identifier (a lot code, an event
    id, a location or party id; for a certificate, the lot it made), a name to show, and
    a line of detail."""

    kind: str
    id: str
    name: str
    detail: str = ""
    lot: str | None = None  # the lot a certificate or a lot match is about

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "detail": self.detail,
                "lot": self.lot}


def _query(text: str) -> str:
    if not isinstance(text, str):
        raise ValidationError("the search must be text", field="q")
    query = text.strip()
    if not query:
        raise ValidationError("type a lot, stall, party, event id or certificate number",
                              field="q")
    if len(query) > MAX_QUERY:
        raise ValidationError(f"the search is at most {MAX_QUERY} characters, got "
                              f"{len(query)}", field="q")
    if any(ord(c) < 0x20 or c == "\x7f" for c in query):
        raise ValidationError("the search may not hold control characters", field="q")
    return query


def find(ledger: Ledger, text: str) -> list[Match]:
    """Everything ``text`` names (stripped; 1 to :data:`MAX_QUERY` characters)."""
    query = _query(text)
    found: list[Match] = []
    with ledger.store.reader() as conn:
        lot = FindSql.lot(conn, query)
        event = FindSql.event(conn, query)
        origins = FindSql.certificate_records(conn, query, LIMIT)
        places = FindSql.places(conn, query, LIMIT)
        people = FindSql.parties(conn, query, LIMIT)
    if lot is not None:
        found.append(Match("lot", lot["lot"], lot["product"] or lot["lot"],
                           f"{lot['unit']} · {lot['location']}", lot=lot["lot"]))
    if event is not None:
        found.append(Match("event", event["event_id"], event["kind"],
                           f"#{event['seq']} · {event['actor']} · {event['location']} · "
                           f"{event['event_time']}"))
    for seq, event_id, body in origins:
        doc = canonical.loads(body)
        certificate = doc.get("data", {}).get("certificate", {})
        for item in doc.get("outputs", []):
            found.append(Match("certificate", event_id, str(certificate.get("product", "")),
                               f"#{seq} · {certificate.get('origin_place', '')} · "
                               f"{certificate.get('issued_at', '')}", lot=item["lot"]))
    for place in places:
        kind = "stall" if place["type"] == "stall" else "place"
        number = place["details"].get("number")
        detail = " · ".join(str(x) for x in (place["type"], number, place["parent"]) if x)
        found.append(Match(kind, place["id"], place["name"], detail))
    for party in people:
        found.append(Match("party", party["id"], party["name"], party["role"]))
    return found
