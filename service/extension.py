"""The ledger, keystore and service tables of one app: opened once, kept in
``app.extensions["tracelib"]`` (bound with :meth:`TracelibService.init_app`, as flaskr binds
its extensions)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app
from sqlalchemy import Connection, Engine

from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.stall import StandingRules
from tracelib.store.engine import WRITER_OPTION, default_keystore, make_engine, normalize_url

from .state import create_tables

__all__ = ["TracelibService", "service"]

CHINA = timezone(timedelta(hours=8), "CST")


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
            return CHINA  # no tz database on this machine: China has no DST
        raise


class TracelibService:
    """Everything a request needs from outside Flask."""

    def __init__(self, app: Flask | None = None) -> None:
        self.ledger: Ledger | None = None
        self.state_engine: Engine | None = None
        self._own_state_engine = False
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        db = str(app.config["DB"])
        self.ledger = Ledger.open(db)
        self.keystore = Keystore(app.config.get("KEYSTORE") or default_keystore(db))
        state = app.config.get("SERVICE_DB") or db
        if normalize_url(state) == self.ledger.store.url:
            self.state_engine = self.ledger.store.engine
        else:
            self.state_engine = make_engine(state)
            self._own_state_engine = True
        create_tables(self.state_engine)
        self.zone = _zone(str(app.config["TIMEZONE"]))
        clock = app.config.get("NOW")
        self._clock: Callable[[], datetime] = (
            clock if callable(clock) else (lambda: clock) if isinstance(clock, datetime)
            else (lambda: datetime.now(UTC)))
        self.rules = StandingRules(
            window_days=int(app.config["STANDING_WINDOW_DAYS"]),
            red_min_tests=int(app.config["STANDING_RED_MIN_TESTS"]),
            red_min_pass_rate=_decimal(app.config["STANDING_RED_MIN_PASS_RATE"]),
            black_on_any_failure=bool(app.config["STANDING_BLACK_ON_ANY_FAILURE"]))
        app.extensions["tracelib"] = self

    @contextmanager
    def state_writer(self) -> Iterator[Connection]:
        """A write transaction on the service tables (SQLite: ``BEGIN IMMEDIATE``, so two
        writers never deadlock upgrading a read lock)."""
        assert self.state_engine is not None
        with self.state_engine.connect() as conn:
            conn = conn.execution_options(**{WRITER_OPTION: True})
            with conn.begin():
                yield conn

    def now(self) -> datetime:
        return self._clock().astimezone(self.zone)

    def today(self) -> date:
        return self.now().date()

    def close(self) -> None:
        if self._own_state_engine and self.state_engine is not None:
            self.state_engine.dispose()
        if self.ledger is not None:
            self.ledger.close()


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def service() -> TracelibService:
    ext: TracelibService = current_app.extensions["tracelib"]
    return ext


def ledger() -> Ledger:
    found = service().ledger
    assert found is not None
    return found
