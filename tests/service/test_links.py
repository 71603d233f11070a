"""Absolute links come from configuration (``PUBLIC_URL``, else the bound address), never
from the request's ``Host`` header; requests naming another host get 400."""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
import zxingcpp
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from tests.service.conftest import GTIN, STALL, Serve
from tracelib_cli.main import cli
from tracelib_service import create_app
from tracelib_service.links import link_settings

EVIL = "evil.example"


def _qr_text(png: bytes) -> str:
    with Image.open(io.BytesIO(png)) as image:
        [code] = zxingcpp.read_barcodes(image.convert("L"))
    return str(code.text)


@contextmanager
def _app(app: Flask, **config: Any) -> Iterator[FlaskClient]:
    base: Mapping[str, Any] = {k: app.config[k] for k in ("TESTING", "DB", "KEYSTORE", "NOW")}
    other = create_app({**base, **config})
    try:
        yield other.test_client()
    finally:
        other.extensions["tracelib"].close()


@pytest.mark.parametrize("path", [f"/s/{STALL}/qr.svg", f"/s/{STALL}/qr.png", f"/s/{STALL}",
                                  f"/01/{GTIN}/10/LOT-CP-0001?linkType=linkset",
                                  "/l/LOT-CP-0001", "/api/v1/checkpoint"])
def test_a_foreign_host_header_gets_400(client: FlaskClient, path: str) -> None:
    r = client.get(path, headers={"Host": EVIL, "Accept": "application/json"})
    assert r.status_code == 400, r.data[:200]
    assert r.mimetype == "application/problem+json"
    assert r.json["code"] == "untrusted_host" and EVIL.encode() not in r.data
    page = client.get(path, headers={"Host": f"{EVIL}:8000", "Accept": "text/html"})
    assert page.status_code == 400 and "本服务不使用这个主机名" in page.get_data(as_text=True)
    english = client.get(path + ("&" if "?" in path else "?") + "lang=en",
                         headers={"Host": EVIL, "Accept": "text/html"})
    assert "does not answer to that host name" in english.get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "localhost:5000"])
def test_placard_encodes_the_bound_address_whatever_loopback_name_was_used(
        client: FlaskClient, host: str) -> None:
    r = client.get(f"/s/{STALL}/qr.png", headers={"Host": host})
    assert r.status_code == 200
    assert _qr_text(r.data) == f"http://127.0.0.1:8000/s/{STALL}"


def test_public_url_makes_every_link(app: Flask) -> None:
    with _app(app, PUBLIC_URL="https://trace.example.cn") as client:
        ok = {"Host": "trace.example.cn"}
        assert _qr_text(client.get(f"/s/{STALL}/qr.png", headers=ok).data) == \
            f"https://trace.example.cn/s/{STALL}"
        r = client.get(f"/01/{GTIN}/10/LOT-CP-0001?linkType=linkset", headers=ok)
        [links] = r.json["linkset"]
        hrefs = [links["anchor"]] + [t["href"] for k, v in links.items() if k != "anchor"
                                     for t in v]
        assert len(hrefs) == 5 and all(h.startswith("https://trace.example.cn/") for h in hrefs)
        assert r.headers["Link"].startswith(
            f"<https://trace.example.cn/01/{GTIN}/10/LOT-CP-0001?linkType=linkset>")
        page = client.get("/l/LOT-CP-0001", headers={"Host": "localhost"})  # the proxy's hop
        assert page.headers["Link"].startswith("<https://trace.example.cn/l/LOT-CP-0001?")
        assert client.get(f"/s/{STALL}/qr.svg", headers={"Host": EVIL}).status_code == 400


def test_a_specific_bind_accepts_only_its_own_name(app: Flask) -> None:
    with _app(app, BIND="192.0.2.7:8080") as client:
        r = client.get(f"/s/{STALL}/qr.png", headers={"Host": "192.0.2.7:8080"})
        assert _qr_text(r.data) == f"http://192.0.2.7:8080/s/{STALL}"
        assert client.get(f"/s/{STALL}/qr.png", headers={"Host": "localhost"}).status_code == 400


def test_configured_trusted_hosts_win(app: Flask) -> None:
    with _app(app, PUBLIC_URL="https://t.example.cn", TRUSTED_HOSTS=[".example.cn"]) as client:
        assert client.get(f"/s/{STALL}", headers={"Host": "a.example.cn"}).status_code == 200
        assert client.get(f"/s/{STALL}", headers={"Host": "localhost"}).status_code == 400


@pytest.mark.parametrize(("public", "bind", "base", "trusted"), [
    (None, None, "http://127.0.0.1:8000", ("127.0.0.1", "localhost")),
    (None, "localhost:80", "http://localhost", ("localhost", "127.0.0.1")),
    (None, "[::1]:9000", "http://[::1]:9000", ("[::1]", "localhost", "127.0.0.1")),
    ("https://t.example.cn/", "0.0.0.0:8000", "https://t.example.cn",
     ("t.example.cn", "localhost", "127.0.0.1")),
    ("https://t.example.cn/trace", "10.0.0.5:8000", "https://t.example.cn/trace",
     ("t.example.cn", "10.0.0.5")),
])
def test_link_settings(public: str | None, bind: str | None, base: str,
                       trusted: tuple[str, ...]) -> None:
    settings = link_settings(public, bind)
    assert (settings.base, settings.trusted) == (base, trusted)


@pytest.mark.parametrize(("public", "bind", "says"), [
    (None, "0.0.0.0:8000", "every interface"),
    (None, "[::]:8000", "every interface"),
    ("ftp://t.example.cn", None, "http:// or https://"),
    ("https://", None, "with a host"),
    ("https://t.example.cn/?a=1", None, "query"),
    (None, "127.0.0.1", "HOST:PORT"),
    (None, "unix:/run/t.sock", "Unix socket"),
])
def test_link_settings_refuse_what_names_no_address(public: str | None, bind: str,
                                                     says: str) -> None:
    with pytest.raises(ValueError, match=says):
        link_settings(public, bind)


def test_create_app_refuses_a_wildcard_bind_without_public_url(app: Flask) -> None:
    with pytest.raises(ValueError, match="every interface"), _app(app, BIND="0.0.0.0:8000"):
        pass


def test_serve_refuses_a_wildcard_bind_without_public_url(app: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRACELIB_PUBLIC_URL", raising=False)
    result = CliRunner().invoke(cli, ["--db", app.config["DB"], "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--public-url" in result.output, result.output


def _get(server: tuple[str, int], path: str, host: str) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection(*server, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host, "Accept": "application/json"})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        conn.close()


def test_under_gunicorn_links_come_from_the_bind_and_foreign_hosts_get_400(
        serve: Serve) -> None:
    server = serve()
    port = server[1]
    status, body, kind = _get(server, f"/s/{STALL}/qr.png", EVIL)
    assert status == 400 and kind.startswith("application/problem+json"), body[:300]
    assert json.loads(body)["code"] == "untrusted_host"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, body, _ = _get(server, f"/s/{STALL}/qr.png", host)
        assert status == 200 and _qr_text(body) == f"http://127.0.0.1:{port}/s/{STALL}"


def test_under_gunicorn_the_public_url_is_in_the_placard(serve: Serve) -> None:
    server = serve("--public-url", "https://trace.example.cn")
    status, body, _ = _get(server, f"/s/{STALL}/qr.png", "trace.example.cn")
    assert status == 200 and _qr_text(body) == f"https://trace.example.cn/s/{STALL}"
    assert _get(server, f"/s/{STALL}/qr.svg", EVIL)[0] == 400
