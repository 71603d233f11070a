"""``POST /epcis/capture`` and ``GET /epcis/capture/{id}`` (issue 18, the EPCIS 2.0 REST
binding): 202 with a Location from configuration, the job's shape, rollback and proceed, a
party capturing only its own events, and bad documents refused whole with their JSON path
(400, 413), nothing stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tracelib.cbv import EPCIS_CONTEXT
from tracelib_service.tokens import issue_token

from .conftest import STALL, Scene

LOT = "LOT-CP-0001"  # 37.5 kg on hand at the stall


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    return {party: issue_token(app, party) for party in (STALL, "farm-1")}


def _auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def _sale(app: Flask, qty: Any = 1.5, receipt: str = "R-9001", **over: Any) -> dict[str, Any]:
    base = app.config["LINK_BASE"]
    event = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "retail_selling",
             "disposition": "retail_sold", "eventTime": "2026-11-22T08:30:00+08:00",
             "eventTimeZoneOffset": "+08:00",
             "quantityList": [{"epcClass": f"https://id.gs1.org/01/06901234567892/10/{LOT}",
                               "quantity": qty, "uom": "KGM"}],
             "bizLocation": {"id": f"{base}/loc/{STALL}"},
             "bizTransactionList": [{"type": "inv", "bizTransaction":
                                     f"urn:tracelib:epcis:doc:receipt:{receipt}"}]}
    event.update(over)
    return event


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-11-22T00:00:00Z", "epcisBody": {"eventList": events}}


def _post(client: FlaskClient, token: str, doc: Any, **headers: str) -> Any:
    body = doc if isinstance(doc, (bytes, str)) else json.dumps(doc)
    return client.post("/epcis/capture", data=body, headers=_auth(token, **headers),
                       content_type="application/ld+json")


def test_capture_answers_202_with_the_job_at_a_configured_location(
        app: Flask, client: FlaskClient, scene: Scene, tokens: dict[str, str]) -> None:
    size = scene.ledger.size
    response = _post(client, tokens[STALL], _document([_sale(app)]))
    assert response.status_code == 202, response.get_json()
    location = response.headers["Location"]
    assert location.startswith(app.config["LINK_BASE"] + "/epcis/capture/")
    assert response.headers["GS1-EPCIS-Version"] == "2.0.0"
    job = client.get(location.removeprefix(app.config["LINK_BASE"]),
                     headers=_auth(tokens[STALL]))
    assert job.status_code == 200
    body = job.get_json()
    assert set(body) == {"captureID", "createdAt", "finishedAt", "running", "success",
                         "captureErrorBehaviour", "errors"}
    assert body["running"] is False and body["success"] is True
    assert body["captureErrorBehaviour"] == "rollback" and body["errors"] == []
    assert scene.ledger.size == size + 1
    record = scene.ledger.record(size)
    assert record.kind == "sale" and record.actor == STALL
    again = _post(client, tokens[STALL], _document([_sale(app)]))  # the same event: no copy
    assert again.status_code == 202 and again.get_json()["success"] is True
    assert scene.ledger.size == size + 1
    other = client.get(location.removeprefix(app.config["LINK_BASE"]),
                       headers=_auth(tokens["farm-1"]))
    assert other.status_code == 404  # another party's capture is not there for it


def test_a_party_captures_only_events_it_may_sign(app: Flask, client: FlaskClient,
                                                  scene: Scene, tokens: dict[str, str]) -> None:
    size = scene.ledger.size
    response = _post(client, tokens["farm-1"], _document([_sale(app)]))
    assert response.status_code == 202
    job = response.get_json()
    assert job["success"] is False
    [error] = job["errors"]
    assert error["status"] == 403 and "'stall-a01'" in error["detail"]
    assert error["path"] == "epcisBody.eventList[0].bizLocation"
    assert scene.ledger.size == size


def test_rollback_and_proceed(app: Flask, client: FlaskClient, scene: Scene,
                              tokens: dict[str, str]) -> None:
    size = scene.ledger.size
    doc = _document([_sale(app, 1, "R-1"), _sale(app, 900, "R-2"), _sale(app, 2, "R-3")])
    rolled = _post(client, tokens[STALL], doc).get_json()
    assert rolled["success"] is False and scene.ledger.size == size
    assert [e["index"] for e in rolled["errors"]] == [1]
    assert rolled["errors"][0]["path"] == "epcisBody.eventList[1].quantityList"
    kept = _post(client, tokens[STALL], doc, **{"GS1-Capture-Error-Behaviour": "proceed"})
    body = kept.get_json()
    assert body["captureErrorBehaviour"] == "proceed" and len(body["errors"]) == 1
    assert scene.ledger.size == size + 2
    odd = _post(client, tokens[STALL], doc, **{"GS1-Capture-Error-Behaviour": "sometimes"})
    assert odd.status_code == 400


def _deep(levels: int) -> str:
    return '{"x":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(("what", "make", "status", "path"), [
    ("malformed JSON", lambda app: b'{"type": "EPCISDocument",', 400, None),
    ("wrong @context", lambda app: {**_document([_sale(app)]), "@context": "https://x.example/c"},
     400, "@context"),
    ("unknown event type", lambda app: _document([_sale(app, type="MagicEvent")]), 400,
     "epcisBody.eventList[0].type"),
    ("non-standard bizStep", lambda app: _document([_sale(app, bizStep="haggling")]), 400,
     "epcisBody.eventList[0].bizStep"),
    ("quantity as text", lambda app: _document([_sale(app, qty="1.5")]), 400,
     "epcisBody.eventList[0].quantityList[0].quantity"),
    ("missing eventTime", lambda app: _document([{k: v for k, v in _sale(app).items()
                                                  if k != "eventTime"}]), 400,
     "epcisBody.eventList[0]"),
    ("10,001 events", lambda app: _document([_sale(app)] * 10_001), 413, "epcisBody.eventList"),
    ("10,000 levels deep", lambda app: ('{"@context": "' + EPCIS_CONTEXT + '", "type": '
                                        '"EPCISDocument", "x": ' + _deep(10_000) + "}"), 400, None),
])
def test_bad_documents_are_refused_whole(app: Flask, client: FlaskClient, scene: Scene,
                                         tokens: dict[str, str], what: str, make: Any,
                                         status: int, path: str | None) -> None:
    size = scene.ledger.size
    response = _post(client, tokens[STALL], make(app))
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status and problem["detail"]
    assert problem.get("path") == path
    assert scene.ledger.size == size


def test_capture_needs_a_write_token_and_speaks_epcis_2(app: Flask, client: FlaskClient,
                                                        tokens: dict[str, str]) -> None:
    doc = json.dumps(_document([_sale(app)]))
    assert client.post("/epcis/capture", data=doc,
                       content_type="application/json").status_code == 401
    old = _post(client, tokens[STALL], _document([_sale(app)]), **{"GS1-EPCIS-Version": "1.2"})
    assert old.status_code == 406
    text = client.post("/epcis/capture", data=doc, headers=_auth(tokens[STALL]),
                       content_type="text/plain")
    assert text.status_code == 415
    assert client.get("/epcis/capture/nope", headers=_auth(tokens[STALL])).status_code == 404
