"""The producer page (``/p/<party>``): a producer's standing (生产者信用, its 红黑榜) —
certificates issued, lots tested downstream, failures traced back to its certificates
(docs/contract.md "Producers' standing"). HTML for phones, JSON for programs."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from tracelib.views.disclosure import disclose_standing
from tracelib.views.standing import standing_view

from .access import reach
from .extension import ledger, service
from .httputil import conditional, json_response, wants_json_body
from .ids import known

__all__ = ["bp"]

bp = Blueprint("producers", __name__)


@bp.get("/p/<party>")
def producer_page(party: str) -> Response:
    full = standing_view(ledger(), known(party, "party"), today=service().today())
    # a shopper (no token) sees the public fields; a regulator, or the producer itself, all
    view = disclose_standing(full, reach(ledger()))
    if wants_json_body():
        response = json_response(view)
    else:
        response = current_app.response_class(render_template("producer.html", v=view),
                                              mimetype="text/html")
    return conditional(response, vary=("Accept", "Accept-Language", "Authorization"))
