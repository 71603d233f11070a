"""The service's front door, ``/``: what it serves — each market's rapid-test board, the API
and the ledger's checkpoint, the regulator's console — in the page's language (zh-CN by
default, ``?lang=en``). Public: market names and links only."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from tracelib.views.board import markets_with_boards

from .extension import ledger
from .httputil import conditional

__all__ = ["bp"]

bp = Blueprint("index", __name__)


@bp.get("/")
def index_page() -> Response:
    page = render_template("index.html", markets=markets_with_boards(ledger()))
    response = current_app.response_class(page, mimetype="text/html")
    return conditional(response, vary=("Accept-Language",))
