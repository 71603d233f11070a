"""Test helpers: a small registered network and event builders."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracelib.events import sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger

_ids = itertools.count()


@dataclass
class Network:
    """Parties (with keys) and locations registered in a fresh ledger."""

    ledger: Ledger
    operator_key: SigningKey
    now: datetime
    keys: dict[str, SigningKey] = field(default_factory=dict)

    PARTIES = (("farm-1", "云阳县红狮镇蔬菜合作社", "farm", "farm-1.field", "farm"),
               ("carrier-1", "重庆冷链物流", "carrier", "coldstore-1", "coldstore"),
               ("market-1", "云阳县城南农贸市场", "market", "market-1", "market"),
               ("stall-a01", "张记蔬菜", "stall", "stall-a01", "stall"))

    @classmethod
    def build(cls, ledger: Ledger, operator_key: SigningKey, *, now: datetime) -> Network:
        net = cls(ledger, operator_key, now)
        parties, locations, keys = [], [], []
        for party, name, role, loc, loc_type in cls.PARTIES:
            key = SigningKey.generate()
            net.keys[party] = key
            parties.append({"id": party, "name": name, "role": role})
            location: dict[str, Any] = {"id": loc, "name": name, "type": loc_type, "holder": party}
            if loc_type == "stall":
                location["parent"] = "market-1"
                location["licences"] = {"business": "91500235MA5U0001", "food": "JY15002350000001"}
            locations.append(location)
            keys.append({"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
                         "valid_from": "2026-01-01T00:00:00+08:00"})
        net.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"parties": parties, "locations": locations,
                                            "keys": keys}})
        return net

    def event(self, actor: str, body: dict[str, Any], *, sign: bool = True,
              key: SigningKey | None = None) -> dict[str, Any]:
        doc = {"id": f"ev-{next(_ids)}", "time": "2026-11-22T07:00:00+08:00", "actor": actor,
               **body}
        signer = key or (self.operator_key if actor == "operator" else self.keys[actor])
        return sign_event(doc, signer) if sign else doc

    def append_as(self, actor: str, body: dict[str, Any]) -> Any:
        return self.ledger.append([self.event(actor, body)], now=self.now)

    def origin(self, lot: str, qty: str = "100", **extra: Any) -> dict[str, Any]:
        return self.event("farm-1", {"kind": "origin", "location": "farm-1.field",
                                     "outputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
                                     "data": {"certificate": {"no": f"CERT-{lot}"}}, **extra})
