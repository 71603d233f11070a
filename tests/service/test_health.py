"""``/healthz`` and ``/readyz``: the process is up; the database answers, its schema is the
newest, and no record has waited unsigned longer than the configured age."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import NOW
from tests.helpers import certificate
from tests.service.conftest import Scene
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib.store import Store
from tracelib_service import create_app

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[MakeApp]:
    """An app on the scene's ledger with some settings changed."""
    made: list[Flask] = []

    def make(**config: Any) -> Flask:
        app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                          "NOW": NOW, **config})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["tracelib"].close()


def _checks(body: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    return {c["name"]: (c["ok"], c["detail"]) for c in body["checks"]}


def _append_late(scene: Scene, when: timedelta) -> None:
    """One more record, recorded ``when`` after the scene's checkpoint (which it leaves
    uncovered)."""
    doc = scene.net.event("farm-1", {
        "kind": "origin", "location": "farm-1.field", "time": "2026-11-22T07:00:00+08:00",
        "outputs": [{"lot": "LOT-LATE-1", "qty": "5", "unit": "kg"}],
        "data": {"certificate": certificate("LOT-LATE-1")}})
    scene.ledger.append([doc], now=NOW + when)


def test_ready(app: Flask, scene: Scene) -> None:
    client = app.test_client()
    live = client.get("/healthz")
    assert live.status_code == 200 and live.json == {"status": "ok"}
    assert live.headers["Cache-Control"] == "no-store"
    r = client.get("/readyz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ready"
    checks = _checks(r.json)
    assert list(checks) == ["database", "schema", "checkpoint"]
    assert all(ok for ok, _ in checks.values())
    head = Store.head_revision()
    assert checks["schema"][1] == f"revision {head} (newest {head})"
    size = scene.ledger.size
    assert checks["checkpoint"][1].startswith(f"newest covers {size} of {size} records")


def test_database_gone(app: Flask, db_url: str) -> None:
    """The ledger's file is moved away and a folder stands in its place: the database
    cannot be opened. Liveness still answers; readiness says why it is not ready."""
    ext = app.extensions["tracelib"]
    path = Path(db_url.removeprefix("sqlite:///"))
    moved = path.with_name("moved.db")
    ext.watch.close()
    ext.ledger.store.engine.dispose()
    path.rename(moved)
    path.mkdir()
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json["status"] == "not ready"
        checks = _checks(r.json)
        assert list(checks) == ["database"] and checks["database"][0] is False
        assert "database" in checks["database"][1], checks
    finally:
        ext.ledger.store.engine.dispose()
        path.rmdir()
        moved.rename(path)
    assert app.test_client().get("/readyz").status_code == 200  # back once it is back


def test_schema_behind(app: Flask, db_url: str) -> None:
    path = db_url.removeprefix("sqlite:///")
    head = Store.head_revision()
    behind = f"{int(head) - 1:04d}"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (behind,))
    try:
        r = app.test_client().get("/readyz")
        assert r.status_code == 503
        assert _checks(r.json)["schema"] == (False, f"revision {behind} (newest {head})")
        assert _checks(r.json)["database"][0] is True
    finally:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (head,))


def test_checkpoint_too_old(make_app: MakeApp, scene: Scene) -> None:
    _append_late(scene, timedelta(minutes=5))
    later = make_app(NOW=NOW + timedelta(hours=2))
    r = later.test_client().get("/readyz")
    assert r.status_code == 503
    ok, detail = _checks(r.json)["checkpoint"]
    size = scene.ledger.size
    assert not ok and detail == (f"newest covers {size - 1} of {size} records, signed 7200 s "
                                 "ago (limit 3600 s)")
    # within the configured age, and with the check turned off, it is ready
    assert make_app(NOW=NOW + timedelta(minutes=50)).test_client().get(
        "/readyz").status_code == 200
    roomy = make_app(NOW=NOW + timedelta(hours=2), READY_MAX_CHECKPOINT_AGE=3 * 3600)
    assert roomy.test_client().get("/readyz").status_code == 200
    off = make_app(NOW=NOW + timedelta(hours=2), READY_MAX_CHECKPOINT_AGE=0)
    r = off.test_client().get("/readyz")
    assert r.status_code == 200 and "no age limit" in _checks(r.json)["checkpoint"][1]


def test_an_old_checkpoint_covering_every_record_is_ready(make_app: MakeApp) -> None:
    """A quiet night: nothing appended since the last checkpoint, however old."""
    r = make_app(NOW=NOW + timedelta(days=3)).test_client().get("/readyz")
    assert r.status_code == 200, r.json


def test_no_checkpoint_yet_is_ready(tmp_path: Path, operator_key: SigningKey) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    Ledger.create(db, operator_key=operator_key, now=NOW).close()
    app = create_app({"TESTING": True, "DB": db, "KEYSTORE": str(tmp_path / "keys"), "NOW": NOW})
    try:
        r = app.test_client().get("/readyz")
        assert r.status_code == 200
        assert _checks(r.json)["checkpoint"] == (True, "no checkpoint signed yet (1 record)")
    finally:
        app.extensions["tracelib"].close()
