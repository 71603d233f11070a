"""Fuzzing the API from its own OpenAPI document (schemathesis).

Every operation of ``/api/v1/openapi.json`` gets requests generated from the document:
valid ones, invalid ones (negative mode) and the boundary values of the coverage phase.
Each answer must not be a 5xx and must be as documented: a declared status with its
declared media type and body schema, schema-valid requests never refused as malformed
(400), schema-violating ones never accepted, and a write without a valid token refused.
Writes go with a valid token acting for the stall (the generated events act for it), so
generated bodies reach the validation behind the token check; the same body under another
party's token is refused. Afterwards the ledger re-derives and holds exactly the events
the service accepted.

Deterministic: a fixed seed, ``derandomize``, no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from tests.conftest import BOTH_STORES, store_url
from tests.service.conftest import STALL, Scene
from tracelib_service.openapi import openapi_document
from tracelib_service.tokens import issue_token

PROBLEM = "application/problem+json"

CONFIG = SchemathesisConfig.from_dict({
    "seed": 20261122,
    # One throw-away ledger per operation, shared by its examples (function-scoped fixtures
    # on purpose); generation of the recursive JSON values is slow by Hypothesis's measure.
    "suppress-health-check": ["all"],
    "generation": {"mode": "all", "max-examples": 40, "deterministic": True,
                   "database": "none"},
    "checks": {
        # A schema-valid request may still break a rule only the ledger knows (a kind's
        # data, mass balance, who may act where, signatures): 422. Never 400 (malformed).
        "positive_data_acceptance": {"expected-statuses": ["2xx", 304, 401, 403, 404, 409,
                                                           422]},
    },
})


@pytest.fixture(params=BOTH_STORES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Fuzzed on SQLite and on PostgreSQL (whose text cannot hold what SQLite's can)."""
    return store_url(request, tmp_path)


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    return {**{party: issue_token(app, party) for party in (STALL, "farm-1")},
            "reader": issue_token(app, "operator", scopes=["read:all"])}


@pytest.fixture
def accepted(scene: Scene) -> Iterator[list[str]]:
    """Ids of the events the service stored; afterwards the ledger holds exactly those
    beyond what it held, and re-derives."""
    before = scene.ledger.size
    ids: list[str] = []
    yield ids
    assert scene.ledger.size == before + len(ids), (scene.ledger.size, before, ids)
    for event_id in ids:
        scene.ledger.record_for_event(event_id)
    report = scene.ledger.verify(workers=1)
    assert report.ok, report


class _CurrentApp:
    """A WSGI entry point forwarding to the app of the running test: schemathesis binds the
    schema (and the extra requests its checks send) to one app when the module loads, and
    each test gets a fresh app on a throw-away ledger."""

    app: Flask | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None, "no app bound"
        return self.app(environ, start_response)


CURRENT = _CurrentApp()
DOCUMENT = openapi_document()
# The /api/v1 operations; the EPCIS paths (served under /epcis, path items naming their own
# server) have their own tests (tests/service/test_epcis_queries.py).
API_V1 = {**DOCUMENT, "paths": {path: item for path, item in DOCUMENT["paths"].items()
                                if "servers" not in item}}
schema = schemathesis.openapi.from_dict(API_V1, config=CONFIG)
schema.app = CURRENT


@pytest.fixture
def bound(app: Flask) -> Iterator[Flask]:
    CURRENT.app = app
    yield app
    CURRENT.app = None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _integers(value: Any) -> Any:
    """``2.0`` spelled ``2``. JSON Schema counts ``2.0`` as an integer and schemathesis sends
    both spellings; the ledger's strict JSON refuses every fraction (400, documented), so
    the whole floats go as the integers they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    return value


def _act_for(party: str, body: Any) -> None:
    """Make the generated events act for ``party`` (where ``actor`` is a string at all)."""
    events = body.get("events") if isinstance(body, dict) else body
    for event in events if isinstance(events, list) else ():
        if isinstance(event, dict) and isinstance(event.get("actor"), str):
            event["actor"] = party


@schema.parametrize()
def test_fuzzed_requests_are_answered_as_documented(case: Case, bound: Flask,
                                                     tokens: dict[str, str],
                                                     accepted: list[str]) -> None:
    if (case.method != case.operation.method.upper()
            or case.operation.definition.raw["x-tracelib-scope"] != ["write"]):
        # reads, with a token reading everything, and methods the path does not have
        case.call_and_validate(headers=_auth(tokens["reader"]))
        return
    if case.operation.definition.raw["operationId"] == "putBlob":
        # An upload acts for no party: any write token may store a file under its own hash;
        # a body of another hash is 422, whoever sends it.
        response = case.call(headers=_auth(tokens[STALL]))
        case.validate_response(response)
        return
    case.body = _integers(case.body)
    _act_for(STALL, case.body)
    assert case.meta is not None  # re-checks whether the edited body is still valid
    other = case.call(headers=_auth(tokens["farm-1"]))
    # A path parameter no route takes (a record number past MAX_SAFE_INTEGER) names nothing:
    # 404 before any token is looked at.
    if "Authorization" in other.request.headers:
        assert other.status_code in (400, 403, 404, 413, 415), other.text
    else:  # the coverage phase leaves the token out
        assert other.status_code in (401, 404), other.text
    assert other.headers["content-type"] == [PROBLEM]
    headers = _auth(tokens[STALL])
    response = case.call(headers=headers)
    if response.status_code == 201:
        accepted.extend(r["id"] for r in response.json()["receipts"] if not r["duplicate"])
    case.validate_response(response, headers=headers, transport_kwargs={"headers": headers})


def test_every_operation_is_fuzzed_from_the_served_document(client: FlaskClient) -> None:
    assert client.get("/api/v1/openapi.json").json == DOCUMENT
    operations = {op["operationId"] for item in API_V1["paths"].values() for op in item.values()}
    fuzzed = {r.ok().definition.raw["operationId"] for r in schema.get_all_operations()}
    assert fuzzed == operations and len(operations) == 22


@pytest.mark.parametrize("url", [
    "/api/v1/events/a%00b", "/api/v1/lots/a%00b/trace", "/api/v1/stalls/a%00b",
    "/api/v1/events/a%1Fb", "/l/a%00b", "/01/06901234567892/10/a%00b",
    "/s/a%00b", "/s/a%00b/qr.png", "/s/a%00b/qr.svg", "/m/a%00b/board",
])
def test_ids_with_control_characters_are_404_on_every_store(app: Flask, client: FlaskClient,
                                                             url: str) -> None:
    reader = issue_token(app, "operator", scopes=["read:all"])  # records and traces need one
    r = client.get(url, headers={"Accept": "application/json", **_auth(reader)})
    assert r.status_code == 404, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM


@pytest.mark.parametrize("where", ["id", "data", "key"])
def test_nul_in_a_body_is_400_on_every_store(client: FlaskClient, tokens: dict[str, str],
                                             accepted: list[str], where: str) -> None:
    event = {"id": "sale-nul", "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
             "actor": STALL, "location": STALL,
             "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
             "data": {"receipt": "R-1"}}
    if where == "id":
        event["id"] = "sale\x00nul"
    elif where == "data":
        event["data"]["receipt"] = "R\x00-1"
    else:
        event["data"]["no\x00te"] = "x"
    r = client.post("/api/v1/events", json=[event], headers=_auth(tokens[STALL]))
    assert r.status_code == 400 and r.mimetype == PROBLEM, r.get_data(as_text=True)
    assert r.json["field"] == {"id": "[0].id", "data": "[0].data.receipt",
                               "key": '[0].data["no\\u0000te"]'}[where]
