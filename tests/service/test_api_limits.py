"""A regulator loads a GB 2763 limits table through the API as a signed ``limits`` event; a
stall may not (docs/howto-limits.md)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import Scene
from tests.test_limits_event import REGULATOR, TABLE, _add_regulator
from tracelib_service.tokens import issue_token


def test_api_takes_a_regulators_table_and_refuses_a_stalls(app: Flask, client: FlaskClient,
                                                            scene: Scene) -> None:
    _add_regulator(scene.net)
    body = {"kind": "limits", "time": "2026-11-22T09:00:00+08:00",
            "data": {"version": "amr-api", "csv": TABLE}}
    signed = scene.net.event(REGULATOR, {**body, "location": f"{REGULATOR}.office"})
    r = client.post("/api/v1/events", json=[signed],
                    headers={"Authorization": f"Bearer {issue_token(app, REGULATOR)}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    by_stall = scene.net.event("stall-a01", {**body, "location": "stall-a01",
                                             "data": {"version": "stall-api", "csv": TABLE}})
    r = client.post("/api/v1/events", json=[by_stall],
                    headers={"Authorization": f"Bearer {issue_token(app, 'stall-a01')}"})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["field"] == "actor"
