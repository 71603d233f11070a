"""The stall page a shopper's scan opens (``/s/<stall>``) and the stall's placard QR."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from tracelib.stall import stall_view

from .extension import ledger, service
from .httputil import conditional, json_response, wants_json_body
from .i18n import current_lang
from .qr import Placard, placard_png, placard_svg
from .scans import count_scan

__all__ = ["bp", "proof_template"]

bp = Blueprint("scan", __name__)

# A payment reference echoed on the page: short, printable, no control characters.
_PAY = re.compile(r"\A[^\x00-\x1f\x7f-\x9f]{1,64}\Z")


def proof_template() -> str:
    return request.script_root + "/api/v1/proofs/inclusion/{seq}?size={size}"


_VIEWS_KEPT = 512


def _view(stall: str) -> dict[str, object]:
    """The stall's view, from this worker's cache while the ledger has not grown: a scan
    is a read, and the cache key holds the ledger's size, so an append (a hold, a test, a
    sale) is seen by the very next scan."""
    ext = service()
    led = ledger()
    day = ext.today()
    key = (stall, day, led.size, proof_template())
    cache: dict[tuple[object, ...], dict[str, object]] = current_app.extensions.setdefault(
        "tracelib_stall_views", {})
    found = cache.get(key)
    if found is None:
        found = stall_view(led, stall, today=day, rules=ext.rules, proof_url=proof_template())
        if len(cache) >= _VIEWS_KEPT:
            cache.clear()
        cache[key] = found
    return found


@bp.get("/s/<stall>")
def stall_page(stall: str) -> Response:
    pay = request.args.get("pay")
    if pay is not None and not _PAY.match(pay):
        raise BadRequest("pay must be 1-64 characters without control characters")
    view = _view(stall)
    count_scan(stall, service().today())
    if wants_json_body():
        doc = {k: v for k, v in view.items() if k != "_pages"}
        if pay is not None:
            doc["payment_ref"] = pay
        response = json_response(doc)
    else:
        response = current_app.response_class(_page(view, pay), mimetype="text/html")
    return conditional(response, vary=("Accept", "Accept-Language"))


def _page(view: dict[str, object], pay: str | None) -> str:
    """The rendered page; without a payment reference (which is per payment) it is kept
    beside the cached view it was rendered from, per language."""
    if pay is not None:
        return render_template("stall.html", v=view, pay=pay)
    pages = view.setdefault("_pages", {})
    assert isinstance(pages, dict)
    lang = current_lang()
    if lang not in pages:
        pages[lang] = render_template("stall.html", v=view, pay=None)
    return str(pages[lang])


def _placard(stall: str) -> Placard:
    place = ledger().location(stall)
    view_ok = place is not None and place.type == "stall"
    if not view_ok:
        _view(stall)  # raises the NotFoundError with the right message
    assert place is not None
    base = current_app.config.get("PUBLIC_URL")
    if base:
        url = str(base).rstrip("/") + url_for("scan.stall_page", stall=stall)
    else:
        url = url_for("scan.stall_page", stall=stall, _external=True)
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
