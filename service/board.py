"""The market's public board (公示): the day's rapid tests, positives first with the action
taken, the day's inspections and whether the market published before opening:
``/m/<market>/board``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from tracelib.views.board import board_view

from .extension import ledger, service
from .httputil import conditional, json_response, wants_json_body
from .ids import known

__all__ = ["bp"]

bp = Blueprint("board", __name__)


@bp.get("/m/<market>/board")
def market_board(market: str) -> Response:
    view = board_view(ledger(), known(market, "market"), today=service().today(),
                      tz=service().zone)
    if wants_json_body():
        response = json_response(view)
    else:
        response = current_app.response_class(render_template("board.html", v=view),
                                               mimetype="text/html")
    return conditional(response, vary=("Accept", "Accept-Language"))
