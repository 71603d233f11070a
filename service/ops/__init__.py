"""Running the service for a city: health and readiness probes (:mod:`.health`),
Prometheus metrics (:mod:`.metrics`), JSON logs with a request id (:mod:`.logs`), CORS on
the public reads (:mod:`.cors`) and rate limits on anonymous requests (:mod:`.ratelimit`).
docs/operations.md describes each and its settings.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..extension import TracelibService
from . import cors, health, logs, metrics, ratelimit

__all__ = ["DEFAULTS", "init_app"]

DEFAULTS: dict[str, Any] = {
    "READY_MAX_CHECKPOINT_AGE": 3600,  # seconds; /readyz fails when records wait longer unsigned
    "METRICS_TOKEN": None,             # bearer token for /metrics; unset: private addresses only
    "RATE_LIMIT": None,                # e.g. "120/minute" per client address; unset: no limit
    "TRUSTED_PROXY_HOPS": 0,           # reverse proxies in front that append X-Forwarded-For
    "LOG_REQUESTS": True,              # one JSON access line a request
}


def init_app(app: Flask, ext: TracelibService) -> None:
    """Register everything on ``app`` (after its blueprints): the request id first, then
    the metrics' clock, the rate limit, and on the way out CORS, metrics and the log."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    logs.init_app(app)
    metrics.init_app(app, ext)
    cors.init_app(app)
    ratelimit.init_app(app)
    for module in (health, metrics):
        app.register_blueprint(module.bp)
