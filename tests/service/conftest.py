"""Fixtures of the service tests: an app on a throw-away SQLite ledger holding a small,
realistic day at a market stall (origin → cold store → stall, rapid tests, a sale)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import NOW
from tests.helpers import Network, certificate
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib_service import create_app

STALL = "stall-a01"
GTIN = "06901234567892"  # valid GS1 check digit
ENZYME = {"item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003", "tester": "李检测"}


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Service tests run on SQLite (the parent conftest also runs PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@dataclass
class Scene:
    net: Network
    pending: list[dict[str, Any]] | None = None  # collect events for one append (fast setup)

    @property
    def ledger(self) -> Ledger:
        return self.net.ledger

    def add(self, actor: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self.net.event(actor, body)
        if self.pending is not None:
            self.pending.append(doc)
        else:
            self.ledger.append([doc], now=self.net.now)
        return doc

    def flush(self) -> None:
        if self.pending:
            self.ledger.append(self.pending, now=self.net.now)
        self.pending = None

    def deliver(self, lot: str, qty: str, *, product: str = "豇豆", gtin: str | None = None,
                temps: list[dict[str, str]] | None = None, time: str = "2026-11-22T05:00:00+08:00",
                to: str = STALL) -> None:
        """origin at the farm → ship to the cold store → receive → ship to ``to`` → receive."""
        cert = {**certificate(lot), "product": product}
        data: dict[str, Any] = {"certificate": cert, "storage": "chilled"}
        if gtin:
            data["gtin"] = gtin
        self.add("farm-1", {"id": f"origin-{lot}", "kind": "origin", "time": time,
                            "location": "farm-1.field",
                            "outputs": [{"lot": lot, "qty": qty, "unit": "kg"}], "data": data})
        self.add("farm-1", {"id": f"ship1-{lot}", "kind": "ship", "time": time,
                            "location": "farm-1.field",
                            "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
                            "data": {"to": "coldstore-1", "temperatures": temps or []}})
        self.add("carrier-1", {"id": f"recv1-{lot}", "kind": "receive", "time": time,
                               "location": "coldstore-1",
                               "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
                               "data": {"from": "farm-1.field", "ship_event": f"ship1-{lot}"}})
        self.add("carrier-1", {"id": f"ship2-{lot}", "kind": "ship", "time": time,
                               "location": "coldstore-1",
                               "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
                               "data": {"to": to}})
        self.add(to, {"id": f"recv2-{lot}", "kind": "receive", "time": time, "location": to,
                      "inputs": [{"lot": lot, "qty": qty, "unit": "kg"}],
                      "data": {"from": "coldstore-1", "ship_event": f"ship2-{lot}"}})

    def rapid(self, lot: str | None, delta_at: str, *, time: str = "2026-11-22T07:30:00+08:00",
              sample: str = "豇豆", event_id: str | None = None, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"sample": sample, **ENZYME,
                                "readings": {"delta_a0": "0.800", "delta_at": delta_at},
                                "commodity": sample, **extra}
        if lot:
            data["lot"] = lot
        body: dict[str, Any] = {"kind": "rapid_test", "time": time, "location": STALL,
                                "data": data}
        if event_id:
            body["id"] = event_id
        return self.add("market-1", body)


@pytest.fixture
def scene(network: Network, operator_key: SigningKey) -> Iterator[Scene]:
    """The day at the stall; afterwards, whatever a test threw at the service, the ledger
    still re-derives (``verify().ok``)."""
    s = Scene(network, pending=[])
    s.deliver("LOT-CP-0001", "40", gtin=GTIN,
              temps=[{"time": "2026-11-22T05:30:00+08:00", "celsius": "3.5"},
                     {"time": "2026-11-22T06:00:00+08:00", "celsius": "6.5"}])
    s.deliver("LOT-QC-0002", "20", product="青菜")
    s.rapid("LOT-CP-0001", "0.700", time="2026-11-22T07:10:00+08:00", event_id="rt-neg")
    s.rapid("LOT-QC-0002", "0.300", sample="青菜", time="2026-11-22T07:20:00+08:00",
            event_id="rt-pos")  # 62.5 % inhibition: positive, the lot is held
    s.rapid(None, "0.700", time="2026-11-21T07:00:00+08:00", event_id="rt-yesterday")
    s.add(STALL, {"id": "sale-1", "kind": "sale", "time": "2026-11-22T08:00:00+08:00",
                  "location": STALL, "inputs": [{"lot": "LOT-CP-0001", "qty": "2.5", "unit": "kg"}],
                  "data": {"receipt": "R-0001", "payment_ref": "PAY-1"}})
    s.flush()
    s.ledger.sign_checkpoint(operator_key, now=NOW)
    yield s
    report = s.ledger.verify(workers=1)
    assert report.ok, report


@pytest.fixture
def keystore(tmp_path: Path, scene: Scene, operator_key: SigningKey) -> Keystore:
    store = Keystore(tmp_path / "keys")
    store.save("operator", operator_key)
    store.save(STALL, scene.net.keys[STALL])
    return store


@pytest.fixture
def app(db_url: str, scene: Scene, keystore: Keystore) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path), "NOW": NOW})
    yield app
    app.extensions["tracelib"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


REGULATOR = "amr-1"
KEYLESS_REGULATOR = "amr-2"  # a regulator whose key the service does not hold


@pytest.fixture
def regulators(app: Flask, scene: Scene, keystore: Keystore) -> dict[str, str]:
    """Two parties registered as regulators, with their offices and keys, and a token for
    each; the service holds the key of :data:`REGULATOR` only."""
    from tracelib_service.tokens import issue_token

    keys = {party: SigningKey.generate() for party in (REGULATOR, KEYLESS_REGULATOR)}
    scene.net.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "parties": [{"id": p, "name": f"云阳县市场监督管理局 {p}", "role": "regulator"}
                    for p in keys],
        "locations": [{"id": f"{p}.office", "name": "云阳县市场监督管理局", "type": "office",
                       "holder": p} for p in keys],
        "keys": [{"party": p, "key_id": k.key_id, "public_key": k.public.base64(),
                  "valid_from": "2026-01-01T00:00:00+08:00"} for p, k in keys.items()]}})
    keystore.save(REGULATOR, keys[REGULATOR])
    return {party: issue_token(app, party, scopes=("read:all", "write")) for party in keys}



Serve = Callable[..., tuple[str, int]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(app: Flask, tmp_path: Path) -> Iterator[Serve]:
    """Start ``tracelib serve`` (gunicorn, one worker) on the app's ledger on a free loopback
    port, with extra command-line options (``before``: options of ``tracelib`` itself, such
    as ``--blobs``); returns (host, port) once it answers. Every
    server started is stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str, before: tuple[str, ...] = ()) -> tuple[str, int]:
        port = _free_port()
        log = tmp_path / f"serve-{port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACELIB_")}
        command = [str(Path(sys.executable).with_name("tracelib")), "--db", app.config["DB"],
                   "--keystore", app.config["KEYSTORE"], *before, "serve", "--port", str(port),
                   "--workers", "1", *options]
        with log.open("w") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        started.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if "Booting worker" in log.read_text(errors="replace"):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return "127.0.0.1", port
                except OSError:
                    pass
            time.sleep(0.2)
        pytest.fail(f"tracelib serve did not start: {log.read_text(errors='replace')}")

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
