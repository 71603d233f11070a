"""The stall page a shopper's scan opens (``/s/<stall>``) and the stall's placard QR."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from tracelib.views.disclosure import PUBLIC, disclose_stall
from tracelib.views.stall import stall_view

from .extension import ledger, service
from .httputil import conditional, etag_of, json_body, prepared, wants_json_body
from .i18n import current_lang, lang_arg
from .ids import known
from .links import external_url
from .qr import Placard, placard_png, placard_svg
from .scan_counts import count_scan
from .witnessing import page_witness, witness_status

__all__ = ["PROOF_PATH", "StallAnswers", "StallPages", "bp", "proof_template", "render_page",
           "stall_pages"]

bp = Blueprint("stall", __name__)

# A payment reference echoed on the page: short, printable, no control characters.
_PAY = re.compile(r"\A[^\x00-\x1f\x7f-\x9f]{1,64}\Z")
_VARY = ("Accept", "Accept-Language")


#: Where the API serves a record's inclusion proof, below the app's root; ``{seq}`` and
#: ``{size}`` are filled in per record by the views.
PROOF_PATH = "/api/v1/proofs/inclusion/{seq}?size={size}"


def proof_template() -> str:
    return request.script_root + PROOF_PATH


@dataclass
class StallAnswers:
    """One stall's cached answers at one ledger version: the scan JSON and the pages
    rendered from it (per language), each with its ETag."""

    version: tuple[int, int]
    json: bytes
    json_etag: str
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    @property
    def weight(self) -> int:
        return len(self.json) + sum(len(body) for body, _ in self.pages.values())


Key = tuple[str, str, str, int | None, tuple[int, int] | None]


class StallPages:
    """This worker's stall answers, least recently used first, within ``limit`` bytes of
    bodies (``STALL_CACHE_MB``).

    Keyed by stall, day and proof URL template; an entry holds the ledger version it was
    built at (:meth:`~tracelib_service.extension.TracelibService.ledger_version`) and is
    rebuilt when the ledger has moved on, so an append (a hold, a test, a sale) or a
    signed checkpoint is seen by the very next scan. A hit moves the stall to the end;
    a full cache drops the least recently used stalls only.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.weight = 0
        self._items: OrderedDict[Key, StallAnswers] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: Key, version: tuple[int, int]) -> StallAnswers | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found.version != version:
                return None
            self._items.move_to_end(key)
            return found

    def put(self, key: Key, entry: StallAnswers) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.weight -= old.weight
            self._items[key] = entry
            self.weight += entry.weight
            self._trim()

    def add_page(self, key: Key, entry: StallAnswers, lang: str,
                 page: tuple[bytes, str]) -> None:
        """Keep a page rendered later from ``entry`` (another language)."""
        with self._lock:
            if lang in entry.pages:
                return
            entry.pages[lang] = page
            if self._items.get(key) is entry:  # else it was replaced or dropped meanwhile
                self.weight += len(page[0])
                self._trim()

    def _trim(self) -> None:
        while self.weight > self.limit and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self.weight -= dropped.weight


def stall_pages(app: Flask) -> StallPages:
    found = app.extensions.get("tracelib_stall_pages")
    if found is None:
        limit = int(float(app.config["STALL_CACHE_MB"]) * 1024 * 1024)
        found = app.extensions.setdefault("tracelib_stall_pages", StallPages(limit))
    assert isinstance(found, StallPages)
    return found


def _stall(stall: str, day: date) -> tuple[Key, StallAnswers, dict[str, Any] | None]:
    """The stall's answers, from this worker's cache while the ledger has not changed (a
    scan is a read, and a cheap one while nothing is appended), with the view when it was
    built just now."""
    ext = service()
    template = proof_template()
    status = witness_status()
    witnessed = None if status is None else status.size
    # cosignatures arriving change what the page says without changing the ledger's version
    marker = None if status is None else (status.newest_count, status.size or -1)
    key = (stall, day.isoformat(), template, witnessed, marker)
    version = ext.ledger_version()
    pages = stall_pages(current_app)
    found = pages.get(key, version)
    if found is not None:
        return key, found, None
    # built after reading the version: at least as new as its key; the shopper's page is
    # the public view (docs/contract.md "Who may read what"), whoever asks
    view = disclose_stall(stall_view(ledger(), stall, today=day, rules=ext.rules,
                                     proof_url=template, witnessed=witnessed), PUBLIC)
    witness = page_witness(view["checkpoint"])
    if witness is not None:
        view["checkpoint"]["witness"] = witness
    body = json_body(view)
    found = StallAnswers(version, body, etag_of(body))
    pages.put(key, found)
    return key, found, view


def render_page(view: dict[str, Any], pay: str | None) -> tuple[bytes, str]:
    # One producer-page link per producer, not per lot on the counter: a stall's lots
    # come from a few farms, and building a URL is the page's dearest step per item.
    producers = {item["origin"]["party"] for item in view["on_hand"]
                 if item.get("origin") and item["origin"].get("party")}
    producer_urls = {party: url_for("producers.producer_page", party=party, lang=lang_arg())
                     for party in producers}
    body = render_template("stall.html", v=view, pay=pay,
                           producer_urls=producer_urls).encode("utf-8")
    return body, etag_of(body)


@bp.get("/s/<stall>")
def stall_page(stall: str) -> Response:
    known(stall, "stall")
    pay = request.args.get("pay")
    if pay is not None and not _PAY.match(pay):
        raise BadRequest("pay must be 1-64 characters without control characters")
    day = service().today()
    key, entry, view = _stall(stall, day)
    count_scan(stall, day)
    if wants_json_body():
        if pay is None:
            return prepared(entry.json, entry.json_etag, "application/json", vary=_VARY)
        doc = json.loads(entry.json)
        doc["payment_ref"] = pay
        body = json_body(doc)
        return prepared(body, etag_of(body), "application/json", vary=_VARY)
    if pay is not None:  # per payment: rendered each time, never kept
        body, etag = render_page(view or json.loads(entry.json), pay)
        return prepared(body, etag, "text/html", vary=_VARY)
    lang = current_lang()
    page = entry.pages.get(lang)
    if page is None:  # the JSON is the view: rendering from it needs no query
        page = render_page(view or json.loads(entry.json), None)
        stall_pages(current_app).add_page(key, entry, lang, page)
    return prepared(page[0], page[1], "text/html", vary=_VARY)


def _placard(stall: str) -> Placard:
    place = ledger().location(known(stall, "stall"))
    view_ok = place is not None and place.type == "stall"
    if not view_ok:
        stall_view(ledger(), stall, today=service().today(),
                   proof_url=proof_template())  # raises the right NotFoundError
    assert place is not None
    url = external_url("stall.stall_page", stall=stall)
    number = str(place.details.get("number") or "")
    label = f"摊位号 {number} · {place.id}" if number else place.id
    level = str(current_app.config["QR_LEVEL"]).upper()
    return Placard(url=url, name=place.name, number=label,
                   level="Q" if level == "Q" else "H")


@bp.get("/s/<stall>/qr.png")
def qr_png(stall: str) -> Response:
    response = current_app.response_class(placard_png(_placard(stall)), mimetype="image/png")
    return conditional(response, vary=())


@bp.get("/s/<stall>/qr.svg")
def qr_svg(stall: str) -> Response:
    response = current_app.response_class(placard_svg(_placard(stall)),
                                          mimetype="image/svg+xml")
    return conditional(response, vary=())
