"""Ledgers that hand lots to each other (docs/contract.md "Peers and entries from another
ledger", docs/scaling.md "Lots that cross ledgers").

* :func:`lot_records` is what a ledger answers about a lot to a peer: the records of the lot's
  family (the lot, its ancestors and descendants), each with its RFC 9162 §2.1.3 inclusion
  proof in the tree of its newest checkpoint, and that checkpoint's signed note.
* :class:`PeerSource` is a peer as the drill and ``tracelib peer receive`` read it:
  :class:`HttpPeer` through its API, :class:`LedgerPeer` from a ledger at hand.
* :func:`peer_entry_event` builds the ``peer_entry`` that brings a peer's shipment in: the
  citation is fetched here, never at append (the append engine does no network I/O).
* :func:`follow_drill` is ``tracelib drill LOT --follow``: it walks the lot's family from
  ledger to ledger, checks every answer against the answering ledger's checkpoint (signed by
  the key this ledger registered for it, consistent with the checkpoint this ledger cited
  last) and every record against that checkpoint, and merges what the records say.

What a peer answers is proven to be in its log; that it left nothing out is its word (an
inclusion proof cannot show absence). A drill never accepts a record, a proof or a
checkpoint that does not verify: it fails naming the ledger and what did not verify.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from . import canonical, merkle
from .citation import (
    CitedRecord,
    accept_peer_note,
    check_extends,
    check_included,
    hashes_of,
    open_cited_record,
)
from .errors import NotFoundError, PeerError, TracelibError, ValidationError
from .ledger import Ledger, SignedCheckpoint
from .note import Checkpoint
from .recalls import RecallResult
from .record import Record, record_bytes
from .report.federation import (
    FederationEdge,
    FederationPicture,
    Region,
    render_federation_svg,
)
from .store.peers import PeerCheckpoint, PeerNotice, PeerRow, PeersSql
from .store.supply import SupplySql
from .witness.cosigning import cosigned_note

__all__ = [
    "FederatedDrill",
    "HttpPeer",
    "LedgerPart",
    "LedgerPeer",
    "PeerError",
    "PeerSource",
    "follow_drill",
    "lot_records",
    "peer_entry_event",
    "peers_of",
    "record_wire_bytes",
]

#: Seconds a peer's API has to answer one request.
PEER_TIMEOUT = 10.0
#: Most lots of one family the drill fetches from one ledger.
MAX_FAMILY = 10_000


# -- what a ledger answers -------------------------------------------------------------------

def _family(conn: Any, lot: str) -> list[str]:
    seen = {lot}
    for step, pick in ((SupplySql.parents, 0), (SupplySql.children, 1)):
        frontier = [lot]
        while frontier and len(seen) < MAX_FAMILY:
            pairs = step(conn, frontier)
            frontier = []
            for pair in pairs:
                other = pair[pick]
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
    return sorted(seen)


def lot_records(ledger: Ledger, lot: str) -> dict[str, Any]:
    """The records of ``lot``'s family with their inclusion proofs in the tree of the newest
    checkpoint, that checkpoint's note, and the places of this ledger that stand for a peer's
    receiving point (``peer_places``: location → peer origin, from ``register`` locations'
    ``peer``). Records after that checkpoint are left out until one covers them (the service
    signs one after every write). :class:`NotFoundError` for an unknown lot or a ledger
    without checkpoint."""
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise NotFoundError("no signed checkpoint yet")
    with ledger.store.reader() as conn:
        if not SupplySql.lots(conn, [lot]):
            raise NotFoundError(f"unknown lot {lot!r}")
        family = _family(conn, lot)
        seqs = [s for s in SupplySql.event_seqs(conn, family) if s < latest.size]
        rows = ledger.store.record_rows(conn, seqs)
        destinations = set()
        for row in rows:
            if row["kind"] == "ship":
                to = canonical.loads(bytes(row["body"])).get("data", {}).get("to")
                if isinstance(to, str):
                    destinations.add(to)
        places = ledger.store.locations(conn, destinations)
    peer_places = {loc.id: str(loc.details["peer"]) for loc in places.values()
                   if isinstance(loc.details.get("peer"), str)}
    out = []
    for row in rows:
        record = Record.from_row(row)
        proof = ledger.inclusion_proof(record.seq, latest.size)
        out.append({"seq": record.seq, "record": base64.b64encode(record.leaf_bytes()).decode(),
                    "proof": [h.hex() for h in proof.proof]})
    return {"origin": ledger.origin, "lot": lot, "family": family,
            "checkpoint": _with_cosignatures(ledger, latest), "size": latest.size,
            "records": out, "peer_places": peer_places}


def record_wire_bytes(doc: Mapping[str, Any]) -> bytes:
    """A record's stored bytes from its JSON form (``GET /api/v1/events/<id>``,
    :meth:`tracelib.record.Record.to_dict`)."""
    try:
        event = dict(doc["event"])
        sig = event.pop("sig")
        return record_bytes(int(doc["seq"]), bytes.fromhex(doc["prev"]), canonical.dumps(event),
                            str(doc["key"]), base64.b64decode(sig["value"], validate=True),
                            str(doc["recorded_at"]))
    except (KeyError, TypeError, ValueError, TracelibError) as e:
        raise ValidationError(f"not a record in its JSON form: {e}") from e


# -- peers as sources ------------------------------------------------------------------------

class PeerSource(Protocol):
    """A ledger as its API answers: everything a citation or a drill needs of it."""

    @property
    def origin(self) -> str: ...
    def checkpoint_note(self) -> str: ...
    def record_of_event(self, event_id: str) -> tuple[int, bytes]: ...
    def key_record(self, key_id: str) -> tuple[int, bytes]: ...
    def inclusion_proof(self, seq: int, size: int) -> list[bytes]: ...
    def consistency_proof(self, size1: int, size2: int) -> list[bytes]: ...
    def lot_records(self, lot: str) -> dict[str, Any] | None: ...


def _with_cosignatures(ledger: Ledger, checkpoint: SignedCheckpoint) -> str:
    """A checkpoint's note as peers get it: with its witnesses' cosignatures, which a peer
    that registered this ledger with a witness policy asks for."""
    return cosigned_note(ledger, checkpoint.size) or checkpoint.note


@dataclass
class LedgerPeer:
    """A ledger at hand as a peer source (tests, benchmarks, one machine holding several)."""

    ledger: Ledger

    @property
    def origin(self) -> str:
        return self.ledger.origin

    def checkpoint_note(self) -> str:
        latest = self.ledger.latest_checkpoint()
        if latest is None:
            raise NotFoundError("no signed checkpoint yet")
        return _with_cosignatures(self.ledger, latest)

    def record_of_event(self, event_id: str) -> tuple[int, bytes]:
        record = self.ledger.record_for_event(event_id)
        return record.seq, record.leaf_bytes()

    def key_record(self, key_id: str) -> tuple[int, bytes]:
        with self.ledger.store.reader() as conn:
            key = self.ledger.store.key(conn, key_id)
        if key is None:
            raise NotFoundError(f"unknown key {key_id!r}")
        return key.registered_seq, self.ledger.record(key.registered_seq).leaf_bytes()

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        return list(self.ledger.inclusion_proof(seq, size).proof)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return list(self.ledger.consistency_proof(size1, size2).proof)

    def lot_records(self, lot: str) -> dict[str, Any] | None:
        try:
            return lot_records(self.ledger, lot)
        except NotFoundError:
            return None


@dataclass
class HttpPeer:
    """A peer through its API (``<url>/api/v1/…``), with a bearer token when given (a token
    of the peer that may read the lots: its regulator's, or a receiving party's)."""

    url: str
    peer_origin: str
    token: str | None = None
    timeout: float = PEER_TIMEOUT

    @property
    def origin(self) -> str:
        return self.peer_origin

    def _get(self, path: str, *, text: bool = False, missing_ok: bool = False) -> Any:
        request = urllib.request.Request(  # noqa: S310 (an operator-registered http(s) URL)
            self.url.rstrip("/") + "/api/v1" + path,
            headers={"Accept": "text/plain" if text else "application/json",
                     "Accept-Language": "en",
                     **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as e:
            if missing_ok and e.code == 404:
                return None
            raise PeerError(f"peer {self.peer_origin!r} answered {e.code} to GET {path}") from e
        except (urllib.error.URLError, OSError) as e:
            raise PeerError(f"peer {self.peer_origin!r} at {self.url} does not answer: "
                            f"{e}") from e
        if text:
            return body.decode("utf-8")
        try:
            return json.loads(body)
        except ValueError as e:
            raise PeerError(f"peer {self.peer_origin!r} answered GET {path} with no JSON") from e

    def checkpoint_note(self) -> str:
        return str(self._get("/checkpoint", text=True))

    def record_of_event(self, event_id: str) -> tuple[int, bytes]:
        doc = self._get("/events/" + urllib.parse.quote(event_id, safe=""))
        return int(doc["seq"]), record_wire_bytes(doc)

    def key_record(self, key_id: str) -> tuple[int, bytes]:
        doc = self._get("/keys/" + urllib.parse.quote(key_id, safe=""))
        return int(doc["record"]["seq"]), record_wire_bytes(doc["record"])

    def inclusion_proof(self, seq: int, size: int) -> list[bytes]:
        doc = self._get(f"/proofs/inclusion/{seq}?size={size}")
        return hashes_of(doc["proof"], field="proof")

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        doc = self._get(f"/proofs/consistency?first={size1}&second={size2}")
        return hashes_of(doc["proof"], field="proof")

    def lot_records(self, lot: str) -> dict[str, Any] | None:
        found = self._get("/lots/" + urllib.parse.quote(lot, safe="") + "/records",
                          missing_ok=True)
        return None if found is None else dict(found)


def peers_of(ledger: Ledger) -> list[PeerRow]:
    """The peers ``ledger``'s operator registered."""
    with ledger.store.reader() as conn:
        return PeersSql.all_peers(conn)


def _peer(ledger: Ledger, origin: str) -> tuple[PeerRow, PeerCheckpoint | None]:
    with ledger.store.reader() as conn:
        peer = PeersSql.peer(conn, origin)
        cited = PeersSql.checkpoint(conn, origin)
    if peer is None:
        raise NotFoundError(f"unknown peer {origin!r}: register it with `tracelib peer add`")
    return peer, cited


# -- bringing a shipment in ------------------------------------------------------------------

def peer_entry_event(ledger: Ledger, source: PeerSource, *, ship_event: str, location: str,
                     actor: str, product: str, event_id: str, now: datetime,
                     storage: str | None = None) -> dict[str, Any]:
    """The unsigned ``peer_entry`` bringing the peer's shipment ``ship_event`` into
    ``ledger`` at ``location``: the ship's lots as outputs, and the citation fetched from
    ``source`` (its newest checkpoint; the consistency proof from the one ``ledger`` cited
    last). The ledger's rules check it all again at append."""
    peer, cited = _peer(ledger, source.origin)
    note = source.checkpoint_note()
    checkpoint = accept_peer_note(note, peer.origin, peer.vkey, policy=peer.policy,
                                  field="checkpoint")
    seq, ship_raw = source.record_of_event(ship_event)
    ship = open_cited_record(ship_raw, None, field="ship_record")
    if ship.kind != "ship":
        raise ValidationError(f"{ship_event!r} of {peer.origin!r} is a {ship.kind}, not a ship",
                              field="ship")
    if seq >= checkpoint.size:
        raise ValidationError(f"the ship (seq {seq}) is not yet in a checkpoint of "
                              f"{peer.origin!r} (size {checkpoint.size}); try again after the "
                              "peer signs one", field="ship")
    key_seq, key_raw = source.key_record(ship.key_id)
    citation: dict[str, Any] = {
        "checkpoint": note,
        "ship_record": base64.b64encode(ship_raw).decode("ascii"),
        "ship_proof": [h.hex() for h in source.inclusion_proof(seq, checkpoint.size)],
        "key_record": base64.b64encode(key_raw).decode("ascii"),
        "key_proof": [h.hex() for h in source.inclusion_proof(key_seq, checkpoint.size)],
    }
    if cited is not None and 0 < cited.size < checkpoint.size:
        citation["consistency"] = [h.hex() for h in
                                   source.consistency_proof(cited.size, checkpoint.size)]
    data: dict[str, Any] = {"peer": peer.origin, "ship_event": ship_event, "ship_seq": seq,
                            "product": product, "citation": citation}
    if storage is not None:
        data["storage"] = storage
    return {"id": event_id, "kind": "peer_entry", "time": now.isoformat(), "actor": actor,
            "location": location, "outputs": list(ship.event.get("inputs", [])), "data": data}


# -- the drill that follows a lot across ledgers ---------------------------------------------

@dataclass(frozen=True)
class Movement:
    """What one verified record did to one lot of the family."""

    ledger: str  # the origin of the ledger holding the record
    seq: int
    event: str
    kind: str
    lot: str
    qty: Decimal
    unit: str
    location: str
    to: str | None = None  # a ship's destination

    def to_dict(self) -> dict[str, Any]:
        out = {"ledger": self.ledger, "seq": self.seq, "event": self.event, "kind": self.kind,
               "lot": self.lot, "qty": str(self.qty), "unit": self.unit,
               "location": self.location}
        if self.to is not None:
            out["to"] = self.to
        return out


@dataclass
class LedgerPart:
    """One ledger's share of a followed drill: its verified checkpoint and the family's
    records there."""

    origin: str
    size: int
    lots: set[str] = field(default_factory=set)
    movements: list[Movement] = field(default_factory=list)
    records: dict[int, CitedRecord] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "checkpoint_size": self.size, "lots": sorted(self.lots),
                "records": len(self.records),
                "movements": [m.to_dict() for m in self.movements]}


@dataclass(frozen=True)
class Crossing:
    """A shipment from one ledger that entered another: the ship in ``source`` and the
    ``peer_entry`` citing it in ``target``."""

    source: str
    ship_event: str
    from_location: str
    target: str
    entry_event: str
    location: str
    lots: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"from_ledger": self.source, "ship_event": self.ship_event,
                "from": self.from_location, "to_ledger": self.target,
                "entry_event": self.entry_event, "to": self.location, "lots": list(self.lots)}


@dataclass
class FederatedDrill:
    """A drill followed across ledgers: each ledger's part and the crossings between them."""

    lot: str
    home: str
    parts: dict[str, LedgerPart]
    crossings: list[Crossing]
    elapsed_ms: float
    #: shipments to a place standing for a ledger that is not a registered peer, or that has
    #: no entry of them (yet): (ledger, ship event, destination, peer origin or None)
    unfollowed: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def family(self) -> set[tuple[str, str]]:
        """Every (ledger origin, lot) the drill reached."""
        return {(p.origin, lot) for p in self.parts.values() for lot in p.lots}

    def to_dict(self) -> dict[str, Any]:
        return {"lot": self.lot, "home": self.home, "elapsed_ms": round(self.elapsed_ms, 3),
                "ledgers": [self.parts[k].to_dict() for k in sorted(self.parts)],
                "crossings": [c.to_dict() for c in self.crossings],
                "unfollowed": [{"ledger": a, "ship_event": s, "to": t, "peer": p}
                               for a, s, t, p in self.unfollowed]}


def _items(event: Mapping[str, Any], role: str) -> Iterable[Mapping[str, Any]]:
    found = event.get(role, [])
    return [i for i in found if isinstance(i, Mapping)] if isinstance(found, list) else []


class _Follower:
    def __init__(self, home: Ledger, sources: Mapping[str, PeerSource]) -> None:
        self.home = home
        self.sources = dict(sources)
        self.sources.setdefault(home.origin, LedgerPeer(home))
        self.parts: dict[str, LedgerPart] = {}
        self.checkpoints: dict[str, Checkpoint] = {}
        self.done: set[tuple[str, str]] = set()
        self.crossings: dict[tuple[str, str], Crossing] = {}
        self.unfollowed: list[tuple[str, str, str, str | None]] = []
        self.places: dict[str, dict[str, str]] = {}

    def _fail(self, origin: str, what: str, cause: Exception | None = None) -> PeerError:
        error = PeerError(f"peer {origin!r}: {what}" + (f": {cause}" if cause else ""))
        if cause is not None:
            error.__cause__ = cause
        return error

    def _checkpoint(self, origin: str, note: str, source: PeerSource) -> Checkpoint:
        """The answering ledger's checkpoint, verified: the home ledger's own against its
        operator keys; a peer's against the key home registered for it, and consistent with
        the checkpoint home cited last (RFC 9162 §2.1.4)."""
        try:
            if origin == self.home.origin:
                checkpoint = self.home.open_checkpoint(note)
            else:
                peer, cited = _peer(self.home, origin)
                checkpoint = accept_peer_note(note, origin, peer.vkey, policy=peer.policy,
                                                  field="checkpoint")
                if cited is not None:
                    proof = (source.consistency_proof(cited.size, checkpoint.size)
                             if cited.size < checkpoint.size else [])
                    check_extends(cited.size, cited.root, checkpoint, proof, field="checkpoint")
        except TracelibError as e:
            raise self._fail(origin, "its checkpoint does not verify", e) from e
        known = self.checkpoints.get(origin)
        if known is not None and (known.size, known.root) != (checkpoint.size, checkpoint.root):
            try:
                low, high = sorted((known, checkpoint), key=lambda c: c.size)
                check_extends(low.size, low.root, high,
                              source.consistency_proof(low.size, high.size)
                              if low.size < high.size else [], field="checkpoint")
            except TracelibError as e:
                raise self._fail(origin, "it showed two inconsistent checkpoints", e) from e
        self.checkpoints[origin] = checkpoint
        return checkpoint

    def visit(self, origin: str, lot: str) -> list[tuple[str, str]]:
        """Fetch and verify ``lot``'s family in ``origin``; return the (ledger, lot) pairs to
        visit next (upstream through peer entries, downstream through peer shipments)."""
        if (origin, lot) in self.done:
            return []
        source = self.sources.get(origin)
        if source is None:
            raise NotFoundError(f"no source for ledger {origin!r}")
        answer = source.lot_records(lot)
        self.done.add((origin, lot))
        if answer is None:
            return []
        if answer.get("origin") != origin:
            raise self._fail(origin, f"it answered as {answer.get('origin')!r}")
        checkpoint = self._checkpoint(origin, str(answer.get("checkpoint")), source)
        if int(answer.get("size", -1)) != checkpoint.size:
            raise self._fail(origin, f"its records are proven at size {answer.get('size')}, "
                                     f"not its checkpoint's {checkpoint.size}")
        part = self.parts.setdefault(origin, LedgerPart(origin, checkpoint.size))
        part.size = checkpoint.size
        self.places.setdefault(origin, {}).update(
            {str(k): str(v) for k, v in dict(answer.get("peer_places", {})).items()})
        fresh: list[CitedRecord] = []
        for item in answer.get("records", []):
            seq = int(item["seq"])
            try:
                raw = base64.b64decode(item["record"], validate=True)
                check_included(raw, seq, hashes_of(item["proof"], field="proof"), checkpoint,
                               field="records")
                record = open_cited_record(raw, None, field="records")
            except (TracelibError, ValueError, KeyError) as e:
                raise self._fail(origin, f"record {seq} does not verify against its "
                                         f"checkpoint (size {checkpoint.size})", e) from e
            if record.seq != seq:
                raise self._fail(origin, f"record {seq} says it is seq {record.seq}")
            if seq not in part.records:
                part.records[seq] = record
                fresh.append(record)
        family = answer.get("family", [lot])
        part.lots.update(str(x) for x in (family if isinstance(family, list) else [lot]))
        return self._read(part, fresh)

    def _read(self, part: LedgerPart, records: Sequence[CitedRecord]) -> list[tuple[str, str]]:
        """The next (ledger, lot) pairs the fresh ``records`` lead to: upstream through a
        ``peer_entry``, downstream through a ship to a place standing for a peer."""
        origin = part.origin
        nxt: list[tuple[str, str]] = []
        for record in sorted(records, key=lambda r: r.seq):
            event = record.event
            data = event.get("data", {})
            if not isinstance(data, Mapping):
                continue
            if record.kind == "peer_entry":
                peer = str(data.get("peer"))
                self._crossing(peer, str(data.get("ship_event")), origin, record)
                if peer in self.sources:
                    nxt.extend((peer, str(i["lot"])) for i in _items(event, "outputs"))
            elif record.kind == "ship":
                to = str(data.get("to"))
                peer_origin = self.places.get(origin, {}).get(to)
                if peer_origin is None:
                    continue
                if peer_origin not in self.sources:
                    self.unfollowed.append((origin, record.event_id, to, peer_origin))
                    continue
                nxt.extend((peer_origin, str(i["lot"])) for i in _items(event, "inputs")
                           if str(i["lot"]) in part.lots)
        return nxt

    @staticmethod
    def movements(part: LedgerPart) -> list[Movement]:
        """What the part's records did to the family's lots there, in seq order."""
        out = []
        for record in sorted(part.records.values(), key=lambda r: r.seq):
            event = record.event
            data = event.get("data", {})
            to = data.get("to") if record.kind == "ship" and isinstance(data, Mapping) else None
            for role in ("inputs", "outputs"):
                for item in _items(event, role):
                    if str(item["lot"]) in part.lots:
                        out.append(Movement(part.origin, record.seq, record.event_id,
                                            record.kind, str(item["lot"]),
                                            Decimal(str(item["qty"])), str(item["unit"]),
                                            str(event["location"]),
                                            None if to is None else str(to)))
        return out

    def _crossing(self, source: str, ship_event: str, target: str, entry: CitedRecord) -> None:
        lots = tuple(sorted(str(i["lot"]) for i in _items(entry.event, "outputs")))
        self.crossings[(source, ship_event)] = Crossing(
            source, ship_event, "", target, entry.event_id, str(entry.event["location"]), lots)

    def finish(self) -> tuple[list[Crossing], list[tuple[str, str, str, str | None]]]:
        """Check every crossing against the source ledger's verified ship record: the entry
        cites the same bytes as the peer's answer holds (a peer that changed its record since
        is caught here)."""
        out = []
        for (source, ship_event), crossing in sorted(self.crossings.items()):
            part = self.parts.get(source)
            ship = None if part is None else next(
                (r for r in part.records.values() if r.event_id == ship_event), None)
            if ship is None:
                if part is not None:
                    raise self._fail(source, f"its answer lacks ship {ship_event!r}, which "
                                             f"{crossing.target!r} entered at "
                                             f"{crossing.location!r}")
                out.append(crossing)
                continue
            target = self.parts[crossing.target]
            entry = next(r for r in target.records.values() if r.event_id == crossing.entry_event)
            cited = base64.b64decode(entry.event["data"]["citation"]["ship_record"])
            if merkle.leaf_hash(cited) != merkle.leaf_hash(ship.raw):
                raise self._fail(source, f"ship {ship_event!r} differs from the record "
                                         f"{crossing.target!r} cited")
            out.append(Crossing(source, ship_event, str(ship.event["location"]),
                                crossing.target, crossing.entry_event, crossing.location,
                                crossing.lots))
        for part in self.parts.values():
            part.movements = self.movements(part)
        entered = {(c.source, c.ship_event) for c in out}
        unfollowed = list(self.unfollowed)
        for part in self.parts.values():
            for record in part.records.values():
                if record.kind != "ship":
                    continue
                to = str(record.event.get("data", {}).get("to"))
                peer = self.places.get(part.origin, {}).get(to)
                if (peer in self.sources and (part.origin, record.event_id) not in entered
                        and any(str(i["lot"]) in part.lots
                                for i in _items(record.event, "inputs"))):
                    unfollowed.append((part.origin, record.event_id, to, peer))
        return out, unfollowed


def follow_drill(home: Ledger, lot: str, *, sources: Mapping[str, PeerSource] | None = None,
                 tokens: Mapping[str, str] | None = None) -> FederatedDrill:
    """Trace ``lot`` from ``home`` across every registered peer it crossed into
    (:class:`HttpPeer` at each peer's registered URL unless ``sources`` names one; ``tokens``:
    a bearer token per peer origin). Raises :class:`PeerError` naming the ledger when an
    answer does not verify."""
    started = time.perf_counter()
    given = dict(sources or {})
    for peer in peers_of(home):
        given.setdefault(peer.origin, HttpPeer(peer.url, peer.origin,
                                               (tokens or {}).get(peer.origin)))
    follower = _Follower(home, given)
    todo = [(home.origin, lot)]
    with home.store.reader() as conn:
        if not SupplySql.lots(conn, [lot]):
            raise NotFoundError(f"unknown lot {lot!r}")
    while todo:
        origin, code = todo.pop()
        todo.extend(follower.visit(origin, code))
    crossings, unfollowed = follower.finish()
    elapsed = (time.perf_counter() - started) * 1000
    return FederatedDrill(lot, home.origin, follower.parts, crossings, elapsed, unfollowed)


# -- the report ------------------------------------------------------------------------------

def federation_picture(drill: FederatedDrill) -> FederationPicture:
    """The drill as regions (one per ledger, the drill's home first) of the places its records
    name, with the shipments inside each ledger and the hand-overs between them."""
    order = [drill.home, *sorted(o for o in drill.parts if o != drill.home)]
    regions: list[Region] = []
    edges: list[FederationEdge] = []
    crossing_ships = {(c.source, c.ship_event) for c in drill.crossings}
    for origin in order:
        part = drill.parts.get(origin)
        if part is None:
            continue
        places: dict[str, None] = {}
        totals: dict[tuple[str, str, str], Decimal] = {}
        for m in part.movements:
            places.setdefault(m.location, None)
            if m.kind == "ship" and m.to is not None and (origin, m.event) not in crossing_ships:
                places.setdefault(m.to, None)
                key = (m.location, m.to, m.unit)
                totals[key] = totals.get(key, Decimal(0)) + m.qty
        regions.append(Region(origin, tuple(places)))
        edges.extend(FederationEdge((origin, src), (origin, dst), f"{qty.normalize():f} {unit}")
                     for (src, dst, unit), qty in sorted(totals.items()))
    for c in drill.crossings:
        if c.source in drill.parts and c.from_location:
            edges.append(FederationEdge((c.source, c.from_location), (c.target, c.location),
                                        f"{c.ship_event}: {', '.join(c.lots)}", crossing=True))
    return FederationPicture(drill.lot, tuple(regions), tuple(edges))


def write_federation_report(folder: str | os.PathLike[str], drill: FederatedDrill) -> Path:
    """Write ``federation.json`` (the drill as :meth:`FederatedDrill.to_dict`) and
    ``federation.svg`` (:func:`federation_picture`) into ``folder``; return the SVG's path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    (target / "federation.json").write_text(
        json.dumps(drill.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    svg = target / "federation.svg"
    svg.write_text(render_federation_svg(federation_picture(drill)), encoding="utf-8")
    return svg


# -- recall notices --------------------------------------------------------------------------

def recall_notice(ledger: Ledger, recall_event: str) -> dict[str, Any]:
    """The notice of ``ledger``'s ``recall`` event for its peers: the record's bytes and its
    inclusion proof in the newest checkpoint, with that checkpoint's signed note. It proves
    itself: a peer checks it against the verifier key it registered for this ledger."""
    record = ledger.record_for_event(recall_event)
    if record.kind != "recall":
        raise ValidationError(f"{recall_event!r} is a {record.kind} event, not a recall",
                              field="recall")
    latest = ledger.latest_checkpoint()
    if latest is None or record.seq >= latest.size:
        raise ValidationError(f"the recall (seq {record.seq}) is not in a signed checkpoint "
                              "yet; sign one first (`tracelib checkpoint`)", field="recall")
    proof = ledger.inclusion_proof(record.seq, latest.size)
    return {"peer": ledger.origin, "recall_event": recall_event, "recall_seq": record.seq,
            "record": base64.b64encode(record.leaf_bytes()).decode("ascii"),
            "proof": [h.hex() for h in proof.proof],
            "checkpoint": _with_cosignatures(ledger, latest)}


def accept_notice(ledger: Ledger, notice: Mapping[str, Any], *,
                  now: datetime) -> tuple[PeerNotice, bool]:
    """Check a peer's recall notice (:func:`recall_notice`) and keep it for the regulator's
    console: the peer is registered, its checkpoint is signed by the registered key
    (:func:`tracelib.citation.accept_peer_note`), the record is in that checkpoint's tree and
    is a ``recall``. Returns the notice kept and whether it is new (a notice received before
    is answered with the one kept)."""
    try:
        origin = str(notice["peer"])
        note = str(notice["checkpoint"])
        seq = int(notice["recall_seq"])
        raw = base64.b64decode(str(notice["record"]), validate=True)
        proof = hashes_of(list(notice["proof"]), field="proof")
    except (KeyError, TypeError, ValueError) as e:
        raise ValidationError(f"a recall notice needs peer, recall_seq, record, proof and "
                              f"checkpoint: {e}", field="notice") from e
    peer, _cited = _peer(ledger, origin)
    checkpoint = accept_peer_note(note, origin, peer.vkey, policy=peer.policy,
                                  field="checkpoint")
    check_included(raw, seq, proof, checkpoint, field="proof")
    record = open_cited_record(raw, None, field="record")
    if record.kind != "recall" or record.seq != seq:
        raise ValidationError(f"the record at seq {seq} of {origin!r} is a {record.kind} "
                              "event, not a recall", field="record")
    with ledger.store.writer() as conn:
        kept = PeersSql.notice(conn, origin, record.event_id)
        if kept is not None:
            return kept, False
        data = record.event.get("data", {})
        found = PeerNotice(origin, record.event_id, seq,
                           json.dumps(list(_items(record.event, "inputs")), ensure_ascii=False),
                           str(data.get("reason", "")) if isinstance(data, Mapping) else "",
                           str(record.event.get("time", "")), note, now.isoformat())
        PeersSql.add_notice(conn, found)
    return found, True


def peer_notices(ledger: Ledger, limit: int = 100) -> list[PeerNotice]:
    """The recall notices received from peers, newest first."""
    with ledger.store.reader() as conn:
        return PeersSql.notices(conn, limit)


def send_notice(url: str, token: str | None, notice: Mapping[str, Any], *,
                timeout: float = PEER_TIMEOUT) -> dict[str, Any]:
    """POST ``notice`` to the peer service at ``url`` (``/api/v1/peers/notices``)."""
    request = urllib.request.Request(  # noqa: S310 (an operator-registered http(s) URL)
        url.rstrip("/") + "/api/v1/peers/notices", method="POST",
        data=json.dumps(notice).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 "Accept-Language": "en",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:500]
        raise PeerError(f"the peer at {url} refused the notice ({e.code}): {detail}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise PeerError(f"the peer at {url} does not answer: {e}") from e


def peers_reached(ledger: Ledger, shipments: Sequence[tuple[str, str, str, str]]
                  ) -> dict[str, list[str]]:
    """The registered peers whose receiving points ``shipments`` (ship event, lot, to, qty:
    a recall's ``in_transit``) went to, with those ship events: the ledgers a recall here
    concerns."""
    registered = {p.origin for p in peers_of(ledger)}
    with ledger.store.reader() as conn:
        places = ledger.store.locations(conn, {to for _, _, to, _ in shipments})
    out: dict[str, list[str]] = {}
    for ship, _lot, to, _qty in shipments:
        place = places.get(to)
        peer = place.details.get("peer") if place is not None else None
        if isinstance(peer, str) and peer in registered and ship not in out.get(peer, []):
            out.setdefault(peer, []).append(ship)
    return out


def notify_peers(ledger: Ledger, result: RecallResult, *,
                 tokens: Mapping[str, str]) -> dict[str, list[str]]:
    """Send each peer ledger the shipments of a recall (``result``, its ``recall`` records in
    a signed checkpoint) went to a notice of each of those records; return the peers notified
    and their ships. Raises :class:`PeerError` naming the first peer that refused or did not
    answer."""
    reached = peers_reached(ledger, result.in_transit)
    urls = {p.origin: p.url for p in peers_of(ledger)}
    recall_events = [r.event_id for r in result.receipts
                     if ledger.record(r.seq).kind == "recall"] if reached else []
    notices = [recall_notice(ledger, event) for event in recall_events]
    for origin in sorted(reached):
        for notice in notices:
            try:
                send_notice(urls[origin], tokens.get(origin), notice)
            except PeerError as e:
                raise PeerError(f"peer {origin!r}: the recall is recorded here, but its notice "
                                f"was not delivered ({e}); send it with `tracelib peer "
                                f"notify --peer {origin} --recall {notice['recall_event']}`"
                                ) from e
    return reached
