"""CORS (the Fetch standard's CORS protocol) on the public reads only.

A shopper's page, a market's own web site or a witness may read the public answers from
a script on another origin: the stall page and its JSON, the lot page and its GS1 Digital
Link form, the producer page, the market board, the newest checkpoint, inclusion and
consistency proofs and the OpenAPI document — the endpoints whose access rule says so
(service/access.py ``ENDPOINTS``, ``Access.cross_origin``). Their ``GET``/``HEAD`` answers
(errors included, so a script can read a 404 or a 429) carry
``Access-Control-Allow-Origin: *`` — no credentials: these reads need none, and ``*`` never
lets a browser send cookies or ``Authorization``. A preflight
(``OPTIONS`` with ``Access-Control-Request-Method: GET`` or ``HEAD``) of one of them is
answered 204 with what may be asked.

Everything else — writes, authenticated reads, the console, ``/metrics`` — carries no CORS
header at all, so a browser refuses a cross-origin script its answer and never sends the
preflighted request.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..access import ENDPOINTS

__all__ = ["cross_origin", "init_app"]

READ_METHODS = ("GET", "HEAD")
#: Request headers a script may send (beyond the CORS-safelisted ones).
ALLOWED_HEADERS = "Accept, Accept-Language, If-None-Match, If-Modified-Since, X-Request-Id"
#: Response headers a script may read (beyond the CORS-safelisted ones).
EXPOSED_HEADERS = "ETag, Link, Retry-After, X-Request-Id"
PREFLIGHT_MAX_AGE = "86400"


def cross_origin(endpoint: str | None) -> bool:
    """Whether any origin may read the endpoint's answers: its access rule says so
    (service/access.py ENDPOINTS, ``Access.cross_origin``)."""
    access = ENDPOINTS.get(endpoint or "")
    return access is not None and access.cross_origin


def _cors(response: Response) -> Response:
    if not cross_origin(request.endpoint):
        return response
    headers = response.headers
    if request.method in READ_METHODS:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    elif request.method == "OPTIONS":
        asked = request.headers.get("Access-Control-Request-Method")
        if asked in READ_METHODS:
            response.status_code = 204
            response.set_data(b"")
            headers.remove("Content-Type")
            headers["Access-Control-Allow-Origin"] = "*"
            headers["Access-Control-Allow-Methods"] = ", ".join((*READ_METHODS, "OPTIONS"))
            headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def init_app(app: Flask) -> None:
    app.after_request(_cors)
