"""The server's own state — a full disk, a lost or refused database connection — answers a 503
problem document saying that nothing was stored (in Chinese by default, English on request),
never "500 unexpected error"; and the service signs checkpoints through the operator signer's
memory like every other program."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.helpers import certificate
from tests.service.conftest import Scene
from tracelib.events import sign_event
from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.signer import SignerMemory
from tracelib_service.tokens import issue_token

PROBLEM = "application/problem+json"


def _origins(scene: Scene, count: int) -> list[dict[str, Any]]:
    return [sign_event({"id": f"origin-full-{i}", "kind": "origin", "time": "2026-11-22T05:00:00+08:00",
             "actor": "farm-1", "location": "farm-1.field",
             "outputs": [{"lot": f"LOT-FULL-{i:04d}", "qty": "10", "unit": "kg"}],
             "data": {"certificate": certificate(f"LOT-FULL-{i:04d}")}},
                       scene.net.keys["farm-1"]) for i in range(count)]


def test_disk_full_during_a_post_is_a_503_problem_and_stores_nothing(
        app: Flask, scene: Scene) -> None:
    ledger: Ledger = app.extensions["tracelib"].ledger
    size = scene.ledger.size
    path = ledger.store.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as probe:
        pages = probe.execute("PRAGMA page_count").fetchone()[0]

    def no_room(dbapi_connection: Any, *_args: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(ledger.store.engine, "checkout", no_room)
    token = issue_token(app, "farm-1")
    client = app.test_client()
    try:
        for lang, words in (("zh", "磁盘已满"), ("en", "disk is full")):
            r = client.post(f"/api/v1/events?lang={lang}", data=json.dumps(_origins(scene, 300)),
                            content_type="application/json",
                            headers={"Authorization": f"Bearer {token}",
                                     "Accept-Language": lang})
            assert r.status_code == 503, r.get_data(as_text=True)
            assert r.mimetype == PROBLEM
            assert r.json["code"] == "unavailable" and r.json["reason"] == "full"
            assert words in r.json["detail"], r.json
            assert "unexpected" not in r.get_data(as_text=True)
            assert r.headers["Retry-After"]
    finally:
        event.remove(ledger.store.engine, "checkout", no_room)
    assert scene.ledger.size == size  # nothing stored; the scene's fixture verifies the rest


def test_a_lost_connection_outside_the_ledger_is_a_503_not_a_500(app: Flask) -> None:
    @app.get("/api/v1/_lost")
    def _lost() -> str:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection "
                                                         "unexpectedly"))

    r = app.test_client().get("/api/v1/_lost")
    assert r.status_code == 503 and r.mimetype == PROBLEM
    assert r.json["reason"] == "lost" and "连接已中断" in r.json["detail"]
    page = app.test_client().get("/api/v1/_lost?lang=en")
    assert "connection to the database was lost" in page.json["detail"]


def test_the_service_signs_through_the_signers_memory(app: Flask, keystore: Keystore,
                                                      scene: Scene) -> None:
    memory = scene.ledger.signer_memory(keystore)
    assert not memory.exists()
    token = issue_token(app, "farm-1")
    r = app.test_client().post("/api/v1/events", json=_origins(scene, 1),
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.json
    remembered = memory.load()
    assert remembered is not None and remembered.size == scene.ledger.size
    assert r.json["checkpoint"]["note"] == remembered.note


def test_a_service_that_cannot_remember_stores_the_events_and_signs_nothing(
        app: Flask, scene: Scene, monkeypatch: Any) -> None:
    def read_only(*_args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(SignerMemory, "remember", read_only)
    before = scene.ledger.latest_checkpoint()
    token = issue_token(app, "farm-1")
    r = app.test_client().post("/api/v1/events", json=_origins(scene, 1),
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.json
    assert before is not None and r.json["checkpoint"]["size"] == before.size
    assert scene.ledger.latest_checkpoint() == before
    assert scene.ledger.size == before.size + 1
