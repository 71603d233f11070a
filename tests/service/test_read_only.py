"""A read-only instance configured so (``READ_ONLY``), on SQLite: every read served, every
write answered 503 naming the primary, scans counted in ``STATE_URL``, and no write ever
attempted on the ledger's database — an SQLite authorizer on the ledger's connections
denies and records any (docs/operations.md "Read replicas"). The same on a real PostgreSQL
standby: test_replica.py."""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Engine, create_engine, event, inspect, select

import tracelib.store
from tests.conftest import NOW
from tests.service.conftest import STALL, Scene, Serve
from tracelib.keys import Keystore
from tracelib.store.engine import normalize_url
from tracelib_cli.main import cli
from tracelib_service import create_app
from tracelib_service.extension import primary_url_setting, read_only_setting
from tracelib_service.scan_counts import scans_on
from tracelib_service.state import scan_counts
from tracelib_service.tokens import issue_token

PRIMARY = "https://trace.example.cn"

# What writes a SQLite database (sqlite3 authorizer action codes, SQLite "Authorizer Action
# Codes"): rows, schema and the write-ahead log.
_WRITES = {getattr(sqlite3, name) for name in dir(sqlite3) if name.startswith((
    "SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE", "SQLITE_CREATE_", "SQLITE_DROP_",
    "SQLITE_ALTER_TABLE", "SQLITE_REINDEX", "SQLITE_ANALYZE"))}


@pytest.fixture
def ledger_writes(db_url: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str | None]]:
    """Every write the service attempts on the ledger's database (denied as it is made)."""
    attempts: list[tuple[int, str | None]] = []
    real = tracelib.store.make_engine

    def watched(db: Any) -> Engine:
        engine = real(db)
        if normalize_url(db) == normalize_url(db_url):
            @event.listens_for(engine, "connect")
            def _deny_writes(dbapi_connection: Any, _record: Any) -> None:
                def authorizer(action: int, arg1: str | None, *_: Any) -> int:
                    if action in _WRITES:
                        attempts.append((action, arg1))
                        return sqlite3.SQLITE_DENY
                    return sqlite3.SQLITE_OK
                dbapi_connection.set_authorizer(authorizer)
        return engine

    monkeypatch.setattr(tracelib.store, "make_engine", watched)
    return attempts


@contextmanager
def _read_only_app(db_url: str, keystore: Keystore, **config: Any) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "READ_ONLY": True, "PRIMARY_URL": PRIMARY, **config})
    try:
        yield app
    finally:
        app.extensions["tracelib"].close()


@pytest.fixture
def token(app: Flask) -> str:
    """A live token, issued by the writable instance (which created the service tables)."""
    return issue_token(app, STALL)


def _sale(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL, "data": {"receipt": "R-RO"},
            "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}]}


def test_reads_served_writes_refused_and_nothing_written(
        db_url: str, scene: Scene, keystore: Keystore, token: str, tmp_path: Path,
        ledger_writes: list[tuple[int, str | None]]) -> None:
    size = scene.ledger.size
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with _read_only_app(db_url, keystore, STATE_URL=state) as app:
        assert app.extensions["tracelib"].read_only and not app.config["SIGN_CHECKPOINTS"]
        client = app.test_client()
        for path in (f"/s/{STALL}", f"/s/{STALL}?lang=en", "/l/LOT-CP-0001",
                     "/api/v1/lots/LOT-CP-0001/trace", "/api/v1/events/sale-1",
                     "/api/v1/checkpoint", f"/api/v1/proofs/inclusion/1?size={size}",
                     "/api/v1/proofs/consistency?first=1", "/m/market-1/board",
                     f"/s/{STALL}/qr.png", "/api/v1/openapi.json"):
            # (the trace and the record with the stall's token: its own books, read:own)
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, path
        for headers in ({"Authorization": f"Bearer {token}"}, {}):
            r = client.post("/api/v1/events?dry=1", json=[_sale("ro-1")], headers=headers)
            assert r.status_code == 503 and r.mimetype == "application/problem+json"
            body = r.json
            assert body.pop("request_id") == r.headers["X-Request-Id"]
            assert body == {
                "type": "about:blank", "title": "Service Unavailable", "status": 503,
                "detail": "本服务实例只读（读取数据库副本），本次请求未保存任何内容；"
                          f"写入请发送至主服务 {PRIMARY}。",
                "instance": "/api/v1/events", "code": "read_only_instance",
                "primary": PRIMARY, "write_to": f"{PRIMARY}/api/v1/events?dry=1"}
            assert r.headers["Cache-Control"] == "no-store" and "Retry-After" not in r.headers
        english = client.post("/api/v1/events", json=[_sale("ro-2")],
                              headers={"Accept-Language": "en"})
        assert english.json["detail"] == ("This instance is read-only (it reads a database "
                                          "replica); nothing was stored. Send writes to the "
                                          f"primary service at {PRIMARY}.")
        # A request no route takes keeps its own answer.
        assert client.post("/nowhere").status_code == 404
        assert client.delete(f"/s/{STALL}").status_code == 405
        with app.app_context():
            assert scans_on(STALL, NOW.date()) == 2
    assert scene.ledger.size == size
    assert ledger_writes == []
    engine = create_engine(state)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == [scan_counts.name]
        assert conn.execute(select(scan_counts.c.scans)).scalar() == 2
    engine.dispose()


def test_the_guard_is_what_keeps_writes_out(db_url: str, scene: Scene, keystore: Keystore,
                                           token: str,
                                           ledger_writes: list[tuple[int, str | None]]) -> None:
    """The write watch sees a write when one is attempted: the same POST to a writable
    instance on the watched database is denied by it."""
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                      "NOW": NOW})
    try:
        r = app.test_client().post("/api/v1/events", json=[_sale("rw-1")],
                                   headers={"Authorization": f"Bearer {token}"})
        assert r.status_code >= 500
    finally:
        app.extensions["tracelib"].close()
    assert ledger_writes


def test_without_state_url_scans_are_not_counted(db_url: str, scene: Scene,
                                                 keystore: Keystore,
                                                 caplog: pytest.LogCaptureFixture,
                                                 ledger_writes: list[tuple[int, str | None]]
                                                 ) -> None:
    with _read_only_app(db_url, keystore) as app:
        client = app.test_client()
        assert client.get(f"/s/{STALL}").status_code == 200
        with app.app_context():
            assert scans_on(STALL, NOW.date()) == 0
    assert "scans are not counted" in caplog.text and "READ_ONLY is set" in caplog.text
    assert ledger_writes == []


def test_without_primary_url_writes_are_still_refused(db_url: str, scene: Scene,
                                                      keystore: Keystore) -> None:
    with _read_only_app(db_url, keystore, PRIMARY_URL=None) as app:
        r = app.test_client().post("/api/v1/events", json=[_sale("ro-3")])
    assert r.status_code == 503 and r.json["code"] == "read_only_instance"
    assert "primary" not in r.json and "write_to" not in r.json
    assert r.json["detail"].endswith("写入请发送至主服务。")


def test_read_only_from_the_environment(db_url: str, scene: Scene, keystore: Keystore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"DB": db_url, "KEYSTORE": str(keystore.path), "READ_ONLY": "1",
                        "PRIMARY_URL": PRIMARY + "/"}.items():
        monkeypatch.setenv(f"TRACELIB_{name}", value)
    app = create_app()
    try:
        ext = app.extensions["tracelib"]
        assert ext.read_only and ext.primary_url == PRIMARY
    finally:
        app.extensions["tracelib"].close()


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), (False, False), (True, True), (0, False), (1, True), ("1", True),
    ("0", False), ("true", True), ("off", False), ("", False), (" Yes ", True)])
def test_read_only_setting(value: Any, expected: bool) -> None:
    assert read_only_setting(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, "2", "on please"])
def test_read_only_setting_refuses_a_guess(value: Any) -> None:
    with pytest.raises(ValueError, match="READ_ONLY must be"):
        read_only_setting(value)


@pytest.mark.parametrize("value", ["ftp://primary.example.cn", "primary.example.cn",
                                   "https://primary.example.cn/?a=1", "https://u@p.example.cn"])
def test_primary_url_must_be_a_base_url(value: str) -> None:
    with pytest.raises(ValueError, match="PRIMARY_URL"):
        primary_url_setting(value)


def test_serve_refuses_a_bad_primary_url(app: Flask) -> None:
    result = CliRunner().invoke(cli, ["--db", app.config["DB"], "serve", "--read-only",
                                      "--primary-url", "primary.example.cn"])
    assert result.exit_code == 2 and "PRIMARY_URL" in result.output, result.output


@pytest.mark.slow
def test_serve_read_only_under_gunicorn(serve: Serve, tmp_path: Path) -> None:
    server = serve("--read-only", "--primary-url", PRIMARY,
                   "--state-url", str(tmp_path / "counts.db"))
    conn = http.client.HTTPConnection(*server, timeout=30)
    try:
        conn.request("GET", f"/s/{STALL}", headers={"Accept": "application/json"})
        page = conn.getresponse()
        assert page.status == 200 and json.loads(page.read())["stall"]["id"] == STALL
        conn.request("POST", "/api/v1/events", body=json.dumps([_sale("gunicorn-1")]),
                     headers={"Content-Type": "application/json"})
        refused = conn.getresponse()
        assert refused.status == 503
        assert json.loads(refused.read())["write_to"] == f"{PRIMARY}/api/v1/events"
    finally:
        conn.close()
