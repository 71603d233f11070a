"""Prometheus metrics (``prometheus-client``) at ``/metrics``.

What is measured:

* ``tracelib_http_requests_total{method, route, status}`` and
  ``tracelib_http_request_duration_seconds{method, route}`` (a histogram): every request,
  by its URL rule (``/s/<stall>``, never the raw path, so a scan of each of 2,000 stalls
  is one series) or ``unmatched`` when none matched;
* ``tracelib_events_appended_total`` and ``tracelib_events_duplicate_total``: events the
  API's ``POST /api/v1/events`` stored, or found already stored (docs/contract.md
  "Appending": the same id and bytes return the original receipt);
* ``tracelib_append_rejections_total{reason}``: refused ``POST /api/v1/events`` requests
  by their problem document's ``code`` (``validation``, ``signature``, ``conflict``,
  ``too_large``, ``unavailable``, …) or, without one, their HTTP status;
* read when scraped, from the ledger: ``tracelib_ledger_records``,
  ``tracelib_checkpoint_size``, ``tracelib_checkpoint_age_seconds`` (absent while no
  checkpoint is signed) and ``tracelib_ledger_up`` (0 when the database cannot be read).

Under gunicorn each worker is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set (``tracelib
serve`` sets it, with the hooks of :mod:`.gunicorn_config`) the counters and histograms
are kept in files there and ``/metrics`` adds up every worker's, dead workers' counts
included (prometheus-client's multiprocess mode). Without it, one process's own.

Who may read ``/metrics`` (it names routes, volumes and the ledger's size, nothing
personal): with ``METRICS_TOKEN`` set, whoever sends ``Authorization: Bearer <it>``; without
one, only clients connecting from a loopback or private address directly — a request
relayed by a proxy (``X-Forwarded-For`` or ``Forwarded``) is refused, so a public reverse
proxy on the same machine does not open it to the internet.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from tracelib.timeutil import parse_rfc3339

from ..extension import TracelibService
from ..problems import Forbidden, Unauthorized

__all__ = ["LedgerCollector", "ServiceMetrics", "bp", "init_app", "multiprocess_dir"]

bp = Blueprint("ops_metrics", __name__)
log = logging.getLogger(__name__)

#: Latency buckets, seconds: a cached scan takes about a millisecond, an append of 1,000
#: events a second or more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNMATCHED = "unmatched"
POST_EVENTS = "api.post_events"


def multiprocess_dir() -> str | None:
    """Where the workers' metric files live; None: one process, its own metrics."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class LedgerCollector:
    """The ledger's size and the newest checkpoint's size and age, read at each scrape."""

    def __init__(self, ext: TracelibService) -> None:
        self.ext = ext

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("tracelib_ledger_up",
                               "1 when the ledger's database answered this scrape")
        try:
            size, _ = self.ext.ledger_version()
            assert self.ext.ledger is not None
            latest = self.ext.ledger.latest_checkpoint()
        except Exception as e:  # a scrape never fails: it says the ledger is down
            log.warning("metrics: the ledger cannot be read: %s", e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("tracelib_ledger_records", "records in the ledger", value=size)
        if latest is not None:
            yield GaugeMetricFamily("tracelib_checkpoint_size",
                                    "records the newest signed checkpoint covers",
                                    value=latest.size)
            age = (self.ext.now() - parse_rfc3339(latest.created_at)).total_seconds()
            yield GaugeMetricFamily("tracelib_checkpoint_age_seconds",
                                    "seconds since the newest checkpoint was signed", value=age)


class ServiceMetrics:
    """One app's metrics. In multiprocess mode they belong to no registry (their values
    live in the files that ``/metrics`` collects); otherwise to the app's own registry, so
    two apps in one process (the tests) count apart."""

    def __init__(self, ext: TracelibService) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        own = None if self.multiprocess else self.registry
        self.requests = Counter("tracelib_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=own)
        self.latency = Histogram("tracelib_http_request_duration_seconds",
                                 "time to answer a request", ["method", "route"],
                                 buckets=BUCKETS, registry=own)
        self.appended = Counter("tracelib_events_appended", "events stored by the API",
                                registry=own)
        self.duplicates = Counter("tracelib_events_duplicate",
                                  "events sent to the API that were already stored", registry=own)
        self.rejections = Counter("tracelib_append_rejections",
                                  "POST /api/v1/events requests refused, by reason", ["reason"],
                                  registry=own)
        self.ledger = LedgerCollector(ext)
        if not self.multiprocess:
            self.registry.register(self.ledger)  # type: ignore[arg-type]

    def exposition(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self.ledger)  # type: ignore[arg-type]
        return generate_latest(registry)


def _metrics() -> ServiceMetrics:
    found: ServiceMetrics = current_app.extensions["tracelib_metrics"]
    return found


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is None:
        return response
    metrics = _metrics()
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    metrics.requests.labels(request.method, route, str(response.status_code)).inc()
    metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
    if request.endpoint == POST_EVENTS:
        _count_append(metrics, response)
    return response


def _count_append(metrics: ServiceMetrics, response: Response) -> None:
    """From the answer itself: the receipts of a stored batch, or the refusal's problem
    ``code`` (a batch is stored whole or not at all)."""
    if response.direct_passthrough or not response.is_json:  # problem+json is JSON too
        return
    try:
        doc: Any = json.loads(response.get_data())
    except ValueError:
        doc = None
    if response.status_code < 300 and isinstance(doc, dict):
        receipts = doc.get("receipts") or []
        fresh = sum(1 for r in receipts if not r.get("duplicate"))
        metrics.appended.inc(fresh)
        metrics.duplicates.inc(len(receipts) - fresh)
    elif response.status_code >= 400:
        code = doc.get("code") if isinstance(doc, dict) else None
        reason = code if isinstance(code, str) and len(code) <= 40 else str(response.status_code)
        metrics.rejections.labels(reason).inc()


def _may_read() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8"), str(token).encode("utf-8")):
            raise Unauthorized("/metrics needs its token (Authorization: Bearer …)")
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        peer = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False  # a Unix socket: no address to judge
    return peer.is_loopback or peer.is_private


@bp.get("/metrics")
def metrics() -> Response:
    if not _may_read():
        raise Forbidden("/metrics is served to private addresses or with METRICS_TOKEN")
    response = current_app.response_class(_metrics().exposition(), mimetype=None,
                                          content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask, ext: TracelibService) -> None:
    app.extensions["tracelib_metrics"] = ServiceMetrics(ext)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_record)
