"""The JSON API: writes with tokens and custodial keys, reads, proofs, OpenAPI, and the
problem details for everything a client can get wrong."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import STALL, Scene
from tracelib import merkle
from tracelib.events import Event
from tracelib_service.tokens import issue_token, revoke_token

PROBLEM = "application/problem+json"


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    return {party: issue_token(app, party) for party in ("farm-1", STALL, "operator")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(client: FlaskClient, body: Any, token: str | None = None, **kw: Any) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    headers = _auth(token) if token else {}
    return client.post("/api/v1/events", data=data, headers=headers,
                       content_type=kw.pop("content_type", "application/json"), **kw)


def _sale(event_id: str, qty: str = "1", **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL,
            "inputs": [{"lot": "LOT-CP-0001", "qty": qty, "unit": "kg"}],
            "data": {"receipt": f"R-{event_id}"}, **extra}


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM
    doc: dict[str, Any] = r.json
    assert doc["status"] == status and doc["type"] == "about:blank"
    assert (doc["title"] and doc["instance"] == "/api/v1/events") or doc["instance"]
    return doc


# -- writes ------------------------------------------------------------------------------

def test_signed_event_is_appended_and_checkpointed(client: FlaskClient, scene: Scene,
                                                   tokens: dict[str, str]) -> None:
    doc = scene.net.event(STALL, _sale("sale-api-1"))
    r = _post(client, [doc], tokens[STALL])
    assert r.status_code == 201
    [receipt] = r.json["receipts"]
    assert receipt["id"] == "sale-api-1" and receipt["duplicate"] is False
    assert receipt["seq"] == scene.ledger.size - 1
    assert r.json["checkpoint"]["size"] == scene.ledger.size  # signed with the operator key
    assert scene.ledger.latest_checkpoint().size == scene.ledger.size  # type: ignore[union-attr]
    stored = client.get(receipt["url"], headers=_auth(tokens[STALL])).json
    assert stored["event"]["sig"] == doc["sig"]
    again = _post(client, {"events": [doc]}, tokens[STALL])  # idempotent
    assert again.status_code == 200 and again.json["receipts"][0]["duplicate"] is True
    assert again.json["receipts"][0]["seq"] == receipt["seq"]


def test_unsigned_event_is_signed_with_the_custodial_key(client: FlaskClient, scene: Scene,
                                                         tokens: dict[str, str]) -> None:
    r = _post(client, {"events": [_sale("sale-api-2", "2.5")]}, tokens[STALL])
    assert r.status_code == 201, r.json
    record = scene.ledger.record_for_event("sale-api-2")
    assert record.key_id == scene.net.keys[STALL].key_id
    Event.from_stored(record.body, record.key_id, record.signature)
    assert client.get(f"/s/{STALL}", headers={"Accept": "application/json"}).json[
        "on_hand"][0]["qty"] == "35"


def test_unsigned_without_custodial_key_is_rejected(client: FlaskClient,
                                                    tokens: dict[str, str]) -> None:
    body = [{"id": "o-x", "kind": "origin", "time": "2026-11-22T05:00:00+08:00",
             "actor": "farm-1", "location": "farm-1.field",
             "outputs": [{"lot": "LOT-X", "qty": "1", "unit": "kg"}],
             "data": {"certificate": {"no": "C"}}}]
    doc = _problem(_post(client, body, tokens["farm-1"]), 422)
    assert doc["code"] == "signature" and "custodial" in doc["detail"]


def test_no_or_bad_token_is_401(client: FlaskClient, app: Flask, tokens: dict[str, str]) -> None:
    body = [_sale("sale-api-3")]
    r = _post(client, body)
    _problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    _problem(_post(client, body, "tlk_not-a-real-token"), 401)
    _problem(client.post("/api/v1/events", json=body,
                         headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    assert revoke_token(app, tokens[STALL]) is True
    _problem(_post(client, body, tokens[STALL]), 401)


def test_acting_for_another_party_is_403(client: FlaskClient, scene: Scene,
                                         tokens: dict[str, str]) -> None:
    signed_by_stall = scene.net.event(STALL, _sale("sale-api-4"))
    doc = _problem(_post(client, [signed_by_stall], tokens["farm-1"]), 403)
    assert "farm-1" in doc["detail"] and STALL in doc["detail"]
    _problem(_post(client, [_sale("sale-api-5")], tokens["operator"]), 403)
    assert client.get("/api/v1/events/sale-api-4",
                      headers=_auth(tokens[STALL])).status_code == 404


def test_tokens_are_stored_hashed(app: Flask, tokens: dict[str, str]) -> None:
    from sqlalchemy import select

    from tracelib_service.state import api_tokens

    with app.extensions["tracelib"].state_engine.connect() as conn:
        rows = conn.execute(select(api_tokens)).mappings().all()
    stored = " ".join(str(v) for row in rows for v in row.values())
    for token in tokens.values():
        assert token not in stored
    assert all(re.fullmatch(r"[0-9a-f]{64}", row["token_sha256"]) for row in rows)


def test_token_for_unknown_party_is_refused(app: Flask) -> None:
    from tracelib.errors import NotFoundError

    with pytest.raises(NotFoundError):
        issue_token(app, "nobody")


@pytest.mark.parametrize(("body", "status", "field"), [
    (b'{"events": [', 400, None),                                       # malformed JSON
    (b'{"events": [], "events": []}', 400, "events"),                   # duplicate key
    (b"\xff\xfe", 400, None),                                           # not UTF-8
    (b'[{"id": "a", "qty": 1.5}]', 400, None),                          # floats are refused
    (b'"just a string"', 400, "body"),
    (b'{"events": "nope"}', 400, "events"),                             # wrong type
    (b'{"events": [1, 2]}', 400, "events[0]"),                          # wrong item type
    (b'{"events": []}', 400, "events"),                                 # empty
    (b'{"events": [{}], "extra": 1}', 400, "extra"),                    # unknown field
    (b"[]", 400, "events"),
])
def test_malformed_bodies_are_400(client: FlaskClient, tokens: dict[str, str], body: bytes,
                                  status: int, field: str | None) -> None:
    doc = _problem(_post(client, body, tokens[STALL]), status)
    if field is not None:
        assert doc["field"] == field, doc


def test_invalid_events_are_422_naming_the_field(client: FlaskClient, scene: Scene,
                                                 tokens: dict[str, str]) -> None:
    wrong_type = _sale("sale-api-6")
    wrong_type["inputs"][0]["qty"] = 3  # an integer, not a decimal string
    doc = _problem(_post(client, [wrong_type], tokens[STALL]), 422)
    assert doc["field"] == "inputs[0].qty" and doc["code"] == "validation"
    too_much = _sale("sale-api-7", qty="1000")  # more than is on hand
    doc = _problem(_post(client, [_sale("ok-1"), too_much], tokens[STALL]), 422)
    assert doc["line"] == 2 and doc["event_id"] == "sale-api-7" and "mass balance" in doc["detail"]
    assert client.get("/api/v1/events/ok-1",  # the batch is all or nothing
                      headers=_auth(tokens[STALL])).status_code == 404
    forged = scene.net.event(STALL, _sale("sale-api-8"))
    forged["data"] = {"receipt": "changed after signing"}
    doc = _problem(_post(client, [forged], tokens[STALL]), 422)
    assert doc["code"] == "signature"


def test_conflicting_resend_is_409(client: FlaskClient, tokens: dict[str, str]) -> None:
    assert _post(client, [_sale("sale-api-9")], tokens[STALL]).status_code == 201
    doc = _problem(_post(client, [_sale("sale-api-9", qty="2")], tokens[STALL]), 409)
    assert doc["code"] == "conflict"


def test_oversize_body_is_413(client: FlaskClient, tokens: dict[str, str]) -> None:
    body = json.dumps([_sale(f"big-{i}", receipt="x" * 100) for i in range(8000)]).encode()
    assert len(body) > 1024 * 1024
    doc = _problem(_post(client, body, tokens[STALL]), 413)
    assert doc["title"] == "Request Entity Too Large"


def test_too_many_events_and_wrong_media_type(app: Flask, client: FlaskClient,
                                              tokens: dict[str, str]) -> None:
    app.config["API_MAX_EVENTS"] = 2
    doc = _problem(_post(client, [_sale("a"), _sale("b"), _sale("c")], tokens[STALL]), 400)
    assert "1 to 2 events" in doc["detail"]
    _problem(_post(client, json.dumps([_sale("a")]), tokens[STALL], content_type="text/plain"),
             415)


# -- reads -------------------------------------------------------------------------------

@pytest.fixture
def reader(app: Flask) -> dict[str, str]:
    """A token reading everything (the operator's, read:all)."""
    return _auth(issue_token(app, "operator", scopes=["read:all"]))


def test_get_event(client: FlaskClient, scene: Scene, reader: dict[str, str]) -> None:
    r = client.get("/api/v1/events/rt-neg", headers=reader)
    assert r.status_code == 200
    record = scene.ledger.record_for_event("rt-neg")
    assert r.json["seq"] == record.seq and r.json["hash"] == record.hash.hex()
    assert r.json["event"]["data"]["sample"] == "豇豆"
    assert r.json["proof"] == f"/api/v1/proofs/inclusion/{record.seq}"
    assert client.get(r.json["proof"]).status_code == 200
    _problem(client.get("/api/v1/events/nope", headers=reader), 404)


def test_lot_trace(client: FlaskClient, reader: dict[str, str]) -> None:
    both = client.get("/api/v1/lots/LOT-CP-0001/trace", headers=reader).json
    assert both["upstream"]["origins"][0]["certificate"]["no"] == "CERT-LOT-CP-0001"
    [stall] = [loc for loc in both["downstream"]["locations"] if loc["location"] == STALL]
    assert (stall["received"], stall["sold"], stall["on_hand"]) == ("40", "2.5", "37.5")
    assert "downstream" not in client.get("/api/v1/lots/LOT-CP-0001/trace?direction=back",
                                          headers=reader).json
    assert "upstream" not in client.get("/api/v1/lots/LOT-CP-0001/trace?direction=forward",
                                        headers=reader).json
    assert _problem(client.get("/api/v1/lots/LOT-CP-0001/trace?direction=up", headers=reader),
                    400)["field"] == "direction"
    _problem(client.get("/api/v1/lots/LOT-NONE/trace", headers=reader), 404)


def test_checkpoint_json_and_note(client: FlaskClient, scene: Scene) -> None:
    doc = client.get("/api/v1/checkpoint").json
    assert doc["size"] == scene.ledger.size and doc["signed"] is True
    note = client.get("/api/v1/checkpoint", headers={"Accept": "text/plain"})
    assert note.mimetype == "text/plain"
    checkpoint = scene.ledger.open_checkpoint(note.get_data(as_text=True))  # signature verifies
    assert checkpoint.size == doc["size"] and checkpoint.root.hex() == doc["root"]


def test_inclusion_and_consistency_proofs_verify(client: FlaskClient, scene: Scene) -> None:
    size = scene.ledger.size
    root = bytes.fromhex(client.get("/api/v1/checkpoint").json["root"])
    for seq in (0, 5, size - 1):
        p = client.get(f"/api/v1/proofs/inclusion/{seq}?size={size}").json
        merkle.verify_inclusion(bytes.fromhex(p["leaf_hash"]), seq, size,
                                [bytes.fromhex(h) for h in p["proof"]], root)
        assert p["leaf_hash"] == scene.ledger.record(seq).hash.hex()
    c = client.get(f"/api/v1/proofs/consistency?first=3&second={size}").json
    merkle.verify_consistency(3, size, [bytes.fromhex(h) for h in c["proof"]],
                              scene.ledger.root(3), root)
    assert client.get("/api/v1/proofs/consistency?first=3").json["size2"] == size
    _problem(client.get(f"/api/v1/proofs/inclusion/{size}"), 404)
    _problem(client.get(f"/api/v1/proofs/inclusion/0?size={size + 1}"), 404)
    assert _problem(client.get("/api/v1/proofs/inclusion/0?size=abc"), 400)["field"] == "size"
    assert client.get("/api/v1/proofs/inclusion/-1").status_code == 404
    assert _problem(client.get("/api/v1/proofs/consistency"), 400)["field"] == "first"
    _problem(client.get(f"/api/v1/proofs/consistency?first={size}&second=2"), 422)
    _problem(client.get("/api/v1/proofs/consistency?first=1&bogus=1"), 400)


# -- OpenAPI -----------------------------------------------------------------------------

def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule).removeprefix("/api/v1")


def test_openapi_document_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": "/api/v1"}]
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            routes.setdefault(_openapi_path(rule.rule), set()).update(methods)
    # the EPCIS binding's paths name their own server (/epcis): tests/test_api_docs.py
    paths = {path: item for path, item in doc["paths"].items() if "servers" not in item}
    assert routes.keys() == paths.keys()
    for path, methods in routes.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            op = paths[path][method]
            assert op["operationId"] and op["responses"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{([a-z_]+)}", path)), path
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status)
                assert "description" in response or "$ref" in response
    # every $ref resolves inside the document
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            node = node[part]
    ids = [op["operationId"] for item in doc["paths"].values() for key, op in item.items()
           if key != "servers"]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("query", ["/api/v1/proofs/inclusion/0?size=9223372036854775808",
                                   "/api/v1/proofs/inclusion/0?size=9007199254740992",
                                   "/api/v1/proofs/consistency?first=1&second=9223372036854775808",
                                   "/api/v1/proofs/consistency?first=99999999999999999999"])
def test_sizes_beyond_the_documented_maximum_are_400_naming_the_parameter(
        client: FlaskClient, scene: Scene, query: str) -> None:
    """The OpenAPI document caps tree sizes at 2**53 - 1; past it the answer is a 400 that
    names the parameter, never a 500 from the database driver."""
    r = client.get(query)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.json["field"] in ("size", "first", "second")
    assert client.get("/api/v1/proofs/inclusion/0?size=1").status_code == 200
