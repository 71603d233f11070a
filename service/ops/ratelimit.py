"""Rate limits on anonymous requests, per client address (``RATE_LIMIT``).

``RATE_LIMIT`` is ``N/second``, ``N/minute``, ``N/hour`` or ``N/day`` (e.g. ``120/minute``);
unset, nothing is limited. A client may send up to N requests at once and then one every
period / N: the generic cell rate algorithm (GCRA, ITU-T I.371), which keeps one number a
client, the time its next request is due. Past the limit the answer is a 429 problem
document (``code: rate_limited``) with ``Retry-After`` in whole seconds (RFC 9110 §10.2.3,
RFC 6585 §4).

What is limited: every request that carries no valid API token — the stall, lot and board
pages, the public API reads, and token-less attempts at everything else. Requests with a
valid token (``Authorization: Bearer``, checked against the token table) are not:
authenticated writes answer for themselves. ``/healthz``, ``/readyz`` and ``/metrics`` are
never limited.

The client address is the socket's peer, or, behind ``TRUSTED_PROXY_HOPS`` = n reverse
proxies of your own, the n-th address from the right of ``X-Forwarded-For`` (each proxy
appends the address it saw; whatever a client wrote itself stands further left and is never
read). With fewer addresses than hops the peer is used. Set the hop count only when every
request passes through that many proxies that append to the header: otherwise a client
picks its own address.

Counts are kept in the worker's memory: under gunicorn's N workers a client that spreads
its requests over them gets up to N times the limit, and a worker's restart forgets its
counts. Keeping them per process costs a dictionary lookup a request; a shared count
would be a database write per scan.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request

from ..access import current_principal
from ..i18n import t
from ..problems import Unauthorized, problem

__all__ = ["RateLimiter", "client_address", "init_app", "parse_rate"]

_RATE = re.compile(r"\A\s*([0-9]+)\s*/\s*(second|minute|hour|day)s?\s*\Z", re.IGNORECASE)
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
#: Endpoints never limited: probes and the metrics scrape.
EXEMPT = frozenset({"ops_health.healthz", "ops_health.readyz", "ops_metrics.metrics", "static"})
#: Clients remembered before the idle ones are forgotten (a sweep then drops every client
#: whose next request is already due: they are as good as new).
SWEEP_AT = 100_000


@dataclass(frozen=True)
class Rate:
    count: int
    period: float

    @property
    def interval(self) -> float:
        return self.period / self.count


def parse_rate(text: str) -> Rate:
    """``"120/minute"`` → ``Rate(120, 60.0)``; ValueError for anything else."""
    found = _RATE.match(text)
    if not found or int(found.group(1)) < 1:
        raise ValueError(f"RATE_LIMIT must be N/second, N/minute, N/hour or N/day with N ≥ 1, "
                         f"got {text!r}")
    return Rate(int(found.group(1)), PERIODS[found.group(2).lower()])


class RateLimiter:
    """GCRA per key: ``due[key]`` is the theoretical arrival time of the key's next
    request; a request is let in when that is at most ``period - interval`` ahead of now
    (a burst of ``count``), and then moves it one interval on."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """0.0 when ``key``'s request is let in (and counted); otherwise the seconds until
        it would be."""
        now = self.clock()
        interval = self.rate.interval
        burst = self.rate.period - interval
        with self._lock:
            due = max(self._due.get(key, now), now)
            if due - now > burst + 1e-9:
                return due - now - burst
            if len(self._due) >= SWEEP_AT:
                self._due = {k: v for k, v in self._due.items() if v > now}
            self._due[key] = due + interval
            return 0.0

    def __len__(self) -> int:
        return len(self._due)


def client_address(hops: int) -> str:
    """The client's address: the peer, or the ``hops``-th ``X-Forwarded-For`` entry from
    the right when that many trusted proxies stand in front."""
    peer = request.remote_addr or ""
    if hops <= 0:
        return peer
    forwarded = [part.strip() for value in request.headers.getlist("X-Forwarded-For")
                 for part in value.split(",")]
    return forwarded[-hops] if len(forwarded) >= hops and forwarded[-hops] else peer


def _authenticated() -> bool:
    if "Authorization" not in request.headers:
        return False
    try:
        current_principal()  # read once a request: the scope check reuses it
    except Unauthorized:
        return False
    return True


def _limit() -> Response | None:
    limiter: RateLimiter | None = current_app.extensions.get("tracelib_rate_limiter")
    if limiter is None or request.endpoint in EXEMPT or _authenticated():
        return None
    wait = limiter.hit(client_address(int(current_app.config["TRUSTED_PROXY_HOPS"] or 0)))
    if not wait:
        return None
    retry = max(1, math.ceil(wait))
    response = problem(429, t("error.429"), t("error.rate_limited").format(seconds=retry),
                       code="rate_limited", retry_after=retry)
    response.headers["Retry-After"] = str(retry)
    return response


def init_app(app: Flask) -> None:
    text = app.config.get("RATE_LIMIT")
    if not text:
        return
    app.extensions["tracelib_rate_limiter"] = RateLimiter(parse_rate(str(text)))
    app.before_request(_limit)
