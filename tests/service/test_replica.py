"""Reads from a real PostgreSQL replica (docs/operations.md "Read replicas").

A second PostgreSQL cluster, started on a free port as a streaming standby of the test
server (``pg_basebackup -R``), serves a service instance that was not told it is read-only:
it finds out (``pg_is_in_recovery()``), serves scans, lot pages, traces and proofs, answers
writes with 503 naming the primary, counts scans in a database of its own, never sends the
standby a write, and shows a hold made on the primary once the standby has replayed it,
naming the tree size the page is proven against.

Outside CI a missing PostgreSQL program skips it; in CI (``CI`` set) that is a failure.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from tests.conftest import NOW
from tests.service.conftest import GTIN, STALL, Scene
from tests.standby import Standby, postgres_bin, replication_problem, start_standby
from tracelib import merkle
from tracelib.keys import Keystore, SigningKey
from tracelib_service import create_app
from tracelib_service.scan_counts import scans_on
from tracelib_service.state import scan_counts
from tracelib_service.tokens import issue_token

pytestmark = [pytest.mark.replica, pytest.mark.postgres, pytest.mark.slow]

PRIMARY = "https://trace.example.cn"
TODAY = date(2026, 11, 22)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the read-replica test is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def db_url(pg_server: str) -> Iterator[str]:
    """A database of its own on the primary, created and dropped around the test."""
    name = f"tracelib_replica_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def standby(pg_server: str, scene: Scene) -> Iterator[Standby]:
    admin = create_engine(pg_server)
    try:
        with admin.connect() as conn:
            major = int(conn.execute(text("SHOW server_version_num")).scalar() or 0) // 10000
        problem = replication_problem(admin)
    finally:
        admin.dispose()
    bin_dir = postgres_bin(major)
    if bin_dir is None:
        _unavailable(f"PostgreSQL {major}'s pg_basebackup and pg_ctl are not installed")
    if problem is not None:
        _unavailable(f"the PostgreSQL server does not accept a standby: {problem}")
    assert bin_dir is not None
    started = start_standby(pg_server, bin_dir)
    try:
        yield started
    finally:
        started.stop()


def _lsn(url: str, sql: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text(sql)).scalar())
    finally:
        engine.dispose()


def _wait_for_replay(primary_url: str, replica_url: str, timeout: float = 20.0) -> None:
    """Until the standby has replayed all the primary has written (its WAL position now)."""
    target = _lsn(primary_url, "SELECT pg_current_wal_lsn()")
    engine = create_engine(replica_url)
    deadline = time.monotonic() + timeout
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not conn.execute(text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"),
                                   {"t": target}).scalar():
                assert time.monotonic() < deadline, f"the standby did not replay up to {target}"
                time.sleep(0.05)
    finally:
        engine.dispose()


def _size_text(html: str) -> int:
    """The tree size a page names as the one it is proven against."""
    found = re.search(r"(?:证明所依据的账本记录数（树大小）|Proven against ledger size \(tree size\)) "
                      r"(\d+)", html)
    assert found, html
    return int(found.group(1))


def test_a_read_only_instance_serves_a_streaming_replica(
        db_url: str, scene: Scene, keystore: Keystore, operator_key: SigningKey,
        standby: Standby, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    started = time.monotonic()
    primary_app = create_app({"TESTING": True, "DB": db_url, "KEYSTORE": str(keystore.path),
                              "NOW": NOW, "COUNT_SCANS": False})
    replica_url = standby.url(make_url(db_url).database or "")
    replica_app: Flask | None = None
    try:
        token = issue_token(primary_app, STALL)  # the service tables replicate with the ledger
        primary = primary_app.test_client()
        _wait_for_replay(db_url, replica_url)

        state = tmp_path / "replica-state.db"
        with caplog.at_level(logging.WARNING):
            replica_app = create_app({"TESTING": True, "DB": replica_url, "NOW": NOW,
                                      "KEYSTORE": str(keystore.path), "PRIMARY_URL": PRIMARY,
                                      "STATE_URL": f"sqlite:///{state}"})
        ext = replica_app.extensions["tracelib"]
        assert ext.read_only and not replica_app.config["SIGN_CHECKPOINTS"]
        assert any("standby in recovery" in r.getMessage() for r in caplog.records)
        replica = replica_app.test_client()

        # Scans, lot pages, traces, events, checkpoints and proofs, as the primary serves them.
        # (the trace and the record with the stall's token: its own books, read:own)
        json_headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
        for path in (f"/s/{STALL}", "/l/LOT-CP-0001", f"/01/{GTIN}/10/LOT-CP-0001",
                     "/api/v1/lots/LOT-CP-0001/trace", "/api/v1/events/sale-1",
                     f"/api/v1/stalls/{STALL}", "/api/v1/checkpoint",
                     "/api/v1/proofs/consistency?first=1", "/m/market-1/board"):
            mine, theirs = replica.get(path, headers=json_headers), primary.get(path, headers=json_headers)
            assert mine.status_code == 200, (path, mine.get_data(as_text=True))
            assert mine.get_data() == theirs.get_data(), path
        view = replica.get(f"/s/{STALL}", headers=json_headers).json
        size = view["checkpoint"]["size"]
        for shown in view["proofs"]:  # each proof verifies against the page's tree head
            proof = replica.get(shown["url"]).json
            assert proof["size"] == size and proof["root"] == view["checkpoint"]["root"]
            merkle.verify_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["seq"], size,
                                    [bytes.fromhex(h) for h in proof["proof"]],
                                    bytes.fromhex(proof["root"]))
        assert view["proofs"]
        assert _size_text(replica.get(f"/s/{STALL}").get_data(as_text=True)) == size
        assert _size_text(replica.get("/l/LOT-CP-0001?lang=en").get_data(as_text=True)) == size

        # Writes: 503 naming the primary, before any token or body is looked at.
        sale = {"id": "replica-sale", "kind": "sale", "time": "2026-11-22T09:00:00+08:00",
                "actor": STALL, "location": STALL, "data": {"receipt": "R-REPLICA"},
                "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}]}
        for headers in ({"Authorization": f"Bearer {token}"}, {}):
            refused = replica.post("/api/v1/events", json=[sale], headers=headers)
            assert refused.status_code == 503
            assert refused.mimetype == "application/problem+json"
            assert refused.json["code"] == "read_only_instance"
            assert refused.json["primary"] == PRIMARY
            assert refused.json["write_to"] == f"{PRIMARY}/api/v1/events"
            assert PRIMARY in refused.json["detail"]
        assert scene.ledger.size == size and scene.ledger.record_for_event("sale-1")

        # Scan counts: in the instance's own database, none in the replicated one.
        for _ in range(3):
            assert replica.get(f"/s/{STALL}").status_code == 200
        with replica_app.app_context():
            assert scans_on(STALL, TODAY) == 3 + 3  # and the three stall pages above
        for url, rows in ((f"sqlite:///{state}", [(STALL, TODAY.isoformat(), 6)]),
                          (db_url, [])):  # the primary's table, which the replica reads
            engine = create_engine(url)
            with engine.connect() as conn:
                assert inspect(conn).has_table(scan_counts.name)
                assert [tuple(r) for r in conn.execute(select(scan_counts))] == rows
            engine.dispose()

        # A hold on the primary, then a checkpoint: on the replica's stall page once replayed.
        scene.add(STALL, {"id": "hold-on-primary", "kind": "hold",
                          "time": "2026-11-22T09:30:00+08:00", "location": STALL,
                          "inputs": [{"lot": "LOT-CP-0001", "qty": "37.5", "unit": "kg"}],
                          "data": {"reason": "抽检复核 re-check on the primary"}})
        signed = scene.ledger.sign_checkpoint(operator_key, now=NOW)
        assert signed.size == scene.ledger.size > size
        _wait_for_replay(db_url, replica_url)
        after = replica.get(f"/s/{STALL}", headers=json_headers).json
        assert "LOT-CP-0001" in {h["lot"] for h in after["holds"]}
        assert after["checkpoint"]["size"] == signed.size
        assert after["checkpoint"]["root"] == signed.root.hex()
        for lang in ("zh", "en"):
            page = replica.get(f"/s/{STALL}?lang={lang}").get_data(as_text=True)
            assert "抽检复核 re-check on the primary" in page
            assert _size_text(page) == signed.size

        # The standby was never sent a write: it logs every data-modifying statement.
        log = standby.log_text()
        assert "read-only transaction" not in log and "ERROR:" not in log, log
        assert not re.search(r"LOG:\s+(statement|execute [^:]*):", log), log
        assert time.monotonic() - started < 30
    finally:
        if replica_app is not None:
            replica_app.extensions["tracelib"].close()
        primary_app.extensions["tracelib"].close()
