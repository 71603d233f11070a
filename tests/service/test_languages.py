"""Each page speaks one language: the Chinese pages hold no English label, the English
pages no Chinese label — Chinese stays only in names (a stall's, a market's, a producer's,
a place's), which are data, not labels. The label lists are the service's own
(``service/i18n.py`` TEXT); ``?lang=zh|en`` picks the language (docs/operations.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene
from tests.service.console_scene import REGULATOR, app_token, console_app_at, sign_in
from tracelib.keys import Keystore
from tracelib_service.i18n import TEXT

CJK = re.compile(r"[\u3400-\u9fff]")
# Keys whose text is the other language on purpose: the link that switches language.
SWITCH = {"switch_lang", "switch_lang_code"}
PAGES = ["/", f"/s/{STALL}", "/l/LOT-QC-0002", "/l/LOT-CP-0001", "/m/market-1/board",
         "/p/farm-1"]
CONSOLE_PAGES = ["/console/", "/console/find?q=LOT-QC-0002", "/console/drill?lot=LOT-QC-0002",
                 "/console/kpi", "/console/recall?lot=LOT-QC-0002"]


class _Text(HTMLParser):
    """The text a reader sees, attribute values left out (class names are not words)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    reader = _Text()
    reader.feed(html)
    return " ".join(reader.parts)


def _literal_parts(label: str) -> list[str]:
    """A label's text without its ``{placeholders}``."""
    return [p.strip() for p in re.split(r"\{[a-z_]+\}", label) if p.strip()]


def english_labels() -> dict[str, str]:
    """English text of every label that Chinese says differently (words of 3+ letters)."""
    found = {}
    for key, english in TEXT["en"].items():
        if key in SWITCH or TEXT["zh"].get(key) == english:
            continue
        for part in _literal_parts(english):
            if re.search(r"[A-Za-z]{3,}", part):
                found[part] = key
    return found


def chinese_labels() -> dict[str, str]:
    """Chinese text of every label (with Chinese in it) that English says differently."""
    found = {}
    for key, chinese in TEXT["zh"].items():
        if key in SWITCH or TEXT["en"].get(key) == chinese or key.startswith("voucher."):
            continue
        for part in _literal_parts(chinese):
            if CJK.search(part):
                found[part] = key
    return found


def english_found(text: str) -> list[str]:
    """English labels in ``text`` (whole words; any case from 5 letters on, so "verified"
    is caught, while "Lot" does not match the lot code "LOT-QC-0002"), and wire values
    (``self_test``, ``commissioned_test``) shown raw instead of translated."""
    found = [f"{label!r} ({key})" for label, key in english_labels().items()
             if re.search(rf"(?<![A-Za-z-]){re.escape(label)}(?![A-Za-z-])", text,
                          re.IGNORECASE if len(label) >= 5 else 0)]
    return sorted(found + raw_values(text))


# A certificate's commitments are its own words, printed as issued (the test network's
# certificates, tests/helpers.py, word them in snake_case): data, like names.
CERTIFICATE_WORDS = {"no_banned_pesticides", "residues_within_limits"}


def raw_values(text: str) -> list[str]:
    """snake_case words: wire values, never words of a page in either language."""
    return [f"raw {word!r}" for word in re.findall(r"(?<![\w-])[a-z]+(?:_[a-z]+)+(?![\w-])",
                                                       text)
            if word not in CERTIFICATE_WORDS]


def chinese_found(text: str, names: set[str]) -> list[str]:
    for name in sorted(names, key=len, reverse=True):  # names excepted: they are data
        text = text.replace(name, " ")
    punctuation = [f"punctuation {mark!r}" for mark in "：，、。（）" if mark in text]
    return sorted([f"{label!r} ({key})" for label, key in chinese_labels().items()
                   if label in text] + raw_values(text) + punctuation)


def names_in(scene: Scene) -> set[str]:
    """Every name the ledger holds: parties', places', certificates' producers and places
    of origin, products — the Chinese an English page keeps."""
    ledger = scene.ledger
    names: set[str] = set()
    with ledger.store.reader() as conn:
        from sqlalchemy import select

        from tracelib.store.schema import locations, lots, parties

        for table in (parties, locations):
            names |= {str(r[0]) for r in conn.execute(select(table.c.name)) if r[0]}
        names |= {str(r[0]) for r in conn.execute(select(lots.c.product)) if r[0]}
    return names


@pytest.mark.parametrize("path", PAGES)
def test_chinese_pages_have_no_english_label(client: FlaskClient, path: str) -> None:
    for url in (path, f"{path}{'&' if '?' in path else '?'}lang=zh"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert english_found(visible_text(page.get_data(as_text=True))) == [], url


@pytest.mark.parametrize("path", PAGES)
def test_english_pages_have_no_chinese_label(client: FlaskClient, scene: Scene,
                                             path: str) -> None:
    page = client.get(f"{path}{'&' if '?' in path else '?'}lang=en")
    assert page.status_code == 200, path
    text = visible_text(page.get_data(as_text=True))
    assert chinese_found(text, names_in(scene)) == [], path


@pytest.fixture
def console(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[tuple[Flask, FlaskClient]]:
    with console_app_at(db_url, scene, keystore, NOW) as app:
        web = app.test_client()
        sign_in(web, app_token(app, REGULATOR))
        yield app, web


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_console_pages_speak_one_language(console: tuple[Flask, FlaskClient], scene: Scene,
                                          path: str) -> None:
    _app, web = console
    sep = "&" if "?" in path else "?"
    zh = web.get(f"{path}{sep}lang=zh")
    en = web.get(f"{path}{sep}lang=en")
    assert zh.status_code == 200 and en.status_code == 200, path
    assert english_found(visible_text(zh.get_data(as_text=True))) == [], path
    assert chinese_found(visible_text(en.get_data(as_text=True)), names_in(scene)) == [], path
