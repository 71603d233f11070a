"""EPCIS named queries and webhook subscriptions (issue 18, "Subscriptions"): events
appended after subscribing reach a local HTTPS receiver (a self-signed certificate the
deliverer is told to trust) as signed ``EPCISQueryDocument`` batches; what does not match,
or lies outside the subscriber's books, does not; a receiver down is retried with capped
exponential backoff on a fake clock; a deliverer restarted mid-stream sends nothing twice
and loses nothing; unsubscribing stops delivery."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jsonschema import Draft7Validator, FormatChecker

from tests.conftest import NOW
from tests.helpers import Network, Supply
from tracelib.epcis.subscriptions import (
    SIGNATURE_HEADER,
    Deliverer,
    DeliverySettings,
    Owner,
    check_dest,
    create_query,
    delete_query,
    get_subscription,
    https_post,
    list_subscriptions,
    subscribe,
    unsubscribe,
)
from tracelib.errors import ConflictError, NotFoundError, ValidationError
from tracelib.ledger import Ledger
from tracelib.store.subscriptions import SubscriptionsSql

DATA = Path(__file__).parent / "data" / "epcis"
REGULATOR = Owner("operator", "all")
SECRET = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
SHIPPING = "https://ref.gs1.org/cbv/BizStep-shipping"
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


# -- a local HTTPS receiver ---------------------------------------------------------------

def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with ``cryptography``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracelib test receiver")])
    start = dt.datetime.now(dt.UTC) - timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "receiver.pem", folder / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Receiver:
    """A threaded HTTPS server on 127.0.0.1 that keeps every POST (headers and body) and
    answers ``statuses`` in turn (then 200); ``stop``/``start`` take it down and up again on
    the same port."""

    def __init__(self, folder: Path) -> None:
        self.cert, key = _certificate(folder)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.cert, key)
        self.posts: list[tuple[dict[str, str], bytes]] = []  # every POST
        self.acknowledged: list[bytes] = []  # the bodies answered 2xx
        self.statuses: list[int] = []
        self.location = ""  # where a 3xx points
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if 200 <= status < 300:
                    receiver.acknowledged.append(body)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def documents(self) -> list[dict[str, Any]]:
        """The documents the receiver acknowledged (answered 2xx)."""
        return [json.loads(body) for body in self.acknowledged]

    def event_ids(self) -> list[str]:
        return [e["eventID"] for doc in self.documents()
                for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path)
    yield r
    r.stop()


@pytest.fixture
def sup(network: Network) -> Supply:
    """Farm, cold store, market and stalls registered; LOT-A made at the farm."""
    s = Supply.build(network)
    s.add(s.origin("LOT-A", "100"), s.origin("LOT-B", "50"))
    return s


def settings(receiver: Receiver, **over: Any) -> DeliverySettings:
    return DeliverySettings(base="https://trace.example.cn", ca_file=str(receiver.cert), **over)


def signature_ok(headers: Mapping[str, str], body: bytes) -> bool:
    """What a receiver checks: the GS1-Signature header (names are case-insensitive, RFC
    9110 §5.1) against the HMAC-SHA256 of the body keyed with the signatureToken."""
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(headers[SIGNATURE_HEADER.lower()],
                               base64.b64encode(digest).decode())


def ships(s: Supply, n: int, lot: str = "LOT-A") -> list[dict[str, Any]]:
    """``n`` ship/receive pairs of 1 kg of ``lot`` from the farm to the cold store."""
    events = []
    for _ in range(n):
        events.extend(s.move("farm-1.field", "coldstore-1", [(lot, "1")]))
    s.add(*events)
    return events


# -- delivery -----------------------------------------------------------------------------

def test_new_matching_events_arrive_signed_and_valid(sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    sub = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    events = ships(sup, 3)
    report = Deliverer(ledger, settings(receiver)).run_once(NOW)
    assert (report.batches, report.events, report.failed) == (1, 3, 0)
    [(headers, body)] = receiver.posts
    assert headers["content-type"] == "application/json"
    assert signature_ok(headers, body)
    assert not signature_ok(headers, body + b" ")
    doc = json.loads(body)
    schema = json.loads((DATA / "EPCIS-JSON-Schema.json").read_text("utf-8"))
    assert list(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(doc)) == []
    results = doc["epcisBody"]["queryResults"]
    assert (results["subscriptionID"], results["queryName"]) == (sub.id, "shipments")
    delivered = results["resultsBody"]["eventList"]
    # the ships only (the receives and the origins before subscribing do not match or came
    # before), in record order, each with its hash ID
    assert [e["tracelib:eventId"] for e in delivered] == [e["id"] for e in events[::2]]
    assert all(e["bizStep"] == SHIPPING and e["eventID"].startswith("ni:///sha-256;")
               for e in delivered)
    again = Deliverer(ledger, settings(receiver)).run_once(NOW + timedelta(minutes=2))
    assert (again.batches, len(receiver.posts)) == (0, 1)  # nothing new: nothing sent
    state = get_subscription(ledger, sub.id)
    assert state is not None and state.delivered == 3 and state.cursor == ledger.size - 1
    with ledger.store.reader() as conn:
        log = SubscriptionsSql.deliveries(conn, sub.id)
    assert [(first, last, n, status) for first, last, n, status, _ in log] == [
        (sub.cursor + 1, ledger.size - 1, 3, 200)]


@SQLITE
def test_batches_hold_at_most_the_batch_size(sup: Supply, receiver: Receiver) -> None:
    create_query(sup.ledger, "all-events", {}, REGULATOR)
    subscribe(sup.ledger, "all-events", receiver.url, SECRET, REGULATOR, now=NOW)
    events = ships(sup, 4)
    report = Deliverer(sup.ledger, settings(receiver, batch=3)).run_once(NOW)
    assert [len(d["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
            for d in receiver.documents()] == [3, 3, 2]
    assert report.events == 8
    assert [e["tracelib:eventId"] for d in receiver.documents()
            for e in d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
                e["id"] for e in events]


@SQLITE
def test_a_receiver_down_is_retried_with_capped_backoff(sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    sub = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    ships(sup, 2)
    receiver.stop()
    deliverer = Deliverer(ledger, settings(receiver, backoff_first=2, backoff_cap=10))
    waits = []
    clock = NOW
    for _ in range(5):
        report = deliverer.run_once(clock)
        assert (report.failed, report.events) == (1, 0)
        state = get_subscription(ledger, sub.id)
        assert state is not None and state.cursor == sub.cursor
        assert state.last_error is not None and "no answer" in state.last_error
        wait = (state.next_attempt - int(clock.timestamp() * 1_000_000)) / 1e6
        waits.append(wait)
        # not due before the wait is over: no attempt
        assert deliverer.run_once(clock + timedelta(seconds=wait - 0.5)).failed == 0
        clock += timedelta(seconds=wait)
    assert waits == [2, 4, 8, 10, 10]
    receiver.start()
    report = deliverer.run_once(clock)
    assert (report.batches, report.events, report.failed) == (1, 2, 0)
    state = get_subscription(ledger, sub.id)
    assert state is not None and state.failures == 0 and state.last_error is None
    receiver.statuses = [503]
    ships(sup, 1)
    assert deliverer.run_once(clock).failed == 1  # a non-2xx answer is a failure too
    assert deliverer.run_once(clock + timedelta(seconds=2)).events == 1
    assert len(receiver.event_ids()) == len(set(receiver.event_ids())) == 3


def test_a_restarted_deliverer_sends_nothing_twice_and_loses_nothing(
        sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    events = ships(sup, 5)
    receiver.statuses = [200, 200, 500]  # the third batch fails: the process then dies
    first = Deliverer(ledger, settings(receiver, batch=2), holder="first")
    report = first.run_once(NOW)
    assert (report.batches, report.events, report.failed) == (2, 4, 1)
    # A second process (the restarted service) waits for the dead one's lease to expire.
    second = Deliverer(ledger, settings(receiver, batch=2), holder="second")
    assert second.run_once(NOW + timedelta(seconds=30)).leased_elsewhere
    more = ships(sup, 1)
    report = second.run_once(NOW + timedelta(seconds=61))
    assert (report.batches, report.events, report.leased_elsewhere) == (1, 2, False)
    wanted = [e["id"] for e in [*events, *more][::2]]
    received = [e["tracelib:eventId"] for d in receiver.documents()
                for e in d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    assert received == wanted  # the failed batch's two came again, once, then the new one
    assert len(receiver.posts) == 4 and len(receiver.acknowledged) == 3


@SQLITE
def test_a_crash_between_the_answer_and_the_commit_resends_that_batch_with_its_ids(
        sup: Supply, receiver: Receiver) -> None:
    """The one window (docs/contract.md "EPCIS subscriptions"): the receiver acknowledged a
    batch whose cursor the deliverer never committed; it comes again, with the same
    eventIDs, by which the receiver drops what it holds."""
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    ships(sup, 2)

    class Crash(Exception):
        pass

    def send_then_crash(*args: Any) -> int:
        https_post(*args)
        raise Crash

    with pytest.raises(Crash):
        Deliverer(ledger, settings(receiver), send=send_then_crash, holder="a").run_once(NOW)
    Deliverer(ledger, settings(receiver), holder="b").run_once(NOW + timedelta(seconds=61))
    ids = receiver.event_ids()
    assert len(ids) == 4 and ids[:2] == ids[2:]
    assert len(set(ids)) == 2  # de-duplicated by eventID: every event, once


@SQLITE
def test_unsubscribing_stops_delivery(sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    sub = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    other = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    deliverer = Deliverer(ledger, settings(receiver))
    ships(sup, 1)
    assert deliverer.run_once(NOW).batches == 2
    assert unsubscribe(ledger, sub.id) and not unsubscribe(ledger, sub.id)
    ships(sup, 1)
    deliverer.run_once(NOW)
    assert [d["epcisBody"]["queryResults"]["subscriptionID"] for d in receiver.documents()
            ][2:] == [other.id]
    assert delete_query(ledger, "shipments")  # deleting the query unsubscribes the rest
    assert list_subscriptions(ledger) == []
    ships(sup, 1)
    deliverer.run_once(NOW)
    assert len(receiver.posts) == 3


@SQLITE
def test_a_partys_subscription_carries_only_its_books(sup: Supply, receiver: Receiver) -> None:
    """The carrier (read:own) sees shipments to or from its cold store; the market
    stall's shipment elsewhere is another party's book, and is not sent."""
    ledger = sup.ledger
    carrier = Owner("carrier-1", "own")
    create_query(ledger, "my-shipments", {"EQ_bizStep": ["shipping"]}, carrier)
    subscribe(ledger, "my-shipments", receiver.url, SECRET, carrier, now=NOW)
    theirs = sup.move("farm-1.field", "abattoir-1", [("LOT-B", "5")])
    mine = sup.move("farm-1.field", "coldstore-1", [("LOT-A", "5")])
    sup.add(*theirs, *mine)
    Deliverer(ledger, settings(receiver)).run_once(NOW)
    delivered = [e["tracelib:eventId"] for d in receiver.documents()
                 for e in d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    assert delivered == [mine[0]["id"]]


@SQLITE
def test_match_any_epc_class_narrows_to_one_lot(sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    lot_b = "https://trace.example.cn/l/LOT-B"
    create_query(ledger, "lot-b", {"MATCH_anyEPCClass": [lot_b]}, REGULATOR)
    subscribe(ledger, "lot-b", receiver.url, SECRET, REGULATOR, now=NOW)
    sup.add(*sup.move("farm-1.field", "abattoir-1", [("LOT-B", "5")]),
            *sup.move("farm-1.field", "coldstore-1", [("LOT-A", "5")]))
    Deliverer(ledger, settings(receiver)).run_once(NOW)
    events = receiver.documents()[0]["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert len(events) == 2
    assert all(q["epcClass"] == lot_b for e in events for q in e["quantityList"])


# -- what a delivery refuses -------------------------------------------------------------

@SQLITE
def test_tls_is_verified_and_redirects_are_not_followed(sup: Supply,
                                                        receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    sub = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    ships(sup, 1)
    untrusting = Deliverer(ledger, DeliverySettings(base="https://trace.example.cn"))
    report = untrusting.run_once(NOW)  # the system's CAs do not know the receiver's
    assert report.failed == 1 and "CERTIFICATE_VERIFY_FAILED" in report.errors[0]
    assert receiver.posts == []
    untrusting.release()
    receiver.statuses = [307]
    receiver.location = receiver.url + "/elsewhere"
    trusting = Deliverer(ledger, settings(receiver))
    report = trusting.run_once(NOW + timedelta(seconds=5))
    assert report.failed == 1 and "HTTP 307" in report.errors[0]
    assert len(receiver.posts) == 1  # the redirect's target was never asked
    state = get_subscription(ledger, sub.id)
    assert state is not None and state.failures == 2 and state.delivered == 0


@pytest.mark.parametrize(("url", "loopback_http", "ok"), [
    ("https://receiver.example.com/epcis/hook", False, True),
    ("https://127.0.0.1:8443/hook", False, True),
    ("http://receiver.example.com/hook", False, False),
    ("http://receiver.example.com/hook", True, False),
    ("http://127.0.0.1:9000/hook", False, False),
    ("http://127.0.0.1:9000/hook", True, True),
    ("http://localhost/hook", True, True),
    ("ftp://receiver.example.com/hook", False, False),
    ("https://user:pw@receiver.example.com/hook", False, False),
    ("https:///hook", False, False),
    ("https://receiver.example.com/a b", False, False),
    ("https://receiver.example.com:99999/", False, False),
    ("file:///etc/passwd", True, False),
])
def test_dest_must_be_https(url: str, loopback_http: bool, ok: bool) -> None:
    if ok:
        assert check_dest(url, allow_loopback_http=loopback_http) == url
    else:
        with pytest.raises(ValidationError) as raised:
            check_dest(url, allow_loopback_http=loopback_http)
        assert raised.value.field == "dest"


@SQLITE
def test_queries_are_named_once_and_checked(ledger: Ledger) -> None:
    create_query(ledger, "q", {"eventType": ["ObjectEvent"]}, REGULATOR)
    with pytest.raises(ConflictError):
        create_query(ledger, "q", {}, REGULATOR)
    with pytest.raises(ValidationError) as raised:
        create_query(ledger, "bad", {"EQ_bizStep": ["dancing"]}, REGULATOR)
    assert raised.value.field == "query.EQ_bizStep"
    with pytest.raises(ValidationError) as raised:
        create_query(ledger, "bad/name", {}, REGULATOR)
    assert raised.value.field == "name"
    with pytest.raises(NotFoundError):
        subscribe(ledger, "nope", "https://r.example.com/", SECRET, REGULATOR)
    with pytest.raises(ValidationError) as raised:
        subscribe(ledger, "q", "https://r.example.com/", "", REGULATOR)
    assert raised.value.field == "signatureToken"


@SQLITE
def test_one_deliverer_holds_the_lease_at_a_time(ledger: Ledger) -> None:
    a, b = Deliverer(ledger, holder="a"), Deliverer(ledger, holder="b")
    assert a.acquire(NOW) and not b.acquire(NOW + timedelta(seconds=59))
    assert a.acquire(NOW + timedelta(seconds=30))  # renewed until +90 s
    assert not b.acquire(NOW + timedelta(seconds=89))
    assert b.acquire(NOW + timedelta(seconds=91))  # expired: taken over
    b.release()
    assert a.acquire(NOW + timedelta(seconds=92))




# -- the CLI ------------------------------------------------------------------------------

@SQLITE
def test_cli_delivers_once_and_lists_subscriptions(sup: Supply, receiver: Receiver) -> None:
    from click.testing import CliRunner
    from sqlalchemy import update

    from tracelib.store.schema import epcis_subscriptions
    from tracelib_cli.main import cli

    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    sub = subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    ships(sup, 2)
    runner = CliRunner()
    db = ledger.store.url
    listed = runner.invoke(cli, ["--db", db, "epcis", "subscriptions", "--json"])
    assert listed.exit_code == 0, listed.output
    [doc] = json.loads(listed.output)
    assert doc["subscriptionID"] == sub.id and doc["owner"] == "operator"
    assert SECRET not in listed.output
    untrusted = runner.invoke(cli, ["--db", db, "epcis", "deliver", "--once"])
    assert untrusted.exit_code == 0 and json.loads(untrusted.output)["failed"] == 1
    with ledger.store.engine.begin() as conn:  # the retry is due now, not in 2 s
        conn.execute(update(epcis_subscriptions).values(next_attempt=0))
    done = runner.invoke(cli, ["--db", db, "epcis", "deliver", "--once", "--ca",
                               str(receiver.cert)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["events"] == 2
    assert len(receiver.event_ids()) == 2
    text = runner.invoke(cli, ["--db", db, "epcis", "subscriptions"]).output
    assert f"{sub.id}  shipments  {receiver.url}" in text and "delivered 2  ok" in text


@SQLITE
def test_the_long_running_deliverer_passes_until_stopped_and_frees_the_lease(
        sup: Supply, receiver: Receiver) -> None:
    ledger = sup.ledger
    create_query(ledger, "shipments", {"EQ_bizStep": ["shipping"]}, REGULATOR)
    subscribe(ledger, "shipments", receiver.url, SECRET, REGULATOR, now=NOW)
    ships(sup, 2)
    stop = threading.Event()
    passes = []

    def on_pass(report: Any) -> None:
        passes.append(report)
        if len(passes) == 2:
            stop.set()

    deliverer = Deliverer(ledger, settings(receiver), holder="long-running")
    deliverer.run_forever(stop, poll=0.01, clock=lambda: NOW, on_pass=on_pass)
    assert [p.events for p in passes] == [2, 0]
    with ledger.store.reader() as conn:
        assert SubscriptionsSql.lease(conn, "deliverer") is None
