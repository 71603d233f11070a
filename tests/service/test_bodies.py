"""Request bodies over ``MAX_CONTENT_LENGTH`` get 413 however they are sent: with a
``Content-Length``, or chunked (``Transfer-Encoding: chunked``, RFC 9112 §7.1) — over real
HTTP, to the WSGI app under Werkzeug's server and under gunicorn (what ``tracelib serve``
runs). A chunked body was once cut at the limit and the cut body accepted."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.service.conftest import STALL, Scene, Serve
from tracelib_service.tokens import issue_token

LIMIT = 1024 * 1024  # the default MAX_CONTENT_LENGTH


def _sale(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL,
            "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
            "data": {"receipt": f"R-{event_id}"}}


def _padded(event_id: str, size: int) -> bytes:
    """A valid one-event body of exactly ``size`` bytes (JSON allows trailing blanks)."""
    body = json.dumps([_sale(event_id)]).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def _post(base: tuple[str, int], body: bytes, token: str, *, chunked: bool
          ) -> tuple[int, dict[str, Any]]:
    """POST ``body`` over HTTP/1.1, chunked (64 KiB chunks) or with a Content-Length."""
    conn = http.client.HTTPConnection(*base, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json"}
    try:
        if chunked:
            pieces = (body[i:i + 65536] for i in range(0, len(body), 65536))
            conn.request("POST", "/api/v1/events", body=pieces, headers=headers,
                         encode_chunked=True)
        else:
            conn.request("POST", "/api/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.fixture
def werkzeug_server(app: Flask) -> Iterator[tuple[str, int]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def gunicorn_server(serve: Serve) -> tuple[str, int]:
    return serve()


@pytest.fixture(params=["werkzeug", "gunicorn"])
def server(request: pytest.FixtureRequest) -> tuple[str, int]:
    found: tuple[str, int] = request.getfixturevalue(f"{request.param}_server")
    return found


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_body_past_the_limit_is_413_and_nothing_is_stored(
        app: Flask, scene: Scene, server: tuple[str, int], chunked: bool) -> None:
    token = issue_token(app, STALL)
    size = scene.ledger.size
    # The first LIMIT bytes are a valid body on their own: cut there, it would be stored.
    body = _padded("cut-sale", LIMIT) + b"\n" + b" " * 1000
    status, doc = _post(server, body, token, chunked=chunked)
    assert status == 413, doc
    assert doc["code"] == "too_large" and doc["field"] == "body" and doc["limit"] == LIMIT
    assert scene.ledger.size == size


@pytest.mark.parametrize("megabytes", [2, 20])
def test_large_chunked_bodies_are_413_not_malformed(
        app: Flask, scene: Scene, server: tuple[str, int], megabytes: int) -> None:
    token = issue_token(app, STALL)
    body = json.dumps([{**_sale(f"big-{i}"), "data": {"receipt": "x" * 900}}
                       for i in range(megabytes * 1024)]).encode()
    assert len(body) > megabytes * 1000 * 1000
    status, doc = _post(server, body, token, chunked=True)
    assert status == 413, doc
    assert doc["code"] == "too_large"


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_body_of_exactly_the_limit_is_read_whole(
        app: Flask, scene: Scene, server: tuple[str, int], chunked: bool) -> None:
    token = issue_token(app, STALL)
    status, doc = _post(server, _padded(f"whole-{int(chunked)}", LIMIT), token,
                        chunked=chunked)
    assert status == 201, doc
    assert doc["receipts"][0]["id"] == f"whole-{int(chunked)}"
