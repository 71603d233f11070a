"""The market's public board (公示) of the day's rapid tests."""

from __future__ import annotations

import hashlib
import json
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.service.conftest import ENZYME, STALL, Scene
from tracelib.errors import ValidationError
from tracelib.keys import SigningKey


def test_board_lists_todays_tests_of_every_stall(client: FlaskClient, scene: Scene) -> None:
    scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "stall-b02", "name": "王记豆腐", "type": "stall",
                       "parent": "market-1", "number": "B02"}]}})
    scene.add("market-1", {"kind": "rapid_test", "time": "2026-11-22T06:50:00+08:00",
                           "location": "stall-b02",
                           "data": {"sample": "豆腐", "item": "吊白块", "method": "colorimetric",
                                    "tester": "李检测", "result": "negative"}})
    r = client.get("/m/market-1/board")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="60">' in html
    for text in ("云阳县城南农贸市场", "快检公示", "张记蔬菜", "王记豆腐", "B02", "豆腐",
                 "青菜", "阳性 不合格", "2026-11-22"):
        assert text in html, text
    doc = client.get("/m/market-1/board", headers={"Accept": "application/json"}).json
    assert doc["totals"] == {"tests": 3, "negative": 2, "suspect": 0, "positive": 1}
    assert {s["id"]: len(s["tests"]) for s in doc["stalls"]} == {"stall-a01": 2, "stall-b02": 1}


def test_board_of_unknown_or_non_market_is_404(client: FlaskClient) -> None:
    assert client.get("/m/nope/board").status_code == 404
    assert client.get("/m/stall-a01/board").status_code == 404


def test_board_etag_vary_and_304(client: FlaskClient) -> None:
    first = client.get("/m/market-1/board")
    etag = first.headers["ETag"]
    assert etag == f'"{hashlib.sha256(first.data).hexdigest()[:40]}"'
    assert first.headers["Vary"] == "Accept, Accept-Language"
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/m/market-1/board", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    doc = client.get("/m/market-1/board", headers={"Accept": "application/json",
                                                   "If-None-Match": etag})
    assert doc.status_code == 200 and doc.headers["ETag"] != etag


# -- the board as a regulator publishes it (docs/contract.md "The market board") -------------

AMR = "amr-9"


def _regulator(scene: Scene) -> None:
    key = SigningKey.generate()
    scene.net.keys[AMR] = key
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": AMR, "name": "云阳县市场监督管理局", "role": "regulator"}],
        "locations": [{"id": f"{AMR}.office", "name": "云阳县市场监督管理局", "type": "office",
                       "holder": AMR}],
        "keys": [{"party": AMR, "key_id": key.key_id, "public_key": key.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"}]}})


def _inspect(scene: Scene, event_id: str, time: str, location: str, result: str) -> None:
    data: dict[str, Any] = {"items": [{"name": "进货查验记录", "compliant": result == "compliant"}],
                            "result": result,
                            "inspectors": [{"name": "李明", "badge": "5002350012"}]}
    if result != "compliant":
        data |= {"findings": "进货查验记录不全", "rectification_deadline": "2026-11-29"}
    scene.add(AMR, {"id": event_id, "kind": "inspection", "time": time, "location": location,
                    "data": data})


def _board(client: FlaskClient, market: str = "market-1") -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"/m/{market}/board",
                                     headers={"Accept": "application/json"}).json
    return doc


def _positive(client: FlaskClient) -> dict[str, Any]:
    (shown,) = [t for t in _board(client)["results"] if t["event"] == "rt-pos"]
    return shown


def test_positives_come_first_then_suspect_then_negative(client: FlaskClient,
                                                         scene: Scene) -> None:
    scene.deliver("LOT-BC-0003", "10", product="白菜")
    scene.rapid("LOT-BC-0003", "0.440", sample="白菜", time="2026-11-22T07:40:00+08:00",
                event_id="rt-sus")  # 45 % inhibition: suspect
    scene.rapid(None, "0.760", sample="萝卜", time="2026-11-22T07:50:00+08:00",
                event_id="rt-neg2")
    doc = _board(client)
    assert [(t["event"], t["result"]) for t in doc["results"]] == [
        ("rt-pos", "positive"), ("rt-sus", "suspect"), ("rt-neg2", "negative"),
        ("rt-neg", "negative")]
    assert doc["results"][0]["stall"] == {"id": STALL, "name": "张记蔬菜", "number": None}
    assert "action" not in doc["results"][1] and "action" not in doc["results"][2]
    html = client.get("/m/market-1/board").get_data(as_text=True)
    assert html.index("青菜") < html.index("白菜") < html.index("萝卜") < html.index("豇豆")
    # the stall-by-stall shape is kept, newest first
    assert [t["event"] for t in doc["stalls"][0]["tests"]] == ["rt-neg2", "rt-sus", "rt-pos",
                                                               "rt-neg"]


def test_a_positive_held_by_its_test_shows_off_sale_at_the_test_time(
        client: FlaskClient) -> None:
    assert _positive(client)["action"] == {"state": "held", "time": "2026-11-22T07:20:00+08:00",
                                           "event": "rt-pos"}
    zh = client.get("/m/market-1/board").get_data(as_text=True)
    assert "处置：" in zh and "下架</span> 07:20" in zh
    en = client.get("/m/market-1/board?lang=en").get_data(as_text=True)
    assert "Off sale</span> 07:20" in en and "下架" not in en


def test_a_negative_retest_releases_it(client: FlaskClient, scene: Scene) -> None:
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00", event_id="rt-retest")
    assert _positive(client)["action"] == {"state": "released",
                                           "time": "2026-11-22T09:00:00+08:00",
                                           "event": "rt-retest"}
    assert "已放行</span> 09:00" in client.get("/m/market-1/board").get_data(as_text=True)
    assert "Released</span> 09:00" in client.get("/m/market-1/board?lang=en").get_data(
        as_text=True)


def test_a_suspect_retest_leaves_it_being_retested(client: FlaskClient, scene: Scene) -> None:
    scene.rapid("LOT-QC-0002", "0.440", sample="青菜", retest=True,
                time="2026-11-22T08:30:00+08:00", event_id="rt-retest")
    assert _positive(client)["action"] == {"state": "retesting",
                                           "time": "2026-11-22T08:30:00+08:00",
                                           "event": "rt-retest"}
    assert "复检中</span> 08:30" in client.get("/m/market-1/board").get_data(as_text=True)
    assert "Being retested</span> 08:30" in client.get("/m/market-1/board?lang=en").get_data(
        as_text=True)


def test_a_disposal_at_the_stall_shows_destroyed(client: FlaskClient, scene: Scene) -> None:
    scene.add(STALL, {"id": "dispose-1", "kind": "dispose", "time": "2026-11-22T10:00:00+08:00",
                      "location": STALL,
                      "inputs": [{"lot": "LOT-QC-0002", "qty": "20", "unit": "kg"}],
                      "data": {"reason": "快检阳性, 监督销毁"}})
    assert _positive(client)["action"] == {"state": "disposed",
                                           "time": "2026-11-22T10:00:00+08:00",
                                           "event": "dispose-1"}
    assert "销毁</span> 10:00" in client.get("/m/market-1/board").get_data(as_text=True)
    assert "Destroyed</span> 10:00" in client.get("/m/market-1/board?lang=en").get_data(
        as_text=True)


def _lab(scene: Scene, event_id: str, time: str, value: str) -> None:
    scene.add("market-1", {"id": event_id, "kind": "lab_test", "time": time, "location": STALL,
                           "data": {"analyte": "毒死蜱", "commodity": "芹菜", "value": value,
                                    "unit": "mg/kg", "lab": "云阳县食品检验所",
                                    "report_no": f"YY-{event_id}", "lot": "LOT-QC-0002"}})


def test_a_passing_lab_result_releases_it(client: FlaskClient, scene: Scene) -> None:
    _lab(scene, "lab-pass", "2026-11-22T11:00:00+08:00", "0.01")  # limit 0.05 mg/kg
    assert _positive(client)["action"] == {"state": "released",
                                           "time": "2026-11-22T11:00:00+08:00",
                                           "event": "lab-pass"}


def test_a_failing_lab_result_keeps_it_off_sale_until_it_is_destroyed(
        client: FlaskClient, scene: Scene) -> None:
    _lab(scene, "lab-fail", "2026-11-22T11:00:00+08:00", "0.2")
    assert _positive(client)["action"] == {"state": "held", "time": "2026-11-22T11:00:00+08:00",
                                           "event": "lab-fail"}
    scene.add(STALL, {"id": "dispose-1", "kind": "dispose", "time": "2026-11-22T12:00:00+08:00",
                      "location": STALL,
                      "inputs": [{"lot": "LOT-QC-0002", "qty": "5", "unit": "kg"}],
                      "data": {"reason": "实验室确认不合格, 监督销毁"}})
    assert _positive(client)["action"]["state"] == "disposed"  # part of it: still destroyed


def test_the_newest_action_wins_a_hold_after_a_release(client: FlaskClient,
                                                       scene: Scene) -> None:
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00", event_id="rt-retest")
    scene.add("market-1", {"id": "hold-1", "kind": "hold", "time": "2026-11-22T11:00:00+08:00",
                           "location": STALL,
                           "inputs": [{"lot": "LOT-QC-0002", "qty": "20", "unit": "kg"}],
                           "data": {"reason": "市场复核, 暂停销售", "test": "rt-pos"}})
    assert _positive(client)["action"] == {"state": "held",
                                           "time": "2026-11-22T11:00:00+08:00",
                                           "event": "hold-1"}


def test_a_hold_elsewhere_or_of_another_lot_is_not_this_positives_action(
        client: FlaskClient, scene: Scene) -> None:
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00", event_id="rt-retest")
    scene.add("market-1", {"id": "hold-other", "kind": "hold",
                           "time": "2026-11-22T11:00:00+08:00", "location": STALL,
                           "inputs": [{"lot": "LOT-CP-0001", "qty": "37.5", "unit": "kg"}],
                           "data": {"reason": "市场复核"}})
    assert _positive(client)["action"]["event"] == "rt-retest"


def test_a_positive_without_a_lot_has_no_action(client: FlaskClient, scene: Scene) -> None:
    scene.rapid(None, "0.300", sample="菠菜", time="2026-11-22T08:00:00+08:00",
                event_id="rt-pos-nolot")
    (shown,) = [t for t in _board(client)["results"] if t["event"] == "rt-pos-nolot"]
    assert shown["result"] == "positive" and shown["action"] is None
    assert "未记录处置" in client.get("/m/market-1/board").get_data(as_text=True)
    assert "No action recorded" in client.get("/m/market-1/board?lang=en").get_data(
        as_text=True)


def test_the_days_inspections_are_listed_without_inspectors(client: FlaskClient,
                                                            scene: Scene) -> None:
    _regulator(scene)
    _inspect(scene, "insp-old", "2026-11-21T10:00:00+08:00", STALL, "non_compliant")
    _inspect(scene, "insp-stall", "2026-11-22T09:40:00+08:00", STALL, "non_compliant")
    _inspect(scene, "insp-market", "2026-11-22T10:10:00+08:00", "market-1", "compliant")
    scene.add(STALL, {"kind": "rectification", "time": "2026-11-22T11:30:00+08:00",
                      "location": STALL, "data": {"inspection": "insp-stall", "step": "report",
                                                  "measures": "已补全进货查验记录"}})
    doc = _board(client)
    assert [(i["event"], i["place"], i["result"], i["rectification_deadline"],
             i["rectification"]) for i in doc["inspections"]] == [
        ("insp-stall", {"id": STALL, "name": "张记蔬菜"}, "non_compliant", "2026-11-29",
         "reported"),
        ("insp-market", {"id": "market-1", "name": "云阳县城南农贸市场"}, "compliant", None, None)]
    assert doc["inspections"][0]["regulator"] == {"id": AMR, "name": "云阳县市场监督管理局"}
    text = json.dumps(doc, ensure_ascii=False)
    assert "李明" not in text and "5002350012" not in text and "进货查验记录不全" not in text
    zh = client.get("/m/market-1/board").get_data(as_text=True)
    part = zh.partition("今日监督检查")[2]
    for word in ("张记蔬菜", "不符合", "已报告整改，待复查", "整改期限 2026-11-29",
                 "云阳县城南农贸市场", "符合", "09:40"):
        assert word in part, word
    assert "李明" not in zh and "今日无监督检查记录" not in zh
    en = unescape(client.get("/m/market-1/board?lang=en").get_data(as_text=True))
    for word in ("Today's inspections", "Non-compliant", "Rectify by 2026-11-29", "Compliant"):
        assert word in en, word
    assert "不符合" not in en and "李明" not in en


def test_no_inspection_today_is_said(client: FlaskClient) -> None:
    assert _board(client)["inspections"] == []
    assert "今日无监督检查记录" in client.get("/m/market-1/board").get_data(as_text=True)
    assert "No inspection today" in client.get("/m/market-1/board?lang=en").get_data(
        as_text=True)


def _market(scene: Scene, market: str, stall: str, opening: str | None) -> None:
    place: dict[str, Any] = {"id": market, "name": f"{market} 农贸市场", "type": "market"}
    if opening is not None:
        place["opening_time"] = opening
    scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [place, {"id": stall, "name": f"{stall} 蔬菜", "type": "stall",
                              "parent": market, "number": "C01"}]}})


def test_published_late_when_the_first_test_is_recorded_after_opening(
        client: FlaskClient) -> None:
    # the fixture's tests were recorded at 14:00 local; market-1 opens at 07:00 (the default)
    assert _board(client)["publication"] == {
        "opening_time": "07:00", "opens_at": "2026-11-22T07:00:00+08:00",
        "published_at": "2026-11-22T14:00:00+08:00", "event": "rt-neg", "state": "late"}
    zh = client.get("/m/market-1/board").get_data(as_text=True)
    assert "未在开市前公示 14:00" in zh and "开市时间 07:00" in zh
    en = client.get("/m/market-1/board?lang=en").get_data(as_text=True)
    assert "Not published before opening 14:00" in en and "Opens 07:00" in en


@pytest.mark.parametrize(("opening", "state"), [("14:01", "on_time"), ("14:00", "late")])
def test_published_on_time_only_before_the_opening_time(client: FlaskClient, scene: Scene,
                                                        opening: str, state: str) -> None:
    _regulator(scene)
    _market(scene, "market-2", "stall-c01", opening)
    scene.add(AMR, {"id": "rt-c01", "kind": "rapid_test", "time": "2026-11-22T06:40:00+08:00",
                    "location": "stall-c01",
                    "data": {"sample": "豇豆", **ENZYME, "commodity": "豇豆",
                             "readings": {"delta_a0": "0.800", "delta_at": "0.700"}}})
    publication = _board(client, "market-2")["publication"]
    assert (publication["opening_time"], publication["state"], publication["event"]) == (
        opening, state, "rt-c01")
    zh = client.get("/m/market-2/board").get_data(as_text=True)
    assert ("开市前已公示 14:00" in zh) == (state == "on_time")
    assert ("未在开市前公示 14:00" in zh) == (state == "late")
    if state == "on_time":
        assert "Published before opening 14:00" in client.get(
            "/m/market-2/board?lang=en").get_data(as_text=True)


def test_no_test_today_yet_is_said(client: FlaskClient, scene: Scene) -> None:
    _market(scene, "market-3", "stall-d01", None)
    assert _board(client, "market-3")["publication"] == {
        "opening_time": "07:00", "opens_at": "2026-11-22T07:00:00+08:00",
        "published_at": None, "event": None, "state": "none"}
    assert "今日尚无检测" in client.get("/m/market-3/board").get_data(as_text=True)
    assert "No test today yet" in client.get("/m/market-3/board?lang=en").get_data(as_text=True)


@pytest.mark.parametrize(("place", "message"), [
    ({"type": "market", "opening_time": "7:00"}, "HH:MM"),
    ({"type": "market", "opening_time": "24:00"}, "HH:MM"),
    ({"type": "market", "opening_time": "06:60"}, "HH:MM"),
    ({"type": "stall", "opening_time": "06:30"}, "only a market"),
])
def test_a_bad_opening_time_is_refused(scene: Scene, place: dict[str, Any],
                                       message: str) -> None:
    size = scene.ledger.size
    with pytest.raises(ValidationError, match=message) as refused:
        scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
            "locations": [{"id": "x-1", "name": "某市场", **place}]}})
    assert refused.value.field == "data.locations[0].opening_time"
    assert scene.ledger.size == size


def test_a_wholesale_market_may_open_at_night(client: FlaskClient, scene: Scene) -> None:
    scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "wm-1", "name": "批发市场", "type": "wholesale_market",
                       "opening_time": "02:30"}]}})
    assert _board(client, "wm-1")["publication"]["opening_time"] == "02:30"
