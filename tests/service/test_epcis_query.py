"""``/epcis`` queries over HTTP (issue 18): the query document, its headers and paging
links from the configured base, events by hash ID, discovery, problems naming the
parameter, and each reader seeing only the events its token reaches."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import GTIN, STALL, Scene
from tracelib.epcis import epcis_events, names_for
from tracelib_service.tokens import issue_token

BASE = "http://127.0.0.1:8000"
LOT_URI = f"https://id.gs1.org/01/{GTIN}/10/LOT-CP-0001"


def _auth(app: Flask, party: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(app, party, scopes=scopes or ['read:all'])}"}


def _all_events(scene: Scene) -> list[dict[str, Any]]:
    with scene.ledger.store.reader() as conn:
        return list(epcis_events(scene.ledger, conn, names_for(scene.ledger, conn, BASE)))


def test_events_answer_a_query_document_paged_by_link(app: Flask, client: FlaskClient,
                                                      scene: Scene) -> None:
    auth = _auth(app, "operator")
    expected = _all_events(scene)
    r = client.get("/epcis/events?perPage=4", headers=auth)
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    assert r.headers["GS1-EPCIS-Version"] == "2.0.0" and r.headers["GS1-CBV-Version"] == "2.0.0"
    doc = r.json
    assert doc["type"] == "EPCISQueryDocument" and doc["schemaVersion"] == "2.0"
    found = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    pages = 1
    while "Link" in r.headers:
        link = r.headers["Link"]
        assert link.startswith(f"<{BASE}/epcis/events?") and link.endswith('>; rel="next"')
        r = client.get(link[1:link.index(">")].removeprefix(BASE), headers=auth)
        assert r.status_code == 200
        found += r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        pages += 1
    assert found == expected and pages == -(-len(expected) // 4)


def test_links_never_come_from_the_host_header(app: Flask, client: FlaskClient) -> None:
    r = client.get("/epcis/events?perPage=1", headers={**_auth(app, "operator"),
                                                       "X-Forwarded-Host": "evil.example"})
    assert r.headers["Link"].startswith(f"<{BASE}/epcis/events?")


def test_a_lots_events_by_its_uri_and_by_the_digital_link(app: Flask, client: FlaskClient,
                                                          scene: Scene) -> None:
    auth = _auth(app, "operator")
    r = client.get(f"/epcis/events?MATCH_anyEPCClass={quote(LOT_URI, safe='')}", headers=auth)
    events = r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["tracelib:eventId"] for e in events] == [
        "origin-LOT-CP-0001", "ship1-LOT-CP-0001", "recv1-LOT-CP-0001", "ship2-LOT-CP-0001",
        "recv2-LOT-CP-0001", "sale-1"]
    linked = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType=gs1:epcis")
    r2 = client.get(linked.headers["Location"].removeprefix(BASE), headers=auth)
    assert r2.json["epcisBody"] == r.json["epcisBody"]
    r3 = client.get(f"/epcis/epcs/{quote(LOT_URI, safe='')}/events", headers=auth)
    assert r3.json["epcisBody"] == r.json["epcisBody"]


def test_an_event_by_its_hash_id(app: Flask, client: FlaskClient, scene: Scene) -> None:
    auth = _auth(app, "operator")
    sale = next(e for e in _all_events(scene) if e["tracelib:eventId"] == "sale-1")
    r = client.get(f"/epcis/events/{quote(sale['eventID'], safe='')}", headers=auth)
    assert r.status_code == 200, r.json
    assert r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == [sale]
    absent = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"
    r = client.get(f"/epcis/events/{quote(absent, safe='')}", headers=auth)
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    # another stall's token may not read the sale
    other = _auth(app, "farm-1", "read:own")
    r = client.get(f"/epcis/events/{quote(sale['eventID'], safe='')}", headers=other)
    assert r.status_code == 403 and r.json["code"] == "not_your_books"


def test_bad_parameters_are_400_problems_naming_them(app: Flask, client: FlaskClient) -> None:
    auth = _auth(app, "operator")
    for query, param in (("EQ_bizStep=flying", "EQ_bizStep"), ("perPage=0", "perPage"),
                         ("GE_eventTime=yesterday", "GE_eventTime"), ("colour=red", "colour"),
                         ("nextPageToken=bogus", "nextPageToken"), ("MATCH_epc=x", "MATCH_epc")):
        r = client.get(f"/epcis/events?{query}", headers=auth)
        assert r.status_code == 400 and r.mimetype == "application/problem+json", query
        assert r.json["field"] == param, query
    r = client.get("/epcis/bizSteps/shipping/events?EQ_bizStep=receiving", headers=auth)
    assert r.status_code == 400 and r.json["field"] == "EQ_bizStep"
    assert client.get("/epcis/events").status_code == 401


def test_reach_leaves_other_books_out(app: Flask, client: FlaskClient, scene: Scene) -> None:
    everything = _all_events(scene)

    def ids(headers: dict[str, str]) -> set[str]:
        r = client.get("/epcis/events?perPage=1000", headers=headers)
        return {e["tracelib:eventId"]
                for e in r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}

    assert ids(_auth(app, "operator")) == {e["tracelib:eventId"] for e in everything}
    mine = ids(_auth(app, STALL, "read:own"))
    assert "sale-1" in mine and "recv2-LOT-CP-0001" in mine
    farm = ids(_auth(app, "farm-1", "read:own"))
    assert "origin-LOT-CP-0001" in farm and "sale-1" not in farm
    assert "rt-pos" not in farm


def test_discovery_lists(app: Flask, client: FlaskClient, scene: Scene) -> None:
    auth = _auth(app, "operator")
    types = client.get("/epcis/eventTypes", headers=auth).json
    assert types["type"] == "Collection" and "ObjectEvent" in types["member"]
    assert "shipping" in client.get("/epcis/bizSteps", headers=auth).json["member"]
    assert "in_transit" in client.get("/epcis/dispositions", headers=auth).json["member"]
    places: list[str] = []
    url = "/epcis/bizLocations?perPage=2"
    while url:
        r = client.get(url, headers=auth)
        places += r.json["member"]
        link = r.headers.get("Link")
        url = link[1:link.index(">")].removeprefix(BASE) if link else ""
    assert f"{BASE}/loc/{STALL}" in places and len(places) == len(set(places)) >= 4
    assert client.get("/epcis/readPoints?perPage=1000", headers=auth).json["member"] == places
    lots = client.get("/epcis/epcs", headers=auth).json["member"]
    assert LOT_URI in lots and f"{BASE}/l/LOT-QC-0002" in lots
    r = client.get(f"/epcis/bizLocations/{quote(places[0], safe='')}/events", headers=auth)
    assert r.status_code == 200
    r = client.get("/epcis/bizSteps/retail_selling/events", headers=auth)
    assert [e["tracelib:eventId"] for e in
            r.json["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["sale-1"]
    assert client.get("/epcis/epcs?nextPageToken=zz", headers=auth).status_code == 400


def test_the_epcis_openapi_document_describes_every_epcis_route(app: Flask,
                                                                client: FlaskClient) -> None:
    import re

    from tracelib_service.access import ENDPOINTS
    from tracelib_service.openapi import EPCIS_OPERATIONS

    doc = client.get("/epcis/openapi.json").json
    assert doc["servers"] == [{"url": "/epcis"}]
    served = set()
    for rule in app.url_map.iter_rules():
        # capture, named queries and subscriptions are in the API's own document
        # (tests/test_api_docs.py); this one describes the query binding
        if rule.rule.startswith("/epcis/") and rule.endpoint.startswith("epcis."):
            path = re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", rule.rule.removeprefix("/epcis"))
            served |= {(path, m.lower()) for m in rule.methods or ()
                       if m not in ("HEAD", "OPTIONS")}
    assert served == {(path, m) for path, item in doc["paths"].items() for m in item}
    for item in doc["paths"].values():
        for op in item.values():
            access = ENDPOINTS[EPCIS_OPERATIONS[op["operationId"]]]
            assert op["x-tracelib-scope"] == list(access.scopes)


def test_options_names_the_methods_and_versions(app: Flask, client: FlaskClient) -> None:
    r = client.options("/epcis/events", headers=_auth(app, "operator"))
    assert r.status_code in (200, 204)
    assert "GET" in r.headers["Allow"]
    assert r.headers["GS1-EPCIS-Version"] == "2.0.0"
