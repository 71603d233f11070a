"""Rate limits on anonymous requests: N a period per client address (GCRA), a 429 problem
with ``Retry-After`` past it; requests with a valid token, probes and metrics are never
limited; behind trusted proxies the client is read from ``X-Forwarded-For``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tracelib.keys import Keystore
from tracelib_service import create_app
from tracelib_service.ops.ratelimit import Rate, RateLimiter, parse_rate
from tracelib_service.tokens import issue_token

SHOPPER = {"REMOTE_ADDR": "223.5.5.5"}


@pytest.fixture
def limited(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "RATE_LIMIT": "3/minute"})
    yield app
    app.extensions["tracelib"].close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_gcra_burst_then_one_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Rate(3, 60.0), clock)
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("a") == pytest.approx(20.0)
    assert limiter.hit("b") == 0.0  # another client has its own count
    clock.now += 5
    assert limiter.hit("a") == pytest.approx(15.0)  # refused requests cost nothing
    clock.now += 15
    assert limiter.hit("a") == 0.0 and limiter.hit("a") == pytest.approx(20.0)
    clock.now += 3600
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # a full burst again


@pytest.mark.parametrize(("text", "rate"), [("120/minute", Rate(120, 60.0)),
                                            ("5/second", Rate(5, 1.0)),
                                            (" 1000 / Hours ", Rate(1000, 3600.0)),
                                            ("10000/day", Rate(10000, 86400.0))])
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0/minute", "120", "120/fortnight", "-1/second", "1.5/second",
                                  "１２０/minute"])
def test_a_bad_rate_is_refused_at_start(text: str, db_url: str, scene: Scene,
                                        keystore: Keystore) -> None:
    with pytest.raises(ValueError, match="RATE_LIMIT"):
        create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                    "RATE_LIMIT": text})


def test_429_with_retry_after(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(3):
        assert client.get(f"/s/{STALL}", environ_base=SHOPPER).status_code == 200
    r = client.get(f"/api/v1/stalls/{STALL}", environ_base=SHOPPER)
    assert r.status_code == 429 and r.mimetype == "application/problem+json"
    assert 1 <= int(r.headers["Retry-After"]) <= 20
    assert r.json["code"] == "rate_limited" and r.json["retry_after"] == int(r.headers["Retry-After"])
    assert r.json["title"] == "请求过于频繁" and r.json["request_id"] == r.headers["X-Request-Id"]
    assert r.headers["Cache-Control"] == "no-store"
    en = client.get(f"/s/{STALL}?lang=en", environ_base=SHOPPER, headers={"Accept": "text/html"})
    assert en.status_code == 429 and "Too many requests" in en.get_data(as_text=True)
    # another shopper is not affected; probes and metrics are never limited
    assert client.get(f"/s/{STALL}", environ_base={"REMOTE_ADDR": "223.6.6.6"}).status_code == 200
    for path in ("/healthz", "/readyz"):
        assert client.get(path, environ_base=SHOPPER).status_code == 200
    assert client.get("/metrics").status_code == 200


def _sale(event_id: str) -> str:
    return json.dumps([{"id": event_id, "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
                        "actor": STALL, "location": STALL,
                        "inputs": [{"lot": "LOT-CP-0001", "qty": "0.1", "unit": "kg"}],
                        "data": {"receipt": f"R-{event_id}"}}])


def test_authenticated_writes_are_not_limited(limited: Flask) -> None:
    client = limited.test_client()
    token = issue_token(limited, STALL)
    for _ in range(4):
        client.get(f"/s/{STALL}", environ_base=SHOPPER)
    assert client.get(f"/s/{STALL}", environ_base=SHOPPER).status_code == 429
    for i in range(5):  # the same address, with a valid token
        r = client.post("/api/v1/events", data=_sale(f"sale-rl-{i}"),
                        content_type="application/json", environ_base=SHOPPER,
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.get_data(as_text=True)
    # a made-up token buys nothing
    r = client.get(f"/s/{STALL}", environ_base=SHOPPER,
                   headers={"Authorization": "Bearer tlk_made-up"})
    assert r.status_code == 429


def _from(client: Any, forwarded: str, peer: str = "127.0.0.1") -> int:
    r = client.get(f"/s/{STALL}", environ_base={"REMOTE_ADDR": peer},
                   headers={"X-Forwarded-For": forwarded})
    return int(r.status_code)


def test_the_client_behind_trusted_proxies(db_url: str, scene: Scene, keystore: Keystore) -> None:
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW,
                      "RATE_LIMIT": "2/minute", "TRUSTED_PROXY_HOPS": 1})
    try:
        client = app.test_client()
        # the proxy appended the address it saw; what the client wrote before it is ignored
        assert [_from(client, f"{fake}, 223.5.5.5") for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3")
                ] == [200, 200, 429]
        assert _from(client, "223.5.5.5, 223.6.6.6") == 200  # another shopper
    finally:
        app.extensions["tracelib"].close()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(limited: Flask) -> None:
    client = limited.test_client()
    codes = [_from(client, f"10.0.0.{i}", peer="223.5.5.5") for i in range(4)]
    assert codes == [200, 200, 200, 429]
