"""The lot page and its GS1 Digital Link form, with linkType negotiation."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.service.conftest import GTIN, STALL, Scene
from tracelib.views.disclosure import PUBLIC, disclose_trace
from tracelib.views.tracing import trace
from tracelib_service.lots import gtin14


def test_lot_page_shows_the_path_from_origin(client: FlaskClient) -> None:
    r = client.get("/l/LOT-CP-0001")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    for text in ("豇豆", "CERT-LOT-CP-0001", "重庆市云阳县红狮镇", "云阳县红狮镇蔬菜合作社",
                 "重庆冷链物流", "张记蔬菜", "6.5°C", "超温", "3.5°C", GTIN, "阴性 合格",
                 "/api/v1/proofs/inclusion/"):
        assert text in html, text
    assert html.index("云阳县红狮镇蔬菜合作社 → 重庆冷链物流") < html.index("重庆冷链物流 → 张记蔬菜")
    assert 'rel="linkset"' in r.headers["Link"]


def test_held_lot_shows_a_banner(client: FlaskClient) -> None:
    html = client.get("/l/LOT-QC-0002").get_data(as_text=True)
    assert "已下架" in html and "阳性 不合格" in html


def test_lot_json(client: FlaskClient, scene: Scene) -> None:
    doc = client.get("/l/LOT-CP-0001", headers={"Accept": "application/json"}).json
    assert doc["lot"] == "LOT-CP-0001" and doc["gtin"] == GTIN
    assert [o["certificate"]["no"] for o in doc["origins"]] == ["CERT-LOT-CP-0001"]
    assert [(h["from"], h["to"]) for h in doc["path"]] == [("farm-1.field", "coldstore-1"),
                                                           ("coldstore-1", "stall-a01")]
    assert doc["path"][0]["excursions"] == [{"time": "2026-11-22T06:00:00+08:00",
                                             "celsius": "6.5", "limit": "4",
                                             "storage": "chilled"}]


@pytest.mark.parametrize("gtin", [GTIN, GTIN[1:]])  # GTIN-14 and the same GTIN-13
def test_digital_link_default_is_the_consumer_page(client: FlaskClient, gtin: str) -> None:
    for url in (f"/01/{gtin}/10/LOT-CP-0001", f"/01/{gtin}/10/LOT-CP-0001?linkType=gs1:pip",
                f"/01/{gtin}/10/LOT-CP-0001?linkType=https://gs1.org/voc/pip"):
        r = client.get(url)
        assert r.status_code == 200 and "CERT-LOT-CP-0001" in r.get_data(as_text=True), url


def test_digital_link_epcis_is_the_lots_epcis_query(client: FlaskClient) -> None:
    r = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType=gs1:epcis")
    assert r.status_code == 307
    assert r.headers["Location"] == (
        "http://127.0.0.1:8000/epcis/events?MATCH_anyEPCClass="
        f"https%3A%2F%2Fid.gs1.org%2F01%2F{GTIN}%2F10%2FLOT-CP-0001")
    [links] = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType=linkset").json["linkset"]
    assert links["https://gs1.org/voc/epcis"][0]["href"] == r.headers["Location"]


@pytest.mark.parametrize("link_type", ["gs1:traceability"])
def test_digital_link_machine_data(client: FlaskClient, scene: Scene, link_type: str) -> None:
    r = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType={link_type}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    # no token: the trace as anyone may read it (docs/contract.md "Who may read what")
    assert r.json == disclose_trace(trace(scene.ledger, "LOT-CP-0001").to_dict(), PUBLIC)
    assert r.json["downstream"]["locations"] == []
    assert all("qty" not in hop for hop in r.json["upstream"]["path"])


@pytest.mark.parametrize("link_type", ["linkset", "all"])
def test_digital_link_linkset(client: FlaskClient, link_type: str) -> None:
    r = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType={link_type}")
    assert r.status_code == 200 and r.mimetype == "application/linkset+json"
    [links] = r.json["linkset"]
    assert links["anchor"] == f"http://127.0.0.1:8000/01/{GTIN}/10/LOT-CP-0001"
    for rel in ("pip", "traceability", "epcis", "defaultLink"):
        [target] = links[f"https://gs1.org/voc/{rel}"]
        assert target["href"].startswith("http://127.0.0.1:8000/")
    pip = links["https://gs1.org/voc/pip"][0]["href"]
    assert client.get(pip.removeprefix("http://127.0.0.1:8000")).status_code == 200
    data = links["https://gs1.org/voc/traceability"][0]["href"]
    assert client.get(data.removeprefix("http://127.0.0.1:8000")).json["lot"] == "LOT-CP-0001"


def test_digital_link_refuses_wrong_or_invalid_gtins(client: FlaskClient) -> None:
    assert client.get("/01/06901234567891/10/LOT-CP-0001").status_code == 404  # bad check digit
    assert client.get("/01/12345/10/LOT-CP-0001").status_code == 404
    assert client.get("/01/00000000000000/10/LOT-CP-0001").status_code == 404  # not its GTIN
    assert client.get(f"/01/{GTIN}/10/LOT-QC-0002").status_code == 404  # lot has no GTIN
    assert client.get(f"/01/{GTIN}/10/LOT-NONE").status_code == 404


def test_unknown_lot_is_404(client: FlaskClient) -> None:
    r = client.get("/l/LOT-NONE")
    assert r.status_code == 404 and "没有找到这个页面" in r.get_data(as_text=True)
    j = client.get("/l/LOT-NONE?linkType=gs1:traceability",
                   headers={"Accept": "application/json"})
    assert j.status_code == 404 and j.json["code"] == "not_found"


@pytest.mark.parametrize(("raw", "expected"), [
    ("06901234567892", "06901234567892"), ("6901234567892", "06901234567892"),
    ("96385074", "00000096385074"), ("036000291452", "00036000291452"),
    ("06901234567891", None), ("0690123456789", None), ("abc", None), ("٠٠٠٠٠٠٠٠", None),
])
def test_gtin14(raw: str, expected: str | None) -> None:
    assert gtin14(raw) == expected


# -- the lot's own path (a parent's later movements are not on it) ---------------------------

def _split_at_the_stall(scene: Scene) -> None:
    """LOT-P reaches the stall on the 21st; LOT-C is split off it there; the next morning
    the rest of LOT-P goes back to the cold store and returns to the stall (the same places
    the child's path runs through, later)."""
    scene.deliver("LOT-P", "30", product="豇豆", time="2026-11-21T05:00:00+08:00")
    scene.add(STALL, {"id": "split-C", "kind": "transform", "time": "2026-11-21T06:00:00+08:00",
                      "location": STALL,
                      "inputs": [{"lot": "LOT-P", "qty": "10", "unit": "kg"}],
                      "outputs": [{"lot": "LOT-C", "qty": "10", "unit": "kg"}],
                      "data": {"process": "split"}})
    scene.add(STALL, {"id": "back-P", "kind": "ship", "time": "2026-11-22T06:00:00+08:00",
                      "location": STALL, "inputs": [{"lot": "LOT-P", "qty": "20", "unit": "kg"}],
                      "data": {"to": "coldstore-1"}})
    scene.add("carrier-1", {"id": "recv-back-P", "kind": "receive",
                            "time": "2026-11-22T06:30:00+08:00", "location": "coldstore-1",
                            "inputs": [{"lot": "LOT-P", "qty": "20", "unit": "kg"}],
                            "data": {"from": STALL, "ship_event": "back-P"}})
    scene.add("carrier-1", {"id": "on-P", "kind": "ship", "time": "2026-11-22T07:00:00+08:00",
                            "location": "coldstore-1",
                            "inputs": [{"lot": "LOT-P", "qty": "20", "unit": "kg"}],
                            "data": {"to": STALL}})
    scene.add(STALL, {"id": "recv-on-P", "kind": "receive", "time": "2026-11-22T07:30:00+08:00",
                      "location": STALL, "inputs": [{"lot": "LOT-P", "qty": "20", "unit": "kg"}],
                      "data": {"from": "coldstore-1", "ship_event": "on-P"}})


def test_split_lot_page_shows_only_its_own_path(client: FlaskClient, scene: Scene) -> None:
    _split_at_the_stall(scene)
    view = client.get("/l/LOT-C", headers={"Accept": "application/json"}).json
    assert [(h["lot"], h["ship_event"]) for h in view["path"]] == [
        ("LOT-P", "ship1-LOT-P"), ("LOT-P", "ship2-LOT-P")]
    parent = client.get("/l/LOT-P", headers={"Accept": "application/json"}).json
    assert [h["ship_event"] for h in parent["path"]] == [
        "ship1-LOT-P", "ship2-LOT-P", "back-P", "on-P"]  # the parent's page: all of its own
    html = client.get("/l/LOT-C").get_data(as_text=True)
    path = html.split("<h2>流通路径</h2>")[1].split("<h2>")[0]
    assert path.count("→") == 2 and "2026-11-21" in path and "2026-11-22" not in path
    back = trace(scene.ledger, "LOT-C", forward=False).to_dict()["upstream"]["path"]
    assert [h["ship_event"] for h in back] == ["ship1-LOT-P", "ship2-LOT-P"]
