"""Payment notifications from a market's aggregated-payment provider (docs/contract.md
"Payments"): ``POST /api/v1/payments/notify`` records a ``payment`` event against a
receipt, so the receipt page shows 已付款. No card or account data ever reaches tracelib:
the shopper pays on the provider's cashier page, which the stall and receipt pages only
link to.

A notification is accepted only when signed: ``X-Tracelib-Market`` names the market and
``X-Tracelib-Signature: sha256=<hex>`` is HMAC-SHA256 (RFC 2104) of the raw body with that
market's shared secret. The secrets are service configuration, never ledger data:
``PAYMENT_SECRETS`` (``MARKET=SECRET`` pairs separated by spaces or new lines) or
``PAYMENT_SECRETS_FILE`` (a file of such lines, readable by its owner only, 0600).
A notification sent more than :data:`WINDOW` from now, one for a receipt already paid
(a replay) and one whose amount is not the receipt's total are refused, and nothing is
stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import marshmallow
from flask import Blueprint, Flask, Response, current_app, request
from marshmallow import RAISE, Schema, fields, validate

from tracelib import canonical
from tracelib.bounds import MAX_NUMBER
from tracelib.errors import ConflictError, NotFoundError, ValidationError
from tracelib.events import flatten_messages, sign_event
from tracelib.kinds.payment import ID_PREFIX
from tracelib.money import parse_yuan
from tracelib.timeutil import parse_rfc3339
from tracelib.views.receipt import RECEIPT_ID

from .api import maybe_sign_checkpoint
from .extension import ledger, service
from .httputil import json_response, read_body
from .problems import BadInput, Forbidden, Unauthorized

__all__ = ["WINDOW", "bp", "init_app", "parse_secrets", "sign_notification"]

bp = Blueprint("payments", __name__, url_prefix="/api/v1/payments")

#: how far a notification's ``sent_at`` may be from the service's clock
WINDOW = timedelta(minutes=5)
#: the shortest shared secret accepted (128 bits of a random text's worth)
MIN_SECRET = 16

class Notification(Schema):
    class Meta:
        unknown = RAISE

    notification = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER))
    receipt = fields.String(required=True, validate=validate.Regexp(RECEIPT_ID.pattern))
    amount = fields.String(required=True, validate=validate.Length(min=1, max=20))
    provider_ref = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER))
    paid_at = fields.String(required=True, validate=validate.Length(min=1, max=40))
    sent_at = fields.String(required=True, validate=validate.Length(min=1, max=40))
    provider = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER))


def parse_secrets(text: str) -> dict[str, bytes]:
    """``MARKET=SECRET`` pairs (spaces or new lines between them; ``#`` starts a comment
    line) to each market's secret. Raises ValueError naming the bad pair (never the secret)."""
    found: dict[str, bytes] = {}
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue
        for pair in line.split():
            market, sep, secret = pair.partition("=")
            if not sep or not market or len(secret) < MIN_SECRET:
                raise ValueError(f"payment secrets: expected MARKET=SECRET with a secret of at "
                                 f"least {MIN_SECRET} characters, got one for {market!r}")
            found[market] = secret.encode("utf-8")
    return found


def init_app(app: Flask) -> None:
    """Read the markets' shared secrets once, at start; a file others may read is refused."""
    secrets = parse_secrets(str(app.config.get("PAYMENT_SECRETS") or ""))
    path = app.config.get("PAYMENT_SECRETS_FILE")
    if path:
        file = Path(str(path))
        mode = os.stat(file).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(f"payment secrets file {file} may be read by others "
                             f"(mode {stat.S_IMODE(mode):o}): chmod 600 it")
        secrets.update(parse_secrets(file.read_text(encoding="utf-8")))
    app.extensions["tracelib_payment_secrets"] = secrets


def sign_notification(secret: bytes, body: bytes) -> str:
    """The ``X-Tracelib-Signature`` value of ``body``: ``sha256=`` and the HMAC-SHA256 of
    the body with the market's secret (RFC 2104), in hex (what a provider sends)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _checked_market(raw: bytes) -> str:
    market = request.headers.get("X-Tracelib-Market", "")
    signature = request.headers.get("X-Tracelib-Signature", "")
    secrets: dict[str, bytes] = current_app.extensions.get("tracelib_payment_secrets", {})
    secret = secrets.get(market)
    # the same comparison whether the market is known or not (no timing oracle on names)
    expected = sign_notification(secret or b"\0" * MIN_SECRET, raw)
    if not hmac.compare_digest(expected.encode(), signature.encode()) or secret is None:
        raise Unauthorized("the notification is not signed with this market's shared secret "
                           "(X-Tracelib-Market, X-Tracelib-Signature: sha256=<hex>)")
    return market


def _load(raw: bytes) -> dict[str, Any]:
    try:
        doc = canonical.loads(raw)
        if not isinstance(doc, dict):
            raise BadInput("expected a JSON object", field="body")
        loaded: dict[str, Any] = Notification().load(doc)
    except ValidationError as e:
        raise BadInput(f"malformed JSON: {e}", field="body") from e
    except marshmallow.ValidationError as e:
        field, message = flatten_messages(e.messages, "")
        raise BadInput(f"{field}: {message}", field=field) from e
    for name in ("paid_at", "sent_at"):
        try:
            parse_rfc3339(loaded[name], field=name)
        except ValidationError as e:
            raise BadInput(f"{name}: {e}", field=name) from e
    try:
        parse_yuan(loaded["amount"], fen_only=True)
    except ValueError as e:
        raise BadInput(f"amount: {e}", field="amount") from e
    return loaded


@bp.post("/notify")
def notify() -> Response:
    raw = read_body()
    market = _checked_market(raw)
    note = _load(raw)
    ext, led = service(), ledger()
    now = ext.now()
    if abs(parse_rfc3339(note["sent_at"], field="sent_at") - now) > WINDOW:
        raise Unauthorized(f"the notification was sent at {note['sent_at']}, more than "
                           f"{int(WINDOW.total_seconds())} s from now: refused as a replay")
    receipt = note["receipt"]
    with led.store.reader() as conn:
        rows = led.store.find_events(conn, [receipt, ID_PREFIX + receipt])
    sale_row = rows.get(receipt)
    if sale_row is None or sale_row["kind"] != "sale":
        raise NotFoundError(f"no receipt {receipt!r}")
    if ID_PREFIX + receipt in rows:
        raise ConflictError(f"receipt {receipt!r} is already paid: a notification is recorded "
                            "once (replayed)")
    sale = canonical.loads(bytes(sale_row["body"]))
    stall = led.location(sale["location"])
    if stall is None or stall.parent != market:
        raise Forbidden(f"receipt {receipt!r} is not of a stall of market {market!r}")
    total = sale.get("data", {}).get("total")
    if total is None:
        raise ValidationError(f"receipt {receipt!r} has no prices, so no total to pay",
                              field="receipt")
    if parse_yuan(total) != parse_yuan(note["amount"]):
        raise ValidationError(f"amount does not match the receipt: expected {total}, got "
                              f"{note['amount']}", field="amount")
    place = led.location(market)
    signer = place.holder if place is not None and place.holder else led.operator
    try:
        key = led.signing_key(ext.keystore, signer)
    except NotFoundError:  # the market's own key is not here: the operator records it
        signer = led.operator
        key = led.signing_key(ext.keystore, signer)
    data = {"receipt": receipt, "amount": note["amount"], "provider_ref": note["provider_ref"],
            "paid_at": note["paid_at"], "notification": note["notification"]}
    if "provider" in note:
        data["provider"] = note["provider"]
    doc = {"id": ID_PREFIX + receipt, "kind": "payment",
           "time": now.isoformat(timespec="seconds"), "actor": signer,
           "location": sale["location"], "data": data}
    try:
        (stored,) = led.append([sign_event(doc, key)], now=now)
    except ConflictError as e:  # the same receipt paid by two notifications at once
        raise ConflictError(f"receipt {receipt!r} is already paid (replayed)") from e
    if stored.duplicate:
        raise ConflictError(f"receipt {receipt!r} is already paid (replayed)")
    maybe_sign_checkpoint()
    return json_response({"payment": ID_PREFIX + receipt, "receipt": receipt,
                          "amount": note["amount"], "seq": stored.seq}, status=201)
