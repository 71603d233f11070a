"""``/metrics``: requests by route and status, latency, appends and rejections by reason,
the ledger's size and checkpoint age; who may read it; and under a real gunicorn with two
workers, one sum over both (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import NOW
from tests.service.conftest import STALL, Scene, Serve
from tracelib.keys import Keystore
from tracelib_service import create_app
from tracelib_service.tokens import issue_token

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _sale(event_id: str, qty: str = "1") -> dict[str, Any]:
    return {"id": event_id, "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
            "actor": STALL, "location": STALL,
            "inputs": [{"lot": "LOT-CP-0001", "qty": qty, "unit": "kg"}],
            "data": {"receipt": f"R-{event_id}"}}


def test_requests_appends_rejections_and_the_ledger(app: Flask, scene: Scene) -> None:
    client = app.test_client()
    token = issue_token(app, STALL)
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert client.get(f"/s/{STALL}").status_code == 200
    assert client.get("/s/stall-nope").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    post = lambda body, **kw: client.post("/api/v1/events", data=json.dumps(body),  # noqa: E731
                                          content_type="application/json", **kw)
    assert post([_sale("sale-m-1")], headers=auth).status_code == 201
    assert post([_sale("sale-m-1")], headers=auth).status_code == 200  # the same again
    assert post([_sale("sale-m-2", qty="1000")], headers=auth).status_code == 422
    assert post([_sale("sale-m-3")]).status_code == 401

    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    assert r.headers["Cache-Control"] == "no-store"
    got = _samples(r.get_data(as_text=True))
    requests = "tracelib_http_requests_total"
    assert _value(got, requests, method="GET", route="/s/<stall>", status="200") == 3
    assert _value(got, requests, method="GET", route="/s/<stall>", status="404") == 1
    assert _value(got, requests, method="GET", route="unmatched", status="404") == 1
    assert _value(got, requests, method="POST", route="/api/v1/events", status="201") == 1
    assert _value(got, requests, method="POST", route="/api/v1/events", status="422") == 1
    # no series per raw path
    assert not [k for k in got if dict(k[1]).get("route", "").startswith(f"/s/{STALL}")]
    latency = "tracelib_http_request_duration_seconds"
    assert _value(got, latency + "_count", method="GET", route="/s/<stall>") == 4
    assert _value(got, latency + "_bucket", method="GET", route="/s/<stall>", le="+Inf") == 4
    assert (_value(got, latency + "_sum", method="GET", route="/s/<stall>") or 0) > 0
    assert _value(got, "tracelib_events_appended_total") == 1
    assert _value(got, "tracelib_events_duplicate_total") == 1
    assert _value(got, "tracelib_append_rejections_total", reason="validation") == 1
    assert _value(got, "tracelib_append_rejections_total", reason="401") == 1
    assert _value(got, "tracelib_ledger_up") == 1
    assert _value(got, "tracelib_ledger_records") == scene.ledger.size
    latest = scene.ledger.latest_checkpoint()
    assert latest is not None and latest.size == scene.ledger.size  # the post signed one
    assert _value(got, "tracelib_checkpoint_size") == latest.size
    age = _value(got, "tracelib_checkpoint_age_seconds")
    assert age is not None and age >= 0


def test_who_may_read_metrics(app: Flask, db_url: str, keystore: Keystore) -> None:
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # loopback, directly
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
    public = client.get("/metrics", environ_base={"REMOTE_ADDR": "223.5.5.5"})
    assert public.status_code == 403
    relayed = client.get("/metrics", headers={"X-Forwarded-For": "223.5.5.5"})
    assert relayed.status_code == 403  # a reverse proxy on this machine relayed it
    guarded = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                          "NOW": NOW, "METRICS_TOKEN": "s3cret-metrics"})
    try:
        c = guarded.test_client()
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"},
                   environ_base={"REMOTE_ADDR": "223.5.5.5"})
        assert ok.status_code == 200 and b"tracelib_ledger_records" in ok.data
    finally:
        guarded.extensions["tracelib"].close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode("utf-8"))


def _stall_pids(log: Path) -> set[int]:
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if doc.get("route") == "/s/<stall>":
                pids.add(doc["pid"])
    return pids


@pytest.fixture
def metrics_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"stale")  # an earlier run's: emptied at start
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    yield folder


def test_two_gunicorn_workers_add_up(serve: Serve, metrics_dir: Path, tmp_path: Path) -> None:
    """Scans spread over both workers (each request a new connection, eight at a time);
    one scrape counts them all, and still does after a worker is replaced."""
    host, port = serve("--workers", "2")
    base = f"http://{host}:{port}"
    log = tmp_path / f"serve-{port}.log"
    sent = 0
    deadline = time.monotonic() + 20
    while len(_stall_pids(log)) < 2 and time.monotonic() < deadline:
        threads = [threading.Thread(target=_get, args=(f"{base}/s/{STALL}",)) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        sent += len(threads)
    workers = _stall_pids(log)
    assert len(workers) == 2, "gunicorn sent every scan to one worker"

    def scans() -> float | None:
        got = _samples(_get(f"{base}/metrics"))
        return _value(got, "tracelib_http_requests_total", method="GET", route="/s/<stall>",
                      status="200")

    assert scans() == sent
    assert not (metrics_dir / "counter_999999.db").exists()
    os.kill(workers.pop(), signal.SIGTERM)  # gunicorn starts another in its place
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            assert scans() == sent  # the exited worker's counts are kept
            break
        except OSError:
            time.sleep(0.2)
    else:
        pytest.fail("no worker answered after one was replaced")
