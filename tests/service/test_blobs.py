"""Attachments over HTTP (docs/contract.md "Attachments"): ``PUT /api/v1/blobs/sha256:…``
stores a file by its hash, refusing a bad name, a body of another hash, a body over the
limit (declared or chunked) and a body shorter than its Content-Length; ``GET``/``HEAD``
read it with the scopes of the events citing it; an event citing a blob not uploaded is
refused."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.service.conftest import STALL, Scene, Serve
from tests.service.test_bodies import werkzeug_server  # noqa: F401 - a fixture
from tests.service.test_scopes import who  # noqa: F401 - a fixture
from tests.test_blobs import SPEC
from tracelib.blobs import blob_name
from tracelib.bounds import MAX_BLOB_BYTES
from tracelib.kinds import register_kind, unregister_kind
from tracelib_service.access import READ_OWN, WRITE
from tracelib_service.tokens import issue_token

PDF = "%PDF-1.7\n% a 合格证 scan\n".encode()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16


@pytest.fixture(autouse=True)
def filed_note() -> Iterator[None]:
    """The kind citing files, registered before the scene and dropped after its verify."""
    register_kind(SPEC)
    try:
        yield
    finally:
        unregister_kind(SPEC.name)


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _note(event_id: str, *names: str) -> dict[str, Any]:
    return {"id": event_id, "kind": "filed_note", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL, "data": {"files": [{"file": n} for n in names]}}


@pytest.fixture
def writer(app: Flask, scene: Scene) -> dict[str, str]:
    return _auth(issue_token(app, STALL))


def test_put_stores_by_hash_and_get_serves_it_as_an_attachment(
        client: FlaskClient, writer: dict[str, str], app: Flask) -> None:
    name = blob_name(PDF)
    r = client.put(f"/api/v1/blobs/{name}", data=PDF, headers=writer)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.json == {"name": name, "size": len(PDF), "created": True}
    assert r.headers["Location"].endswith(f"/api/v1/blobs/{name}")
    again = client.put(f"/api/v1/blobs/{name}", data=PDF, headers=writer)
    assert again.status_code == 200 and again.json["created"] is False
    r = client.post("/api/v1/events", data=json.dumps([_note("fn-1", name)]),
                    content_type="application/json", headers=writer)
    assert r.status_code == 201, r.get_data(as_text=True)

    got = client.get(f"/api/v1/blobs/{name}", headers=writer, buffered=True)
    assert got.status_code == 200 and got.data == PDF
    assert got.mimetype == "application/pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["Cache-Control"] == "private, no-cache"
    head = client.head(f"/api/v1/blobs/{name}", headers=writer)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(PDF))
    unchanged = client.get(f"/api/v1/blobs/{name}",
                           headers={**writer, "If-None-Match": got.headers["ETag"]})
    assert unchanged.status_code == 304


def test_the_type_is_sniffed_from_the_first_bytes(client: FlaskClient,
                                                  writer: dict[str, str]) -> None:
    names = []
    for body in (PNG, JPEG, b"plain bytes"):
        assert client.put(f"/api/v1/blobs/{blob_name(body)}", data=body,
                          headers=writer).status_code == 201
        names.append(blob_name(body))
    r = client.post("/api/v1/events", data=json.dumps([_note("fn-types", *names)]),
                    content_type="application/json", headers=writer)
    assert r.status_code == 201, r.get_data(as_text=True)
    types = [client.get(f"/api/v1/blobs/{n}", headers=writer, buffered=True).mimetype
             for n in names]
    assert types == ["image/png", "image/jpeg", "application/octet-stream"]


@pytest.mark.parametrize("bad", ["sha256:" + "A" * 64, "sha256:" + "0" * 63,
                                 "sha1:" + "0" * 40, "0" * 64])
def test_a_bad_name_is_400_naming_the_field(client: FlaskClient, writer: dict[str, str],
                                            bad: str) -> None:
    for method in (client.put, client.get):
        r = method(f"/api/v1/blobs/{bad}", data=PDF, headers=writer)
        assert r.status_code == 400, (method, r.get_data(as_text=True))
        assert r.json["field"] == "name"
        assert "expected sha256: and 64 lowercase hex digits" in r.json["detail"]


def test_a_body_of_another_hash_is_refused_saying_the_bodys_hash(
        client: FlaskClient, writer: dict[str, str]) -> None:
    claimed = blob_name(b"what the sender meant")
    r = client.put(f"/api/v1/blobs/{claimed}", data=PDF, headers=writer)
    assert r.status_code == 422
    assert r.json["field"] == "body"
    assert f"the body's hash is {blob_name(PDF)} ({len(PDF)} bytes), not {claimed}" \
        in r.json["detail"]
    assert client.get(f"/api/v1/blobs/{claimed}",
                      headers=_auth(None)).status_code == 401


def test_a_body_shorter_than_its_content_length_is_wrong_size(
        client: FlaskClient, writer: dict[str, str], app: Flask) -> None:
    name = blob_name(PDF)
    r = client.put(f"/api/v1/blobs/{name}", headers=writer, input_stream=io.BytesIO(PDF),
                   environ_overrides={"CONTENT_LENGTH": str(len(PDF) + 10)})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.json["code"] == "wrong_size"
    assert r.json["detail"] == (f"请求内容只收到 {len(PDF)} 字节，Content-Length 声明为 "
                                f"{len(PDF) + 10} 字节，未保存任何内容")
    assert (r.json["received"], r.json["declared"]) == (len(PDF), len(PDF) + 10)
    assert not app.extensions["tracelib"].ledger.blobs.has(name)
    r = client.put(f"/api/v1/blobs/{name}?lang=en", headers=writer,
                   input_stream=io.BytesIO(PDF),
                   environ_overrides={"CONTENT_LENGTH": str(len(PDF) + 10)})
    assert r.status_code == 400
    assert (f"the body ended after {len(PDF)} bytes where Content-Length declared "
            f"{len(PDF) + 10}") in r.json["detail"]


def _put(base: tuple[str, int], name: str, body: bytes, token: str, *, chunked: bool
         ) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(*base, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        if chunked:
            pieces = (body[i:i + 65536] for i in range(0, len(body), 65536))
            conn.request("PUT", f"/api/v1/blobs/{name}", body=pieces, headers=headers,
                         encode_chunked=True)
        else:
            conn.request("PUT", f"/api/v1/blobs/{name}", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_oversized_upload_is_413_however_it_is_sent(
        app: Flask, scene: Scene, werkzeug_server: tuple[str, int],  # noqa: F811
        chunked: bool) -> None:
    token = issue_token(app, STALL, scopes=[WRITE])
    big = b"\x00" * (MAX_BLOB_BYTES + 1)
    name = f"sha256:{hashlib.sha256(big).hexdigest()}"
    status, doc = _put(werkzeug_server, name, big, token, chunked=chunked)
    assert status == 413, doc
    assert doc["code"] == "too_large" and doc["limit"] == MAX_BLOB_BYTES
    assert not app.extensions["tracelib"].ledger.blobs.has(name)
    exact = big[:-1]  # exactly the limit is stored
    status, doc = _put(werkzeug_server, blob_name(exact), exact, token, chunked=chunked)
    assert status == 201, doc


def test_an_event_citing_a_blob_not_uploaded_is_refused_until_it_is(
        client: FlaskClient, writer: dict[str, str], scene: Scene) -> None:
    size = scene.ledger.size
    name = blob_name(PDF)
    r = client.post("/api/v1/events", data=json.dumps([_note("fn-missing", name)]),
                    content_type="application/json", headers=writer)
    assert r.status_code == 422
    assert r.json["field"] == "data.files[0].file" and r.json["event_id"] == "fn-missing"
    assert (f"attachment {name} is not in the blob store; upload it first: "
            f"PUT /api/v1/blobs/{name} or tracelib blob add FILE") in r.json["detail"]
    assert scene.ledger.size == size
    assert client.put(f"/api/v1/blobs/{name}", data=PDF, headers=writer).status_code == 201
    r = client.post("/api/v1/events", data=json.dumps([_note("fn-missing", name)]),
                    content_type="application/json", headers=writer)
    assert r.status_code == 201


def test_a_blob_is_read_with_the_scopes_of_the_events_citing_it(
        app: Flask, client: FlaskClient, who: dict[str, str | None],  # noqa: F811
        writer: dict[str, str]) -> None:
    cited = blob_name(PDF)
    uncited = blob_name(PNG)
    for name, body in ((cited, PDF), (uncited, PNG)):
        assert client.put(f"/api/v1/blobs/{name}", data=body, headers=writer).status_code == 201
    r = client.post("/api/v1/events", data=json.dumps([_note("fn-scopes", cited)]),
                    content_type="application/json", headers=writer)
    assert r.status_code == 201, r.get_data(as_text=True)
    tokens = {**who,
              # the market's read:own covers the market's own books, not its stalls'
              "market_own": issue_token(app, "market-1", scopes=[READ_OWN]),
              "write_only": issue_token(app, STALL, scopes=[WRITE])}
    expect = {"none": 401, "wrong": 403, "right": 200, "market": 200, "other_market": 403,
              "all": 200, "market_own": 403, "write_only": 403}
    for principal, status in expect.items():
        r = client.get(f"/api/v1/blobs/{cited}", headers=_auth(tokens[principal]),
                       buffered=True)
        assert r.status_code == status, (principal, r.get_data(as_text=True)[:200])
        if status == 200:
            assert r.data == PDF
        if principal in ("wrong", "other_market", "market_own"):
            assert r.json["code"] == "not_your_books"
        if principal == "write_only":
            assert r.json["code"] == "insufficient_scope"
    # A blob no event cites: read:all only, whoever uploaded it.
    for principal, status in {"none": 401, "right": 403, "market": 403, "all": 200}.items():
        r = client.get(f"/api/v1/blobs/{uncited}", headers=_auth(tokens[principal]),
                       buffered=True)
        assert r.status_code == status, principal
    # Cited but not in the store: read:all is told so; others learn nothing more.
    gone = blob_name(b"scan kept elsewhere")
    app.extensions["tracelib"].ledger.append(
        [_signed(app, _note("fn-elsewhere", gone))])
    r = client.get(f"/api/v1/blobs/{gone}", headers=_auth(tokens["all"]))
    assert r.status_code == 404 and "(cited by seq" in r.json["detail"]
    assert client.get(f"/api/v1/blobs/{gone}",
                      headers=_auth(tokens["other_market"])).status_code == 403


def _signed(app: Flask, doc: dict[str, Any]) -> dict[str, Any]:
    from tracelib.events import sign_event

    ext = app.extensions["tracelib"]
    return sign_event(doc, ext.ledger.signing_key(ext.keystore, STALL))


def test_tracelib_serve_keeps_blobs_where_blobs_says(app: Flask, scene: Scene, serve: Serve,
                                                     tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    base = serve(before=("--blobs", str(folder)))
    token = issue_token(app, STALL, scopes=[WRITE])
    status, doc = _put(base, blob_name(PDF), PDF, token, chunked=False)
    assert status == 201, doc
    digest = blob_name(PDF).removeprefix("sha256:")
    assert (folder / "sha256" / digest[:2] / digest[2:]).read_bytes() == PDF
    assert not app.extensions["tracelib"].ledger.blobs.has(blob_name(PDF))  # not beside the db
