"""The application factory and the two error handlers (HTTP and tracelib errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.helpers import Network
from tests.service.conftest import STALL, Scene
from tracelib import errors
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger
from tracelib_service import create_app


def test_config_from_prefixed_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          operator_key: SigningKey) -> None:
    db = tmp_path / "env.db"
    Ledger.create(f"sqlite:///{db}", operator_key=operator_key, now=NOW).close()
    monkeypatch.setenv("TRACELIB_DB", str(db))
    monkeypatch.setenv("TRACELIB_KEYSTORE", str(tmp_path / "k"))
    monkeypatch.setenv("TRACELIB_MAX_CONTENT_LENGTH", "2048")  # parsed as JSON: an int
    monkeypatch.setenv("TRACELIB_TIMEZONE", "UTC")
    monkeypatch.setenv("TRACELIB_BIND", "10.1.2.3:8080")
    monkeypatch.setenv("TRACELIB_PUBLIC_URL", "https://trace.example.cn")
    app = create_app()
    try:
        assert app.config["DB"] == str(db) and app.config["MAX_CONTENT_LENGTH"] == 2048
        assert app.config["LINK_BASE"] == "https://trace.example.cn"
        assert app.config["TRUSTED_HOSTS"] == ["trace.example.cn", "10.1.2.3"]
        ext = app.extensions["tracelib"]
        assert ext.ledger.size == 1 and ext.keystore.path == tmp_path / "k"
        assert str(ext.zone) == "UTC"
    finally:
        app.extensions["tracelib"].close()


def test_keystore_defaults_beside_the_database(tmp_path: Path, operator_key: SigningKey) -> None:
    db = tmp_path / "county.db"
    Ledger.create(str(db), operator_key=operator_key, now=NOW).close()
    app = create_app({"DB": str(db)})
    try:
        assert app.extensions["tracelib"].keystore.path == tmp_path / "county-keys"
    finally:
        app.extensions["tracelib"].close()


def test_missing_ledger_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFoundError, match="tracelib init"):
        create_app({"DB": str(tmp_path / "none.db")})


def test_separate_service_database(tmp_path: Path, db_url: str, scene: object) -> None:
    state = f"sqlite:///{tmp_path / 'service.db'}"
    app = create_app({"DB": db_url, "SERVICE_DB": state, "NOW": NOW})
    try:
        app.test_client().get(f"/s/{STALL}")
        from sqlalchemy import create_engine, inspect

        engine = create_engine(state)
        assert {"svc_api_tokens", "svc_scan_counts"} <= set(inspect(engine).get_table_names())
        engine.dispose()
    finally:
        app.extensions["tracelib"].close()


def test_unknown_route_html_and_problem(client: FlaskClient) -> None:
    page = client.get("/nowhere")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "没有找到这个页面" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert api.json == {"type": "about:blank", "title": "Not Found", "status": 404,
                        "detail": api.json["detail"], "instance": "/api/v1/nowhere",
                        "request_id": api.headers["X-Request-Id"]}
    en = client.get("/nowhere?lang=en")
    assert "Not found" in en.get_data(as_text=True)


def test_method_not_allowed(client: FlaskClient) -> None:
    r = client.post(f"/s/{STALL}")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    api = client.delete("/api/v1/events")
    assert api.status_code == 405 and api.mimetype == "application/problem+json"
    assert "POST" in api.headers["Allow"]


@pytest.mark.parametrize(("error", "status", "code"), [
    (errors.ValidationError("bad", field="x"), 422, "validation"),
    (errors.SignatureError("sig", field="sig"), 422, "signature"),
    (errors.ConflictError("dup"), 409, "conflict"),
    (errors.NotFoundError("gone"), 404, "not_found"),
    (errors.IntegrityError("broken", seq=3), 500, "integrity"),
    (errors.ProofError("proof"), 500, "proof"),
    (errors.TracelibError("other"), 500, "ledger"),
])
def test_tracelib_errors_map_to_statuses(app: Flask, error: errors.TracelibError, status: int,
                                         code: str) -> None:
    @app.get("/api/v1/_raise")
    def _raise() -> str:
        raise error

    @app.get("/_raise")
    def _raise_page() -> str:
        raise error

    client = app.test_client()
    r = client.get("/api/v1/_raise")
    assert r.status_code == status and r.mimetype == "application/problem+json"
    assert r.json["code"] == code and r.json["detail"].endswith(error.args[0].split(": ")[-1])
    if isinstance(error, errors.ValidationError):
        assert r.json["field"] == error.field
    page = client.get("/_raise")
    assert page.status_code == status and page.mimetype == "text/html"
    assert "出错了" in page.get_data(as_text=True)


def test_unexpected_errors_are_500_without_internals(app: Flask) -> None:
    @app.get("/api/v1/_boom")
    def _boom() -> str:
        raise RuntimeError("secret internals")

    r = app.test_client().get("/api/v1/_boom")
    assert r.status_code == 500 and r.mimetype == "application/problem+json"
    assert "secret" not in r.get_data(as_text=True)


# -- the ledger's version, read cheaply for the workers' caches ----------------------------------

SALE = {"kind": "sale", "time": "2026-11-22T09:00:00+08:00", "location": STALL,
        "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}], "data": {"receipt": "R-9"}}


def test_ledger_version_follows_appends_and_signed_checkpoints(
        app: Flask, scene: Scene, operator_key: SigningKey) -> None:
    ext = app.extensions["tracelib"]
    size = scene.ledger.size
    assert ext.ledger_version() == (size, size)  # the scene ends with a signed checkpoint
    assert ext.ledger_version() == (size, size)
    scene.add(STALL, SALE)
    assert ext.ledger_version() == (size + 1, size)
    scene.ledger.sign_checkpoint(operator_key, now=NOW)
    assert ext.ledger_version() == (size + 1, size + 1)


def test_ledger_watch_reconnects_in_a_forked_child_and_after_an_error(app: Flask) -> None:
    watch = app.extensions["tracelib"].watch
    version = watch.version()
    parents = watch._conn
    watch._pid = -1  # as a forked child sees it: the parent's connection is left alone
    assert watch.version() == version
    assert watch._conn is not parents and watch._inherited == [parents]
    parents.close()
    watch._conn.close()  # broken under it: one retry on a fresh connection
    assert watch.version() == version


@pytest.mark.postgres
def test_ledger_version_on_postgres(pg_url: str, operator_key: SigningKey) -> None:
    ledger = Ledger.create(pg_url, operator_key=operator_key, operator="operator", now=NOW)
    app = create_app({"DB": pg_url, "NOW": NOW})
    ext = app.extensions["tracelib"]
    try:
        assert ext.ledger_version()[0] == ledger.size
        Network.build(ledger, operator_key, now=NOW)
        assert ext.ledger_version()[0] == ledger.size
        ledger.sign_checkpoint(operator_key, now=NOW)
        assert ext.ledger_version() == (ledger.size, ledger.size)
        ext.watch._conn.close()  # e.g. the server restarted: one retry on a new connection
        assert ext.ledger_version() == (ledger.size, ledger.size)
    finally:
        ext.close()
        ledger.close()
