"""The service on PostgreSQL: the same pages, writes, tokens and scan counts."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import STALL, Scene
from tracelib.views.disclosure import PUBLIC, disclose_stall
from tracelib.views.stall import stall_view
from tracelib_service.scan_counts import scans_on
from tracelib_service.stall import PROOF_PATH
from tracelib_service.tokens import issue_token

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(pg_url: str) -> str:
    return pg_url


def test_service_on_postgres(app: Flask, client: FlaskClient, scene: Scene) -> None:
    assert scene.ledger.store.dialect == "postgresql"
    doc = client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json
    assert doc == disclose_stall(stall_view(scene.ledger, STALL, today=date(2026, 11, 22),
                                            proof_url=PROOF_PATH), PUBLIC)
    html = client.get(f"/s/{STALL}").get_data(as_text=True)
    assert "张记蔬菜" in html and "阳性 不合格" in html
    token = issue_token(app, STALL)
    r = client.post("/api/v1/events", headers={"Authorization": f"Bearer {token}"}, json=[{
        "id": "pg-sale-1", "kind": "sale", "time": "2026-11-22T09:00:00+08:00", "actor": STALL,
        "location": STALL, "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
        "data": {"receipt": "R-PG-1"}}])
    assert r.status_code == 201, r.json
    assert r.json["checkpoint"]["size"] == scene.ledger.size
    assert client.get("/l/LOT-CP-0001").status_code == 200
    assert client.get("/m/market-1/board").status_code == 200
    with app.app_context():
        assert scans_on(STALL, date(2026, 11, 22)) == 2
