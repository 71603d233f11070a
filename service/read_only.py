"""A read-only instance: serves every read of a ledger it never writes.

An instance is read-only when configured so (``READ_ONLY``: ``TRACELIB_READ_ONLY=1``,
``tracelib serve --read-only``) or when its ledger database is a PostgreSQL standby in
recovery, found out at start whatever the configuration says
(:meth:`TracelibService._read_only <tracelib_service.extension.TracelibService>`). Such an
instance scales the reads of a city out over streaming replicas (docs/operations.md "Read
replicas"): shoppers' scans, lot pages, traces, checkpoints and proofs.

It never attempts a write on the ledger's database: no checkpoint is signed, the service
tables are not created there, scan counts go to a database of their own (``STATE_URL``),
and every request with an unsafe method (RFC 9110 §9.2.1: anything but GET, HEAD, OPTIONS
and TRACE) to a route that exists is answered here, before any view runs, with a 503
problem document (RFC 9457) naming the primary service (``PRIMARY_URL``) that takes the
write — one guard, not one check per route.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from .extension import service
from .i18n import t

__all__ = ["SAFE_METHODS", "ReadOnlyInstance", "init_app"]

#: RFC 9110 §9.2.1: the methods that only read.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class ReadOnlyInstance(HTTPException):
    """503: this instance writes nothing; ``primary`` is the service that takes writes and
    ``write_to`` the same request's URL there."""

    code = 503

    def __init__(self, primary: str | None, path: str) -> None:
        if primary:
            detail = t("error.503.read_only_instance").format(primary=primary)
        else:
            detail = t("error.503.read_only_instance.no_primary")
        super().__init__(detail)
        self.extra: dict[str, Any] = {
            "code": "read_only_instance", "primary": primary,
            "write_to": primary + path if primary else None}


def refuse_writes() -> None:
    """``before_request``: a write to a read-only instance gets :class:`ReadOnlyInstance`.
    A request no route takes falls through to its own 404 or 405."""
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return
    ext = service()
    if ext.read_only:
        path = request.full_path if request.query_string else request.path
        raise ReadOnlyInstance(ext.primary_url, request.script_root + path)


def init_app(app: Flask) -> None:
    app.before_request(refuse_writes)
