"""Peer ledgers over HTTP (docs/contract.md "Peers and entries from another ledger"): what
this ledger answers to a peer that follows a lot (the family's records with their proofs,
the record that registered a key), bringing a peer's shipment in, and telling peers of a
recall."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app
from marshmallow import RAISE, Schema, fields, validate

from tracelib.errors import NotFoundError, PeerError, ValidationError
from tracelib.federation import (
    HttpPeer,
    accept_notice,
    lot_records,
    notify_peers,
    peer_entry_event,
    peers_of,
    peers_reached,
)
from tracelib.ids import ID_PATTERN
from tracelib.ledger import Ledger
from tracelib.recalls import RecallResult

from .access import WRITE, require
from .api import _json_body, _load, _sign_as, maybe_sign_checkpoint
from .background import run_later
from .extension import ledger, service
from .httputil import conditional, json_response
from .ids import known
from .problems import Forbidden

bp = Blueprint("peers", __name__, url_prefix="/api/v1")


def peer_tokens() -> dict[str, str]:
    """``PEER_TOKENS`` (``TRACELIB_PEER_TOKENS``): ``ORIGIN=TOKEN`` words, the bearer token
    this service sends to each peer's API."""
    words = str(current_app.config.get("PEER_TOKENS") or "").split()
    out = {}
    for word in words:
        origin, sep, token = word.rpartition("=")
        if sep and origin and token:
            out[origin] = token
    return out


def notify_peers_later(led: Ledger, result: RecallResult) -> list[str]:
    """The peer ledgers a recall's shipments went to (docs/contract.md "Peers and entries
    from another ledger"), told of it after the answer, in the background: each gets a
    notice of the recall records with their inclusion proof, sent with ``PEER_TOKENS``. A
    peer that does not take it is logged with the command that sends it again."""
    reached = sorted(peers_reached(led, result.in_transit))
    if reached:
        tokens = peer_tokens()
        logger = current_app.logger

        def send() -> None:
            try:
                for origin, ships in sorted(notify_peers(led, result, tokens=tokens).items()):
                    logger.info("peer ledger %s told of the recall of %s (shipments %s)",
                                origin, result.lot, ", ".join(ships))
            except PeerError as e:
                logger.warning("%s", e)

        run_later(f"peer-notices-{result.lot}", send,
                  f"telling the peer ledgers of the recall of {result.lot} failed")
    return reached


class ReceiveBody(Schema):
    class Meta:
        unknown = RAISE

    peer = fields.String(required=True, validate=validate.Length(min=1, max=500))
    ship_event = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    location = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    product = fields.String(required=True, validate=validate.Length(min=1, max=500))
    storage = fields.String(validate=validate.OneOf(("ambient", "chilled", "frozen")))


@bp.get("/lots/<path:lot>/records")
def get_lot_records(lot: str) -> Response:
    return conditional(json_response(lot_records(ledger(), known(lot, "lot"))))


@bp.get("/keys/<key_id>")
def get_key_record(key_id: str) -> Response:
    led = ledger()
    with led.store.reader() as conn:
        key = led.store.key(conn, key_id)
    if key is None:
        raise NotFoundError(f"unknown key {key_id[:40]!r}")
    record = led.record(key.registered_seq)
    return conditional(json_response({"key_id": key.key_id, "party": key.party,
                                      "revoked_seq": key.revoked_seq,
                                      "record": record.to_dict()}))


@bp.post("/peers/receive")
def post_peer_receive() -> Response:
    party = require(WRITE).party
    assert party is not None
    body: dict[str, Any] = _load(ReceiveBody(), _json_body())
    led = ledger()
    # Who may receive here is decided before any peer is asked (the kind checks it again at
    # append): the holder of the receiving point or of its parent.
    place = led.location(body["location"])
    if place is None:
        raise NotFoundError(f"no location {body['location']!r}")
    parent = led.location(place.parent) if place.parent else None
    if party not in (place.holder, parent.holder if parent is not None else None):
        raise Forbidden(f"{party!r} holds neither {place.id!r} nor its parent: a peer's "
                        "shipment enters at a receiving point of the token's own party")
    found = {p.origin: p for p in peers_of(led)}
    if body["peer"] not in found:
        raise ValidationError(f"unknown peer {body['peer']!r}", field="peer")
    peer = found[body["peer"]]
    ext = service()
    now = ext.now()
    doc = peer_entry_event(
        led, HttpPeer(peer.url, peer.origin, peer_tokens().get(peer.origin)),
        ship_event=body["ship_event"], location=body["location"], actor=party,
        product=body["product"], storage=body.get("storage"),
        event_id=f"pentry-{now.strftime('%Y%m%dT%H%M%S%f')}", now=now)
    receipt = led.append(_sign_as(party, [doc]), now=now)[0]
    return json_response({"receipt": receipt.to_dict(), "outputs": doc["outputs"],
                          "checkpoint": maybe_sign_checkpoint()}, status=201)


@bp.post("/peers/notices")
def post_peer_notice() -> Response:
    """A peer's recall notice (docs/contract.md "Peers and entries from another ledger"):
    kept when it proves itself against the peer's registered key; the console shows it."""
    party = require(WRITE).party
    sender = ledger().party(party) if party is not None else None
    if sender is None or sender.role not in ("operator", "regulator"):
        raise Forbidden("a peer's recall notice is taken with a token of this ledger's "
                        "operator or a regulator (the one its operator gave the peer)")
    body = _json_body()
    if not isinstance(body, dict):
        raise ValidationError("a recall notice is a JSON object", field="notice")
    notice, fresh = accept_notice(ledger(), body, now=service().now())
    return json_response({"peer": notice.origin, "recall_event": notice.recall_event,
                          "recall_seq": notice.recall_seq, "received_at": notice.received_at},
                         status=201 if fresh else 200)

