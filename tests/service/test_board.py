"""The market's public board (公示) of the day's rapid tests."""

from __future__ import annotations

import hashlib

from flask.testing import FlaskClient

from tests.service.conftest import Scene


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
