"""Three ledgers that hand lots to each other — city A (with an import port), city B and a
wholesale market C — and the ground truth of the lots they share (docs/contract.md "Peers
and entries from another ledger")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tracelib.events import sign_event
from tracelib.federation import LedgerPeer, PeerSource, peer_entry_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib.note import NoteVerifier

from .helpers import Network, Supply

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
A, B, C = "tracelib/city-a", "tracelib/city-b", "tracelib/wholesale-c"
VALID = "2026-01-01T00:00:00+08:00"


@dataclass
class City:
    origin: str
    ledger: Ledger
    operator_key: SigningKey
    keys: dict[str, SigningKey] = field(default_factory=dict)
    count: int = 0

    @property
    def vkey(self) -> str:
        return NoteVerifier.for_key(self.origin, self.operator_key.public).to_string()

    def sign(self, actor: str, body: dict[str, Any]) -> dict[str, Any]:
        self.count += 1
        doc = {"id": f"{self.origin.split('/')[1]}-{body['kind']}-{self.count:03d}",
               "time": (NOW - timedelta(hours=3) + timedelta(minutes=self.count)).isoformat(),
               "actor": actor, **body}
        key = self.operator_key if actor == "operator" else self.keys[actor]
        return sign_event(doc, key)

    def add(self, *docs: dict[str, Any]) -> Any:
        return self.ledger.append(list(docs), now=NOW)

    def checkpoint(self) -> Any:
        return self.ledger.sign_checkpoint(self.operator_key, now=NOW)

    def register(self, parties: list[tuple[str, str, str]],
                 locations: list[dict[str, Any]]) -> None:
        keys = []
        for party, _name, _role in parties:
            self.keys[party] = SigningKey.generate()
            keys.append({"party": party, "key_id": self.keys[party].key_id,
                         "public_key": self.keys[party].public.base64(), "valid_from": VALID})
        self.add(self.sign("operator", {"kind": "register", "location": "operator.office",
                                        "data": {"parties": [{"id": p, "name": n, "role": r}
                                                             for p, n, r in parties],
                                                 "locations": locations, "keys": keys}}))

    def add_peer(self, other: City, url: str = "http://127.0.0.1:1") -> None:
        self.add(self.sign("operator", {"kind": "register", "location": "operator.office",
                                        "data": {"peers": [{"origin": other.origin,
                                                            "vkey": other.vkey, "url": url}]}}))


def city(tmp_path: Path, origin: str) -> City:
    key = SigningKey.generate()
    name = origin.split("/")[1]
    ledger = Ledger.create(tmp_path / f"{name}.db", operator_key=key, operator="operator",
                           origin=origin, now=NOW - timedelta(days=1),
                           blobs=tmp_path / f"{name}.blobs")
    return City(origin, ledger, key)


@dataclass
class Federation:
    a: City
    b: City
    c: City
    supply: Supply  # city A's supply chain (the port, its importer)

    @property
    def cities(self) -> dict[str, City]:
        return {c.origin: c for c in (self.a, self.b, self.c)}

    def close(self) -> None:
        for c in (self.a, self.b, self.c):
            c.ledger.close()


def build(tmp_path: Path) -> Federation:
    """Three ledgers, each registering the other two as peers; A's places standing for B's
    and C's receiving points."""
    a, b, c = city(tmp_path, A), city(tmp_path, B), city(tmp_path, C)
    net = Network.build(a.ledger, a.operator_key, now=NOW)
    supply = Supply.build(net, prefix="a-")
    a.keys = net.keys
    a.add(a.sign("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "b-market", "name": "B市农产品批发市场", "type": "wholesale_market",
                       "peer": B},
                      {"id": "c-wholesale", "name": "C批发市场", "type": "wholesale_market",
                       "peer": C}]}}))
    b.register([("b-market", "B市农产品批发市场", "market"), ("b-stall", "B市张记", "stall")],
               [{"id": "b-market", "name": "B市农产品批发市场", "type": "wholesale_market",
                 "holder": "b-market"},
                {"id": "b-stall", "name": "B市张记", "type": "stall", "parent": "b-market",
                 "holder": "b-stall"}])
    c.register([("c-wholesale", "C批发市场", "wholesaler"), ("c-shop", "C超市", "stall")],
               [{"id": "c-wholesale", "name": "C批发市场", "type": "wholesale_market",
                 "holder": "c-wholesale"},
                {"id": "c-shop", "name": "C超市", "type": "supermarket", "holder": "c-shop"}])
    for one in (a, b, c):
        for other in (a, b, c):
            if other is not one:
                one.add_peer(other)
    return Federation(a, b, c, supply)


def ship_from_a(fed: Federation) -> dict[str, dict[str, Any]]:
    """In A: a lot imported at the port, split, and shipped to B and to C; A signs a
    checkpoint. Returns the two ship events."""
    s = fed.supply
    s.add(s.origin("IMP-1", "400", location="port-1"))
    s.add(s.transform("port-1", [("IMP-1", "400")], [("IMP-1-B", "250"), ("IMP-1-C", "150")]))
    to_b = s.ship("port-1", "b-market", [("IMP-1-B", "250")])
    to_c = s.ship("port-1", "c-wholesale", [("IMP-1-C", "150")])
    s.add(to_b, to_c)
    fed.a.checkpoint()
    return {"b": to_b, "c": to_c}


def enter(target: City, source: PeerSource, ship_event: str, at: str,
          actor: str | None = None) -> dict[str, Any]:
    """The signed peer_entry bringing ``ship_event`` into ``target`` at ``at``."""
    target.count += 1
    doc = peer_entry_event(target.ledger, source, ship_event=ship_event, location=at,
                           actor=actor or at, product="冻牛肉", storage="frozen",
                           event_id=f"pentry-{target.count:03d}", now=NOW - timedelta(hours=1))
    return sign_event(doc, target.keys[actor or at])


def sell_in(fed: Federation) -> None:
    """B and C bring their lots in, move and sell some (A's ships must exist)."""
    fed.b.add(enter(fed.b, LedgerPeer(fed.a.ledger), "a-ship-003", "b-market"))
    fed.c.add(enter(fed.c, LedgerPeer(fed.a.ledger), "a-ship-004", "c-wholesale"))
    move_and_sell(fed)


def move_and_sell(fed: Federation) -> None:
    """After the entries: B and C each move part of their lot to a shop and sell some."""
    for one, lot, src, dst, moved, sold in ((fed.b, "IMP-1-B", "b-market", "b-stall", "40", "15"),
                                            (fed.c, "IMP-1-C", "c-wholesale", "c-shop", "30",
                                             "10")):
        ship = one.sign(src, {"kind": "ship", "location": src,
                              "inputs": [{"lot": lot, "qty": moved, "unit": "kg"}],
                              "data": {"to": dst}})
        one.add(ship)
        one.add(one.sign(dst, {"kind": "receive", "location": dst,
                               "inputs": [{"lot": lot, "qty": moved, "unit": "kg"}],
                               "data": {"from": src, "ship_event": ship["id"]}}))
        one.add(one.sign(dst, {"kind": "sale", "location": dst,
                               "inputs": [{"lot": lot, "qty": sold, "unit": "kg"}],
                               "data": {"receipt": f"{dst}-R-1"}}))
        one.checkpoint()


#: The ground truth of the scenario of :func:`ship_from_a` and :func:`sell_in`: the lots in
#: each ledger of the family of IMP-1, and every movement as (ledger, kind, lot, qty, where,
#: to).
FAMILY = {(A, "IMP-1"), (A, "IMP-1-B"), (A, "IMP-1-C"), (B, "IMP-1-B"), (C, "IMP-1-C")}
MOVES = {
    (A, "origin", "IMP-1", "400", "port-1", None),
    (A, "transform", "IMP-1", "400", "port-1", None),
    (A, "transform", "IMP-1-B", "250", "port-1", None),
    (A, "transform", "IMP-1-C", "150", "port-1", None),
    (A, "ship", "IMP-1-B", "250", "port-1", "b-market"),
    (A, "ship", "IMP-1-C", "150", "port-1", "c-wholesale"),
    (B, "peer_entry", "IMP-1-B", "250", "b-market", None),
    (B, "ship", "IMP-1-B", "40", "b-market", "b-stall"),
    (B, "receive", "IMP-1-B", "40", "b-stall", None),
    (B, "sale", "IMP-1-B", "15", "b-stall", None),
    (C, "peer_entry", "IMP-1-C", "150", "c-wholesale", None),
    (C, "ship", "IMP-1-C", "30", "c-wholesale", "c-shop"),
    (C, "receive", "IMP-1-C", "30", "c-shop", None),
    (C, "sale", "IMP-1-C", "10", "c-shop", None),
}


def truth_for(lot_at: tuple[str, str]) -> tuple[set[tuple[str, str]], set[tuple[Any, ...]]]:
    """The family and movements a drill of (ledger, lot) must find: the lot, its ancestors
    and descendants in every ledger (a sibling's branch is not the lot's family)."""
    if lot_at[1] == "IMP-1":
        return FAMILY, MOVES
    branch = lot_at[1]  # IMP-1-B or IMP-1-C: its own branch, and IMP-1 above it
    family = {(o, lot) for o, lot in FAMILY if lot in ("IMP-1", branch)}
    moves = {m for m in MOVES if m[2] in ("IMP-1", branch)}
    return family, moves


def moves_of(drill: Any) -> set[tuple[Any, ...]]:
    return {(m.ledger, m.kind, m.lot, f"{m.qty.normalize():f}", m.location, m.to)
            for part in drill.parts.values() for m in part.movements}
