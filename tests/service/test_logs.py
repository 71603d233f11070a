"""Every log line is one JSON object; every line written while a request is served carries
its request id — the client's sane ``X-Request-Id`` or a fresh one — which the response
echoes and problem documents carry."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask, current_app

from tests.service.conftest import STALL


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_log_lines_are_json_with_the_request_id(app: Flask,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def noisy() -> str:
        current_app.logger.warning("the service says %s", "你好")
        logging.getLogger("tracelib.somewhere").warning("the library says so")
        return "ok"

    app.add_url_rule("/noisy", view_func=noisy)
    client = app.test_client()
    capsys.readouterr()
    r = client.get("/noisy", headers={"X-Request-Id": "req-42.a:b"})
    assert r.headers["X-Request-Id"] == "req-42.a:b"
    err = capsys.readouterr().err
    lines = _lines(err)  # every line parses
    assert [line["message"] for line in lines] == ["the service says 你好", "the library says so",
                                                   "GET /noisy 200"]
    assert {line["request_id"] for line in lines} == {"req-42.a:b"}
    assert "你好" in err  # UTF-8 as is
    access = lines[-1]
    assert access["logger"] == "tracelib_service.access" and access["level"] == "info"
    assert access["method"] == "GET" and access["route"] == "/noisy" and access["status"] == 200
    assert access["duration_ms"] >= 0 and access["client"] == "127.0.0.1"
    assert isinstance(access["pid"], int) and access["time"].endswith("+00:00")


@pytest.mark.parametrize("asked", ["", "has space", "x" * 129, "<script>", "id;drop"])
def test_an_insane_request_id_is_replaced(app: Flask, asked: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    client = app.test_client()
    capsys.readouterr()
    r = client.get(f"/s/{STALL}", headers={"X-Request-Id": asked})
    rid = r.headers["X-Request-Id"]
    assert rid != asked and len(rid) == 32 and int(rid, 16) >= 0
    assert [line["request_id"] for line in _lines(capsys.readouterr().err)] == [rid]


def test_each_request_gets_its_own_id(client: Any) -> None:
    ids = {client.get(f"/s/{STALL}").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_problem_documents_carry_the_request_id(client: Any) -> None:
    r = client.get("/api/v1/stalls/no-such-stall", headers={"X-Request-Id": "trace-me-1"})
    assert r.status_code == 404
    assert r.json["request_id"] == "trace-me-1" == r.headers["X-Request-Id"]


def test_access_lines_can_be_turned_off(db_url: str, keystore: Any, scene: Any,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import NOW
    from tracelib_service import create_app

    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "LOG_REQUESTS": False})
    try:
        capsys.readouterr()
        r = app.test_client().get(f"/s/{STALL}")
        assert r.status_code == 200 and r.headers["X-Request-Id"]
        assert capsys.readouterr().err == ""
    finally:
        app.extensions["tracelib"].close()
