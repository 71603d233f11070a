"""Errors as RFC 9457 problem details (``application/problem+json``) for the API and for
clients that ask for JSON, and as a Chinese (or English) HTML page for browsers.

One handler for :class:`~werkzeug.exceptions.HTTPException`, one mapping the
:class:`~tracelib.errors.TracelibError` subclasses to status codes.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from tracelib.errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    PeerError,
    ProofError,
    SignatureError,
    StorageError,
    TracelibError,
    ValidationError,
)

from .i18n import t

__all__ = ["BadInput", "Forbidden", "Unauthorized", "problem", "register_error_handlers", "wants_json"]

PROBLEM_JSON = "application/problem+json"

# TracelibError subclass → (status, problem "code"); the first match in order wins.
STATUS: tuple[tuple[type[TracelibError], int, str], ...] = (
    (SignatureError, 422, "signature"),
    (ValidationError, 422, "validation"),
    (ConflictError, 409, "conflict"),
    (NotFoundError, 404, "not_found"),
    (StorageError, 503, "unavailable"),
    (PeerError, 502, "peer"),  # a peer ledger's answer that failed or did not verify
    (IntegrityError, 500, "integrity"),
    (ProofError, 500, "proof"),
    (TracelibError, 500, "ledger"),
)


class Unauthorized(HTTPException):
    code = 401
    description = "missing or invalid API token (Authorization: Bearer <token>)"

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs),
                ("WWW-Authenticate", 'Bearer realm="tracelib"')]


class BadInput(HTTPException):
    """400 with the offending ``field`` (query parameters, request bodies)."""

    code = 400

    def __init__(self, description: str, *, field: str | None = None) -> None:
        super().__init__(description)
        self.extra = {"field": field, "code": "bad_request"}


class Forbidden(HTTPException):
    """403 with a problem ``code``: ``forbidden`` (an event for another party),
    ``insufficient_scope`` (RFC 6750 §3.1: the token lacks ``scope``) or ``not_your_books``
    (a read outside the token's reach)."""

    code = 403
    description = "this token may not act for that party"

    def __init__(self, description: str | None = None, *, reason: str = "forbidden",
                 scope: str | None = None) -> None:
        super().__init__(description)
        self.extra = {"code": reason}
        self.scope = scope

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        headers = super().get_headers(*args, **kwargs)
        if self.scope is not None:  # RFC 6750 §3: which scope would do
            headers.append(("WWW-Authenticate", f'Bearer realm="tracelib", '
                            f'error="insufficient_scope", scope="{self.scope}"'))
        return headers


def wants_json() -> bool:
    """API paths (``/api/``, the EPCIS REST binding's ``/epcis/``, the tile log's ``/log/``),
    and clients preferring JSON to HTML, get problem+json."""
    if request.path.startswith(("/api/", "/epcis/", "/log/")):
        return True
    best = request.accept_mimetypes.best_match(
        ["text/html", "application/json", PROBLEM_JSON], default="text/html")
    return best != "text/html"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if g.get("request_id"):  # set by ops.logs for every request
        body["request_id"] = g.request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    if wants_json():
        response = current_app.response_class(
            json.dumps(body, ensure_ascii=False, sort_keys=True), status=status,
            mimetype=PROBLEM_JSON)
    else:
        html = render_template("error.html", status=status, title=t(f"error.{status}")
                               if f"error.{status}" in _known() else title,
                               detail=detail)
        response = current_app.response_class(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept")
    return response


def _known() -> set[str]:
    from .i18n import TEXT

    return set(TEXT["zh"])


def _http_error(e: HTTPException) -> Response:
    status = e.code or 500
    response = problem(status, e.name, e.description, **getattr(e, "extra", {}))
    for name, value in e.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if status == 405 and e.response is None:
        allowed = getattr(e, "valid_methods", None)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def _untrusted_host(e: SecurityError) -> Response:
    """A ``Host`` outside ``TRUSTED_HOSTS``: links never come from it, and it gets no page."""
    return problem(400, t("error.400"), t("error.host"), code="untrusted_host")


def _unavailable(e: StorageError) -> Response:
    """503: the database's state (a full disk, a lost or refused connection, a missing
    database), not the request, kept the server from answering; nothing was stored."""
    current_app.logger.error("database unavailable: %s", e)
    reason = e.reason if f"error.503.{e.reason}" in _known() else "unknown"
    response = problem(503, t("error.503"), t(f"error.503.{reason}"), code="unavailable",
                       reason=e.reason)
    response.headers["Retry-After"] = "30"
    return response


def _tracelib_error(e: TracelibError) -> Response:
    if isinstance(e, StorageError):
        return _unavailable(e)
    status, code = next((status, code) for cls, status, code in STATUS if isinstance(e, cls))
    if status >= 500:
        current_app.logger.error("ledger error: %s", e, exc_info=e)
    extra: dict[str, Any] = {"code": code}
    if isinstance(e, ValidationError):
        extra.update(field=e.field, line=e.line, event_id=e.event_id)
        detail = str(e)
    elif isinstance(e, IntegrityError):
        extra["seq"] = e.seq
        detail = str(e)
    else:
        detail = str(e)
    title = {"signature": "Signature rejected", "validation": "Validation failed",
             "conflict": "Conflict", "not_found": "Not found"}.get(code, "Ledger error")
    return problem(status, title, detail, **extra)


def _unexpected(e: Exception) -> Response:
    from tracelib.store.faults import storage_error

    unavailable = storage_error(e, current_app.config.get("DB") or "")
    if unavailable is not None:  # met outside the store's transactions (the service's tables)
        return _unavailable(unavailable)
    current_app.logger.exception("unhandled error", exc_info=e)
    return problem(500, "Internal Server Error", "an unexpected error occurred; it was logged")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SecurityError, _untrusted_host)
    app.register_error_handler(TracelibError, _tracelib_error)
    app.register_error_handler(Exception, _unexpected)
