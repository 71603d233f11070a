"""Shared fixtures: throw-away ledgers on SQLite and (marked) PostgreSQL.

PostgreSQL tests use a fresh schema per test on TRACELIB_TEST_PG (default
127.0.0.1:5432, user postgres, database test). Outside CI a missing server skips
them; in CI (CI=true) it fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import Network
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger

PG_URL = os.environ.get("TRACELIB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:  # any failure means "not reachable"
        return str(e).splitlines()[0]


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {problem}")
    return PG_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_server else "?"
    yield f"{pg_server}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


#: Parameters of a fixture that runs the same test on SQLite and on PostgreSQL.
BOTH_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger URL for ``request.param`` (one of :data:`BOTH_STORES`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(params=BOTH_STORES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on PostgreSQL."""
    return store_url(request, tmp_path)


@pytest.fixture
def operator_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def ledger(db_url: str, operator_key: SigningKey, tmp_path: Path) -> Iterator[Ledger]:
    # The blob store in the test's folder (for PostgreSQL it would be ./tracelib-blobs).
    led = Ledger.create(db_url, operator_key=operator_key, operator="operator", now=NOW,
                        blobs=tmp_path / "ledger.db.blobs")
    yield led
    led.close()


@pytest.fixture
def network(ledger: Ledger, operator_key: SigningKey) -> Network:
    """A ledger with a farm, a carrier, a market and a stall registered, with keys."""
    return Network.build(ledger, operator_key, now=NOW)
