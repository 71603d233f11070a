"""EPCIS named queries, webhook subscriptions, acknowledged deliveries and the deliverer's
lease (``epcis_*`` tables; docs/contract.md "EPCIS subscriptions"). Not ledger state: rows
are written outside the append engine's single-writer lock, each in a short transaction of
its own.

Rows leave this module as :class:`QueryRow` and :class:`SubscriptionRow`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from ..errors import ConflictError
from .engine import WRITER_OPTION
from .schema import epcis_deliveries, epcis_delivery_lease, epcis_queries, epcis_subscriptions

__all__ = ["QueryRow", "SubscriptionRow", "SubscriptionsSql"]


@dataclass(frozen=True)
class QueryRow:
    name: str
    params: dict[str, list[str]]
    owner: str
    reach: str
    token: str | None
    created_at: str


@dataclass(frozen=True)
class SubscriptionRow:
    id: str
    query_name: str
    dest: str
    secret: str
    stream: bool
    report_if_empty: bool
    owner: str
    reach: str
    token: str | None
    cursor: int
    next_attempt: int
    failures: int
    last_error: str | None
    delivered: int
    last_notified: str | None
    created_at: str


def _query(row: Any) -> QueryRow:
    return QueryRow(row["name"], json.loads(row["params"]), row["owner"], row["reach"],
                    row["token"], row["created_at"])


def _subscription(row: Any) -> SubscriptionRow:
    return SubscriptionRow(
        row["id"], row["query_name"], row["dest"], row["secret"], bool(row["stream"]),
        bool(row["report_if_empty"]), row["owner"], row["reach"], row["token"],
        int(row["cursor"]), int(row["next_attempt"]), int(row["failures"]), row["last_error"],
        int(row["delivered"]), row["last_notified"], row["created_at"])


class SubscriptionsSql:
    """The queries of the ``epcis_*`` tables. ``engine`` is the ledger's (``Store.engine``)."""

    @staticmethod
    @contextmanager
    def writing(engine: Any) -> Iterator[Connection]:
        """A short write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a plain one,
        without the append engine's lock, which these tables do not need)."""
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITER_OPTION: True})
            with conn.begin():
                yield conn

    # -- named queries ------------------------------------------------------------------
    @staticmethod
    def add_query(conn: Connection, row: QueryRow) -> None:
        """Insert ``row``; ConflictError when its name is taken."""
        if conn.execute(select(epcis_queries.c.name)
                        .where(epcis_queries.c.name == row.name)).first() is not None:
            raise ConflictError(f"a query named {row.name!r} already exists")
        try:
            with conn.begin_nested():
                conn.execute(insert(epcis_queries).values(
                    name=row.name, params=json.dumps(row.params, ensure_ascii=False,
                                                     sort_keys=True),
                    owner=row.owner, reach=row.reach, token=row.token,
                    created_at=row.created_at))
        except SqlIntegrityError as e:  # created meanwhile by another writer
            raise ConflictError(f"a query named {row.name!r} already exists") from e

    @staticmethod
    def query(conn: Connection, name: str) -> QueryRow | None:
        row = conn.execute(select(epcis_queries).where(epcis_queries.c.name == name)
                           ).mappings().first()
        return None if row is None else _query(row)

    @staticmethod
    def queries(conn: Connection, owner: str | None = None) -> list[QueryRow]:
        """Every named query (or ``owner``'s), by name."""
        stmt = select(epcis_queries).order_by(epcis_queries.c.name)
        if owner is not None:
            stmt = stmt.where(epcis_queries.c.owner == owner)
        return [_query(r) for r in conn.execute(stmt).mappings()]

    @staticmethod
    def delete_query(conn: Connection, name: str) -> int:
        """Delete the query, its subscriptions and their delivery log; how many
        subscriptions it had, or -1 when there was no such query."""
        ids = [r[0] for r in conn.execute(select(epcis_subscriptions.c.id)
                                          .where(epcis_subscriptions.c.query_name == name))]
        for sid in ids:
            SubscriptionsSql.delete_subscription(conn, sid)
        done = conn.execute(delete(epcis_queries).where(epcis_queries.c.name == name))
        return len(ids) if done.rowcount else -1

    # -- subscriptions ------------------------------------------------------------------
    @staticmethod
    def add_subscription(conn: Connection, row: SubscriptionRow) -> None:
        conn.execute(insert(epcis_subscriptions).values(
            id=row.id, query_name=row.query_name, dest=row.dest, secret=row.secret,
            stream=int(row.stream), report_if_empty=int(row.report_if_empty), owner=row.owner,
            reach=row.reach, token=row.token, cursor=row.cursor,
            next_attempt=row.next_attempt, failures=row.failures, last_error=row.last_error,
            delivered=row.delivered, last_notified=row.last_notified,
            created_at=row.created_at))

    @staticmethod
    def subscription(conn: Connection, sid: str) -> SubscriptionRow | None:
        row = conn.execute(select(epcis_subscriptions).where(epcis_subscriptions.c.id == sid)
                           ).mappings().first()
        return None if row is None else _subscription(row)

    @staticmethod
    def subscriptions(conn: Connection, query_name: str | None = None) -> list[SubscriptionRow]:
        """Every subscription (or those of ``query_name``), oldest first."""
        stmt = select(epcis_subscriptions).order_by(epcis_subscriptions.c.created_at,
                                                    epcis_subscriptions.c.id)
        if query_name is not None:
            stmt = stmt.where(epcis_subscriptions.c.query_name == query_name)
        return [_subscription(r) for r in conn.execute(stmt).mappings()]

    @staticmethod
    def due(conn: Connection, now: int) -> list[SubscriptionRow]:
        """The subscriptions whose next attempt is at or before ``now`` (µs), soonest first."""
        stmt = (select(epcis_subscriptions).where(epcis_subscriptions.c.next_attempt <= now)
                .order_by(epcis_subscriptions.c.next_attempt, epcis_subscriptions.c.id))
        return [_subscription(r) for r in conn.execute(stmt).mappings()]

    @staticmethod
    def delete_subscription(conn: Connection, sid: str) -> bool:
        conn.execute(delete(epcis_deliveries).where(epcis_deliveries.c.subscription_id == sid))
        done = conn.execute(delete(epcis_subscriptions).where(epcis_subscriptions.c.id == sid))
        return bool(done.rowcount)

    @staticmethod
    def delete_subscriptions_of_token(conn: Connection, token: str) -> int:
        """Delete every subscription made with the token whose SHA-256 is ``token``."""
        ids = [r[0] for r in conn.execute(select(epcis_subscriptions.c.id)
                                          .where(epcis_subscriptions.c.token == token))]
        for sid in ids:
            SubscriptionsSql.delete_subscription(conn, sid)
        return len(ids)

    @staticmethod
    def acknowledged(conn: Connection, sid: str, *, cursor: int, new_cursor: int,
                     first_seq: int, events: int, status: int, now_text: str,
                     next_attempt: int) -> bool:
        """The receiver acknowledged events up to ``new_cursor``: the cursor moves from
        ``cursor`` (only if it is still there: the subscription was not deleted or moved by
        another deliverer) and, when events were sent, the delivery is logged — in the
        caller's transaction. False when the subscription's cursor was not ``cursor``."""
        values: dict[str, Any] = {"cursor": new_cursor, "failures": 0, "last_error": None,
                                  "next_attempt": next_attempt}
        if events or status:
            values.update(delivered=epcis_subscriptions.c.delivered + events,
                          last_notified=now_text)
        done = conn.execute(update(epcis_subscriptions).where(
            epcis_subscriptions.c.id == sid, epcis_subscriptions.c.cursor == cursor)
            .values(**values))
        if not done.rowcount:
            return False
        if status:
            conn.execute(insert(epcis_deliveries).values(
                subscription_id=sid, last_seq=new_cursor, first_seq=first_seq, events=events,
                status=status, delivered_at=now_text))
        return True

    @staticmethod
    def failed(conn: Connection, sid: str, *, cursor: int, error: str,
               next_attempt: int) -> None:
        """An attempt failed: count it, say why, and when to try again."""
        conn.execute(update(epcis_subscriptions).where(
            epcis_subscriptions.c.id == sid, epcis_subscriptions.c.cursor == cursor)
            .values(failures=epcis_subscriptions.c.failures + 1, last_error=error[:2000],
                    next_attempt=next_attempt))

    @staticmethod
    def deliveries(conn: Connection, sid: str) -> list[tuple[int, int, int, int, str]]:
        """(first_seq, last_seq, events, status, delivered_at) of the subscription's
        acknowledged deliveries, in order."""
        rows = conn.execute(select(epcis_deliveries.c.first_seq, epcis_deliveries.c.last_seq,
                                   epcis_deliveries.c.events, epcis_deliveries.c.status,
                                   epcis_deliveries.c.delivered_at)
                            .where(epcis_deliveries.c.subscription_id == sid)
                            .order_by(epcis_deliveries.c.last_seq))
        return [(int(a), int(b), int(c), int(d), str(e)) for a, b, c, d, e in rows]

    # -- the lease ----------------------------------------------------------------------
    @staticmethod
    def take_lease(conn: Connection, name: str, holder: str, now: int, until: int) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``until`` (µs): True when
        it was free, expired at ``now``, or already ``holder``'s."""
        done = conn.execute(update(epcis_delivery_lease).where(
            epcis_delivery_lease.c.name == name,
            or_(epcis_delivery_lease.c.holder == holder,
                epcis_delivery_lease.c.expires < now)).values(holder=holder, expires=until))
        if done.rowcount:
            return True
        if conn.execute(select(epcis_delivery_lease.c.name)
                        .where(epcis_delivery_lease.c.name == name)).first() is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(insert(epcis_delivery_lease).values(name=name, holder=holder,
                                                                 expires=until))
        except SqlIntegrityError:  # another process took it first
            return False
        return True

    @staticmethod
    def release_lease(conn: Connection, name: str, holder: str) -> None:
        conn.execute(delete(epcis_delivery_lease).where(
            epcis_delivery_lease.c.name == name, epcis_delivery_lease.c.holder == holder))

    @staticmethod
    def lease(conn: Connection, name: str) -> tuple[str, int] | None:
        row = conn.execute(select(epcis_delivery_lease.c.holder, epcis_delivery_lease.c.expires)
                           .where(epcis_delivery_lease.c.name == name)).first()
        return None if row is None else (str(row[0]), int(row[1]))
