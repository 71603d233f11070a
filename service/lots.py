"""The lot page: ``/l/<lot>`` and its GS1 Digital Link form ``/01/<gtin>/10/<lot>``.

``linkType`` (GS1 Digital Link 1.2 / GS1-Conformant resolver 1.1): ``gs1:pip`` (default:
the consumer page, HTML), ``gs1:traceability`` (the lot's trace as JSON), ``gs1:epcis`` (a
redirect to the EPCIS query of the lot's events, ``/epcis/events?MATCH_anyEPCClass=`` the
lot's URI as the EPCIS export names it), ``linkset`` or ``all`` (the lot's links as an
RFC 9264 linkset).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.exceptions import NotFound

from tracelib.cbv import EpcisNames
from tracelib.errors import NotFoundError
from tracelib.store.supply import SupplySql
from tracelib.views.disclosure import PUBLIC, Reach, disclose_lot, disclose_trace, widen
from tracelib.views.lot import lot_view
from tracelib.views.tracing import trace

from .access import current_principal, reach
from .extension import ledger
from .httputil import conditional, json_response, wants_json_body
from .ids import known
from .links import external_url, public_url
from .stall import proof_template
from .witnessing import page_witness, witnessed_size

__all__ = ["bp", "epcis_query_url", "gtin14", "linkset"]

bp = Blueprint("lots", __name__)

GS1_VOC = "https://gs1.org/voc/"
PIP, TRACEABILITY, EPCIS = "gs1:pip", "gs1:traceability", "gs1:epcis"


def gtin14(value: str) -> str | None:
    """A GTIN-8/12/13/14 as 14 digits, or None when it is not one (GS1 General
    Specifications §7.9.1: mod-10 check digit, weights 3 and 1 from the right)."""
    if not value.isascii() or not value.isdigit() or len(value) not in (8, 12, 13, 14):
        return None
    digits = value.zfill(14)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(digits[:13]))
    return digits if (10 - total % 10) % 10 == int(digits[13]) else None


def _link_type() -> str:
    raw = request.args.get("linkType", PIP)
    if raw.startswith(GS1_VOC):
        raw = "gs1:" + raw.removeprefix(GS1_VOC)
    return raw


def epcis_query_url(lot: str, gtin: str | None) -> str:
    """The EPCIS query of ``lot``'s events: ``/epcis/events?MATCH_anyEPCClass=`` the lot's
    URI as the EPCIS export names it (its GS1 Digital Link when it has a GTIN)."""
    uri = EpcisNames(str(current_app.config["LINK_BASE"]),
                     gtin=lambda _: gtin).lot(lot)
    return public_url("/epcis/events") + "?" + urlencode({"MATCH_anyEPCClass": uri})


def linkset(lot: str, gtin: str | None, product: str | None) -> dict[str, Any]:
    """RFC 9264 linkset (``application/linkset+json``) of a lot's GS1 link types."""
    anchor = (external_url("lots.digital_link", gtin=gtin, lot=lot) if gtin
              else external_url("lots.lot_page", lot=lot))
    page = {"href": anchor, "title": f"{product or lot} 批次溯源", "type": "text/html",
            "hreflang": ["zh-CN", "en"]}
    # The machine data is this resolver's own answer: the trace as the caller may read it
    # (docs/contract.md "Who may read what"), so a shopper following the link gets it too.
    data = {"href": f"{anchor}?linkType={TRACEABILITY}", "title": f"{lot} trace",
            "type": "application/json"}
    events = {"href": epcis_query_url(lot, gtin), "title": f"{lot} EPCIS events",
              "type": "application/ld+json"}
    return {"linkset": [{"anchor": anchor,
                         GS1_VOC + "defaultLink": [page],
                         GS1_VOC + "pip": [page],
                         GS1_VOC + "traceability": [data],
                         GS1_VOC + "epcis": [events]}]}


def _reader(lots: list[str]) -> Reach:
    """What the caller may read of ``lots``: a shopper (no token) sees the public fields
    only; a token with a read scope sees its own places and one hop from them."""
    if not current_principal().reads:
        return PUBLIC
    return widen(ledger(), reach(ledger()), lots)


def _serve(lot: str, gtin: str | None) -> Response:
    kind = _link_type()
    if kind in ("linkset", "all"):
        view = lot_view(ledger(), lot, proof_url=proof_template())
        response = json_response(linkset(lot, view["gtin"], view["product"]),
                                 mimetype="application/linkset+json")
    elif kind == EPCIS:
        gtin = gtin or lot_view(ledger(), lot, proof_url=proof_template())["gtin"]
        return redirect(epcis_query_url(lot, gtin), code=307)
    elif kind == TRACEABILITY:
        found = trace(ledger(), lot)
        reader = _reader([lot, *found.upstream_lots, *found.downstream_lots])
        response = json_response(disclose_trace(found.to_dict(), reader))
    else:  # gs1:pip, and any link type this resolver lacks: the default link (GS1 resolver §2)
        full = lot_view(ledger(), lot, proof_url=proof_template(), witnessed=witnessed_size())
        view = disclose_lot(full, _reader([lot, *full["upstream_lots"]]))
        witness = page_witness(view["checkpoint"])
        if witness is not None:
            view["checkpoint"]["witness"] = witness
        if wants_json_body():
            response = json_response(view)
        else:
            response = current_app.response_class(
                render_template("lot.html", v=view,
                                proof_url=lambda seq: proof_template().format(
                                    seq=seq, size=view["checkpoint"]["size"])),
                mimetype="text/html")
    here = external_url(str(request.endpoint), **(request.view_args or {}))
    response.headers["Link"] = (f'<{here}?linkType=linkset>; rel="linkset"; '
                                'type="application/linkset+json"')
    return conditional(response, vary=("Accept", "Accept-Language"))


@bp.get("/l/<path:lot>")
def lot_page(lot: str) -> Response:
    return _serve(known(lot, "lot"), None)


@bp.get("/01/<gtin>/10/<path:lot>")
def digital_link(gtin: str, lot: str) -> Response:
    normal = gtin14(gtin)
    if normal is None:
        raise NotFound(f"{gtin!r} is not a valid GTIN (8, 12, 13 or 14 digits with a correct "
                       "check digit)")
    known(lot, "lot")
    with ledger().store.reader() as conn:
        row = SupplySql.lots(conn, [lot]).get(lot)
    if row is None:
        raise NotFoundError(f"unknown lot {lot!r}")
    if row.gtin != normal:
        raise NotFoundError(f"lot {lot!r} does not carry GTIN {normal}")
    return _serve(lot, normal)
