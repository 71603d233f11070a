"""No personal data, no receipts and no other party's volumes in any anonymous answer
(docs/contract.md "Who may read what").

A farmer's mobile number, an ID number (居民身份证号, GB 11643-1999 form with a valid check
digit) and the farmer's own name are planted in an origin certificate; a tester's and a
reviewer's names in a rapid test; a receipt in a sale; quantities only the parties that
traded them may know in the shipments. Every endpoint and page a shopper can reach, as
HTML and as JSON, is then asked about the lot, the stall and the market, and searched
for each of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.service.conftest import ENZYME, STALL, Scene

LOT = "LOT-PRIV-0001"
GTIN = "06901234567892"
PHONE = "13912345678"
ID_NUMBER = "500235198001011234"  # 17 digits + the ISO 7064 MOD 11-2 check digit "4"
FARMER = "李大山"
TESTER, REVIEWER = "王小明", "赵晓红"
RECEIPT = "RCPT-PRIVATE-7788"
# Volumes between other parties: the farm's shipment to the cold store, the cold store's
# to the stall, and the stall's sale.
VOLUMES = ("41.375", "30.5", "3.25")

SECRETS = (PHONE, ID_NUMBER, FARMER, TESTER, REVIEWER, RECEIPT, *VOLUMES)


def _id_check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def test_the_planted_id_number_has_a_valid_form() -> None:
    assert len(ID_NUMBER) == 18 and _id_check_digit(ID_NUMBER[:17]) == ID_NUMBER[17]


@pytest.fixture
def planted(scene: Scene) -> Scene:
    s = scene
    s.pending = []
    cert = {"no": "HGZ-PRIV-1", "product": "豇豆", "producer": FARMER,
            "origin_place": "重庆市云阳县红狮镇", "issued_at": "2026-11-22T06:30:00+08:00",
            "commitments": ["不使用禁用农药兽药、停用兽药和非法添加物"], "basis": "self_test",
            "contact": f"{FARMER} {PHONE}", "id_number": ID_NUMBER,
            "quantity": f"{VOLUMES[0]} kg"}
    s.add("farm-1", {"id": "origin-priv", "kind": "origin", "time": "2026-11-22T05:00:00+08:00",
                     "location": "farm-1.field",
                     "outputs": [{"lot": LOT, "qty": VOLUMES[0], "unit": "kg"}],
                     "data": {"certificate": cert, "gtin": GTIN, "storage": "chilled"}})
    s.add("farm-1", {"id": "ship-priv-1", "kind": "ship", "time": "2026-11-22T05:10:00+08:00",
                     "location": "farm-1.field",
                     "inputs": [{"lot": LOT, "qty": VOLUMES[0], "unit": "kg"}],
                     "data": {"to": "coldstore-1", "vehicle": f"渝F-12345 {FARMER}"}})
    s.add("carrier-1", {"id": "recv-priv-1", "kind": "receive",
                        "time": "2026-11-22T05:40:00+08:00", "location": "coldstore-1",
                        "inputs": [{"lot": LOT, "qty": VOLUMES[0], "unit": "kg"}],
                        "data": {"from": "farm-1.field", "ship_event": "ship-priv-1"}})
    s.add("carrier-1", {"id": "ship-priv-2", "kind": "ship", "time": "2026-11-22T06:00:00+08:00",
                        "location": "coldstore-1",
                        "inputs": [{"lot": LOT, "qty": VOLUMES[1], "unit": "kg"}],
                        "data": {"to": STALL}})
    s.add(STALL, {"id": "recv-priv-2", "kind": "receive", "time": "2026-11-22T06:30:00+08:00",
                  "location": STALL, "inputs": [{"lot": LOT, "qty": VOLUMES[1], "unit": "kg"}],
                  "data": {"from": "coldstore-1", "ship_event": "ship-priv-2"}})
    s.add("market-1", {"id": "rt-priv", "kind": "rapid_test", "time": "2026-11-22T07:40:00+08:00",
                       "location": STALL,
                       "data": {"sample": "豇豆", **ENZYME, "tester": TESTER, "reviewer": REVIEWER,
                                "readings": {"delta_a0": "0.800", "delta_at": "0.700"},
                                "lot": LOT, "commodity": "豇豆"}})
    s.add(STALL, {"id": "sale-priv", "kind": "sale", "time": "2026-11-22T08:30:00+08:00",
                  "location": STALL, "inputs": [{"lot": LOT, "qty": VOLUMES[2], "unit": "kg"}],
                  "data": {"receipt": RECEIPT, "payment_ref": f"PAY-{PHONE}"}})
    s.flush()
    return s


def _anonymous_requests() -> list[tuple[str, dict[str, str]]]:
    html = {"Accept": "text/html"}
    as_json = {"Accept": "application/json"}
    out: list[tuple[str, dict[str, str]]] = []
    for url in (f"/s/{STALL}", f"/l/{LOT}", f"/01/{GTIN}/10/{LOT}", "/m/market-1/board"):
        out += [(url, html), (url, as_json), (url + "?lang=en", html)]
    for link_type in ("gs1:pip", "gs1:traceability", "gs1:epcis", "linkset",
                      "https://gs1.org/voc/traceability"):
        out.append((f"/01/{GTIN}/10/{LOT}?linkType={link_type}", as_json))
        out.append((f"/l/{LOT}?linkType={link_type}", as_json))
    out += [(f"/api/v1/stalls/{STALL}", {}), ("/api/v1/checkpoint", {}),
            ("/api/v1/checkpoint", {"Accept": "text/plain"}),
            # what a shopper is refused says nothing either
            ("/api/v1/events/origin-priv", {}), ("/api/v1/events/sale-priv", {}),
            (f"/api/v1/lots/{LOT}/trace", {}), ("/api/v1/openapi.json", {})]
    return out


def test_no_anonymous_answer_carries_personal_data(client: FlaskClient, planted: Scene) -> None:
    seen: list[Any] = []
    for url, headers in _anonymous_requests():
        r = client.get(url, headers=headers)
        if r.status_code == 307:  # the lot's gs1:epcis link leads to its EPCIS query: ask it
            target = urlsplit(r.headers["Location"])
            assert target.path == "/epcis/events", (url, r.headers["Location"])
            r = client.get(f"{target.path}?{target.query}", headers=headers)
        assert r.status_code in (200, 401), (url, r.status_code)
        body = r.get_data(as_text=True)
        leaked = [s for s in SECRETS if s in body]
        assert not leaked, (url, headers, leaked)
        seen.append((url, r.status_code))
    # the pages do show the lot: the search ran over real answers
    page = client.get(f"/l/{LOT}", headers={"Accept": "application/json"}).json
    assert page["origins"][0]["certificate"]["no"] == "HGZ-PRIV-1"
    assert [h["from"] for h in page["path"]] == ["farm-1.field", "coldstore-1"]
    stall = client.get(f"/s/{STALL}?format=json").json
    assert LOT in {item["lot"] for item in stall["on_hand"]}


def test_every_proof_a_page_links_to_is_hashes_only(client: FlaskClient, planted: Scene) -> None:
    links = [p["url"] for p in client.get(f"/l/{LOT}?format=json").json["proofs"]]
    links += [p["url"] for p in client.get(f"/s/{STALL}?format=json").json["proofs"]]
    assert links
    for url in links:
        r = client.get(url)
        assert r.status_code == 200
        assert not [s for s in SECRETS if s in r.get_data(as_text=True)], url


def test_the_books_are_there_for_those_who_may_read_them(app: Any, client: FlaskClient,
                                                         planted: Scene) -> None:
    """The planted data is in the ledger: the farm reads its own certificate whole, and a
    token without reach over it is refused."""
    from tracelib_service.tokens import issue_token

    farm = {"Authorization": f"Bearer {issue_token(app, 'farm-1')}"}
    doc = client.get("/api/v1/events/origin-priv", headers=farm).json
    assert doc["event"]["data"]["certificate"]["contact"] == f"{FARMER} {PHONE}"
    trace = client.get(f"/api/v1/lots/{LOT}/trace", headers=farm).json
    assert trace["upstream"]["origins"][0]["certificate"]["id_number"] == ID_NUMBER
    assert trace["upstream"]["path"][0]["qty"] == VOLUMES[0]
    stall = {"Authorization": f"Bearer {issue_token(app, STALL)}"}
    assert client.get("/api/v1/events/origin-priv", headers=stall).status_code == 403
    assert client.get("/api/v1/events/sale-priv", headers=stall).json["event"]["data"][
        "receipt"] == RECEIPT
