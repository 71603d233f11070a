"""The OpenAPI document's limits, walked (docs/contract.md "Limits"): for every string field
with a ``maxLength`` of every kind's ``data`` (``EventData.<kind>``), of the envelope and of
its ``{lot, qty, unit}`` items, and for every bounded list and the largest quantity, a value
at the limit is accepted (or refused by a rule about that very field, 4xx naming it) and a
value one past it is refused naming the field — through the API, on SQLite and on
PostgreSQL, never a 500."""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.helpers import Network, Supply, certificate
from tracelib.events import sign_event
from tracelib.federation import LedgerPeer, peer_entry_event
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib.note import CosignatureVerifier, NoteVerifier
from tracelib_service import create_app
from tracelib_service.openapi import DATA_SCHEMA_PREFIX, openapi_document
from tracelib_service.tokens import issue_token

DOC = openapi_document()
SCHEMAS = DOC["components"]["schemas"]
MAX_QTY = "999999999999.999999"  # LotQuantity.qty: 12 digits before the point, 6 after
# Lists longer than this are not walked through the API (a body is at most 1 MiB): the
# register lists (10,000 items) are checked by the schema tests.
WALKED_ITEMS = 1000
_n = itertools.count(1)
_PEER = "tracelib/walk-peer"
_WITNESS_VKEY = CosignatureVerifier.for_key("county-w1", SigningKey.generate().public).to_string()
Limit = tuple[str, str, int]  # (path, "length" | "items", limit)


def _limits(schema: dict[str, Any], path: str) -> Iterator[Limit]:
    """Every bounded string and list under ``schema``, as paths like ``data.a[0].b``."""
    if "$ref" in schema:
        return
    if schema.get("type") == "string" and "maxLength" in schema:
        yield path, "length", schema["maxLength"]
    if schema.get("type") == "array":
        if "maxItems" in schema and schema["maxItems"] <= WALKED_ITEMS:
            yield path, "items", schema["maxItems"]
        yield from _limits(schema["items"], f"{path}[0]")
    if schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            yield from _limits(sub, f"{path}.{name}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra.get("type") == "string":
            yield from _limits(extra, f"{path}.business")  # any key: a licence's


def _steps(path: str) -> list[str | int]:
    return [int(p[1:-1]) if p.startswith("[") else p
            for p in re.findall(r"\[\d+\]|[^.\[\]]+", path)]


def _get(doc: Any, path: str) -> Any:
    for step in _steps(path):
        doc = doc[step]
    return doc


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    steps = _steps(path)
    node: Any = doc
    for step, following in itertools.pairwise(steps):
        if isinstance(step, str) and step not in node:
            node[step] = [] if isinstance(following, int) else {}
        node = node[step]
    node[steps[-1]] = value


class World:
    """A network where one event of every kind is accepted, with a fresh lot for each."""

    def __init__(self, net: Network, client: FlaskClient, tokens: dict[str, str],
                 folder: Path) -> None:
        self.net, self.client, self.tokens, self.folder = net, client, tokens, folder
        self._peer: tuple[Ledger, SigningKey, Supply] | None = None

    def add(self, *events: dict[str, Any]) -> None:
        self.net.ledger.append(list(events), now=NOW)

    def lot_at_farm(self, qty: str = "100", unit: str = "kg") -> str:
        lot = f"LOT-W{next(_n)}"
        self.add(self.net.event("farm-1", {
            "kind": "origin", "location": "farm-1.field",
            "outputs": [{"lot": lot, "qty": qty, "unit": unit}],
            "data": {"certificate": certificate(lot), "storage": "chilled"}}))
        return lot

    def ship(self, sender: str, src: str, lot: str, dst: str, qty: str = "100",
             unit: str = "kg") -> dict[str, Any]:
        ship = self.net.event(sender, {"kind": "ship", "location": src, "data": {"to": dst},
                                       "inputs": [{"lot": lot, "qty": qty, "unit": unit}]})
        self.add(ship)
        return ship

    def deliver(self, dst: str, receiver: str, qty: str = "100", unit: str = "kg") -> str:
        lot = self.lot_at_farm(qty, unit)
        ship = self.ship("farm-1", "farm-1.field", lot, dst, qty, unit)
        self.add(self.net.event(receiver, {
            "kind": "receive", "location": dst, "data": {"from": "farm-1.field",
                                                         "ship_event": ship["id"]},
            "inputs": [{"lot": lot, "qty": qty, "unit": unit}]}))
        return lot

    def at_stall(self) -> str:
        return self.deliver("stall-a01", "stall-a01")

    def post(self, doc: dict[str, Any], *, as_party: str) -> tuple[int, dict[str, Any]]:
        response = self.client.post("/api/v1/events", json=[doc], headers={
            "Authorization": f"Bearer {self.tokens[as_party]}"})
        return response.status_code, response.get_json(silent=True) or {}

    # -- one accepted event of each kind, unsigned (the walk changes it, then signs it) ----
    def base(self, kind: str, path: str) -> dict[str, Any]:
        body = getattr(self, f"_{kind}")(path)
        return {"id": f"walk-{next(_n)}", "time": "2026-11-22T07:00:00+08:00", **body}

    def _register(self, path: str) -> dict[str, Any]:
        uid = f"walk-site-{next(_n)}"
        if ".keys" in path:
            key = SigningKey.generate()
            data = {"keys": [{"party": "farm-1", "key_id": key.key_id,
                              "public_key": key.public.base64(),
                              "valid_from": "2026-01-01T00:00:00+08:00"}]}
        elif ".revoke" in path:
            key = SigningKey.generate()
            self.add(self.net.event("operator", {
                "kind": "register", "location": "operator.office", "data": {"keys": [
                    {"party": "farm-1", "key_id": key.key_id, "public_key": key.public.base64(),
                     "valid_from": "2026-01-01T00:00:00+08:00"}]}}))
            data = {"revoke": [{"key_id": key.key_id, "revoked_at": "2026-11-22T06:00:00+08:00",
                                "reason": "rotation"}]}
        elif ".witnesses" in path:
            witness = CosignatureVerifier.for_key(uid, SigningKey.generate().public)
            data = {"witnesses": [{"name": uid, "vkey": witness.to_string(),
                                   "url": "https://witness.example.cn"}]}
        elif ".peers" in path:
            origin = f"tracelib/{uid}"
            peer = NoteVerifier.for_key(origin, SigningKey.generate().public)
            data = {"peers": [{"origin": origin, "vkey": peer.to_string(),
                               "url": "https://peer.example.cn",
                               "policy": f"witness w1 {_WITNESS_VKEY}\nquorum w1\n"}]}
        elif ".locations" in path:
            data = {"locations": [{"id": uid, "name": "新摊位", "type": "stall",
                                   "parent": "market-1", "holder": "stall-a01",
                                   "licences": {"business": "B-1"}, "address": "云阳县",
                                   "number": "A99"}]}
        else:
            data = {"parties": [{"id": uid, "name": "新农场", "role": "farm"}]}
        return {"kind": "register", "actor": "operator", "location": "operator.office",
                "data": data}

    def _origin(self, path: str) -> dict[str, Any]:
        lot = f"LOT-W{next(_n)}"
        cert = {**certificate(lot), "quantity": "100 kg", "contact": "023-0000"}
        data: dict[str, Any] = {"certificate": cert, "product": "豇豆", "storage": "chilled"}
        if ".import_docs" in path:
            data.update(imported=True, import_docs={"customs_declaration": "CD-1",
                                                    "inspection_cert": "IQ-1",
                                                    "disinfection_cert": "XD-1"})
        return {"kind": "origin", "actor": "farm-1", "location": "farm-1.field",
                "outputs": [{"lot": lot, "qty": "10", "unit": "kg"}], "data": data}

    def _peer_entry(self, path: str) -> dict[str, Any]:
        """A lot shipped in a peer ledger to this ledger's market, entering it: the peer
        (made on first use) ships a fresh lot each time and signs a checkpoint."""
        if self._peer is None:
            key = SigningKey.generate()
            peer = Ledger.create(self.folder / "walk-peer.db", operator_key=key,
                                 operator="operator", origin=_PEER,
                                 now=NOW - timedelta(days=1))
            supply = Supply.build(Network.build(peer, key, now=NOW - timedelta(hours=3)),
                                  prefix="a-")
            supply.net.append_as("operator", {
                "kind": "register", "location": "operator.office", "data": {"locations": [
                    {"id": "market-1", "name": "云阳县城南农贸市场", "type": "market",
                     "peer": self.net.ledger.origin}]}})
            self.add(self.net.event("operator", {
                "kind": "register", "location": "operator.office", "data": {"peers": [
                    {"origin": _PEER, "vkey": NoteVerifier.for_key(_PEER, key.public).to_string(),
                     "url": "http://127.0.0.1:1"}]}}))
            self._peer = (peer, key, supply)
        peer, key, supply = self._peer
        if ".consistency" in path:  # a second citation of the peer carries one: cite it once
            self.add(self.net.event("market-1", self._peer_entry("")))
        lot = f"LOT-P{next(_n)}"
        supply.add(supply.origin(lot, "10", location="port-1"))
        ship = supply.ship("port-1", "market-1", [(lot, "10")])
        supply.add(ship)
        peer.sign_checkpoint(key, now=NOW - timedelta(hours=2))
        doc = peer_entry_event(self.net.ledger, LedgerPeer(peer), ship_event=ship["id"],
                               location="market-1", actor="market-1", product="冻牛肉",
                               storage="frozen", event_id=f"walk-pe-{next(_n)}",
                               now=NOW - timedelta(hours=1))
        return {k: v for k, v in doc.items() if k not in ("id", "time", "sig")}

    def _slaughter(self, path: str) -> dict[str, Any]:
        pig = self.deliver("abattoir-1", "abattoir-1", qty="10", unit="head")
        return {"kind": "slaughter", "actor": "abattoir-1", "location": "abattoir-1",
                "inputs": [{"lot": pig, "qty": "1", "unit": "head"}],
                "outputs": [{"lot": f"LOT-W{next(_n)}", "qty": "80", "unit": "kg"}],
                "data": {"quarantine_cert": "A-1", "meat_inspection_cert": "RP-1",
                         "asf_report": "ASF-1", "product": "猪肉", "storage": "chilled"}}

    def _ship(self, path: str) -> dict[str, Any]:
        lot = self.lot_at_farm()
        data: dict[str, Any] = {"to": "coldstore-1", "vehicle": "渝F·7L302", "storage": "chilled",
                                "temperatures": [{"time": "2026-11-22T06:50:00+08:00",
                                                  "celsius": "3.5"}]}
        if ".import_docs" in path:
            data["import_docs"] = {"customs_declaration": "CD-1", "inspection_cert": "IQ-1",
                                   "disinfection_cert": "XD-1"}
        return {"kind": "ship", "actor": "farm-1", "location": "farm-1.field",
                "inputs": [{"lot": lot, "qty": "10", "unit": "kg"}], "data": data}

    def _receive(self, path: str) -> dict[str, Any]:
        lot = self.lot_at_farm()
        ship = self.ship("farm-1", "farm-1.field", lot, "stall-a01")
        return {"kind": "receive", "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": lot, "qty": "100", "unit": "kg"}],
                "data": {"from": "farm-1.field", "ship_event": ship["id"]}}

    def _transform(self, path: str) -> dict[str, Any]:
        lot = self.at_stall()
        return {"kind": "transform", "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": lot, "qty": "10", "unit": "kg"}],
                "outputs": [{"lot": f"LOT-W{next(_n)}", "qty": "10", "unit": "kg"}],
                "data": {"process": "repack", "product": "豇豆"}}

    def _sale(self, path: str) -> dict[str, Any]:
        return {"kind": "sale", "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": self.at_stall(), "qty": "1", "unit": "kg"}],
                "data": {"receipt": "R-1", "payment_ref": "PAY-1",
                         # priced only where the walk is about prices: a total ties the qty
                         **({"unit_prices": ["2.50"], "total": "2.50"}
                            if "unit_prices" in path or "total" in path else {})}}

    def _payment(self, path: str) -> dict[str, Any]:
        receipt = f"walk-receipt-{next(_n)}"
        return {"id": f"payment-{receipt}", "kind": "payment", "actor": "market-1",
                "location": "stall-a01",
                "data": {"receipt": receipt, "amount": "2.50", "provider_ref": "PAY-1",
                         "paid_at": "2026-11-22T06:59:00+08:00", "notification": "N-1",
                         "provider": "城南市场聚合支付"}}

    def _hold(self, path: str) -> dict[str, Any]:
        return {"kind": "hold", "actor": "market-1", "location": "stall-a01",
                "inputs": [{"lot": self.at_stall(), "qty": "100", "unit": "kg"}],
                "data": {"reason": "待查验"}}

    def _release(self, path: str) -> dict[str, Any]:
        hold = self.net.event("market-1", self._hold(path))
        self.add(hold)
        return {"kind": "release", "actor": "market-1", "location": "stall-a01",
                "inputs": hold["inputs"], "data": {"reason": "查验合格"}}

    def _recall(self, path: str) -> dict[str, Any]:
        lot = self.at_stall()
        return {"kind": "recall", "actor": "operator", "location": "operator.office",
                "inputs": [{"lot": lot, "qty": "100", "unit": "kg"}],
                "data": {"reason": "超标召回", "recall_of": lot}}

    def _dispose(self, path: str) -> dict[str, Any]:
        return {"kind": "dispose", "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": self.at_stall(), "qty": "1", "unit": "kg"}],
                "data": {"reason": "变质销毁"}}

    def _drill(self, path: str) -> dict[str, Any]:
        return {"kind": "drill", "actor": "operator", "location": "operator.office",
                "data": {"question": "从哪里来?", "lot": self.at_stall(), "answer_digest": "0" * 64,
                         "elapsed_ms": "12.5"}}

    def _rapid_test(self, path: str) -> dict[str, Any]:
        return {"kind": "rapid_test", "actor": "market-1", "location": "stall-a01",
                "data": {"sample": "S-1", "item": "有机磷和氨基甲酸酯类农药",
                         "method": "GB/T 5009.199-2003", "tester": "王芳",
                         "readings": {"delta_a0": "0.800", "delta_at": "0.760"},
                         "lot": self.at_stall(), "commodity": "豇豆", "reviewer": "李强",
                         "instrument": {"model": "RP-410", "serial": "YY-1"},
                         "retest": False, "test_no": "KJ-1"}}

    def _lab_test(self, path: str) -> dict[str, Any]:
        return {"kind": "lab_test", "actor": "market-1", "location": "stall-a01",
                "data": {"analyte": "毒死蜱", "commodity": "芹菜", "value": "0.01",
                         "unit": "mg/kg", "lab": "检测中心", "report_no": "R-1",
                         "lot": self.at_stall(), "sample": "S-1",
                         "method": "GB 23200.113-2018"}}

    def _inspection(self, path: str) -> dict[str, Any]:
        return {"kind": "inspection", "actor": "amr-1", "location": "stall-a01",
                "data": {"items": [{"name": "进货查验记录", "compliant": False, "note": "无凭证"}],
                         "result": "basically_compliant", "findings": "进货查验记录不全",
                         "rectification_deadline": "2026-11-29",
                         "inspectors": [{"name": "李明", "badge": "50023500123"}]}}

    def _rectification(self, path: str) -> dict[str, Any]:
        inspection = self.net.event("amr-1", self._inspection(path))
        self.add(inspection)
        return {"kind": "rectification", "actor": "stall-a01", "location": "stall-a01",
                "data": {"inspection": inspection["id"], "step": "report",
                         "measures": "已补全进货查验记录"}}

    def _plan(self, path: str) -> dict[str, Any]:
        return {"kind": "plan", "actor": "amr-1", "location": "amr-1.office",
                "data": {"year": 2026, "population": 120000, "area": "开州区",
                         "targets": [{"sampling": "evaluation", "category": "蔬菜",
                                      "stage": "circulation", "batches": 100}]}}

    def _entry(self, path: str) -> dict[str, Any]:
        return {"kind": "entry", "actor": "stall-a01", "location": "stall-a01",
                "outputs": [{"lot": f"ENT-W{next(_n)}", "qty": "30", "unit": "kg"}],
                "data": {"supplier": SUPPLIER, "product": "豇豆", "category": "vegetable",
                         "vouchers": [dict(VOUCHER)]}}

    def _reject(self, path: str) -> dict[str, Any]:
        if path in ("data.ship_event", "data.from"):  # a shipment of the ledger refused
            lot = self.lot_at_farm()
            ship = self.ship("farm-1", "farm-1.field", lot, "stall-a01")
            return {"kind": "reject", "actor": "stall-a01", "location": "stall-a01",
                    "inputs": ship["inputs"],
                    "data": {"reason": "温度超标", "ship_event": ship["id"],
                             "from": "farm-1.field"}}
        return {"kind": "reject", "actor": "stall-a01", "location": "stall-a01",
                "data": {"reason": "无合格证", "supplier": SUPPLIER, "product": "豇豆",
                         "category": "vegetable", "quantity": "50 kg",
                         "vouchers": [dict(VOUCHER)]}}

    def _return(self, path: str) -> dict[str, Any]:
        if ".supplier" in path:  # goods that entered here go back to their supplier
            entry = self.net.event("stall-a01", self._entry(path))
            self.add(entry)
            return {"kind": "return", "actor": "stall-a01", "location": "stall-a01",
                    "inputs": [{**entry["outputs"][0], "qty": "5"}],
                    "data": {"reason": "包装破损", "supplier": SUPPLIER}}
        return {"kind": "return", "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": self.at_stall(), "qty": "5", "unit": "kg"}],
                "data": {"reason": "包装破损", "to": "farm-1.field", "ship_event": "ship-w"}}

    def _limits(self, path: str) -> dict[str, Any]:
        table = ("pesticide_zh,pesticide_en,commodity_zh,commodity_en,mrl_mg_kg\n"
                 "毒死蜱,chlorpyrifos,芹菜,celery,0.05\n")
        return {"kind": "limits", "actor": "operator", "location": "operator.office",
                "data": {"version": f"walk-{next(_n)}", "csv": table}}


SUPPLIER = {"name": "重庆某某供应链公司", "licence": "JY15001234567890", "address": "重庆市云阳县",
            "contact": "023-55123456"}
VOUCHER = {"type": "合格证", "no": "HG-1", "issuer": "某蔬菜合作社", "issued_at": "2026-11-21"}

#: Limits a request body reaches first: a table's text at its 2,000,000 characters is past
#: the API's 1 MiB body limit (413, tests/service/test_bodies.py); tests/test_limits_event.py
#: walks it through the library.
PAST_THE_BODY_LIMIT = {("limits", "data.csv")}


def _walk() -> list[tuple[str, str, str, int]]:
    """(kind, path, what, limit) of every limit the document states for events."""
    cases = []
    for name, schema in SCHEMAS.items():
        if name.startswith(DATA_SCHEMA_PREFIX):
            kind = name[len(DATA_SCHEMA_PREFIX):]
            cases += [(kind, *limit) for limit in _limits(schema, "data")]
    envelope = {k: v for k, v in SCHEMAS["Event"]["properties"].items()
                if k not in ("inputs", "outputs", "data")}
    cases += [("origin", *limit) for limit in _limits(
        {"type": "object", "properties": envelope}, "")]
    cases += [("sale", *limit) for limit in _limits(SCHEMAS["LotQuantity"], "inputs[0]")]
    cases += [("origin", *limit) for limit in _limits(SCHEMAS["LotQuantity"], "outputs[0]")]
    return [(kind, path.lstrip("."), what, limit) for kind, path, what, limit in cases
            if (kind, path.lstrip(".")) not in PAST_THE_BODY_LIMIT]


CASES = _walk()


def _value(path: str, what: str, limit: int, base: dict[str, Any], past: bool) -> Any:
    if what == "items":
        item = _get(base, path)[0]
        return [copy.deepcopy(item) for _ in range(limit + past)]
    if path.endswith(".qty"):
        return "1" + "0" * 12 if past else MAX_QTY
    tag = f"{next(_n):05d}"
    return tag + "字" * (limit + past - len(tag))


@pytest.fixture
def world(network: Network, tmp_path: Path, db_url: str) -> Iterator[World]:
    net = network
    abattoir, regulator = SigningKey.generate(), SigningKey.generate()
    net.keys["abattoir-1"], net.keys["amr-1"] = abattoir, regulator
    net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": "abattoir-1", "name": "定点屠宰场", "role": "abattoir"},
                    {"id": "amr-1", "name": "市场监督管理局", "role": "regulator"}],
        "locations": [{"id": "abattoir-1", "name": "定点屠宰场", "type": "abattoir",
                       "holder": "abattoir-1"},
                      {"id": "amr-1.office", "name": "市场监督管理局", "type": "office",
                       "holder": "amr-1"}],
        "keys": [{"party": "abattoir-1", "key_id": abattoir.key_id,
                  "public_key": abattoir.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"},
                 {"party": "amr-1", "key_id": regulator.key_id,
                  "public_key": regulator.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    keystore = Keystore(tmp_path / "keys")
    keystore.save("operator", net.operator_key)
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                      "NOW": NOW})
    tokens = {party: issue_token(app, party) for party in (*net.keys, "operator")}
    world = World(net, app.test_client(), tokens, tmp_path)
    yield world
    app.extensions["tracelib"].close()
    if world._peer is not None:
        world._peer[0].close()


def _sign(world: World, actor: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Sign as ``actor`` (the base event's: a changed ``actor`` is refused before its
    signature is read)."""
    key = world.net.operator_key if actor == "operator" else world.net.keys[actor]

    def sign(doc: dict[str, Any]) -> dict[str, Any]:
        return sign_event(doc, key)
    return sign


def test_the_document_states_the_limits_the_walk_needs() -> None:
    walked = {(kind, path) for kind, path, _what, _limit in CASES}
    assert len(CASES) > 60
    for expected in [("origin", "data.certificate.product"), ("origin", "data.product"),
                     ("lab_test", "data.method"), ("rapid_test", "data.method"),
                     ("ship", "data.temperatures"), ("origin", "outputs[0].qty"),
                     ("origin", "id"), ("sale", "inputs[0].lot"),
                     ("register", "data.parties[0].name")]:
        assert expected in walked, expected


@pytest.mark.parametrize(("kind", "path", "what", "limit"), CASES,
                         ids=[f"{k}:{p}" for k, p, _w, _l in CASES])
def test_each_limit_holds_at_and_past_it(world: World, kind: str, path: str, what: str,
                                         limit: int) -> None:
    base = world.base(kind, path)
    sign = _sign(world, base["actor"])
    at = copy.deepcopy(base)
    if path == "id":
        at["id"] = _value(path, what, limit, base, past=False)
    else:
        _set(at, path, _value(path, what, limit, base, past=False))
    status, body = world.post(sign(at), as_party=base["actor"])
    if path == "actor":  # the token acts for one party: another actor is 403 either way
        assert status == 403
    else:
        assert status == 201 or (status == 422 and str(body.get("field", "")).startswith(
            path.split("[")[0] if what == "items" else path)), (status, body)
    past = copy.deepcopy(world.base(kind, path))
    _set(past, path, _value(path, what, limit, past, past=True))
    status, body = world.post(sign(past), as_party=base["actor"])
    if path == "actor":
        assert status == 403, (status, body)
        return
    assert status == 422 and body["code"] == "validation", (status, body)
    assert str(body["field"]).startswith(path), (path, body)
