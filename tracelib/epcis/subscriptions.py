"""EPCIS 2.0 named queries and streaming webhook subscriptions (EPCIS 2.0 REST binding,
``/queries`` and ``/queries/{name}/subscriptions``; docs/contract.md "EPCIS subscriptions").

A named query is a set of query parameters (:class:`~tracelib.epcis.query.EventQuery`) kept
under a name with the party that made it. A subscription to it names a webhook (``dest``,
``https://``) and the subscriber's ``signatureToken``; the :class:`Deliverer` (run by
``tracelib epcis deliver``) sends the records appended after the subscription, mapped to
EPCIS events as the export maps them, that match the query and that the subscriber's token
may read, as ``EPCISQueryDocument`` batches POSTed to ``dest`` with a ``GS1-Signature``
header: base64 of HMAC-SHA256 over the body's bytes, keyed with the UTF-8 bytes of the
signatureToken.

Delivery invariants:

* each subscription's cursor is the last record seq delivered or passed over; a batch holds
  the matching events of the records after it, at most :attr:`DeliverySettings.batch`;
* the cursor moves only after the receiver answered 2xx, in the same transaction that logs
  the delivery (``epcis_deliveries``), and only if it is still where the batch began;
* a failure (no answer, a timeout, a refused TLS certificate, a redirect, a non-2xx status)
  leaves the cursor and schedules the next attempt ``backoff_first × 2^(failures-1)``
  seconds later, at most ``backoff_cap``;
* one process delivers at a time, holding the ``deliverer`` lease row;
* the one window: a receiver that answered 2xx to a batch whose cursor the deliverer had not
  yet committed (it crashed, the database was unreachable) receives that batch again. Every
  event carries its ``eventID`` (the GS1 event hash ID), by which a receiver drops one it
  already holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..bounds import MAX_TEXT
from ..cbv import EPCIS_CONTEXT, NAMESPACE, PREFIX, EpcisNames
from ..errors import NotFoundError, StorageError, TracelibError, ValidationError
from ..ids import ID_PATTERN
from ..ledger import Ledger
from ..store.subscriptions import QueryRow, SubscriptionRow, SubscriptionsSql
from ..timeutil import format_utc, from_micros, to_micros, utcnow
from ..views.disclosure import EVERYTHING, Reach, event_in_reach, reach_of
from .export import names_for, stored_event
from .query import EventQuery, QueryError

__all__ = [
    "LEASE",
    "REACHES",
    "SIGNATURE_HEADER",
    "Deliverer",
    "DeliveryFailed",
    "DeliveryReport",
    "DeliverySettings",
    "Owner",
    "check_dest",
    "create_query",
    "delete_query",
    "forget_token",
    "get_query",
    "get_subscription",
    "list_queries",
    "list_subscriptions",
    "query_document",
    "sign",
    "subscribe",
    "subscription_doc",
    "unsubscribe",
]

#: The header carrying a delivery's signature (EPCIS 2.0 OpenAPI, ``GS1-Signature``).
SIGNATURE_HEADER = "GS1-Signature"
#: The lease row one deliverer holds at a time.
LEASE = "deliverer"
#: How far an owner's token reads: ``read:all``, ``read:market``, ``read:own``.
REACHES = ("all", "market", "own")
#: The longest signatureToken kept.
MAX_SECRET = MAX_TEXT

#: Answers a receiver sends that count as acknowledged (RFC 9110 §15.3).
_ACKNOWLEDGED = range(200, 300)


@dataclass(frozen=True)
class Owner:
    """Who makes a query or a subscription: the party of the token, how far the token reads
    (one of :data:`REACHES`) and the token's SHA-256 (hex; None for the CLI)."""

    party: str
    reach: str
    token: str | None = None

    def __post_init__(self) -> None:
        if self.reach not in REACHES:
            raise ValueError(f"reach must be one of {', '.join(REACHES)}, got {self.reach!r}")


# -- the webhook URL --------------------------------------------------------------------

def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_dest(url: object, *, allow_loopback_http: bool = False) -> str:
    """``url`` when it is an ``https://`` URL with a host and no user or fragment; an
    ``http://`` URL to ``localhost`` or a loopback address only with
    ``allow_loopback_http`` (tests, development). ValidationError (field ``dest``) otherwise."""
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise ValidationError("dest must be a URL of at most 2000 characters", field="dest")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as e:
        raise ValidationError(f"dest is not a URL: {e}", field="dest") from e
    if not host:
        raise ValidationError(f"dest must name a host, got {url!r}", field="dest")
    if parts.username or parts.password or parts.fragment:
        raise ValidationError("dest may not carry a user, password or fragment", field="dest")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValidationError("dest may not hold spaces or control characters", field="dest")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _loopback(host):
        if allow_loopback_http:
            return url
        raise ValidationError("dest must be https:// (http:// to the loopback address is "
                              "allowed only when the service is configured for it)",
                              field="dest")
    raise ValidationError(f"dest must be an https:// URL, got {parts.scheme or 'no'} scheme",
                          field="dest")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not re.match(ID_PATTERN, name) or "/" in name:
        raise ValidationError("name must be 1 to 200 characters, no control characters and "
                              "no '/'", field="name")
    return name


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET:
        raise ValidationError(f"signatureToken must be text of 1 to {MAX_SECRET} characters",
                              field="signatureToken")
    if any(ord(c) < 0x20 for c in secret):
        raise ValidationError("signatureToken may not hold control characters",
                              field="signatureToken")
    return secret


# -- named queries ------------------------------------------------------------------------

def create_query(ledger: Ledger, name: str, params: Mapping[str, Sequence[str]], owner: Owner,
                 *, now: datetime | None = None) -> QueryRow:
    """Keep ``params`` under ``name`` for ``owner``. ValidationError (``field`` the
    parameter, under ``query.``) for a query the query module refuses; ConflictError when
    the name is taken."""
    _check_name(name)
    paging = sorted(set(params) & {"perPage", "nextPageToken"})
    if paging:
        raise ValidationError(f"query parameter {paging[0]}: a named query is paged when it "
                              "is read, not when it is made", field=f"query.{paging[0]}")
    try:
        query = EventQuery.from_params(params)
    except QueryError as e:
        raise ValidationError(f"query parameter {e.param}: {e.message}",
                              field=f"query.{e.param}") from e
    row = QueryRow(name, query.to_params(), owner.party, owner.reach, owner.token,
                   format_utc(now or utcnow()))
    with ledger.store.faults(), SubscriptionsSql.writing(ledger.store.engine) as conn:
        SubscriptionsSql.add_query(conn, row)
    return row


def get_query(ledger: Ledger, name: str) -> QueryRow | None:
    with ledger.store.reader() as conn:
        return SubscriptionsSql.query(conn, name)


def list_queries(ledger: Ledger, owner: str | None = None) -> list[QueryRow]:
    """Every named query, or those ``owner`` made."""
    with ledger.store.reader() as conn:
        return SubscriptionsSql.queries(conn, owner)


def delete_query(ledger: Ledger, name: str) -> bool:
    """Delete the query and every subscription to it (EPCIS 2.0 REST: deleting a query
    unsubscribes its subscribers); False when there was none."""
    with ledger.store.faults(), SubscriptionsSql.writing(ledger.store.engine) as conn:
        return SubscriptionsSql.delete_query(conn, name) >= 0


# -- subscriptions -------------------------------------------------------------------------

def subscribe(ledger: Ledger, name: str, dest: str, secret: str, owner: Owner, *,
              now: datetime | None = None, report_if_empty: bool = False,
              allow_loopback_http: bool = False) -> SubscriptionRow:
    """Subscribe ``owner`` to the query ``name``: the records appended from now on that
    match it and that ``owner`` may read go to ``dest``. NotFoundError without the query."""
    dest = check_dest(dest, allow_loopback_http=allow_loopback_http)
    secret = _check_secret(secret)
    moment = now or utcnow()
    with ledger.store.faults(), SubscriptionsSql.writing(ledger.store.engine) as conn:
        if SubscriptionsSql.query(conn, name) is None:
            raise NotFoundError(f"no query named {name!r}")
        cursor = ledger.store.size(conn) - 1  # what is recorded now is not sent
        row = SubscriptionRow(
            str(uuid.uuid4()), name, dest, secret, True, report_if_empty, owner.party,
            owner.reach, owner.token, cursor, to_micros(moment), 0, None, 0, None,
            format_utc(moment))
        SubscriptionsSql.add_subscription(conn, row)
    return row


def get_subscription(ledger: Ledger, sid: str) -> SubscriptionRow | None:
    with ledger.store.reader() as conn:
        return SubscriptionsSql.subscription(conn, sid)


def list_subscriptions(ledger: Ledger, name: str | None = None) -> list[SubscriptionRow]:
    with ledger.store.reader() as conn:
        return SubscriptionsSql.subscriptions(conn, name)


def unsubscribe(ledger: Ledger, sid: str) -> bool:
    """Delete the subscription (and its delivery log): nothing more is sent. A batch
    already on its way may still arrive; its cursor is not committed."""
    with ledger.store.faults(), SubscriptionsSql.writing(ledger.store.engine) as conn:
        return SubscriptionsSql.delete_subscription(conn, sid)


def forget_token(ledger: Ledger, token_sha256: str) -> int:
    """Delete the subscriptions made with a token (when it is revoked); how many."""
    with ledger.store.faults(), SubscriptionsSql.writing(ledger.store.engine) as conn:
        return SubscriptionsSql.delete_subscriptions_of_token(conn, token_sha256)


def subscription_doc(row: SubscriptionRow) -> dict[str, Any]:
    """A subscription as the API answers it (EPCIS 2.0 ``AbstractQuerySubscriptionResponse``
    with ``QueryStreamSubscription``): never the signatureToken."""
    return {"subscriptionID": row.id, "queryName": row.query_name, "dest": row.dest,
            "stream": row.stream, "reportIfEmpty": row.report_if_empty,
            "createdAt": row.created_at, "lastNotifiedAt": row.last_notified,
            "delivered": row.delivered, "failures": row.failures,
            "lastError": row.last_error,
            "nextAttemptAt": format_utc(from_micros(row.next_attempt))}


# -- delivery ------------------------------------------------------------------------------

class DeliveryFailed(TracelibError):
    """A delivery that was not acknowledged: no answer, a timeout, TLS refused, a redirect."""


#: Sends ``body`` to ``url`` with ``headers``; answers the HTTP status, raises
#: :class:`DeliveryFailed` when there is none.
Transport = Callable[[str, bytes, Mapping[str, str], "DeliverySettings"], int]


@dataclass(frozen=True)
class DeliverySettings:
    """How the deliverer sends. ``base`` is the public URL naming lots without a GTIN and
    locations without a GLN (as the export names them)."""

    base: str = "http://127.0.0.1:8000"
    batch: int = 500
    timeout: float = 10.0
    ca_file: str | None = None
    allow_loopback_http: bool = False
    backoff_first: float = 2.0
    backoff_cap: float = 3600.0
    scan_limit: int = 20_000
    lease_seconds: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= 10_000:
            raise ValueError(f"batch must be 1..10000, got {self.batch}")
        if self.timeout <= 0 or self.backoff_first <= 0 or self.backoff_cap < self.backoff_first:
            raise ValueError("timeout and backoff must be positive, the cap at least the first")

    def backoff(self, failures: int) -> float:
        """Seconds before the next attempt after ``failures`` failures in a row (≥ 1)."""
        return float(min(self.backoff_cap, self.backoff_first * 2 ** min(failures - 1, 40)))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is not followed: it answers as the 3xx it is (a failed delivery)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def sign(body: bytes, secret: str) -> str:
    """The ``GS1-Signature`` value of ``body``: base64 (RFC 4648 §4) of HMAC-SHA256 (RFC
    2104) over the body's bytes, keyed with the UTF-8 bytes of the signatureToken."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def https_post(url: str, body: bytes, headers: Mapping[str, str],
               settings: DeliverySettings) -> int:
    """POST with the standard library: TLS verified (the system's CAs, or ``ca_file``),
    no proxy, no redirect followed, ``timeout`` seconds for connecting and each read."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context),
                                         _NoRedirects())
    if urlsplit(url).scheme not in ("https", "http"):  # check_dest allows only these
        raise DeliveryFailed(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, data=body, headers=dict(headers),  # noqa: S310
                                     method="POST")
    try:
        with opener.open(request, timeout=settings.timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as e:
        e.close()
        return int(e.code)
    except (urllib.error.URLError, OSError, ssl.SSLError) as e:  # timeouts are OSErrors
        reason = getattr(e, "reason", e)
        raise DeliveryFailed(f"no answer from {urlsplit(url).netloc}: {reason}") from e


def query_document(events: list[dict[str, Any]], *, subscription: str, query: str,
                   now: datetime) -> bytes:
    """An ``EPCISQueryDocument`` (EPCIS 2.0 §9.3) of ``events`` for a subscription."""
    return orjson.dumps({
        "@context": [EPCIS_CONTEXT, {PREFIX: NAMESPACE}], "type": "EPCISQueryDocument",
        "schemaVersion": "2.0", "creationDate": format_utc(now),
        "epcisBody": {"queryResults": {"subscriptionID": subscription, "queryName": query,
                                       "resultsBody": {"eventList": events}}}})


@dataclass
class DeliveryReport:
    """What one pass did: batches acknowledged, events sent in them, attempts that failed,
    and whether another process held the lease (nothing was tried)."""

    batches: int = 0
    events: int = 0
    failed: int = 0
    leased_elsewhere: bool = False
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "events": self.events, "failed": self.failed,
                "leased_elsewhere": self.leased_elsewhere, "errors": list(self.errors)}


@dataclass
class _Batch:
    events: list[dict[str, Any]]
    first_seq: int
    last_seq: int  # the new cursor
    more: bool  # records after last_seq remain


class Deliverer:
    """Sends each subscription's new matching events to its webhook (module docstring).
    ``send`` replaces the HTTPS transport (tests); ``holder`` names this process in the
    lease."""

    def __init__(self, ledger: Ledger, settings: DeliverySettings | None = None, *,
                 send: Transport | None = None, holder: str | None = None) -> None:
        self.ledger = ledger
        self.settings = settings or DeliverySettings()
        self.send: Transport = send or https_post
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # -- the lease --------------------------------------------------------------------
    def acquire(self, now: datetime) -> bool:
        """Take or renew the deliverer's lease until ``lease_seconds`` after ``now``."""
        start = to_micros(now)
        until = start + int(self.settings.lease_seconds * 1_000_000)
        with self.ledger.store.faults(), SubscriptionsSql.writing(self.ledger.store.engine) as c:
            return SubscriptionsSql.take_lease(c, LEASE, self.holder, start, until)

    def release(self) -> None:
        with self.ledger.store.faults(), SubscriptionsSql.writing(self.ledger.store.engine) as c:
            SubscriptionsSql.release_lease(c, LEASE, self.holder)

    # -- a pass -----------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver what is due at ``now``: for each subscription whose next attempt has
        come, batch after batch until it is caught up or an attempt fails."""
        moment = now or utcnow()
        # The pass's clock: ``now`` throughout when given (tests), else the time itself, so
        # that a long pass renews the lease for real and stamps each delivery when it is made.
        clock: Callable[[], datetime] = (lambda: moment) if now is not None else utcnow
        report = DeliveryReport()
        if not self.acquire(moment):
            report.leased_elsewhere = True
            return report
        with self.ledger.store.reader() as conn:
            due = SubscriptionsSql.due(conn, to_micros(moment))
            queries = {q.name: q for q in SubscriptionsSql.queries(conn)}
        reaches: dict[tuple[str, str], Reach] = {}
        for sub in due:
            query_row = queries.get(sub.query_name)
            if query_row is None:  # deleted since: its subscriptions went with it
                continue
            key = (sub.owner, sub.reach)
            if key not in reaches:
                reaches[key] = self._reach(sub)
            try:
                query = EventQuery.from_params(query_row.params)
            except QueryError as e:  # a query stored by another version of the query module
                self._failed(sub, sub.cursor, f"the query is refused: {e}", clock(), report)
                continue
            self._deliver(sub, query, reaches[key], clock, report)
        return report

    def run_forever(self, stop: threading.Event, *, poll: float = 2.0,
                    clock: Callable[[], datetime] | None = None,
                    on_pass: Callable[[DeliveryReport], None] | None = None) -> None:
        """Pass after pass, ``poll`` seconds apart, until ``stop`` is set (``clock``, for
        tests, fixes each pass's time); the lease is released at the end. A pass the
        database failed (a :class:`StorageError`: a lost connection, a full disk) is
        reported and the next one tried: no cursor moved."""
        try:
            while not stop.is_set():
                try:
                    report = self.run_once(None if clock is None else clock())
                except StorageError as e:
                    report = DeliveryReport(errors=[f"database: {e}"])
                if on_pass is not None:
                    on_pass(report)
                stop.wait(poll)
        finally:
            self.release()

    def _reach(self, sub: SubscriptionRow) -> Reach:
        if sub.reach == "all":
            return EVERYTHING
        return reach_of(self.ledger, sub.owner, market_stalls=sub.reach == "market")

    def _deliver(self, sub: SubscriptionRow, query: EventQuery, reach: Reach,
                 clock: Callable[[], datetime], report: DeliveryReport) -> None:
        cursor = sub.cursor
        while True:
            now = clock()
            if not self.acquire(now):  # the lease went to another process: stop here
                report.leased_elsewhere = True
                return
            batch = self._batch(cursor, query, reach)
            if batch.last_seq == cursor:
                return  # nothing new
            status = 0
            if batch.events or sub.report_if_empty:
                body = query_document(batch.events, subscription=sub.id, query=sub.query_name,
                                      now=now)
                try:
                    dest = check_dest(sub.dest,
                                      allow_loopback_http=self.settings.allow_loopback_http)
                    status = self.send(dest, body, self._headers(body, sub.secret),
                                       self.settings)
                    error = None if status in _ACKNOWLEDGED else f"HTTP {status} from receiver"
                except (DeliveryFailed, ValidationError) as e:
                    error = str(e)
                if error is not None:
                    self._failed(sub, cursor, error, clock(), report)
                    return
                now = clock()
            with self.ledger.store.faults(), \
                    SubscriptionsSql.writing(self.ledger.store.engine) as conn:
                moved = SubscriptionsSql.acknowledged(
                    conn, sub.id, cursor=cursor, new_cursor=batch.last_seq,
                    first_seq=batch.first_seq, events=len(batch.events), status=status,
                    now_text=format_utc(now), next_attempt=to_micros(now))
            if not moved:  # unsubscribed meanwhile, or another deliverer moved it
                return
            if status:
                report.batches += 1
                report.events += len(batch.events)
            cursor = batch.last_seq
            if not batch.more:
                return

    def _failed(self, sub: SubscriptionRow, cursor: int, error: str, now: datetime,
                report: DeliveryReport) -> None:
        with self.ledger.store.reader() as conn:
            current = SubscriptionsSql.subscription(conn, sub.id)
        failures = (current.failures if current is not None else sub.failures) + 1
        wait = self.settings.backoff(failures)
        with self.ledger.store.faults(), SubscriptionsSql.writing(self.ledger.store.engine) as c:
            SubscriptionsSql.failed(c, sub.id, cursor=cursor, error=error,
                                    next_attempt=to_micros(now) + int(wait * 1_000_000))
        report.failed += 1
        report.errors.append(f"{sub.id}: {error}")

    @staticmethod
    def _headers(body: bytes, secret: str) -> dict[str, str]:
        return {"Content-Type": "application/json", "GS1-EPCIS-Version": "2.0.0",
                "GS1-CBV-Version": "2.0.0", SIGNATURE_HEADER: sign(body, secret),
                "User-Agent": "tracelib-epcis-deliver"}

    def _batch(self, cursor: int, query: EventQuery, reach: Reach) -> _Batch:
        """The matching events in reach of the records after ``cursor``: at most ``batch``
        of them, reading at most ``scan_limit`` records."""
        store = self.ledger.store
        settings = self.settings
        events: list[dict[str, Any]] = []
        last = cursor
        with store.reader() as conn:
            size = store.size(conn)
            end = min(size, cursor + 1 + settings.scan_limit)
            names = names_for(self.ledger, conn, settings.base)
            for row in _mapped(store.scan_records(conn, cursor + 1, end), names):
                seq, body, event = row
                last = seq
                if event is None or not query.matches(event):
                    continue
                if not event_in_reach(self.ledger, reach, body):
                    continue
                events.append(event)
                if len(events) >= settings.batch:
                    break
        return _Batch(events, cursor + 1, last, last < size - 1)


def _mapped(rows: Iterator[Any], names: EpcisNames
            ) -> Iterator[tuple[int, dict[str, Any], dict[str, Any] | None]]:
    """(seq, the tracelib event, its EPCIS event or None) of scanned records (``Store.
    scan_records`` tuples), each mapped as the export maps it (tracelib.epcis.export)."""
    for row in rows:
        seq, record_hash, raw, recorded_at, kind = row[0], row[2], row[3], row[6], row[8]
        body = orjson.loads(bytes(raw))
        yield int(seq), body, stored_event(kind, body, names, seq=seq, record_hash=record_hash,
                                           recorded_at=recorded_at)
