"""Who may read what (docs/contract.md "Who may read what"): the one place that decides,
field by field, what an answer shows a reader.

A reader is described by its :class:`Reach`: the places whose books it may read in full
(its own locations, and for a market the stalls it contains), or everything (a
regulator). A shopper has no reach at all (:data:`PUBLIC`). Each view shape has one
function here that turns the full view into what the reader may see:

* :func:`disclose_stall` — the scan JSON (docs/contract.md "Scan JSON");
* :func:`disclose_lot` — the lot page;
* :func:`disclose_trace` — the trace JSON (docs/contract.md "Trace JSON");
* :func:`disclose_standing` — a producer's standing (docs/contract.md "Producers' standing");
* the market board holds no field beyond the public ones (stall names and numbers, test
  items and results; never a tester's name) and is shown as built.

What is never shown outside a reader's reach: a certificate's fields beyond
:data:`PUBLIC_CERTIFICATE` (a producer's name, ``contact``, any field a partner added —
they may name a natural person or carry a phone or ID number), and the quantities traded
between other parties (shipped, received, sold). A record (``GET /api/v1/events/<id>``)
is shown whole or not at all: :func:`event_in_reach` decides.

One hop: a reader with read:own or read:market also sees, for the lots it handles, the
places one shipment away from its own (its suppliers and customers of those lots):
:func:`widen` adds them. None of this imports Flask.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ledger import Ledger
from ..store.supply import SupplySql

__all__ = ["EVERYTHING", "PUBLIC", "PUBLIC_CERTIFICATE", "Reach", "disclose_lot",
           "disclose_stall", "disclose_standing", "disclose_trace", "event_in_reach", "lot_in_reach",
           "public_certificate", "reach_of", "widen"]

#: The fields of an origin certificate anyone may read: what identifies the certificate and
#: the goods, where and when they were produced, and on what basis. Not ``producer`` (free
#: text, often a farmer's own name), not ``contact`` (a phone number), nor any added field.
PUBLIC_CERTIFICATE = ("no", "product", "origin_place", "issued_at", "basis", "commitments")

#: A shipment's quantities: another party's volumes (docs/contract.md "Who may read what").
_HOP_VOLUMES = ("qty", "received", "discrepancy")

#: Where an event names a location besides its own ``location`` (ship ``to``, receive
#: ``from``, a test's ``stall``).
_NAMED_PLACES = ("to", "from", "stall")

#: Kinds never read one hop away: a sale is its seller's retail book (receipt, payment
#: reference) and moves nothing along the chain.
_OWN_BOOKS_ONLY = ("sale",)


@dataclass(frozen=True)
class Reach:
    """The places whose books a reader may read in full; ``everything`` for a regulator.
    ``party`` is the reader's own party (its own events are always in reach)."""

    everything: bool = False
    places: frozenset[str] = frozenset()
    party: str | None = None

    def sees(self, location: object) -> bool:
        return self.everything or (isinstance(location, str) and location in self.places)

    @property
    def is_public(self) -> bool:
        return not self.everything and not self.places and self.party is None


PUBLIC = Reach()
EVERYTHING = Reach(everything=True)


def reach_of(ledger: Ledger, party: str, *, market_stalls: bool) -> Reach:
    """The places ``party`` holds, and with ``market_stalls`` the stalls inside the markets
    it holds (read:market)."""
    store = ledger.store
    with store.reader() as conn:
        own = store.locations_held_by(conn, party)
        places = {loc.id for loc in own}
        if market_stalls:
            for loc in own:
                if loc.type in ("market", "wholesale_market"):
                    places.update(s["id"] for s in store.stalls_in(conn, loc.id))
    return Reach(False, frozenset(places), party)


def widen(ledger: Ledger, reach: Reach, lots: Iterable[str]) -> Reach:
    """``reach`` plus, for ``lots``, the places one shipment away from its own places: the
    supplier a lot came from, the customer it went to."""
    if reach.everything or not reach.places:
        return reach
    with ledger.store.reader() as conn:
        shipments = SupplySql.shipments_of_lots(conn, sorted(set(lots)))
    near = set(reach.places)
    for s in shipments:
        if s.to_location in reach.places:
            near.add(s.from_location)
        if s.from_location in reach.places:
            near.add(s.to_location)
    return Reach(False, frozenset(near), reach.party)


def lot_in_reach(ledger: Ledger, reach: Reach, lot: str) -> bool:
    """Whether ``lot`` passed through the reader's places, or was shipped to or from them,
    or was made from such a lot or into one (one hop along the chain)."""
    if reach.everything:
        return True
    if not reach.places:
        return False
    with ledger.store.reader() as conn:
        kin = {lot}
        kin.update(parent for parent, _ in SupplySql.parents(conn, [lot]))
        kin.update(child for _, child in SupplySql.children(conn, [lot]))
        if any(row.location in reach.places and row.received > 0
               for row in SupplySql.stock_of_lots(conn, sorted(kin))):
            return True
        return any(s.from_location in reach.places or s.to_location in reach.places
                   for s in SupplySql.shipments_of_lots(conn, [lot]))


def _lots_of(event: Mapping[str, Any]) -> list[str]:
    items = [*event.get("inputs", []), *event.get("outputs", [])]
    lot = event.get("data", {}).get("lot")
    return [str(i["lot"]) for i in items] + ([str(lot)] if isinstance(lot, str) else [])


def event_in_reach(ledger: Ledger, reach: Reach, event: Mapping[str, Any]) -> bool:
    """Whether the reader may read the event: a regulator any; another reader its own
    events, those at or naming its places, and those one hop away on the lots they act on
    (at a place one shipment from its own) except another party's sales."""
    if reach.everything:
        return True
    if reach.party is not None and event.get("actor") == reach.party:
        return True
    data = event.get("data") or {}
    named = [event.get("location"), *(data.get(k) for k in _NAMED_PLACES)]
    if any(reach.sees(place) for place in named):
        return True
    lots = _lots_of(event)
    if not lots or event.get("kind") in _OWN_BOOKS_ONLY:
        return False
    return widen(ledger, reach, lots).sees(event.get("location"))


def public_certificate(certificate: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an origin certificate anyone may read (:data:`PUBLIC_CERTIFICATE`)."""
    return {k: certificate[k] for k in PUBLIC_CERTIFICATE if k in certificate}


def _certificate(origin: dict[str, Any], reach: Reach, location: object) -> None:
    cert = origin.get("certificate")
    if isinstance(cert, Mapping) and not reach.sees(location):
        origin["certificate"] = public_certificate(cert)


def _entry(entry: dict[str, Any], reach: Reach) -> None:
    """An entry (goods from outside the ledger) outside ``reach``: the supplier's name and
    the types of the vouchers seen, without their numbers, issuers or scans."""
    if reach.sees(entry.get("location")):
        return
    supplier = entry.get("supplier")
    if isinstance(supplier, Mapping):
        entry["supplier"] = {k: supplier[k] for k in ("name",) if k in supplier}
    vouchers = entry.get("vouchers")
    if isinstance(vouchers, list):
        entry["vouchers"] = [{"type": v.get("type")} for v in vouchers if isinstance(v, Mapping)]


def _hop(hop: dict[str, Any], reach: Reach) -> None:
    if not (reach.sees(hop.get("from")) or reach.sees(hop.get("to"))):
        for name in _HOP_VOLUMES:
            hop.pop(name, None)


def disclose_stall(view: Mapping[str, Any], reach: Reach) -> dict[str, Any]:
    """The scan JSON as ``reach`` may read it. Public: the stall card (亮证亮照: the
    holder's name, licences, address, number), what is on sale with the stall's own stock
    and holds, the tests and the proofs; each origin certificate as
    :func:`public_certificate`. The stall's own readers see the certificates in full."""
    out = copy.deepcopy(dict(view))
    if reach.sees(out["stall"]["id"]):
        return out
    for item in out["on_hand"]:
        for origin in ([item["origin"]] if item.get("origin") else []) + item["origins"]:
            _certificate(origin, PUBLIC, None)
        for entry in item.get("entries", ()):
            _entry(entry, PUBLIC)
    return out


def disclose_lot(view: Mapping[str, Any], reach: Reach) -> dict[str, Any]:
    """The lot page as ``reach`` may read it: each origin certificate in full only at a
    place in reach (else :func:`public_certificate`), and a shipment's quantities only
    when it left or reached a place in reach; where the lot is held stays public."""
    out = copy.deepcopy(dict(view))
    for origin in out["origins"]:
        _certificate(origin, reach, origin.get("location"))
    for hop in out["path"]:
        _hop(hop, reach)
    return out


def disclose_trace(doc: Mapping[str, Any], reach: Reach) -> dict[str, Any]:
    """The trace JSON as ``reach`` may read it: origin certificates and shipment
    quantities as :func:`disclose_lot` shows them, an entry's supplier and vouchers in full
    only at a place in reach, and in ``downstream.locations`` only
    the places in reach (with their received, sold and on-hand quantities)."""
    out = copy.deepcopy(dict(doc))
    up = out.get("upstream")
    if up is not None:
        for origin in up["origins"]:
            _certificate(origin, reach, origin.get("location"))
        for entry in up.get("entries", []):
            _entry(entry, reach)
        for hop in up["path"]:
            _hop(hop, reach)
    down = out.get("downstream")
    if down is not None:
        down["locations"] = [loc for loc in down["locations"] if reach.sees(loc["location"])]
    return out


def disclose_standing(view: Mapping[str, Any], reach: Reach) -> dict[str, Any]:
    """A producer's standing as ``reach`` may read it: a regulator and the producer itself
    see it whole; anyone else sees each certificate as :func:`public_certificate` (no
    producer's name as printed, no contact) and no supplier of an entry (a supplier
    outside the ledger may be a natural person)."""
    out = copy.deepcopy(dict(view))
    if reach.everything or (reach.party is not None and reach.party == out["party"]["id"]):
        return out
    out["certificates"]["newest"] = [
        {**public_certificate(c), **{k: c[k] for k in ("seq", "event", "day") if k in c}}
        for c in out["certificates"]["newest"]]
    for failure in out["failures"]:
        failure.pop("supplier", None)
    return out
