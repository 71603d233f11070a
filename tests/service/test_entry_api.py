"""Goods entering from outside the ledger through the API (docs/contract.md "entry",
"reject", "return"): an entry posted by the stall is appended and its lot's trace starts at
it; a voucher whose scan is not named ``sha256:<64 lowercase hex>`` is a 422 naming the
field; a return to the supplier; the stall reads its entry in full."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import STALL, Scene
from tracelib.blobs import blob_name
from tracelib_service.tokens import issue_token

SCAN_BYTES = "%PDF-1.4 动物检疫合格证明 5001234567".encode()
SCAN = blob_name(SCAN_BYTES)
VOUCHERS = [{"type": "动物检疫合格证明", "no": "5001234567", "file": SCAN},
            {"type": "肉品品质检验合格证", "no": "RJ-0031"}]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(client: FlaskClient, events: list[dict[str, Any]], token: str) -> Any:
    return client.post("/api/v1/events", data=json.dumps(events, ensure_ascii=False),
                       headers=_auth(token), content_type="application/json")


def _upload_scan(client: FlaskClient, token: str) -> None:
    """The voucher's scan goes into the blob store before the entry that cites it."""
    r = client.put(f"/api/v1/blobs/{SCAN}", data=SCAN_BYTES, headers=_auth(token))
    assert r.status_code in (200, 201), r.get_data(as_text=True)


def _entry(event_id: str, lot: str, vouchers: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": event_id, "kind": "entry", "time": "2026-11-22T06:10:00+08:00", "actor": STALL,
            "location": STALL, "outputs": [{"lot": lot, "qty": "30", "unit": "kg"}],
            "data": {"supplier": {"name": "重庆某某食品有限公司", "licence": "JY15001234567890"},
                     "product": "鲜猪肉", "category": "meat", "vouchers": vouchers}}


def test_an_entry_through_the_api_starts_its_lots_trace(client: FlaskClient, scene: Scene,
                                                        app: Flask) -> None:
    token = issue_token(app, STALL)
    early = _post(client, [scene.net.event(STALL, _entry("entry-api-1", "ENT-API-1", VOUCHERS))],
                  token)
    assert early.status_code == 422 and early.json["field"] == "data.vouchers[0].file"
    assert "is not in the blob store" in early.json["detail"]
    _upload_scan(client, token)
    r = _post(client, [scene.net.event(STALL, _entry("entry-api-1", "ENT-API-1", VOUCHERS))],
              token)
    assert r.status_code == 201, r.get_data(as_text=True)
    # the stall that cited the scan reads it back with its own token
    own = client.get(f"/api/v1/blobs/{SCAN}", headers=_auth(token), buffered=True)
    assert own.status_code == 200 and own.data == SCAN_BYTES
    reader = _auth(issue_token(app, "operator", scopes=["read:all"]))
    up = client.get("/api/v1/lots/ENT-API-1/trace", headers=reader).json["upstream"]
    [entry] = up["entries"]
    assert (entry["event"], entry["supplier"]["licence"], entry["vouchers"][0]["file"]) == (
        "entry-api-1", "JY15001234567890", SCAN)
    # a return of part of it to the supplier, then the rest refused nowhere: stock 25 kg
    back = {"id": "return-api-1", "kind": "return", "time": "2026-11-22T10:00:00+08:00",
            "actor": STALL, "location": STALL,
            "inputs": [{"lot": "ENT-API-1", "qty": "5", "unit": "kg"}],
            "data": {"reason": "包装破损", "supplier": {"name": "重庆某某食品有限公司"}}}
    assert _post(client, [scene.net.event(STALL, back)], token).status_code == 201
    [place] = [loc for loc in client.get("/api/v1/lots/ENT-API-1/trace", headers=reader)
               .json["downstream"]["locations"] if loc["location"] == STALL]
    assert place["on_hand"] == "25"
    assert scene.ledger.verify(workers=1).ok


def test_a_bad_scan_name_is_422_naming_the_field(client: FlaskClient, scene: Scene,
                                                 app: Flask) -> None:
    bad = [{**VOUCHERS[0], "file": "sha256:" + "0F" * 32}, VOUCHERS[1]]
    r = _post(client, [scene.net.event(STALL, _entry("entry-api-2", "ENT-API-2", bad))],
              issue_token(app, STALL))
    assert r.status_code == 422
    assert r.json["field"] == "data.vouchers[0].file"
    assert "64 lowercase hexadecimal" in r.json["detail"]
    missing = _post(client, [scene.net.event(STALL, _entry("entry-api-3", "ENT-API-3",
                                                           VOUCHERS[:1]))],
                    issue_token(app, STALL))
    assert missing.status_code == 422 and missing.json["field"] == "data.vouchers"
    assert "肉品品质检验合格证 missing" in missing.json["detail"]


def test_the_stall_reads_its_entry_in_full(client: FlaskClient, scene: Scene,
                                          app: Flask) -> None:
    token = issue_token(app, STALL)
    _upload_scan(client, token)
    assert _post(client, [scene.net.event(STALL, _entry("entry-api-4", "ENT-API-4", VOUCHERS))],
                 token).status_code == 201
    own = client.get("/api/v1/lots/ENT-API-4/trace", headers=_auth(token))
    assert own.json["upstream"]["entries"][0]["vouchers"] == VOUCHERS
    farm = client.get("/api/v1/lots/ENT-API-4/trace", headers=_auth(issue_token(app, "farm-1")))
    assert farm.status_code == 403  # no lot of the farm's is in its line


def test_the_stall_page_shows_where_goods_from_outside_came_from(
        client: FlaskClient, scene: Scene, app: Flask) -> None:
    """A shopper scanning the stall sees the supplier's name and the vouchers checked at
    entry for goods that came in from outside the ledger — never the supplier's licence or
    contact, a voucher's number or its scan."""
    token = issue_token(app, STALL)
    _upload_scan(client, token)
    assert _post(client, [scene.net.event(STALL, _entry("entry-api-5", "ENT-API-5", VOUCHERS))],
                 token).status_code == 201
    scan = client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json
    [item] = [i for i in scan["on_hand"] if i["lot"] == "ENT-API-5"]
    assert item["origin"] is None
    assert item["entries"] == [{
        "lot": "ENT-API-5", "event": "entry-api-5", "seq": item["entries"][0]["seq"],
        "location": STALL, "product": "鲜猪肉", "category": "meat",
        "supplier": {"name": "重庆某某食品有限公司"},
        "vouchers": [{"type": "动物检疫合格证明"}, {"type": "肉品品质检验合格证"}]}]
    assert {"seq": item["entries"][0]["seq"], "what": "entry"} in [
        {k: p[k] for k in ("seq", "what")} for p in scan["proofs"]]
    zh = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "进货来源：重庆某某食品有限公司" in zh and "动物检疫合格证明、肉品品质检验合格证" in zh
    assert "JY15001234567890" not in zh and "5001234567" not in zh
    en = client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    assert "Supplier: 重庆某某食品有限公司" in en
    assert "Animal quarantine certificate, Meat quality certificate" in en
    assert "动物检疫合格证明" not in en
