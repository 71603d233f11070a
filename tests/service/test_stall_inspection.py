"""The stall page's 公示栏: the latest inspection's result and day beside the licences, in
Chinese and English, and in the scan JSON without any inspector's name (docs/contract.md
"Scan JSON", "Who may read what")."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient

from tests.service.conftest import STALL, Scene
from tracelib.keys import SigningKey

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


def _inspect(scene: Scene, event_id: str, time: str, result: str) -> None:
    data: dict[str, Any] = {"items": [{"name": "进货查验记录", "compliant": result == "compliant"}],
                            "result": result, "inspectors": [{"name": "李明", "badge": "5002350012"}]}
    if result != "compliant":
        data |= {"findings": "进货查验记录不全", "rectification_deadline": "2026-11-29"}
    scene.add(AMR, {"id": event_id, "kind": "inspection", "time": time, "location": STALL,
                    "data": data})


def test_before_any_inspection_the_page_says_so(client: FlaskClient) -> None:
    assert client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json[
        "inspection"] is None
    assert "暂无检查记录" in client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "Not inspected yet" in client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)


def test_the_latest_inspection_shows_beside_the_licences(client: FlaskClient,
                                                          scene: Scene) -> None:
    _regulator(scene)
    _inspect(scene, "insp-old", "2026-11-10T10:00:00+08:00", "compliant")
    _inspect(scene, "insp-new", "2026-11-21T09:40:00+08:00", "basically_compliant")
    scene.add(STALL, {"kind": "rectification", "time": "2026-11-22T08:30:00+08:00",
                      "location": STALL, "data": {"inspection": "insp-new", "step": "report",
                                                  "measures": "已补全进货查验记录"}})

    r = client.get(f"/s/{STALL}", headers={"Accept": "application/json"})
    shown = r.json["inspection"]
    assert {k: shown[k] for k in ("event", "day", "result", "rectification_deadline",
                                  "rectification", "regulator")} == {
        "event": "insp-new", "day": "2026-11-21", "result": "basically_compliant",
        "rectification_deadline": "2026-11-29", "rectification": "reported",
        "regulator": {"id": AMR, "name": "云阳县市场监督管理局"}}
    assert {"what": "inspection", "seq": shown["seq"]} in [
        {"what": p["what"], "seq": p["seq"]} for p in r.json["proofs"]]
    anonymous = json.dumps(r.json, ensure_ascii=False)
    assert "李明" not in anonymous and "5002350012" not in anonymous  # no inspector's name
    assert "进货查验记录不全" not in anonymous  # nor the findings

    zh = client.get(f"/s/{STALL}").get_data(as_text=True)
    licences = zh.partition("亮证亮照")[2].partition("今日快检")[0]
    for text in ("日常监督检查", "基本符合", "2026-11-21", "已报告整改，待复查", "整改期限",
                 "2026-11-29"):
        assert text in licences, text
    assert "李明" not in zh
    en = client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    for text in ("Routine inspection", "Basically compliant", "2026-11-21",
                 "Rectification reported, awaiting re-inspection", "Rectify by"):
        assert text in en, text
    assert "基本符合" not in en and "李明" not in en

    scene.add(AMR, {"kind": "rectification", "time": "2026-11-22T09:30:00+08:00",
                    "location": STALL, "data": {"inspection": "insp-new", "step": "confirm"}})
    assert "整改完成" in client.get(f"/s/{STALL}").get_data(as_text=True)


def test_a_compliant_inspection_shows_no_rectification(client: FlaskClient,
                                                       scene: Scene) -> None:
    _regulator(scene)
    _inspect(scene, "insp-ok", "2026-11-21T09:40:00+08:00", "compliant")
    shown = client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json["inspection"]
    assert (shown["result"], shown["rectification"], shown["rectification_deadline"]) == (
        "compliant", None, None)
    html = client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    assert "Compliant" in html and "Rectify by" not in html
