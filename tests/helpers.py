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


# --- Integrity-suite helpers (test_ledger, test_tamper, test_crash, test_concurrency) ---------

def record_rows(ledger: Ledger) -> list[dict[str, Any]]:
    """Every stored record row, in seq order, straight from the table."""
    from sqlalchemy import select

    from tracelib.store.schema import records

    with ledger.store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(records).order_by(records.c.seq)).mappings()]


def leaves_from_bytes(ledger: Ledger) -> list[bytes]:
    """Leaf hashes recomputed in memory from each stored record's bytes (not the hash column)."""
    from tracelib.record import Record

    return [Record.from_row(row).computed_hash() for row in record_rows(ledger)]


def stored_event_ids(ledger: Ledger, ids: list[str]) -> set[str]:
    """Which of ``ids`` are stored in the records table."""
    from sqlalchemy import select

    from tracelib.store.schema import records

    found: set[str] = set()
    with ledger.store.engine.connect() as conn:
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            found.update(conn.execute(select(records.c.event_id)
                                      .where(records.c.event_id.in_(part))).scalars())
    return found


def rechain(ledger: Ledger, start: int = 0) -> None:
    """Rewrite history as an attacker with write access would: recompute ``hash`` of every
    record from ``start`` on (and ``prev_hash`` of each after ``start``; the one at ``start``
    keeps its stored value) from the stored columns, then rebuild every stored subtree hash
    from the leaves. Checkpoints are left alone."""
    from sqlalchemy import delete, insert, select, update

    from tracelib import merkle
    from tracelib.record import GENESIS_PREV, Record
    from tracelib.store.schema import nodes, records

    rows = record_rows(ledger)
    built: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    with ledger.store.engine.begin() as conn:
        prev = GENESIS_PREV
        for row in rows:
            if row["seq"] == start:
                prev = bytes(row["prev_hash"])
            if row["seq"] >= start:
                row = {**row, "prev_hash": prev}
                digest = Record.from_row({**row, "hash": b""}).computed_hash()
                conn.execute(update(records).where(records.c.seq == row["seq"])
                             .values(prev_hash=prev, hash=digest))
            else:
                digest = bytes(row["hash"])
            leaves.append(digest)
            prev = digest
        tree = merkle.CompactRange(0, 0)
        tree.extend(leaves, lambda level, idx, h: built.append(
            {"level": level, "idx": idx, "hash": h}))
        conn.execute(delete(nodes))
        if built:
            conn.execute(insert(nodes), built)
        # sanity: what we wrote is what we meant
        assert conn.execute(select(records.c.hash).where(
            records.c.seq == len(rows) - 1)).scalar() == leaves[-1]


def forge_row(seq: int, prev: bytes, doc: dict[str, Any],
              recorded_at: str = "2026-11-22T06:00:00.000000Z") -> dict[str, Any]:
    """A well-formed record row for a signed event doc at ``seq`` after ``prev``
    (hash computed), as an attacker holding the signer's key could write it."""
    from tracelib.events import Event
    from tracelib.record import Record

    event = Event.from_dict(doc)
    assert event.sig is not None
    record = Record(seq, event.id, event.kind, event.actor, event.location, event.time_text,
                    prev, b"", event.body, event.sig.key, event.sig.value, recorded_at)
    row = record.to_row()
    row["hash"] = record.computed_hash()
    return row


def write_script(path: Any, source: str) -> str:
    """Write a child-process script (multiprocessing's spawn needs a real file) and return
    its path; the child imports tracelib from this checkout."""
    import pathlib
    import textwrap

    target = pathlib.Path(path)
    target.write_text(textwrap.dedent(source), encoding="utf-8")
    return str(target)


def child_env() -> dict[str, str]:
    """Environment for child interpreters: this checkout first on sys.path."""
    import os
    import pathlib

    root = str(pathlib.Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def certificate(lot: str) -> dict[str, Any]:
    """A complete origin certificate (docs/contract.md ``origin``: 食用农产品承诺达标合格证)."""
    return {"no": f"CERT-{lot}", "product": "豇豆", "producer": "云阳县红狮镇蔬菜合作社",
            "origin_place": "重庆市云阳县红狮镇", "issued_at": "2026-11-22T06:30:00+08:00",
            "commitments": ["no_banned_pesticides", "residues_within_limits"],
            "basis": "self_test"}


def origin_event(net: Network, lot: str, qty: str = "100", *, sign: bool = True,
                 **extra: Any) -> dict[str, Any]:
    """farm-1's origin event making ``lot`` (a new lot: the bulk record of these suites)."""
    body = {"kind": "origin", "location": "farm-1.field",
            "outputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
            "data": {"certificate": certificate(lot)}, **extra}
    return net.event("farm-1", body, sign=sign)


# --- Supply-chain helpers (test_supply_rules, test_trace, test_cli_supply) -------------------

SUPPLY_SITES = (
    # party, name, role, location, location type, parent location
    ("abattoir-1", "云阳县生猪定点屠宰场", "abattoir", "abattoir-1", "abattoir", None),
    ("wholesale-1", "重庆双福农产品批发市场", "wholesaler", "wholesale-1", "wholesale_market", None),
    ("importer-1", "重庆果园港进口冷链", "importer", "port-1", "port", None),
    ("market-2", "云阳县城北农贸市场", "market", "market-2", "market", None),
    ("stall-a02", "李记鲜肉", "stall", "stall-a02", "stall", "market-1"),
    ("stall-b01", "王记鲜肉", "stall", "stall-b01", "stall", "market-2"),
    ("stall-b02", "陈记鲜肉", "stall", "stall-b02", "stall", "market-2"),
    ("stall-b03", "刘记鲜肉", "stall", "stall-b03", "stall", "market-2"),
)
IMPORT_DOCS_FULL = {"customs_declaration": "CD-500120261122", "inspection_cert": "IQ-2026-0042",
                    "disinfection_cert": "XD-2026-0042"}


def supply_certificate(lot: str, **over: Any) -> dict[str, Any]:
    """A complete origin certificate (docs/contract.md ``origin``) for ``lot``."""
    cert: dict[str, Any] = {
        "no": f"HGZ-{lot}", "product": "生猪", "producer": "云阳县红狮镇生猪养殖合作社",
        "origin_place": "重庆市云阳县红狮镇", "issued_at": "2026-11-20T05:00:00+08:00",
        "commitments": ["不使用禁用药物", "兽药残留不超标"], "basis": "self_test"}
    cert.update(over)
    return cert


def lot_items(items: Any, unit: str = "kg") -> list[dict[str, str]]:
    """``[("LOT", "10"), ("LOT2", "3", "head")]`` → docs/contract.md ``inputs`` / ``outputs``."""
    out = []
    for item in items:
        lot, qty, *rest = item
        out.append({"lot": lot, "qty": qty, "unit": rest[0] if rest else unit})
    return out


class Supply:
    """Signed supply-chain events with deterministic ids and times on a :class:`Network`
    extended by :data:`SUPPLY_SITES` (abattoir, wholesale market, port, 2 markets, 5 stalls).

    Builders return signed event dicts (nothing is appended); :meth:`add` appends them
    in one batch. The actor is the holder of the event's location unless given.
    """

    TZ = "+08:00"

    def __init__(self, net: Network, *, prefix: str = "") -> None:
        self.net = net
        self.prefix = prefix
        self.count = 0
        self.holders = {loc: party for party, _, _, loc, _ in Network.PARTIES}
        self.holders.update({loc: party for party, _, _, loc, _, _ in SUPPLY_SITES})
        self.holders["operator.office"] = "operator"

    @classmethod
    def build(cls, net: Network, *, prefix: str = "") -> Supply:
        parties, locations, keys = [], [], []
        for party, name, role, loc, loc_type, parent in SUPPLY_SITES:
            key = SigningKey.generate()
            net.keys[party] = key
            parties.append({"id": party, "name": name, "role": role})
            location: dict[str, Any] = {"id": loc, "name": name, "type": loc_type, "holder": party}
            if parent:
                location["parent"] = parent
            locations.append(location)
            keys.append({"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
                         "valid_from": "2026-01-01T00:00:00+08:00"})
        net.append_as("operator", {"kind": "register", "location": "operator.office",
                                   "data": {"parties": parties, "locations": locations,
                                            "keys": keys}})
        return cls(net, prefix=prefix)

    @property
    def ledger(self) -> Ledger:
        return self.net.ledger

    def event(self, kind: str, location: str, *, inputs: Any = (), outputs: Any = (),
              data: dict[str, Any] | None = None, actor: str | None = None,
              time: str | None = None, id: str | None = None, unit: str = "kg",
              sign: bool = True) -> dict[str, Any]:
        self.count += 1
        if time is None:  # one event every 10 minutes from 2026-11-20 06:00 (+08:00)
            minutes = 6 * 60 + 10 * self.count
            day, minutes = divmod(minutes, 24 * 60)
            time = f"2026-11-{20 + day:02d}T{minutes // 60:02d}:{minutes % 60:02d}:00{self.TZ}"
        actor = actor or self.holders[location]
        doc: dict[str, Any] = {"id": id or f"{self.prefix}{kind}-{self.count:03d}", "kind": kind,
                               "time": time, "actor": actor, "location": location,
                               "inputs": lot_items(inputs, unit),
                               "outputs": lot_items(outputs, unit), "data": data or {}}
        if not sign:
            return doc
        key = self.net.operator_key if actor == "operator" else self.net.keys[actor]
        return sign_event(doc, key)

    def add(self, *events: dict[str, Any]) -> Any:
        return self.ledger.append(list(events), now=self.net.now)

    # -- one builder per kind ---------------------------------------------------------
    def origin(self, lot: str, qty: str, unit: str = "kg", *, location: str = "farm-1.field",
               cert: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
        return self.event("origin", location, outputs=[(lot, qty, unit)],
                          data={"certificate": cert or supply_certificate(lot), **data})

    def slaughter(self, inputs: Any, outputs: Any, *, location: str = "abattoir-1",
                  **data: Any) -> dict[str, Any]:
        body = {"quarantine_cert": "DJ-5001-2026-0001", "meat_inspection_cert": "RJ-5001-2026-0001",
                "asf_report": "ASF-5001-2026-0001", "storage": "chilled", **data}
        return self.event("slaughter", location, inputs=inputs, outputs=outputs,
                          data={k: v for k, v in body.items() if v is not None})

    def ship(self, src: str, dst: str, items: Any, *, time: str | None = None,
             **data: Any) -> dict[str, Any]:
        return self.event("ship", src, inputs=items, data={"to": dst, **data}, time=time)

    def receive(self, ship: dict[str, Any], items: Any = None, *, at: str | None = None,
                src: str | None = None, ship_event: str | None = None,
                time: str | None = None) -> dict[str, Any]:
        where = at or ship["data"]["to"]
        if items is None:
            items = [(i["lot"], i["qty"], i["unit"]) for i in ship["inputs"]]
        return self.event("receive", where, inputs=items, time=time,
                          data={"from": src or ship["location"],
                                "ship_event": ship_event or ship["id"]})

    def move(self, src: str, dst: str, items: Any, **data: Any) -> list[dict[str, Any]]:
        """A ship and the receive that closes it."""
        ship = self.ship(src, dst, items, **data)
        return [ship, self.receive(ship)]

    def transform(self, location: str, inputs: Any, outputs: Any, process: str = "split",
                  **data: Any) -> dict[str, Any]:
        return self.event("transform", location, inputs=inputs, outputs=outputs,
                          data={"process": process, **data})

    def sale(self, location: str, items: Any, receipt: str | None = None) -> dict[str, Any]:
        return self.event("sale", location, inputs=items,
                          data={"receipt": receipt or f"R-{self.count + 1:05d}"})

    def hold(self, location: str, items: Any, reason: str = "快检阳性",
             **data: Any) -> dict[str, Any]:
        return self.event("hold", location, inputs=items, data={"reason": reason, **data})

    def release(self, location: str, items: Any, reason: str = "复检合格",
                **data: Any) -> dict[str, Any]:
        return self.event("release", location, inputs=items, data={"reason": reason, **data})

    def recall(self, location: str, items: Any, reason: str = "召回",
               **data: Any) -> dict[str, Any]:
        return self.event("recall", location, inputs=items, data={"reason": reason, **data},
                          actor="operator")


def supply_snapshot(ledger: Ledger) -> dict[str, Any]:
    """The ledger size and every row of the supply-chain indexes, sorted (to show a
    rejected append changed nothing)."""
    from sqlalchemy import select

    from tracelib.store.schema import excursions, lot_edges, lot_events, lots, shipments, stock

    with ledger.store.engine.connect() as conn:
        tables = {t.name: sorted(tuple(r) for r in conn.execute(select(t)))
                  for t in (lots, stock, shipments, lot_edges, lot_events, excursions)}
    return {"size": ledger.size, **tables}
