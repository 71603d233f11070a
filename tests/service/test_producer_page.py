"""The producer page ``/p/<party>`` (docs/contract.md "Producers' standing"): HTML in
Chinese and English and JSON for programs, what a shopper sees (no producer's name as
printed, no contact) and what a regulator sees, the link from the stall and lot pages, and
a clear 404 for an unknown party or one that is not a producer."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.service.conftest import REGULATOR, STALL, Scene

JSON = {"Accept": "application/json"}


def fail_a_lab_test(scene: Scene) -> None:
    """A failing laboratory result on LOT-CP-0001 at the stall (the lab held by market-1)."""
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office",
                                     "data": {"locations": [{"id": "lab-1", "name": "检测中心",
                                                             "type": "lab",
                                                             "holder": "market-1"}]}})
    scene.add("market-1", {"kind": "lab_test", "location": "lab-1",
                           "time": "2026-11-22T13:00:00+08:00", "data": {
                               "analyte": "毒死蜱", "commodity": "芹菜", "value": "0.31",
                               "unit": "mg/kg", "lab": "云阳县检验检测中心", "report_no": "R-9",
                               "lot": "LOT-CP-0001", "stall": STALL,
                               "sampling": "supervision"}})


def test_a_shopper_sees_the_standing_and_the_failures_traced_back(
        client: FlaskClient, scene: Scene) -> None:
    before = client.get("/p/farm-1", headers=JSON).json
    assert before["standing"] == "none" and before["failures"] == []
    assert before["certificates"]["count"] == 2
    fail_a_lab_test(scene)
    doc = client.get("/p/farm-1", headers=JSON).json
    assert doc["standing"] == "black" and doc["failures_total"] == 1
    failure = doc["failures"][0]
    assert (failure["certificate_no"], failure["analyte"], failure["value_mg_kg"],
            failure["product"], failure["stall"]["id"]) == (
        "CERT-LOT-CP-0001", "毒死蜱", "0.31", "豇豆", STALL)
    for cert in doc["certificates"]["newest"]:
        assert "producer" not in cert and "contact" not in cert
    page = client.get("/p/farm-1").get_data(as_text=True)
    assert "生产者信用" in page and "黑榜" in page and "CERT-LOT-CP-0001" in page
    assert "毒死蜱" in page and "Black list" not in page
    english = client.get("/p/farm-1?lang=en").get_data(as_text=True)
    assert "Producer standing" in english and "Black list" in english
    assert "黑榜" not in english
    # the certificate's printed producer name never reaches an anonymous reader
    assert "云阳县红狮镇蔬菜合作社" not in page.replace(doc["party"]["name"], "")


def test_a_regulator_reads_the_certificates_in_full(client: FlaskClient,
                                                    regulators: dict[str, str]) -> None:
    token = regulators[REGULATOR]
    doc = client.get("/p/farm-1", headers={**JSON, "Authorization": f"Bearer {token}"}).json
    assert doc["certificates"]["newest"][0]["producer"] == "云阳县红狮镇蔬菜合作社"
    public = client.get("/p/farm-1", headers=JSON).json
    assert "producer" not in public["certificates"]["newest"][0]


def test_the_stall_and_lot_pages_link_to_the_producer(client: FlaskClient) -> None:
    stall = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert 'href="/p/farm-1"' in stall and "生产者信用" in stall
    lot = client.get("/l/LOT-CP-0001").get_data(as_text=True)
    assert 'href="/p/farm-1"' in lot
    assert client.get(f"/s/{STALL}", headers=JSON).json["on_hand"][0]["origin"][
        "party"] == "farm-1"


def test_an_unknown_party_or_one_not_a_producer_is_a_clear_404(client: FlaskClient) -> None:
    for party, words in (("nobody", "unknown party"), ("market-1", "not a producer"),
                         (STALL, "not a producer")):
        r = client.get(f"/p/{party}", headers=JSON)
        assert r.status_code == 404 and words in r.get_data(as_text=True)
        page = client.get(f"/p/{party}")
        assert page.status_code == 404 and page.mimetype == "text/html"
        assert words in page.get_data(as_text=True)
