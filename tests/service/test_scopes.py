"""Read scopes (docs/contract.md "Who may read what"): every route of the app, walked with
no token, a wrong party's token, the right party's, a market's read:market and a
regulator's read:all; and the tokens that carry the scopes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import BOTH_STORES, NOW
from tests.service.conftest import GTIN, STALL, Scene
from tests.test_limits_event import REGULATOR, _add_regulator
from tracelib.keys import SigningKey
from tracelib.store.engine import make_engine
from tracelib_cli.main import cli
from tracelib_service import create_app
from tracelib_service.access import (
    ENDPOINTS,
    READ_ALL,
    READ_MARKET,
    READ_OWN,
    WRITE,
    Access,
    Principal,
)
from tracelib_service.openapi import OPERATIONS
from tracelib_service.tokens import issue_token, list_tokens

LOT = "LOT-CP-0001"


def _register_other_market(scene: Scene) -> None:
    """A second market with one stall, unrelated to the scene's chain: the wrong party."""
    keys = {p: SigningKey.generate() for p in ("market-2", "stall-b01")}
    scene.net.keys.update(keys)
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": "market-2", "name": "云阳县城北农贸市场", "role": "market"},
                    {"id": "stall-b01", "name": "李记蔬菜", "role": "stall"}],
        "locations": [{"id": "market-2", "name": "云阳县城北农贸市场", "type": "market",
                       "holder": "market-2"},
                      {"id": "stall-b01", "name": "李记蔬菜", "type": "stall",
                       "parent": "market-2", "holder": "stall-b01"}],
        "keys": [{"party": p, "key_id": k.key_id, "public_key": k.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"} for p, k in keys.items()]}})


@pytest.fixture
def who(app: Flask, scene: Scene) -> dict[str, str | None]:
    """The principals of the matrix, as Authorization headers' tokens."""
    _register_other_market(scene)
    _add_regulator(scene.net)
    return {
        "none": None,
        "wrong": issue_token(app, "stall-b01"),                       # write, read:own
        "right": issue_token(app, STALL),                             # write, read:own
        "market": issue_token(app, "market-1", scopes=[READ_MARKET]),
        "other_market": issue_token(app, "market-2", scopes=[READ_MARKET]),
        "all": issue_token(app, REGULATOR, scopes=[READ_ALL]),
    }


def _sale() -> dict[str, Any]:
    return {"id": "sale-scopes-1", "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL,
            "inputs": [{"lot": LOT, "qty": "1", "unit": "kg"}], "data": {"receipt": "R-S-1"}}


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    expect: dict[str, int]  # principal → status; a missing principal expects `default`
    default: int = 200
    body: Any = None
    check: Callable[[str, Any], None] | None = None  # (principal, response)


_PUBLIC = {}  # every principal: 200
_REGULATOR = {"none": 401, "wrong": 403, "right": 403, "market": 403, "other_market": 403,
              "all": 200}


def _no_receipt(principal: str, r: Any) -> None:
    if r.status_code != 200:
        assert "R-0001" not in r.get_data(as_text=True)


def _trace_reach(principal: str, r: Any) -> None:
    if r.status_code != 200:
        assert "downstream" not in r.get_data(as_text=True)
        return
    places = {loc["location"] for loc in r.json["downstream"]["locations"]}
    if principal == "right":  # its stall, and the cold store one shipment up
        assert places == {STALL, "coldstore-1"}
    elif principal == "market":
        assert places == {STALL, "coldstore-1"}
    else:
        assert places == {"farm-1.field", "coldstore-1", STALL}


_BLOB_BYTES = b"%PDF-1.7\n% scope matrix\n"
_BLOB = f"sha256:{hashlib.sha256(_BLOB_BYTES).hexdigest()}"
_UNCITED = f"sha256:{hashlib.sha256(b'never uploaded').hexdigest()}"


_EPCIS_READ = {"none": 401}  # any read scope: 200, each event shown only within reach


def _epcis_reach(principal: str, r: Any) -> None:
    """A reader sees the sale (its receipt) only when the stall's books are in its reach."""
    if r.status_code == 200 and r.mimetype == "application/ld+json":
        sees = "R-0001" in r.get_data(as_text=True)
        assert sees == (principal in ("right", "market", "all")), principal


# Every endpoint of the app, with a request and the status expected per principal.
CALLS: dict[str, list[Call]] = {
    # docs/contract.md "Receipts": only a device token of the stall records its sales
    "receipts.post_sale": [Call("POST", f"/api/v1/stalls/{STALL}/sales", {"none": 401}, 403,
                                body={"items": [{"lot": LOT, "qty": "1", "unit": "kg"}]})],
    "receipts.receipt_page": [Call("GET", "/r/" + "A" * 26, {}, 404)],
    "receipts.receipt_qr_png": [Call("GET", "/r/" + "A" * 26 + "/qr.png", {}, 404)],
    "receipts.receipt_qr_svg": [Call("GET", "/r/" + "A" * 26 + "/qr.svg", {}, 404)],
    # docs/contract.md "Payments": the market's signature, never a token
    "payments.notify": [Call("POST", "/api/v1/payments/notify", {}, 401, body={})],
    "epcis.openapi": [Call("GET", "/epcis/openapi.json", _PUBLIC)],
    "epcis.events": [Call("GET", "/epcis/events?EQ_bizStep=retail_selling", _EPCIS_READ,
                          check=_epcis_reach)],
    "epcis.event_by_id": [Call("GET", "/epcis/events/ni%3A%2F%2F%2Fsha-256%3Bab%3Fver%3DCBV2.0",
                               {"none": 401}, 404)],
    "epcis.event_types": [Call("GET", "/epcis/eventTypes", _EPCIS_READ)],
    "epcis.event_type_events": [Call("GET", "/epcis/eventTypes/ObjectEvent/events",
                                     _EPCIS_READ, check=_epcis_reach)],
    "epcis.biz_steps": [Call("GET", "/epcis/bizSteps", _EPCIS_READ)],
    "epcis.biz_step_events": [Call("GET", "/epcis/bizSteps/retail_selling/events",
                                   _EPCIS_READ, check=_epcis_reach)],
    "epcis.dispositions": [Call("GET", "/epcis/dispositions", _EPCIS_READ)],
    "epcis.disposition_events": [Call("GET", "/epcis/dispositions/retail_sold/events",
                                      _EPCIS_READ, check=_epcis_reach)],
    "epcis.biz_locations": [Call("GET", "/epcis/bizLocations", _EPCIS_READ)],
    "epcis.biz_location_events": [Call(
        "GET", "/epcis/bizLocations/http%3A%2F%2F127.0.0.1%3A8000%2Floc%2Fstall-a01/events",
        _EPCIS_READ, check=_epcis_reach)],
    "epcis.read_points": [Call("GET", "/epcis/readPoints", _EPCIS_READ)],
    "epcis.read_point_events": [Call(
        "GET", "/epcis/readPoints/http%3A%2F%2F127.0.0.1%3A8000%2Floc%2Fstall-a01/events",
        _EPCIS_READ, check=_epcis_reach)],
    "epcis.epcs": [Call("GET", "/epcis/epcs", _EPCIS_READ)],
    "epcis.epc_events": [Call(
        "GET", "/epcis/epcs/https%3A%2F%2Fid.gs1.org%2F01%2F06901234567892%2F10%2FLOT-CP-0001"
        "/events", _EPCIS_READ, check=_epcis_reach)],
    "api.post_events": [Call("POST", "/api/v1/events", {
        "none": 401, "wrong": 403, "right": 201, "market": 403, "other_market": 403,
        "all": 403}, body=[_sale()])],
    "api.get_event": [Call("GET", "/api/v1/events/sale-1", {
        "none": 401, "wrong": 403, "right": 200, "market": 200, "other_market": 403,
        "all": 200}, check=_no_receipt)],
    "api.lot_trace": [Call("GET", f"/api/v1/lots/{LOT}/trace", {
        "none": 401, "wrong": 403, "right": 200, "market": 200, "other_market": 403,
        "all": 200}, check=_trace_reach)],
    "api.get_stall": [Call("GET", f"/api/v1/stalls/{STALL}", _PUBLIC)],
    "api.get_checkpoint": [Call("GET", "/api/v1/checkpoint", _PUBLIC)],
    "log.checkpoint": [Call("GET", "/log/checkpoint", _PUBLIC)],
    "log.hash_tile": [Call("GET", "/log/tile/0/000.p/1", _PUBLIC)],
    "log.entry_bundle": [Call("GET", "/log/tile/entries/000.p/1", _REGULATOR)],
    "api.inclusion_proof": [Call("GET", "/api/v1/proofs/inclusion/3", _PUBLIC)],
    "api.consistency_proof": [Call("GET", "/api/v1/proofs/consistency?first=2", _PUBLIC)],
    "api.openapi": [Call("GET", "/api/v1/openapi.json", _PUBLIC)],
    # Peer ledgers: a lot's family's records and a key's record for read:all; bringing a
    # peer's shipment in for a write token (this body is incomplete: 400).
    "peers.get_lot_records": [Call("GET", f"/api/v1/lots/{LOT}/records", _REGULATOR)],
    "peers.get_key_record": [Call("GET", "/api/v1/keys/0123456789abcdef",
                                  {**_REGULATOR, "all": 404})],
    # (a recall notice only from a token of the operator or a regulator: 403 for a stall's)
    "peers.post_peer_notice": [Call("POST", "/api/v1/peers/notices", {
        "none": 401, "wrong": 403, "right": 403, "market": 403, "other_market": 403,
        "all": 403}, body={"peer": "tracelib/elsewhere"})],
    "peers.post_peer_receive": [Call("POST", "/api/v1/peers/receive", {
        "none": 401, "wrong": 400, "right": 400, "market": 403, "other_market": 403,
        "all": 403}, body={"peer": "tracelib/elsewhere"})],
    "stall.stall_page": [Call("GET", f"/s/{STALL}", _PUBLIC),
                         Call("GET", f"/s/{STALL}?format=json", _PUBLIC)],
    "stall.qr_png": [Call("GET", f"/s/{STALL}/qr.png", _PUBLIC)],
    "stall.qr_svg": [Call("GET", f"/s/{STALL}/qr.svg", _PUBLIC)],
    "lots.lot_page": [Call("GET", f"/l/{LOT}", _PUBLIC),
                      Call("GET", f"/l/{LOT}?format=json", _PUBLIC)],
    "lots.digital_link": [Call("GET", f"/01/{GTIN}/10/{LOT}", _PUBLIC),
                          Call("GET", f"/01/{GTIN}/10/{LOT}?linkType=gs1:traceability",
                               _PUBLIC)],
    "producers.producer_page": [Call("GET", "/p/farm-1", _PUBLIC),
                                Call("GET", "/p/farm-1?format=json", _PUBLIC)],
    "board.market_board": [Call("GET", "/m/market-1/board", _PUBLIC)],
    "index.index_page": [Call("GET", "/", _PUBLIC)],
    "ops_health.healthz": [Call("GET", "/healthz", _PUBLIC)],
    "ops_health.readyz": [Call("GET", "/readyz", _PUBLIC)],
    # Its own check (a private address here), whatever API token is sent.
    "ops_metrics.metrics": [Call("GET", "/metrics", _PUBLIC)],
    "regulator.get_alerts": [Call("GET", "/api/v1/alerts", _REGULATOR)],
    "regulator.get_kpi": [Call("GET", "/api/v1/reports/kpi?year=2026&population=1000",
                               _REGULATOR)],
    "regulator.drill_report": [Call("GET", "/api/v1/drills/1/report.zip",
                                    {**_REGULATOR, "all": 404})],
    "regulator.drill_picture": [Call("GET", "/api/v1/drills/1/path.svg",
                                     {**_REGULATOR, "all": 404})],
    # Signing needs `write` besides `read:all`: the matrix's regulator token reads only.
    "regulator.post_drill": [Call("POST", "/api/v1/drills", {**_REGULATOR, "all": 403},
                                  body={"lot": LOT})],
    "regulator.post_recall": [Call("POST", "/api/v1/recalls", {**_REGULATOR, "all": 403},
                                   body={"lot": LOT, "reason": "scope matrix"})],
    # Attachments: anyone with `write` uploads; a blob no event cites is read:all's alone
    # (tests/service/test_blobs.py walks the scopes of cited blobs).
    "blobs.put_blob": [Call("PUT", f"/api/v1/blobs/{_BLOB}", {
        "none": 401, "wrong": 201, "right": 201, "market": 403, "other_market": 403,
        "all": 403}, body=_BLOB_BYTES)],
    # EPCIS capture: a write token's document is read (this one is no EPCISDocument: 400)
    "epcis_capture.post_capture": [Call("POST", "/epcis/capture", {
        "none": 401, "wrong": 400, "right": 400, "market": 403, "other_market": 403,
        "all": 403}, body={"type": "NotAnEPCISDocument"})],
    "epcis_capture.get_capture": [Call("GET", "/epcis/capture/no-such-capture", {
        "none": 401, "wrong": 404, "right": 404, "market": 403, "other_market": 403,
        "all": 404})],
    "blobs.get_blob": [Call("GET", f"/api/v1/blobs/{_UNCITED}", {
        "none": 401, "wrong": 403, "right": 403, "market": 403, "other_market": 403,
        "all": 404})],
    # EPCIS named queries and subscriptions: any read scope, each party its own (walked in
    # this order: made, read, subscribed to, then deleted).
    "epcis_queries.post_query": [Call("POST", "/epcis/queries", {"none": 401}, 201, body={
        "name": "matrix", "query": {"EQ_bizStep": ["shipping"]}})],
    "epcis_queries.get_queries": [Call("GET", "/epcis/queries", {"none": 401})],
    "epcis_queries.get_query": [Call("GET", "/epcis/queries/matrix", {"none": 401})],
    "epcis_queries.get_query_events": [Call("GET", "/epcis/queries/matrix/events",
                                            {"none": 401})],
    "epcis_queries.post_subscription": [Call(
        "POST", "/epcis/queries/matrix/subscriptions", {"none": 401}, 201, body={
            "dest": "https://receiver.example.com/hook", "signatureToken": "s", "stream": True})],
    "epcis_queries.get_subscriptions": [Call("GET", "/epcis/queries/matrix/subscriptions",
                                             {"none": 401})],
    "epcis_queries.get_subscription": [Call("GET", "/epcis/queries/matrix/subscriptions/x",
                                            {"none": 401}, 404)],
    "epcis_queries.delete_subscription": [Call(
        "DELETE", "/epcis/queries/matrix/subscriptions/x", {"none": 401}, 404)],
    "epcis_queries.delete_query": [Call("DELETE", "/epcis/queries/matrix", {"none": 401}, 204)],
    # The console checks its own session cookie, never an API token: without a session a
    # page sends every caller to sign in (302), and a form is refused its missing CSRF (403).
    "console.signin": [Call("GET", "/console/signin", _PUBLIC)],
    "console.signin_post": [Call("POST", "/console/signin", {}, 403, {"token": "x"})],
    "console.signout": [Call("POST", "/console/signout", {}, 403, {})],
    "console.home": [Call("GET", "/console/", {}, 302)],
    "console.find_page": [Call("GET", "/console/find?q=LOT", {}, 302)],
    "console.event_page": [Call("GET", "/console/events/sale-1", {}, 302)],
    "console.drill_page": [Call("GET", f"/console/drill?lot={LOT}", {}, 302)],
    "console.drill_picture": [Call("GET", f"/console/drill/path.svg?lot={LOT}", {}, 302)],
    "console.drill_report": [Call("POST", "/console/drill/report.zip", {}, 403, {})],
    "console.recall_page": [Call("GET", "/console/recall", {}, 302)],
    "console.recall_confirm": [Call("POST", "/console/recall/confirm", {}, 403, {})],
    "console.recall_post": [Call("POST", "/console/recall", {}, 403, {})],
    "console.kpi_page": [Call("GET", "/console/kpi", {}, 302)],
    "console.kpi_chart": [Call("GET", "/console/kpi/chart.svg", {}, 302)],
}


def test_every_route_is_classified_and_walked(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert endpoints <= set(ENDPOINTS), "a route without an access rule"
    assert endpoints == set(CALLS), "a route the scope matrix does not walk"
    assert set(OPERATIONS.values()) == {e for e in endpoints if e.startswith(
        ("api.", "regulator.", "blobs.", "epcis_capture.", "epcis_queries.", "peers.",
         "log.", "receipts.post_sale", "payments."))}


def test_openapi_states_each_operations_scope(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if method == "servers":  # the EPCIS binding's paths name their server
                continue
            access: Access = ENDPOINTS[OPERATIONS[op["operationId"]]]
            assert op["x-tracelib-scope"] == list(access.scopes), path
            assert "**Access.**" in op["description"]
            if access.public:
                assert op["security"] == [{}]
            else:
                assert op["security"] == [{"bearer": [s]} for s in access.scopes]
    scheme = doc["components"]["securitySchemes"]["bearer"]["description"]
    assert all(f"`{s}`" in scheme for s in (WRITE, READ_OWN, READ_MARKET, READ_ALL))


@pytest.mark.parametrize("principal", ["none", "wrong", "right", "market", "other_market", "all"])
def test_scope_matrix(client: FlaskClient, who: dict[str, str | None], principal: str) -> None:
    token = who[principal]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for endpoint, calls in CALLS.items():
        for call in calls:
            if call.method == "POST":
                r = client.post(call.url, data=json.dumps(call.body), headers=headers,
                                content_type="application/json")
            elif call.method == "PUT":
                r = client.put(call.url, data=call.body, headers=headers)
            elif call.method == "DELETE":
                r = client.delete(call.url, headers=headers)
            else:
                r = client.get(call.url, headers=headers)
            want = call.expect.get(principal, call.default)
            assert r.status_code == want, (endpoint, call.url, principal,
                                           r.get_data(as_text=True)[:300])
            if want in (401, 403) and not endpoint.startswith("console."):  # its pages: HTML
                assert r.mimetype == "application/problem+json"
            if want == 401:
                assert r.headers["WWW-Authenticate"].startswith("Bearer")
            if call.check:
                call.check(principal, r)


def test_forbidden_answers_name_the_reason(client: FlaskClient, who: dict[str, str | None]
                                           ) -> None:
    r = client.get("/api/v1/events/sale-1", headers={"Authorization": f"Bearer {who['wrong']}"})
    assert r.json["code"] == "not_your_books"
    r = client.post("/api/v1/events", data=json.dumps([_sale()]), content_type="application/json",
                    headers={"Authorization": f"Bearer {who['all']}"})
    assert r.json["code"] == "insufficient_scope"
    assert 'error="insufficient_scope", scope="write"' in r.headers["WWW-Authenticate"]


def test_a_bad_token_is_refused_even_where_none_is_needed(client: FlaskClient) -> None:
    r = client.get(f"/s/{STALL}", headers={"Authorization": "Bearer tlk_not-a-token"})
    assert r.status_code == 401


def test_read_own_sees_one_hop_and_no_further(app: Flask, client: FlaskClient) -> None:
    """The cold store (carrier-1) reads the farm's shipment to it and the stall's receipt
    from it (both name its place), the origin of what it carries and a test of it at the
    stall it supplied (one hop up and down), but not the stall's sale (its retail book) nor
    a test of other goods there."""
    token = issue_token(app, "carrier-1", scopes=[READ_OWN])
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/events/ship1-{LOT}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/events/recv2-{LOT}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/events/origin-{LOT}", headers=auth).status_code == 200  # one hop up
    assert client.get("/api/v1/events/rt-neg", headers=auth).status_code == 200  # one hop down
    assert client.get("/api/v1/events/sale-1", headers=auth).status_code == 403
    assert client.get("/api/v1/events/rt-yesterday", headers=auth).status_code == 403


def test_the_stall_api_shows_a_covering_reader_the_whole_certificate(
        client: FlaskClient, who: dict[str, str | None]) -> None:
    public = client.get(f"/api/v1/stalls/{STALL}").json
    own = client.get(f"/api/v1/stalls/{STALL}",
                     headers={"Authorization": f"Bearer {who['right']}"}).json
    assert "producer" not in public["on_hand"][0]["origin"]["certificate"]
    assert own["on_hand"][0]["origin"]["certificate"]["producer"]


# -- tokens ------------------------------------------------------------------------------

def test_token_scopes_are_checked_against_the_party(app: Flask, scene: Scene) -> None:
    from tracelib.errors import ValidationError

    with pytest.raises(ValidationError, match="only a regulator or the operator"):
        issue_token(app, STALL, scopes=[READ_ALL])
    with pytest.raises(ValidationError, match="holds no market"):
        issue_token(app, STALL, scopes=[READ_MARKET])
    with pytest.raises(ValidationError, match="unknown scope"):
        issue_token(app, STALL, scopes=["read:everything"])
    with pytest.raises(ValidationError, match="at least one scope"):
        issue_token(app, STALL, scopes=[])
    issue_token(app, "operator", scopes=[READ_ALL, WRITE], label="ops")
    kept = {i.party: i.scopes for i in list_tokens(app)}
    assert kept["operator"] == {READ_ALL, WRITE}


@pytest.fixture(params=BOTH_STORES)
def old_state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A service database of its own (SERVICE_DB), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old-state.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def test_a_token_from_before_scopes_keeps_write_and_read_own(old_state: str, db_url: str,
                                                             scene: Scene) -> None:
    """A service database made before tokens carried scopes: the column is added when the
    app starts, and its tokens keep write and read:own."""
    state = old_state
    engine = make_engine(state)
    digest = "ab" * 32
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE svc_api_tokens (token_sha256 VARCHAR(64) PRIMARY KEY, "
                          "party VARCHAR(200) NOT NULL, label VARCHAR(200), created_at "
                          "VARCHAR(32) NOT NULL, revoked_at VARCHAR(32))"))
        conn.execute(text("INSERT INTO svc_api_tokens VALUES (:d, :p, NULL, :c, NULL)"),
                      {"d": digest, "p": STALL, "c": "2026-01-01T00:00:00Z"})
    engine.dispose()
    for _ in range(2):  # and starting again finds the column there
        app = create_app({"TESTING": True, "DB": db_url, "SERVICE_DB": state, "NOW": NOW})
        try:
            (old,) = [i for i in list_tokens(app) if i.digest_prefix == digest[:12]]
            assert old.scopes == {WRITE, READ_OWN}
        finally:
            app.extensions["tracelib"].close()


def test_principal_helpers() -> None:
    who = Principal("stall-a01", frozenset({WRITE}))
    assert who.can(WRITE) and not who.can(READ_OWN) and not who.is_anonymous and not who.reads
    assert Principal(None, frozenset()).is_anonymous


def test_cli_issues_scoped_tokens_and_lists_them(app: Flask, scene: Scene) -> None:
    _add_regulator(scene.net)
    env = {"TRACELIB_DB": app.config["DB"], "TRACELIB_KEYSTORE": app.config["KEYSTORE"]}
    runner = CliRunner()
    r = runner.invoke(cli, ["token", "issue", REGULATOR, "--scope", "read:all",
                            "--label", "inspector's laptop"], env=env)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("tlk_")
    r = runner.invoke(cli, ["token", "issue", STALL], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["token", "issue", STALL, "--scope", "read:all"], env=env)
    assert r.exit_code == 1 and "only a regulator or the operator" in r.output
    r = runner.invoke(cli, ["token", "list"], env=env)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert any(f"  {REGULATOR}  read:all  " in line and "inspector's laptop" in line
               for line in lines)
    assert any(f"  {STALL}  read:own,write  " in line for line in lines)
    assert "tlk_" not in r.output


def test_an_unclassified_route_stops_the_app(app: Flask) -> None:
    from tracelib_service.access import check_classified

    app.add_url_rule("/unruled", "unruled", lambda: "open to anyone by mistake")
    with pytest.raises(RuntimeError, match="unruled"):
        check_classified(app)
