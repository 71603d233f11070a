"""Small HTTP helpers: content negotiation, strong ETags over the body, no-cache."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, current_app, request

__all__ = ["conditional", "json_response", "wants_json_body"]


def wants_json_body() -> bool:
    """The same URL serves HTML to a phone and JSON to a program (DESIGN.md §6)."""
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"],
                                               default="text/html")
    return best == "application/json"


def json_response(doc: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    body = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return current_app.response_class(body, status=status, mimetype=mimetype)


def conditional(response: Response, *, vary: tuple[str, ...] = ("Accept",)) -> Response:
    """ETag = SHA-256 of the body; ``Cache-Control: no-cache`` (always revalidate: a hold
    must show at once); 304 when If-None-Match matches."""
    body = response.get_data()
    response.set_etag(hashlib.sha256(body).hexdigest()[:40])
    response.headers["Cache-Control"] = "no-cache"
    for name in vary:
        response.vary.add(name)
    response.make_conditional(request)  # turns it into a 304 in place when it matches
    return response
