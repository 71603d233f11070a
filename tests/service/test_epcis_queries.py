"""EPCIS named queries and subscriptions over HTTP (``/epcis/queries``, the EPCIS 2.0 REST
binding): made, read and deleted per party with read tokens, refused with problem documents,
``Location`` from configuration; and a subscription made here delivers, through the
deliverer, only what its token may read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.helpers import certificate
from tests.service.conftest import STALL, Scene
from tests.test_epcis_subscriptions import SECRET, Receiver, signature_ok
from tracelib.epcis.subscriptions import Deliverer, DeliverySettings, list_subscriptions
from tracelib_service.tokens import issue_token, revoke_token

HOOK = "https://receiver.example.com/hook"
SHIPPING = {"EQ_bizStep": ["shipping"]}


@pytest.fixture
def tokens(app: Flask, scene: Scene) -> dict[str, str]:
    """The stall (write, read:own), the cold store's carrier (read:own), a write-only
    token, and the operator (read:all)."""
    return {"stall": issue_token(app, STALL),
            "carrier": issue_token(app, "carrier-1", scopes=["read:own"]),
            "writer": issue_token(app, STALL, scopes=["write"]),
            "all": issue_token(app, "operator", scopes=["read:all"])}


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path)
    yield r
    r.stop()


def call(client: FlaskClient, method: str, url: str, token: str | None,
         body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return client.open(url, method=method, headers=headers)
    return client.open(url, method=method, headers=headers, data=json.dumps(body),
                       content_type="application/json")


def test_a_query_is_made_read_listed_and_deleted(client: FlaskClient,
                                                 tokens: dict[str, str]) -> None:
    r = call(client, "POST", "/epcis/queries", tokens["stall"],
             {"name": "shipments", "query": {"EQ_bizStep": "shipping"}})
    assert r.status_code == 201, r.json
    assert r.json == {"name": "shipments",
                      "query": {"EQ_bizStep": ["https://ref.gs1.org/cbv/BizStep-shipping"]}}
    assert r.headers["Location"] == "http://127.0.0.1:8000/epcis/queries/shipments"
    assert r.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert call(client, "GET", "/epcis/queries/shipments", tokens["stall"]).json == r.json
    assert call(client, "GET", "/epcis/queries", tokens["stall"]).json == [r.json]
    # another party neither sees it nor deletes it; a regulator sees it
    assert call(client, "GET", "/epcis/queries", tokens["carrier"]).json == []
    assert call(client, "GET", "/epcis/queries/shipments", tokens["carrier"]).status_code == 404
    assert call(client, "DELETE", "/epcis/queries/shipments",
                tokens["carrier"]).status_code == 404
    assert call(client, "GET", "/epcis/queries", tokens["all"]).json == [r.json]
    again = call(client, "POST", "/epcis/queries", tokens["carrier"],
                 {"name": "shipments", "query": {}})
    assert (again.status_code, again.json["code"]) == (409, "conflict")
    assert call(client, "DELETE", "/epcis/queries/shipments", tokens["stall"]).status_code == 204
    gone = call(client, "GET", "/epcis/queries/shipments", tokens["stall"])
    assert (gone.status_code, gone.mimetype) == (404, "application/problem+json")


@pytest.mark.parametrize(("body", "field"), [
    ({"query": {}}, "name"),
    ({"name": "q", "query": {"EQ_bizStep": ["dancing"]}}, "query.EQ_bizStep"),
    ({"name": "q", "query": {"GE_flavour": ["x"]}}, "query.GE_flavour"),
    ({"name": "q", "query": {"eventType": [1]}}, "query.eventType"),
    ({"name": "q", "query": []}, "query"),
    ({"name": "q/x", "query": {}}, "name"),
    ({"name": "q", "query": {}, "owner": "farm-1"}, "owner"),
])
def test_a_bad_query_is_a_400_naming_the_field(client: FlaskClient, tokens: dict[str, str],
                                               body: dict[str, Any], field: str) -> None:
    r = call(client, "POST", "/epcis/queries", tokens["stall"], body)
    assert (r.status_code, r.mimetype) == (400, "application/problem+json")
    assert r.json["field"] == field


def test_tokens_without_a_read_scope_are_refused(client: FlaskClient,
                                                 tokens: dict[str, str]) -> None:
    assert call(client, "GET", "/epcis/queries", None).status_code == 401
    r = call(client, "POST", "/epcis/queries", tokens["writer"], {"name": "q", "query": {}})
    assert (r.status_code, r.json["code"]) == (403, "insufficient_scope")


def test_subscribing_answers_without_the_secret_and_unsubscribing_ends_it(
        app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    call(client, "POST", "/epcis/queries", tokens["stall"], {"name": "q", "query": SHIPPING})
    r = call(client, "POST", "/epcis/queries/q/subscriptions", tokens["stall"],
             {"dest": HOOK, "signatureToken": SECRET, "stream": True})
    assert r.status_code == 201, r.json
    sid = r.json["subscriptionID"]
    assert r.headers["Location"] == f"http://127.0.0.1:8000/epcis/queries/q/subscriptions/{sid}"
    assert SECRET not in r.get_data(as_text=True)
    assert r.json["queryName"] == "q" and r.json["stream"] is True and r.json["delivered"] == 0
    listed = call(client, "GET", "/epcis/queries/q/subscriptions", tokens["stall"]).json
    assert [s["subscriptionID"] for s in listed] == [sid]
    url = f"/epcis/queries/q/subscriptions/{sid}"
    assert call(client, "GET", url, tokens["stall"]).json["dest"] == HOOK
    assert call(client, "GET", url, tokens["carrier"]).status_code == 404
    assert call(client, "DELETE", url, tokens["stall"]).status_code == 204
    assert call(client, "GET", url, tokens["stall"]).status_code == 404
    assert list_subscriptions(app.extensions["tracelib"].ledger) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"dest": "http://receiver.example.com/hook", "signatureToken": "s", "stream": True}, "dest"),
    ({"dest": "http://127.0.0.1:9/hook", "signatureToken": "s", "stream": True}, "dest"),
    ({"dest": HOOK, "signatureToken": "", "stream": True}, "signatureToken"),
    ({"dest": HOOK, "stream": True}, "signatureToken"),
    ({"dest": HOOK, "signatureToken": "s"}, "stream"),
    ({"dest": HOOK, "signatureToken": "s", "stream": "yes"}, "stream"),
    ({"dest": HOOK, "signatureToken": "s", "schedule": {"hour": "1"}}, "schedule"),
    ({"dest": HOOK, "signatureToken": "s", "stream": True, "reportIfEmpty": 1},
     "reportIfEmpty"),
])
def test_a_bad_subscription_is_a_400_naming_the_field(
        client: FlaskClient, tokens: dict[str, str], body: dict[str, Any], field: str) -> None:
    call(client, "POST", "/epcis/queries", tokens["stall"], {"name": "q", "query": {}})
    r = call(client, "POST", "/epcis/queries/q/subscriptions", tokens["stall"], body)
    assert (r.status_code, r.json["field"]) == (400, field), r.json


def test_loopback_http_only_when_configured_and_unknown_queries_are_404(
        app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    call(client, "POST", "/epcis/queries", tokens["stall"], {"name": "q", "query": {}})
    body = {"dest": "http://127.0.0.1:9/hook", "signatureToken": "s", "stream": True}
    assert call(client, "POST", "/epcis/queries/q/subscriptions", tokens["stall"],
                body).status_code == 400
    app.config["EPCIS_ALLOW_LOOPBACK_HTTP"] = True
    assert call(client, "POST", "/epcis/queries/q/subscriptions", tokens["stall"],
                body).status_code == 201
    assert call(client, "POST", "/epcis/queries/nope/subscriptions", tokens["stall"],
                body).status_code == 404


def test_deleting_the_query_or_revoking_the_token_ends_its_subscriptions(
        app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    ledger = app.extensions["tracelib"].ledger
    for name in ("a", "b"):
        call(client, "POST", "/epcis/queries", tokens["carrier"], {"name": name, "query": {}})
        call(client, "POST", f"/epcis/queries/{name}/subscriptions", tokens["carrier"],
             {"dest": HOOK, "signatureToken": "s", "stream": True})
    assert len(list_subscriptions(ledger)) == 2
    assert call(client, "DELETE", "/epcis/queries/a", tokens["carrier"]).status_code == 204
    assert [s.query_name for s in list_subscriptions(ledger)] == ["b"]
    assert revoke_token(app, tokens["carrier"])
    assert list_subscriptions(ledger) == []


def test_a_subscription_made_over_http_delivers_only_the_tokens_books(
        app: Flask, client: FlaskClient, scene: Scene, tokens: dict[str, str],
        receiver: Receiver) -> None:
    """The carrier subscribes to every shipment; the farm then ships one lot to the cold
    store (the carrier's) and another straight to the stall: only the first is delivered."""
    call(client, "POST", "/epcis/queries", tokens["carrier"],
         {"name": "shipments", "query": SHIPPING})
    r = call(client, "POST", "/epcis/queries/shipments/subscriptions", tokens["carrier"],
             {"dest": receiver.url, "signatureToken": SECRET, "stream": True})
    assert r.status_code == 201
    scene.pending = []
    scene.deliver("LOT-NEW-1", "10")  # farm → cold store → stall
    scene.add("farm-1", {"id": "origin-new-2", "kind": "origin",
                         "time": "2026-11-22T05:00:00+08:00", "location": "farm-1.field",
                         "outputs": [{"lot": "LOT-NEW-2", "qty": "5", "unit": "kg"}],
                         "data": {"certificate": certificate("LOT-NEW-2")}})
    scene.add("farm-1", {"id": "ship-direct", "kind": "ship",
                         "time": "2026-11-22T06:00:00+08:00", "location": "farm-1.field",
                         "inputs": [{"lot": "LOT-NEW-2", "qty": "5", "unit": "kg"}],
                         "data": {"to": STALL}})
    scene.flush()
    ledger = app.extensions["tracelib"].ledger
    settings = DeliverySettings(base="http://127.0.0.1:8000", ca_file=str(receiver.cert))
    report = Deliverer(ledger, settings).run_once(NOW)
    assert report.failed == 0, report.errors
    [(headers, body)] = receiver.posts
    assert signature_ok(headers, body)
    delivered = [e["tracelib:eventId"] for e in
                 json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    assert delivered == ["ship1-LOT-NEW-1", "ship2-LOT-NEW-1"]
    state = call(client, "GET", r.headers["Location"].removeprefix("http://127.0.0.1:8000"),
                 tokens["carrier"]).json
    assert state["delivered"] == 2 and state["lastNotifiedAt"] is not None


def test_a_named_querys_events_come_a_page_at_a_time_within_the_callers_books(
        client: FlaskClient, tokens: dict[str, str]) -> None:
    r = call(client, "POST", "/epcis/queries", tokens["all"], {"name": "all-events",
                                                              "query": {}})
    assert r.status_code == 201, r.json
    everything = call(client, "GET", "/epcis/events?perPage=1000", tokens["all"]).json
    expected = [e["eventID"] for e in everything["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"]]
    assert len(expected) > 3
    seen: list[str] = []
    url = "/epcis/queries/all-events/events?perPage=2"
    while url:
        r = call(client, "GET", url, tokens["all"])
        assert r.status_code == 200, r.json
        results = r.json["epcisBody"]["queryResults"]
        assert results["queryName"] == "all-events"
        seen += [e["eventID"] for e in results["resultsBody"]["eventList"]]
        link = r.headers.get("Link")
        url = ""
        if link:  # built from the configured public URL, naming the query, not its parameters
            parts = urlsplit(link[1:link.index(">")])
            assert parts.path == "/epcis/queries/all-events/events"
            url = f"{parts.path}?{parts.query}"
    assert seen == expected  # every event once, in order, across the pages
    # a party reads the query's events within its own books only; another's query is 404
    assert call(client, "GET", "/epcis/queries/all-events/events", tokens["stall"]
                ).status_code == 404
    r = call(client, "GET", "/epcis/queries/all-events/events?EQ_bizStep=shipping",
             tokens["all"])
    assert r.status_code == 400 and r.json["field"] == "EQ_bizStep"
    r = call(client, "POST", "/epcis/queries", tokens["all"], {"name": "paged",
                                                              "query": {"perPage": "5"}})
    assert r.status_code == 400 and r.json["field"] == "query.perPage"
