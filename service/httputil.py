"""Small HTTP helpers: content negotiation, strong ETags over the body, no-cache."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, current_app, request

__all__ = ["conditional", "etag_of", "json_body", "json_response", "prepared",
           "wants_json_body"]

# Request headers that can turn a response into a 304 (or a 412); without any of them
# (the usual scan) there is nothing for make_conditional to decide.
_CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH",
               "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE", "HTTP_RANGE")


def wants_json_body() -> bool:
    """The same URL serves HTML to a phone and JSON to a program (content negotiation, RFC 9110 §12)."""
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"],
                                               default="text/html")
    return best == "application/json"


def json_body(doc: Any) -> bytes:
    """The one JSON form of a response body: sorted keys, compact, UTF-8."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def json_response(doc: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return current_app.response_class(json_body(doc), status=status, mimetype=mimetype)


def etag_of(body: bytes) -> str:
    """The strong ETag of a body: the first 40 hex digits of its SHA-256 (the same in every
    worker, so a client may revalidate against any of them)."""
    return hashlib.sha256(body).hexdigest()[:40]


def conditional(response: Response, *, vary: tuple[str, ...] = ("Accept",)) -> Response:
    """ETag = SHA-256 of the body; ``Cache-Control: no-cache`` (always revalidate: a hold
    must show at once); 304 when If-None-Match matches."""
    return _revalidated(response, etag_of(response.get_data()), vary)


def prepared(body: bytes, etag: str, mimetype: str, *,
             vary: tuple[str, ...] = ("Accept",)) -> Response:
    """:func:`conditional` for a body whose ETag is already known (kept beside it in a
    cache): the same headers and the same 304, without hashing the body again."""
    return _revalidated(current_app.response_class(body, mimetype=mimetype), etag, vary)


def _revalidated(response: Response, etag: str, vary: tuple[str, ...]) -> Response:
    headers = response.headers
    headers["ETag"] = f'"{etag}"'
    headers["Cache-Control"] = "no-cache"
    if vary:
        if "Vary" in headers:
            for name in vary:
                response.vary.add(name)
        else:
            headers["Vary"] = ", ".join(vary)
    environ = request.environ
    if any(name in environ for name in _CONDITIONS):
        response.make_conditional(request)  # turns it into a 304 in place when it matches
    return response
