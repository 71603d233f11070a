"""CORS: ``Access-Control-Allow-Origin: *`` on the public reads (and their errors), a
preflight answered for them, and nothing at all on writes or token-guarded reads."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.service.conftest import GTIN, STALL

ORIGIN = {"Origin": "https://market.example.cn"}

PUBLIC = [f"/s/{STALL}", f"/s/{STALL}?format=json", f"/s/{STALL}/qr.svg", "/l/LOT-CP-0001",
          f"/01/{GTIN}/10/LOT-CP-0001", "/m/market-1/board", f"/api/v1/stalls/{STALL}",
          "/api/v1/checkpoint", "/api/v1/proofs/inclusion/1", "/api/v1/proofs/consistency?first=1",
          "/api/v1/openapi.json", "/p/farm-1"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_reads_any_origin_may_read(client: FlaskClient, path: str) -> None:
    r = client.get(path, headers=ORIGIN)
    assert r.status_code == 200, (path, r.get_data(as_text=True)[:300])
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert client.head(path, headers=ORIGIN).headers["Access-Control-Allow-Origin"] == "*"


def test_a_public_read_s_errors_are_readable_too(client: FlaskClient) -> None:
    r = client.get("/s/stall-nope", headers={**ORIGIN, "Accept": "application/json"})
    assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", ["/api/v1/checkpoint", f"/s/{STALL}", "/l/LOT-CP-0001"])
def test_preflight_of_a_public_read(client: FlaskClient, path: str) -> None:
    r = client.options(path, headers={**ORIGIN, "Access-Control-Request-Method": "GET",
                                      "Access-Control-Request-Headers": "if-none-match"})
    assert r.status_code == 204 and r.data == b""
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "If-None-Match" in r.headers["Access-Control-Allow-Headers"]
    assert int(r.headers["Access-Control-Max-Age"]) > 0


def test_no_cors_on_writes_and_guarded_reads(client: FlaskClient) -> None:
    post = client.post("/api/v1/events", json=[], headers=ORIGIN)
    assert post.status_code == 401
    preflight = client.options("/api/v1/events", headers={
        **ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    for r in (post, preflight):
        assert not [h for h in r.headers.keys() if h.lower().startswith("access-control-")]
    # a public read's preflight asking to write is not answered either
    write = client.options("/api/v1/checkpoint", headers={
        **ORIGIN, "Access-Control-Request-Method": "DELETE"})
    assert "Access-Control-Allow-Origin" not in write.headers
    for path in ("/api/v1/events/sale-1", "/api/v1/lots/LOT-CP-0001/trace", "/metrics",
                 "/readyz"):
        r = client.get(path, headers=ORIGIN)
        assert "Access-Control-Allow-Origin" not in r.headers, path
