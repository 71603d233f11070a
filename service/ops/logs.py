"""Structured logs: one JSON object a line, each carrying the request id of the request it
belongs to, and one access line a request.

The request id is the client's ``X-Request-Id`` when it is sane (1-128 characters of
letters, digits and ``-._:``; a proxy or a load balancer usually sets one), otherwise a
fresh random one. It is kept in ``g.request_id`` (problem documents carry it as
``request_id``), echoed in the response's ``X-Request-Id`` and added to every log line
written while the request is served — the service's, the library's and the access line.
Nothing else of the client is logged but its address and what it asked for.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

__all__ = ["HEADER", "JsonFormatter", "RequestIdFilter", "init_app", "request_id"]

HEADER = "X-Request-Id"
_SANE = re.compile(r"\A[A-Za-z0-9._:-]{1,128}\Z")
#: Loggers whose lines go out as JSON: the service's (``app.logger``) and the library's.
LOGGERS = ("tracelib_service", "tracelib")
ACCESS_LOGGER = "tracelib_service.access"
_HANDLER_MARK = "_tracelib_json"

# LogRecord attributes that are not extra fields of a line.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "request_id"}


def request_id() -> str | None:
    """The id of the request being served; None outside a request."""
    if not has_request_context():
        return None
    found: str | None = g.get("request_id")
    return found


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record written while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id()
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "pid", "message", "request_id", …extra fields,
    "exception"}``
    on one line, UTF-8 text as is (``ensure_ascii=False``)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid is not None:
            doc["request_id"] = rid
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (gunicorn's, a test's capture)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _json_handler() -> logging.Handler:
    handler = _Stderr()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def _install_handlers(app: Flask) -> None:
    """One JSON handler on each of :data:`LOGGERS` per process, however many apps are made
    (the loggers are global; a second handler would write every line twice)."""
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
            logger.addHandler(_json_handler())
    service_logger = logging.getLogger(LOGGERS[0])
    if service_logger.level == logging.NOTSET:  # access lines are INFO; the library keeps WARNING
        service_logger.setLevel(logging.INFO)


def _begin() -> None:
    asked = request.headers.get(HEADER, "")
    g.request_id = asked if _SANE.match(asked) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    rid = g.get("request_id")
    if rid is not None:
        response.headers[HEADER] = rid
    return response


def _access_line(response: Response) -> Response:
    started = g.get("request_started")
    if started is None:
        return response
    rule = request.url_rule
    logging.getLogger(ACCESS_LOGGER).info(
        "%s %s %d", request.method, request.path, response.status_code,
        extra={"method": request.method, "path": request.path,
               "route": rule.rule if rule is not None else None,
               "status": response.status_code,
               "duration_ms": round((time.perf_counter() - started) * 1000, 2),
               "bytes": response.content_length,
               "client": request.remote_addr})
    return response


def init_app(app: Flask) -> None:
    """JSON log lines for the app's loggers; the request id set first of all hooks; the
    access line (``LOG_REQUESTS``) and the echoed header written last."""
    _install_handlers(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    if app.config["LOG_REQUESTS"]:
        app.after_request(_access_line)
    app.after_request(_finish)
