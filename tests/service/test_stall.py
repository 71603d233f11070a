"""The stall view (library) and the stall page a shopper's scan opens."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tracelib import merkle
from tracelib.errors import NotFoundError
from tracelib.keys import Keystore, SigningKey
from tracelib.views.disclosure import PUBLIC, disclose_stall
from tracelib.views.stall import StandingRules, stall_view
from tracelib_service import create_app
from tracelib_service.stall import PROOF_PATH, StallAnswers, StallPages, render_page, stall_pages
from tracelib_service.tokens import issue_token

TODAY = date(2026, 11, 22)


# -- library: tracelib.views.stall.stall_view -------------------------------------------------

def test_scan_json_has_the_contract_shape(scene: Scene) -> None:
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    # docs/contract.md "Scan JSON": these keys, with these shapes (more are additive).
    assert {"stall", "on_hand", "tests", "holds", "checkpoint"} <= view.keys()
    assert {"id", "name", "market", "licences"} <= view["stall"].keys()
    assert view["stall"]["id"] == STALL
    assert view["stall"]["name"] == "张记蔬菜"
    assert view["stall"]["market"] == "market-1"
    assert view["stall"]["licences"] == {"business": "91500235MA5U0001",
                                         "food": "JY15002350000001"}
    by_lot = {item["lot"]: item for item in view["on_hand"]}
    assert set(by_lot) == {"LOT-CP-0001", "LOT-QC-0002"}
    beans = by_lot["LOT-CP-0001"]
    assert {"lot", "product", "qty", "unit", "held", "origin"} <= beans.keys()
    assert (beans["product"], beans["qty"], beans["unit"], beans["held"]) == (
        "豇豆", "37.5", "kg", False)
    assert beans["origin"]["lot"] == "LOT-CP-0001"
    assert beans["origin"]["certificate"]["no"] == "CERT-LOT-CP-0001"
    assert beans["origin"]["certificate"]["origin_place"] == "重庆市云阳县红狮镇"
    assert by_lot["LOT-QC-0002"]["held"] is True
    # today's tests only (not yesterday's), newest first, with the fields of docs/contract.md
    assert [t["event"] for t in view["tests"]] == ["rt-pos", "rt-neg"]
    for test in view["tests"]:
        assert {"time", "item", "sample", "result", "rate"} <= test.keys()
        assert test["result"] in ("negative", "suspect", "positive")
    assert [(t["result"], t["rate"]) for t in view["tests"]] == [("positive", "62.50"),
                                                                 ("negative", "12.50")]
    assert [(h["lot"], h["reason"][:4]) for h in view["holds"]] == [("LOT-QC-0002", "快检阳性")]
    assert view["holds"][0]["test"] == {"outcome": "rapid_positive",
                                        "item": "有机磷和氨基甲酸酯类农药"}
    cp = view["checkpoint"]
    assert cp["size"] == scene.ledger.size and cp["signed"] is True
    assert cp["root"] == scene.ledger.root(cp["size"]).hex()


def test_proofs_of_shown_records_verify_against_the_checkpoint(scene: Scene) -> None:
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    shown = {t["seq"] for t in view["tests"]} | {i["origin"]["seq"] for i in view["on_hand"]}
    assert shown <= {p["seq"] for p in view["proofs"]}
    root = bytes.fromhex(view["checkpoint"]["root"])
    for p in view["proofs"]:
        assert p["url"] == f"/api/v1/proofs/inclusion/{p['seq']}?size={view['checkpoint']['size']}"
        proof = scene.ledger.inclusion_proof(p["seq"], view["checkpoint"]["size"])
        merkle.verify_inclusion(proof.leaf_hash, p["seq"], proof.size, proof.proof, root)


def test_unknown_stall_and_non_stall_are_not_found(scene: Scene) -> None:
    with pytest.raises(NotFoundError, match="unknown stall"):
        stall_view(scene.ledger, "stall-zz", today=TODAY, proof_url=PROOF_PATH)
    with pytest.raises(NotFoundError, match="market, not a stall"):
        stall_view(scene.ledger, "market-1", today=TODAY, proof_url=PROOF_PATH)


def test_standing_black_while_a_failure_is_open(scene: Scene) -> None:
    record = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)["record"]
    assert record == {"window_days": 30, "tests_30d": 3, "failed_30d": 1,
                      "pass_rate_30d": "66.6", "open_follow_ups": 1, "open_holds": 1,
                      "inspections_30d": 0, "not_compliant_30d": 0, "open_non_compliant": 0,
                      "standing": "black"}


def test_standing_red_after_enough_clean_tests(scene: Scene) -> None:
    # A negative retest releases the held lot and closes its follow-up (tracelib.kinds.rapid_test).
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00")
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    assert view["holds"] == [] and view["record"]["standing"] == "none"
    for day in range(1, 20):
        scene.rapid(None, "0.760", time=f"2026-11-{day:02d}T07:00:00+08:00")
    rules = StandingRules(red_min_tests=20, red_min_pass_rate=Decimal("95"))
    record = stall_view(scene.ledger, STALL, today=TODAY, rules=rules, proof_url=PROOF_PATH)["record"]
    assert record["tests_30d"] == 23 and record["failed_30d"] == 1
    assert record["pass_rate_30d"] == "95.6" and record["standing"] == "red"
    strict = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)["record"]  # default: 100 %
    assert strict["standing"] == "none"
    black = stall_view(scene.ledger, STALL, today=TODAY,
                       rules=StandingRules(black_on_any_failure=True), proof_url=PROOF_PATH)
    assert black["record"]["standing"] == "black"
    # the window moves: 40 days on, nothing is left in it
    later = stall_view(scene.ledger, STALL, today=date(2027, 1, 1), proof_url=PROOF_PATH)["record"]
    assert later["tests_30d"] == 0 and later["pass_rate_30d"] is None


AMR = "amr-9"


def _inspect(scene: Scene, event_id: str, time: str, result: str) -> None:
    if AMR not in scene.net.keys:
        key = SigningKey.generate()
        scene.net.keys[AMR] = key
        scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
            "parties": [{"id": AMR, "name": "云阳县市场监督管理局", "role": "regulator"}],
            "keys": [{"party": AMR, "key_id": key.key_id, "public_key": key.public.base64(),
                      "valid_from": "2026-01-01T00:00:00+08:00"}]}})
    data: dict[str, Any] = {"items": [{"name": "进货查验记录", "compliant": result == "compliant"}],
                            "result": result, "inspectors": [{"name": "李明"}]}
    if result != "compliant":
        data |= {"findings": "进货查验记录不全", "rectification_deadline": "2026-11-29"}
    scene.add(AMR, {"id": event_id, "kind": "inspection", "time": time, "location": STALL,
                    "data": data})


def _clean_stall(scene: Scene) -> StandingRules:
    """The held lot released by a negative retest and 19 more clean days: red by 95 %."""
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00")
    for day in range(1, 20):
        scene.rapid(None, "0.760", time=f"2026-11-{day:02d}T07:00:00+08:00")
    rules = StandingRules(red_min_tests=20, red_min_pass_rate=Decimal("95"))
    assert _record(scene, rules)["standing"] == "red"
    return rules


def _record(scene: Scene, rules: StandingRules | None = None) -> dict[str, Any]:
    record: dict[str, Any] = stall_view(scene.ledger, STALL, today=TODAY,
                                        rules=rules or StandingRules(),
                                        proof_url=PROOF_PATH)["record"]
    return record


def test_an_open_non_compliant_inspection_blacklists_until_its_rectification_closes(
        client: FlaskClient, scene: Scene) -> None:
    rules = _clean_stall(scene)
    _inspect(scene, "insp-bad", "2026-10-01T10:00:00+08:00", "non_compliant")  # out of window
    record = _record(scene, rules)
    assert (record["standing"], record["open_non_compliant"], record["inspections_30d"]) == (
        "black", 1, 0)
    assert "不符合未整改 1" in client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "Non-compliant, not rectified 1" in client.get(f"/s/{STALL}?lang=en").get_data(
        as_text=True)
    scene.add(STALL, {"kind": "rectification", "time": "2026-11-20T08:30:00+08:00",
                      "location": STALL, "data": {"inspection": "insp-bad", "step": "report",
                                                  "measures": "已补全进货查验记录"}})
    assert _record(scene, rules)["standing"] == "black"  # reported is not closed
    scene.add(AMR, {"kind": "rectification", "time": "2026-11-21T09:30:00+08:00",
                    "location": STALL, "data": {"inspection": "insp-bad", "step": "confirm"}})
    record = _record(scene, rules)
    assert (record["standing"], record["open_non_compliant"]) == ("red", 0)
    assert "不符合未整改" not in client.get(f"/s/{STALL}").get_data(as_text=True)


def test_a_basically_compliant_inspection_is_not_black(scene: Scene) -> None:
    scene.rapid("LOT-QC-0002", "0.700", sample="青菜", retest=True,
                time="2026-11-22T09:00:00+08:00")
    _inspect(scene, "insp-basic", "2026-11-20T10:00:00+08:00", "basically_compliant")
    record = _record(scene)
    assert (record["standing"], record["open_non_compliant"], record["not_compliant_30d"]) == (
        "none", 0, 1)


def test_an_inspection_not_compliant_in_the_window_blocks_the_red_list(
        client: FlaskClient, scene: Scene) -> None:
    rules = _clean_stall(scene)
    _inspect(scene, "insp-ok", "2026-11-15T10:00:00+08:00", "compliant")
    _inspect(scene, "insp-old", "2026-10-01T10:00:00+08:00", "basically_compliant")
    record = _record(scene, rules)
    assert (record["standing"], record["inspections_30d"], record["not_compliant_30d"]) == (
        "red", 1, 0)  # a compliant one in the window, a 基本符合 before it
    assert "近30天监督检查 1" in client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "Inspections, 30 days 1" in client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    _inspect(scene, "insp-basic", "2026-11-20T10:00:00+08:00", "basically_compliant")
    record = _record(scene, rules)
    assert (record["standing"], record["inspections_30d"], record["not_compliant_30d"]) == (
        "none", 2, 1)
    scene.add(AMR, {"kind": "rectification", "time": "2026-11-21T09:30:00+08:00",
                    "location": STALL, "data": {"inspection": "insp-basic", "step": "confirm"}})
    assert _record(scene, rules)["standing"] == "none"  # rectified or not, it was found


def test_rules_cannot_be_built_invalid() -> None:
    with pytest.raises(ValueError, match="window_days"):
        StandingRules(window_days=0)


def test_recalled_lot_is_shown_as_held(scene: Scene) -> None:
    scene.add("operator", {"kind": "recall", "location": "operator.office",
                           "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
                           "data": {"reason": "产地通报 农残超标"}})
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    assert {"lot": "LOT-CP-0001", "reason": "产地通报 农残超标"}.items() <= \
        next(h for h in view["holds"] if h["lot"] == "LOT-CP-0001").items()
    assert all(item["held"] for item in view["on_hand"])


# -- the page ------------------------------------------------------------------------------

def test_page_in_chinese_with_everything_a_shopper_needs(client: FlaskClient) -> None:
    r = client.get(f"/s/{STALL}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for text in ("张记蔬菜", "云阳县城南农贸市场", "91500235MA5U0001", "JY15002350000001",
                 "亮证亮照", "豇豆", "重庆市云阳县红狮镇", "CERT-LOT-CP-0001", "今日快检",
                 "有机磷和氨基甲酸酯类农药", "12.50%", "阴性 合格", "阳性 不合格",
                 "GB/T 5009.199-2003", "07:10", "已下架", "红黑榜", "黑榜", 'href="tel:12315"',
                 "已验证", "/api/v1/proofs/inclusion/"):
        assert text in html, text
    assert "<script" not in html  # no JavaScript needed
    assert 'name="viewport" content="width=device-width' in html
    assert len(r.data) <= 60 * 1024


def test_page_in_english(client: FlaskClient) -> None:
    for r in (client.get(f"/s/{STALL}?lang=en"),
              client.get(f"/s/{STALL}", headers={"Accept-Language": "en-US,en;q=0.9"})):
        html = r.get_data(as_text=True)
        assert '<html lang="en">' in html
        assert "Today&#39;s rapid tests" in html and "Negative (pass)" in html
    zh = client.get(f"/s/{STALL}", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in zh.get_data(as_text=True)


def test_same_url_gives_scan_json_to_programs(client: FlaskClient, scene: Scene) -> None:
    r = client.get(f"/s/{STALL}", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.mimetype == "application/json"
    # the shopper's scan: the public view (docs/contract.md "Who may read what")
    assert r.json == disclose_stall(stall_view(scene.ledger, STALL, today=TODAY,
                                               proof_url=PROOF_PATH), PUBLIC)
    assert "producer" not in r.json["on_hand"][0]["origin"]["certificate"]
    assert "Accept" in r.headers["Vary"]
    api = client.get(f"/api/v1/stalls/{STALL}")
    assert api.json == r.json


def test_etag_no_cache_and_304(client: FlaskClient, scene: Scene) -> None:
    first = client.get(f"/s/{STALL}")
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{40}"', etag)
    again = client.get(f"/s/{STALL}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # a new hold changes the page, so the old ETag no longer matches: no stale holds
    scene.add("market-1", {"kind": "hold", "location": STALL,
                           "inputs": [{"lot": "LOT-CP-0001", "qty": "37.5", "unit": "kg"}],
                           "data": {"reason": "市场抽检 待复检"}})
    changed = client.get(f"/s/{STALL}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "市场抽检 待复检" in changed.get_data(as_text=True)


def test_scans_are_counted_per_stall_and_day(client: FlaskClient, app: object) -> None:
    from tracelib_service.scan_counts import scans_on

    for _ in range(3):
        client.get(f"/s/{STALL}")
    client.get(f"/s/{STALL}", headers={"Accept": "application/json"})
    client.get("/s/nope")  # unknown stalls are not counted
    with app.app_context():  # type: ignore[attr-defined]
        assert scans_on(STALL, TODAY) == 4
        assert scans_on("nope", TODAY) == 0


def test_a_scan_never_waits_for_the_write_lock_and_its_count_is_kept(
        app: Flask, client: FlaskClient, db_url: str) -> None:
    """While another writer (a large import) holds the SQLite write lock, stall pages answer
    without waiting to write their counts, and the counts are written later."""
    import sqlite3

    from tracelib_service.scan_counts import scans_on

    app.config["SCAN_FLUSH_SECONDS"] = 0  # every scan tries to write its count
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None,
                             timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        for _ in range(3):
            assert client.get(f"/s/{STALL}").status_code == 200
        holder.execute("COMMIT")
    finally:
        holder.close()
    with app.app_context():  # type: ignore[attr-defined]
        assert scans_on(STALL, TODAY) == 3


def test_scan_flushes_add_to_the_stored_counts(app: Flask) -> None:
    from tracelib_service.scan_counts import count_scan, flush_scans, scans_on

    with app.app_context():
        for n, stall in enumerate(["s-1", "s-2", "s-3"] * 3):
            count_scan(stall, TODAY)
            if n % 2:
                flush_scans()  # one upsert of many rows: new rows and existing ones
        count_scan("s-1", date(2026, 11, 21))
        assert [scans_on(s, TODAY) for s in ("s-1", "s-2", "s-3")] == [3, 3, 3]
        assert scans_on("s-1", date(2026, 11, 21)) == 1


def test_payment_reference_is_shown(client: FlaskClient) -> None:
    html = client.get(f"/s/{STALL}?pay=WX-20261122-0001").get_data(as_text=True)
    assert "付款参考" in html and "WX-20261122-0001" in html
    doc = client.get(f"/s/{STALL}?pay=WX-1", headers={"Accept": "application/json"}).json
    assert doc["payment_ref"] == "WX-1"
    bad = client.get(f"/s/{STALL}?pay=" + "x" * 65)
    assert bad.status_code == 400
    assert client.get(f"/s/{STALL}?pay=%01").status_code == 400


def test_hostile_strings_are_escaped(client: FlaskClient, scene: Scene) -> None:
    evil = '<script>alert("x")</script>'
    scene.add("operator", {"kind": "register", "location": "operator.office", "data": {
        "locations": [{"id": "stall-evil", "name": f"{evil}摊", "type": "stall",
                       "parent": "market-1", "holder": STALL,
                       "licences": {"business": evil, "food": "<b>"}}]}})
    html = client.get("/s/stall-evil?pay=<img src=x onerror=alert(1)>").get_data(as_text=True)
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Content-Security-Policy" in client.get("/s/stall-evil").headers
    scene.deliver("LOT-<i>1", "5", product=evil)
    for url in (f"/s/{STALL}", "/l/LOT-<i>1", "/l/LOT-%3Ci%3E1"):
        r = client.get(url)
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and "<script>" not in html and "<i>" not in html, url
        assert "&lt;script&gt;" in html and "LOT-&lt;i&gt;1" in html
    assert client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json[
        "on_hand"][0]["product"] == evil  # JSON keeps the data as it is


def test_unknown_stall_is_a_chinese_404_page(client: FlaskClient) -> None:
    r = client.get("/s/stall-zz")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "没有找到这个页面" in r.get_data(as_text=True)
    j = client.get("/s/stall-zz", headers={"Accept": "application/json"})
    assert j.status_code == 404 and j.mimetype == "application/problem+json"
    assert j.json["status"] == 404 and "stall-zz" in j.json["detail"]
    assert client.get("/s/market-1").status_code == 404


def test_page_stays_small_with_a_busy_stall(client: FlaskClient, scene: Scene) -> None:
    for n in range(12):
        scene.deliver(f"LOT-BUSY-{n:03d}", "10", product=f"蔬菜{n}")
    for n in range(15):
        scene.rapid(f"LOT-BUSY-{n % 12:03d}", "0.720", sample=f"蔬菜{n % 12}",
                    time=f"2026-11-22T06:{n:02d}:00+08:00")
    r = client.get(f"/s/{STALL}")
    assert r.status_code == 200
    assert len(r.data) <= 60 * 1024, len(r.data)


def test_origins_match_trace_through_transforms(scene: Scene) -> None:
    from tracelib.views.tracing import trace

    scene.deliver("LOT-DJ-0003", "10", product="豆角")
    scene.add(STALL, {"kind": "transform", "location": STALL,
                      "inputs": [{"lot": "LOT-CP-0001", "qty": "5", "unit": "kg"},
                                 {"lot": "LOT-DJ-0003", "qty": "5", "unit": "kg"}],
                      "outputs": [{"lot": "LOT-MIX-0004", "qty": "10", "unit": "kg"}],
                      "data": {"process": "merge", "product": "什锦豆角"}})
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    for item in view["on_hand"]:
        expected = [o.lot for o in trace(scene.ledger, item["lot"], forward=False).origins]
        assert [o["lot"] for o in item["origins"]] == expected, item["lot"]
    mix = next(i for i in view["on_hand"] if i["lot"] == "LOT-MIX-0004")
    assert [o["certificate"]["no"] for o in mix["origins"]] == ["CERT-LOT-CP-0001",
                                                                "CERT-LOT-DJ-0003"]
    assert mix["origin"] == mix["origins"][0] and mix["product"] == "什锦豆角"


def test_lab_results_are_listed_and_a_failure_blacklists(client: FlaskClient,
                                                         scene: Scene) -> None:
    lab = {"kind": "lab_test", "time": "2026-11-20T15:00:00+08:00", "location": STALL,
           "data": {"analyte": "毒死蜱", "commodity": "芹菜", "value": "0.01", "unit": "mg/kg",
                    "lab": "云阳县食品检验所", "report_no": "YY-2026-001"}}
    scene.add("market-1", lab)
    scene.add("market-1", {**lab, "time": "2026-11-21T15:00:00+08:00",
                           "data": {**lab["data"], "value": "0.2", "report_no": "YY-2026-002"}})
    view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
    assert [(r["result"], r["value_mg_kg"], r["limit_mg_kg"]) for r in view["lab_results"]] == [
        ("fail", "0.2", "0.05"), ("pass", "0.01", "0.05")]
    assert {p["seq"] for p in view["proofs"]} >= {r["seq"] for r in view["lab_results"]}
    few = stall_view(scene.ledger, STALL, today=TODAY, rules=StandingRules(lab_results_limit=1),
                     proof_url=PROOF_PATH)
    assert len(few["lab_results"]) == 1
    html = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "实验室检测" in html and "毒死蜱" in html and "0.05 mg/kg" in html


# -- the worker's cache behind the page ------------------------------------------------------

JSON = {"Accept": "application/json"}
SALE = {"id": "sale-2", "kind": "sale", "time": "2026-11-22T09:00:00+08:00", "location": STALL,
        "inputs": [{"lot": "LOT-CP-0001", "qty": "2.5", "unit": "kg"}],
        "data": {"receipt": "R-0002"}}
HOLD = {"id": "hold-2", "kind": "hold", "location": STALL,
        "inputs": [{"lot": "LOT-CP-0001", "qty": "37.5", "unit": "kg"}],
        "data": {"reason": "市场抽检 待复检"}}


@pytest.mark.parametrize(("append", "shown"), [
    ("sale", "35 kg"),
    ("hold", "市场抽检 待复检"),
    ("rapid_test", "09:30"),
    ("sale through the API", "35 kg"),
])
def test_the_next_scan_after_an_append_shows_it(app: Flask, client: FlaskClient, scene: Scene,
                                               append: str, shown: str) -> None:
    # every representation cached first: JSON, the page in both languages
    before = client.get(f"/s/{STALL}", headers=JSON).json
    assert shown not in client.get(f"/s/{STALL}").get_data(as_text=True)
    client.get(f"/s/{STALL}?lang=en")
    if append == "sale":
        scene.add(STALL, SALE)
    elif append == "hold":
        scene.add("market-1", HOLD)
    elif append == "rapid_test":
        scene.rapid("LOT-CP-0001", "0.720", time="2026-11-22T09:30:00+08:00", event_id="rt-late")
    else:
        token = issue_token(app, STALL)
        posted = client.post("/api/v1/events", headers={"Authorization": f"Bearer {token}"},
                             json=[{**SALE, "actor": STALL}])
        assert posted.status_code == 201, posted.json
    after = client.get(f"/s/{STALL}", headers=JSON).json
    assert after != before and after == disclose_stall(
        stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH), PUBLIC)
    assert shown in client.get(f"/s/{STALL}").get_data(as_text=True)
    assert shown in client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)


def test_the_next_scan_after_a_signed_checkpoint_shows_it(client: FlaskClient, scene: Scene,
                                                          operator_key: SigningKey) -> None:
    scene.rapid("LOT-CP-0001", "0.720", time="2026-11-22T09:30:00+08:00", event_id="rt-late")
    doc = client.get(f"/s/{STALL}", headers=JSON).json
    assert doc["checkpoint"]["signed"] is False
    assert "尚未签名" in client.get(f"/s/{STALL}").get_data(as_text=True)
    scene.ledger.sign_checkpoint(operator_key, now=NOW)  # the ledger's size does not change
    doc = client.get(f"/s/{STALL}", headers=JSON).json
    assert doc["checkpoint"]["signed"] is True and doc["checkpoint"]["size"] == scene.ledger.size
    html = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "尚未签名" not in html and "以上记录均在签名账本中" in html


def test_scans_are_answered_from_the_cache_until_the_ledger_changes(
        client: FlaskClient, scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracelib_service.stall as stall_module

    built: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(args[1])
        return stall_view(*args, **kwargs)

    monkeypatch.setattr(stall_module, "stall_view", counted)
    asks: list[tuple[str, dict[str, str]]] = [
        ("", {}), ("", JSON), ("?lang=en", {}), ("", {"Accept-Language": "en"}),
        ("?pay=P-1", {}), ("?pay=P-1", JSON), ("", {})]
    for query, headers in asks:
        assert client.get(f"/s/{STALL}{query}", headers=headers).status_code == 200
    assert built == [STALL]  # one view for every representation
    scene.add(STALL, SALE)
    for query, headers in asks:
        client.get(f"/s/{STALL}{query}", headers=headers)
    assert built == [STALL, STALL]


def test_each_representation_has_its_own_etag_and_304(client: FlaskClient) -> None:
    asks: dict[str, tuple[str, dict[str, str]]] = {
        "zh": ("", {}), "en": ("?lang=en", {}), "en by header": ("", {"Accept-Language": "en"}),
        "json": ("", JSON), "pay": ("?pay=P-1", {}), "json pay": ("?pay=P-1", JSON)}
    etags: dict[str, str] = {}
    for name, (query, headers) in asks.items():
        first = client.get(f"/s/{STALL}{query}", headers=headers)
        again = client.get(f"/s/{STALL}{query}", headers=headers)  # from the cache
        assert first.data == again.data, name
        etag = first.headers["ETag"]
        assert etag == again.headers["ETag"] == f'"{hashlib.sha256(first.data).hexdigest()[:40]}"'
        assert first.headers["Vary"] == "Accept, Accept-Language"
        assert first.headers["Cache-Control"] == "no-cache"
        etags[name] = etag
        revalidated = client.get(f"/s/{STALL}{query}", headers={**headers, "If-None-Match": etag})
        assert revalidated.status_code == 304 and revalidated.data == b"", name
        assert revalidated.headers["ETag"] == etag
        assert revalidated.headers["Vary"] == "Accept, Accept-Language"
    assert etags["en"] == etags["en by header"]
    assert len(set(etags.values())) == len(etags) - 1
    # another representation's ETag does not match
    assert client.get(f"/s/{STALL}", headers={"If-None-Match": etags["en"]}).status_code == 200
    assert client.get(f"/s/{STALL}", headers={**JSON, "If-None-Match": etags["zh"]}).json


def test_payment_reference_is_never_kept_and_always_escaped(client: FlaskClient) -> None:
    client.get(f"/s/{STALL}")  # cached: the next answers are built from the kept JSON
    client.get(f"/s/{STALL}", headers=JSON)
    evil = "<img src=x onerror=alert(1)>"
    html = client.get(f"/s/{STALL}", query_string={"pay": evil}).get_data(as_text=True)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    doc = client.get(f"/s/{STALL}", query_string={"pay": evil}, headers=JSON).json
    assert doc["payment_ref"] == evil
    assert "img" not in client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "payment_ref" not in client.get(f"/s/{STALL}", headers=JSON).json


def _answers(size: int) -> StallAnswers:
    return StallAnswers((1, 1), b"j" * size, "etag")


def test_stall_cache_drops_the_least_recently_used_stall_only() -> None:
    pages = StallPages(limit=300)
    keys = {s: (s, "2026-11-22", PROOF_PATH) for s in ("a", "b", "c", "d")}
    for s in "abc":
        pages.put(keys[s], _answers(100))
    assert pages.get(keys["a"], (1, 1)) is not None  # a scan of a: now the hottest
    pages.put(keys["d"], _answers(100))  # over the limit: b goes, not everything
    assert [s for s in "abcd" if keys[s] in pages] == ["a", "c", "d"]
    assert pages.weight == 300 and len(pages) == 3
    a = pages.get(keys["a"], (1, 1))
    assert a is not None
    pages.add_page(keys["a"], a, "zh", (b"p" * 100, "etag-zh"))  # a grows: c goes
    assert [s for s in "abcd" if keys[s] in pages] == ["a", "d"]
    assert pages.weight == 300 and a.weight == 200


def test_stall_cache_answers_only_the_version_it_was_built_at() -> None:
    pages = StallPages(limit=1000)
    key = ("a", "2026-11-22", PROOF_PATH)
    old = _answers(100)
    pages.put(key, old)
    assert pages.get(key, (2, 1)) is None  # the ledger grew
    assert pages.get(key, (1, 2)) is None  # a checkpoint was signed
    pages.put(key, StallAnswers((2, 1), b"n" * 50, "etag"))  # rebuilt: replaces, not adds
    assert len(pages) == 1 and pages.weight == 50
    pages.add_page(key, old, "zh", (b"p" * 100, "x"))  # a page of the replaced answers
    assert pages.weight == 50


def test_stall_cache_limit_is_configured(db_url: str, scene: Scene, keystore: Keystore) -> None:
    app = create_app({"DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "STALL_CACHE_MB": 0.001})
    try:
        client = app.test_client()
        assert client.get(f"/s/{STALL}").status_code == 200
        pages = stall_pages(app)
        assert pages.limit == 1048 and len(pages) == 1  # one stall is always kept
        assert client.get(f"/s/{STALL}", headers=JSON).status_code == 200
    finally:
        app.extensions["tracelib"].close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_page_rendered_from_the_kept_json_equals_one_rendered_from_the_view(
        app: Flask, client: FlaskClient, scene: Scene, lang: str) -> None:
    client.get(f"/s/{STALL}", headers=JSON)  # kept: the JSON only, no page yet
    page = client.get(f"/s/{STALL}?lang={lang}").data
    with app.test_request_context(f"/s/{STALL}?lang={lang}"):
        view = stall_view(scene.ledger, STALL, today=TODAY, proof_url=PROOF_PATH)
        assert page == render_page(view, None)[0]


def test_a_tests_hold_is_said_in_the_pages_language(client: FlaskClient) -> None:
    """The reason a test's hold records carries both languages; the page says it in one."""
    zh = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "LOT-QC-0002：快检阳性：有机磷和氨基甲酸酯类农药" in zh
    assert "rapid test positive" not in zh
    en = client.get(f"/s/{STALL}?lang=en").get_data(as_text=True)
    assert "LOT-QC-0002: Rapid test positive: organophosphate and carbamate pesticides" in en
    assert "快检阳性" not in en and "有机磷" not in en
