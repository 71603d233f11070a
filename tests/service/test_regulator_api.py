"""The regulator's API (service/regulator_api.py): alerts, KPI, drills with their report as a
zip, recalls signed with the regulator's key; 401 without a token, 403 for a party that is
not a regulator, and a problem document for every bad request."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import KEYLESS_REGULATOR as KEYLESS
from tests.service.conftest import REGULATOR, STALL, Scene
from tracelib_service.tokens import issue_token

PROBLEM = "application/problem+json"
@pytest.fixture
def tokens(app: Flask, regulators: dict[str, str]) -> dict[str, str]:
    """Tokens of two regulators (the service holds amr-1's key only) and of the stall."""
    return {**regulators, STALL: issue_token(app, STALL)}


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM
    doc: dict[str, Any] = r.json
    if field is not None:
        assert doc["field"] == field, doc
    return doc


def _post(client: FlaskClient, path: str, body: Any, token: str | None, *,
          content_type: str = "application/json") -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(path, data=data, headers=_auth(token), content_type=content_type)


ENDPOINTS = [("get", "/api/v1/alerts", None),
             ("get", "/api/v1/reports/kpi?year=2026&population=1000", None),
             ("post", "/api/v1/drills", {"lot": "LOT-CP-0001"}),
             ("post", "/api/v1/recalls", {"lot": "LOT-CP-0001", "reason": "抽检不合格"}),
             ("get", "/api/v1/drills/1/report.zip", None),
             ("get", "/api/v1/drills/1/path.svg", None)]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_only_a_regulators_token_opens_them(client: FlaskClient, tokens: dict[str, str],
                                            scene: Scene, method: str, path: str,
                                            body: Any) -> None:
    size = scene.ledger.size

    def call(token: str | None) -> Any:
        if method == "get":
            return client.get(path, headers=_auth(token))
        return _post(client, path, body, token)

    r = call(None)
    _problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    _problem(call("tlk_" + "x" * 43), 401)
    assert _problem(call(tokens[STALL]), 403)["code"] == "insufficient_scope"
    assert scene.ledger.size == size  # nothing was written on a refused request


def test_alerts_list_the_days_work_with_links_to_the_evidence(
        client: FlaskClient, tokens: dict[str, str]) -> None:
    r = client.get("/api/v1/alerts", headers=_auth(tokens[REGULATOR]))
    assert r.status_code == 200, r.get_data(as_text=True)
    doc = r.json
    # The clock is 2026-11-22T06:00Z: 14:00 in the service's zone (Asia/Shanghai).
    assert doc["now"] == "2026-11-22T14:00:00+08:00" and doc["day"] == "2026-11-22"
    kinds = {a["kind"]: a for a in doc["alerts"]}
    assert set(kinds) == {"held_stock", "temperature_excursion", "tests_not_published"}
    held = kinds["held_stock"]  # the positive test at 07:20 held LOT-QC-0002
    assert held["lot"] == "LOT-QC-0002" and held["links"]["lot"] == "/l/LOT-QC-0002"
    assert held["links"]["trace"] == "/api/v1/lots/LOT-QC-0002/trace"
    assert held["links"]["events"] == ["/api/v1/events/rt-pos"]
    assert held["links"]["board"] == "/m/market-1/board"
    for link in (*held["links"]["events"], held["links"]["lot"], held["links"]["trace"],
                 held["links"]["board"]):
        assert client.get(link, headers={"Accept": "application/json",
                                         **_auth(tokens[REGULATOR])}).status_code == 200
    hot = kinds["temperature_excursion"]  # 6.5 °C on the chilled hop of LOT-CP-0001
    assert hot["links"]["events"] == ["/api/v1/events/ship1-LOT-CP-0001"]
    late = kinds["tests_not_published"]  # recorded at 14:00, after 09:00
    assert late["details"]["first_published_at"] == "2026-11-22T14:00:00+08:00"
    assert doc["not_checked"][0]["kind"] == "past_shelf_life"
    assert _problem(client.get("/api/v1/alerts?at=now", headers=_auth(tokens[REGULATOR])),
                    400, "at")


def test_kpi_of_a_year_as_the_cli_computes_it(client: FlaskClient,
                                             tokens: dict[str, str]) -> None:
    auth = _auth(tokens[REGULATOR])
    r = client.get("/api/v1/reports/kpi?year=2026&population=1000", headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    doc = r.json
    counts = doc["counts"]
    # The scene's three tests: none of them official sampling, so no official batch.
    assert counts["rapid"] + sum(counts["by_sampling"].values()) == 3
    assert counts["batches"] == 0 and doc["daily"] == []
    assert {f["name"]: f["value"] for f in doc["figures"]}["sampling_batches_per_1000"] == "0.00"
    assert [f["name"] for f in doc["rapid_figures"]] == ["rapid_tests", "rapid_positive_rate"]
    assert doc["rapid_figures"][0]["value"] == str(counts["rapid"])
    market = client.get("/api/v1/reports/kpi?year=2026&population=1000&market=market-2",
                        headers=auth).json
    assert market["counts"]["rapid"] + sum(market["counts"]["by_sampling"].values()) == 0


@pytest.mark.parametrize(("query", "field"), [
    ("population=1000", "year"), ("year=2026", "population"),
    ("year=1999&population=1000", "year"), ("year=2026&population=0", "population"),
    ("year=2026&population=１０", "population"), ("year=2026&population=-5", "population"),
    ("year=2026&population=1000&colour=red", "colour")])
def test_kpi_refuses_bad_parameters(client: FlaskClient, tokens: dict[str, str], query: str,
                                    field: str) -> None:
    r = client.get(f"/api/v1/reports/kpi?{query}", headers=_auth(tokens[REGULATOR]))
    _problem(r, 400, field)


def test_a_drill_answers_the_stalls_to_visit_and_its_report_downloads_as_a_zip(
        client: FlaskClient, scene: Scene, tokens: dict[str, str]) -> None:
    auth = _auth(tokens[REGULATOR])
    r = _post(client, "/api/v1/drills", {"lot": "LOT-CP-0001", "question": "演练"},
              tokens[REGULATOR])
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.json
    assert [(s["location"], s["on_hand"]) for s in doc["stalls_to_visit"]] == [
        (STALL, "37.5")]  # 40 kg delivered, 2.5 sold
    assert doc["counts"]["stalls_with_stock"] == 1 and doc["question"] == "演练"
    record = scene.ledger.record_for_event(doc["event"]).to_dict()
    assert record["seq"] == doc["id"]
    assert record["event"]["kind"] == "drill" and record["event"]["actor"] == REGULATOR
    assert record["event"]["data"]["answer_digest"] == doc["answer_digest"]
    assert doc["checkpoint"]["size"] == scene.ledger.size  # signed after the drill
    assert r.headers["Location"] == doc["report"] == f"/api/v1/drills/{doc['id']}/report.zip"
    report = client.get(doc["report"], headers=auth)
    assert report.status_code == 200 and report.mimetype == "application/zip"
    assert f'filename="drill-{doc["id"]}.zip"' in report.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(report.data)) as archive:
        names = sorted(archive.namelist())
        summary = json.loads(archive.read(f"drill-{doc['id']}/summary.json"))
    assert names == sorted(f"drill-{doc['id']}/{n}" for n in
                           ("summary.json", "ctes.csv", "ctes.xlsx", "path.svg", "path.png"))
    assert summary["answer_digest"] == doc["answer_digest"]
    picture = client.get(doc["picture"], headers=auth)
    assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"
    assert b"<svg" in picture.data
    _problem(client.get(f"/api/v1/drills/{doc['id'] + 1000}/report.zip", headers=auth), 404)


def test_a_recall_signed_by_the_regulator_shows_on_the_stall_page(
        client: FlaskClient, scene: Scene, tokens: dict[str, str]) -> None:
    before = client.get(f"/api/v1/stalls/{STALL}").json
    assert "LOT-CP-0001" not in {h["lot"] for h in before["holds"]}
    r = _post(client, "/api/v1/recalls", {"lot": "LOT-CP-0001", "reason": "抽检不合格: 豇豆"},
              tokens[REGULATOR])
    assert r.status_code == 201, r.get_data(as_text=True)
    doc = r.json
    assert [(h["location"], h["lots"]) for h in doc["holds"]] == [
        (STALL, [{"lot": "LOT-CP-0001", "qty": "37.5", "unit": "kg"}])]
    assert doc["recalled_lots"] == ["LOT-CP-0001"] and len(doc["receipts"]) == 2
    for receipt in doc["receipts"]:
        assert scene.ledger.record_for_event(receipt["id"]).to_dict()["event"]["actor"] == REGULATOR
    after = client.get(f"/api/v1/stalls/{STALL}").json
    held = {h["lot"]: h for h in after["holds"]}
    assert held["LOT-CP-0001"]["reason"] == "抽检不合格: 豇豆"


@pytest.mark.parametrize("path", ["/api/v1/drills", "/api/v1/recalls"])
@pytest.mark.parametrize(("body", "content_type", "status", "field"), [
    ({}, "application/json", 400, "lot"),
    ({"lot": "LOT-CP-0001", "reason": "r", "extra": 1}, "application/json", 400, "extra"),
    ({"lot": 7, "reason": "r"}, "application/json", 400, "lot"),
    ({"lot": "LOT-CP-0001", "reason": "r", "question": "q" * 501}, "application/json", 400,
     None),
    (["LOT-CP-0001"], "application/json", 400, "body"),
    ('{"lot": "A", "lot": "B", "reason": "r"}', "application/json", 400, None),
    ('{"lot": "A", "reason": 1.5}', "application/json", 400, None),
    ("{", "application/json", 400, None),
    ("lot=LOT-CP-0001", "application/x-www-form-urlencoded", 415, None),
    ({"lot": "LOT-NONE", "reason": "r"}, "application/json", 404, None),
])
def test_bad_bodies_are_refused_and_store_nothing(client: FlaskClient, scene: Scene,
                                                  tokens: dict[str, str], path: str,
                                                  body: Any, content_type: str, status: int,
                                                  field: str | None) -> None:
    if isinstance(body, dict) and path.endswith("drills"):
        body = {k: v for k, v in body.items() if k != "reason"}
    size = scene.ledger.size
    r = _post(client, path, body, tokens[REGULATOR], content_type=content_type)
    _problem(r, status, field)
    assert scene.ledger.size == size


def test_recall_missing_its_reason(client: FlaskClient, tokens: dict[str, str]) -> None:
    _problem(_post(client, "/api/v1/recalls", {"lot": "LOT-CP-0001"}, tokens[REGULATOR]),
             400, "reason")


@pytest.mark.parametrize("path", ["/api/v1/drills", "/api/v1/recalls"])
def test_a_regulator_whose_key_the_service_does_not_hold_cannot_sign(
        client: FlaskClient, scene: Scene, tokens: dict[str, str], path: str) -> None:
    size = scene.ledger.size
    r = _post(client, path, {"lot": "LOT-CP-0001", "reason": "r"} if "recalls" in path
              else {"lot": "LOT-CP-0001"}, tokens[KEYLESS])
    assert "no custodial key for 'amr-2'" in _problem(r, 422)["detail"]
    assert scene.ledger.size == size


def test_a_drill_names_the_school_reached(client: FlaskClient, scene: Scene,
                                          tokens: dict[str, str]) -> None:
    from tests.service.console_scene import school_reached

    school_reached(scene)
    r = _post(client, "/api/v1/drills", {"lot": "LOT-SC-0003"}, tokens[REGULATOR])
    assert r.status_code == 201, r.get_data(as_text=True)
    school = {"location": "canteen-school-1", "name": "云阳县实验小学食堂", "school": True}
    assert r.json["schools_reached"] == [school] and r.json["canteens_reached"] == [school]
    assert (r.json["counts"]["schools"], r.json["counts"]["canteens"]) == (1, 1)
    other = _post(client, "/api/v1/drills", {"lot": "LOT-CP-0001"}, tokens[REGULATOR]).json
    assert other["schools_reached"] == [] and other["counts"]["schools"] == 0
