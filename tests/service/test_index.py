"""`/` is the service's front door: the markets' boards, the API and the console, in
Chinese by default and in English with ``?lang=en`` — never a 404."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tracelib_service.i18n import TEXT


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_the_index_lists_the_markets_boards_and_the_api_in_chinese(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for key in ("index.title", "index.markets", "index.api_doc", "index.checkpoint",
                "index.console"):
        assert TEXT["zh"][key] in html, key
    links = _links(html)
    assert "/m/market-1/board" in links
    assert "/api/v1/openapi.json" in links and "/api/v1/checkpoint" in links
    for link in links:
        if link.startswith("/") and not link.startswith("/console"):
            assert client.get(link).status_code == 200, link
    assert client.get("/console/").status_code == 302  # the console asks for a token


def test_the_index_in_english_keeps_the_language_in_its_links(client: FlaskClient) -> None:
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    for key in ("index.title", "index.markets", "index.api_doc"):
        assert TEXT["en"][key] in html, key
    assert "/m/market-1/board?lang=en" in _links(html)
    board = client.get("/m/market-1/board?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in board


def test_the_index_lists_each_market_with_stalls_once(client: FlaskClient) -> None:
    # every market with stalls has a board; the test ledger has one
    html = client.get("/").get_data(as_text=True)
    assert html.count('class="card market"') == 1
    assert TEXT["zh"]["index.no_markets"] not in html
