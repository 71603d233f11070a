"""Small HTTP helpers: content negotiation, strong ETags over the body, no-cache."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app, request
from werkzeug.exceptions import (
    BadRequest,
    ClientDisconnected,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from werkzeug.wsgi import get_input_stream

from tracelib import canonical
from tracelib.errors import ValidationError
from tracelib.events import nul_path

from .problems import BadInput

__all__ = ["BodyCutShort", "BodyTooLarge", "body_chunks", "conditional", "etag_of", "json_body",
           "json_response", "prepared", "read_body", "wants_json_body"]

# Request headers that can turn a response into a 304 (or a 412); without any of them
# (the usual scan) there is nothing for make_conditional to decide.
_CONDITIONS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH",
               "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE", "HTTP_RANGE")


_CHUNK = 64 * 1024
DRAIN_FACTOR = 32  # an oversize body is read and dropped up to 32 × the limit …
DRAIN_SECONDS = 10.0  # … and for at most 10 s, so its sender sees the 413


class BodyTooLarge(RequestEntityTooLarge):
    """413: the request body is longer than ``MAX_CONTENT_LENGTH``, however it was sent."""

    def __init__(self, limit: int) -> None:
        from .i18n import t

        super().__init__(t("error.too_large").format(limit=limit))
        self.extra = {"code": "too_large", "field": "body", "limit": limit}


def read_body() -> bytes:
    """The whole request body, or :class:`BodyTooLarge` past ``MAX_CONTENT_LENGTH`` —
    declared by ``Content-Length`` or found by reading (``Transfer-Encoding: chunked``,
    RFC 9112 §7.1): at most limit + 1 bytes are read, so a body is never cut short and
    then accepted. Every endpoint that reads a body reads it here."""
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    # The server's own stream: bounded by Content-Length, or ended by the server for a
    # chunked body (wsgi.input_terminated); no cap of Werkzeug's, which would stop at the
    # limit without telling.
    stream = get_input_stream(request.environ, max_content_length=None)
    declared = request.content_length
    if declared is not None and declared > limit:
        _drain(stream, limit)
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        _drain(stream, limit)
        raise BodyTooLarge(limit)
    return b"".join(chunks)


class BodyCutShort(BadRequest):
    """400: the body ended before the bytes its ``Content-Length`` declared (RFC 9112 §6.3:
    an incomplete message)."""

    def __init__(self, received: int, declared: int) -> None:
        from .i18n import t

        super().__init__(t("error.wrong_size").format(received=received, declared=declared))
        self.extra = {"code": "wrong_size", "field": "body", "received": received,
                      "declared": declared}


def body_chunks(limit: int) -> Iterator[bytes]:
    """The request body in chunks, for a body stored as it arrives (an attachment), bounded
    as :func:`read_body` bounds a body: :class:`BodyTooLarge` (413) past ``limit`` bytes,
    declared by ``Content-Length`` or found by reading; :class:`BodyCutShort` (400) when the
    body ends before its declared length."""
    stream = get_input_stream(request.environ, max_content_length=None)
    declared = request.content_length
    if declared is not None and declared > limit:  # refused now, before anything is read
        _drain(stream, limit)
        raise BodyTooLarge(limit)

    def chunks() -> Iterator[bytes]:
        total = 0
        while True:
            try:
                chunk = stream.read(min(_CHUNK, limit + 1 - total))
            except ClientDisconnected as e:
                raise BodyCutShort(total, declared or 0) from e
            if not chunk:
                return
            total += len(chunk)
            if total > limit:
                _drain(stream, limit)
                raise BodyTooLarge(limit)
            yield chunk

    return chunks()


def _drain(stream: Any, limit: int) -> None:
    """Read and drop the rest of an oversize body, up to :data:`DRAIN_FACTOR` times the
    limit and :data:`DRAIN_SECONDS`: a client still sending then reads the 413 instead of a
    reset connection (the server closes it after the answer; unread data would make the
    kernel reset it). Past either bound the connection is simply closed."""
    budget = DRAIN_FACTOR * limit
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while budget > 0 and time.monotonic() < deadline:
            chunk = stream.read(min(_CHUNK, budget))
            if not chunk:
                return
            budget -= len(chunk)
    except (OSError, ValueError, ClientDisconnected):
        return  # the client went away: nothing left to answer


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


def json_object_body(media_types: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    """The request's JSON object, strictly parsed (no duplicate keys, no floats, no NUL):
    415 for another media type, 400 naming the field for anything else wrong."""
    if request.mimetype not in media_types:
        raise UnsupportedMediaType("send the body as application/json")
    raw = read_body()
    try:
        doc = canonical.loads(raw)
    except ValidationError as e:
        raise BadInput(f"malformed JSON: {e}", field=e.field or "body") from e
    if not isinstance(doc, dict):
        raise BadInput("expected a JSON object", field="body")
    where = nul_path(doc) if b"\\u0000" in raw else None
    if where is not None:
        raise BadInput(f"field {where!r}: a string holds U+0000 (NUL)", field=where)
    return doc
