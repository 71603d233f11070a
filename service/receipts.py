"""Sales from a stall's scale or till, and the receipts they print (docs/contract.md
"Receipts"): ``POST /api/v1/stalls/<stall>/sales`` with a device token of the stall
records a ``sale`` signed as the stall and answers the receipt; ``/r/<receipt>`` is the
receipt page a shopper's scan of the printed QR opens (HTML for phones, JSON for
programs), with its QR for a 58 mm thermal printer at ``/r/<receipt>/qr.png`` and ``.svg``.

A receipt id is 128 bits in RFC 4648 §6 base32 (26 characters), never a counter. With the
device's receipt number it is the stall key's Ed25519 signature (RFC 8032 §5.1.6,
deterministic) of the stall, device and number, cut to 128 bits: the same number sent again
names the same receipt (idempotent), and no one without the stall's key can guess it.
Without a number it is random.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import marshmallow
from flask import Blueprint, Response, current_app, render_template
from marshmallow import RAISE, Schema, fields, validate

from tracelib import canonical
from tracelib.bounds import MAX_NUMBER
from tracelib.errors import ConflictError, NotFoundError, SignatureError
from tracelib.events import flatten_messages, sign_event
from tracelib.keys import SigningKey
from tracelib.kinds.sale import MAX_LINES
from tracelib.money import MAX_YUAN, format_yuan, line_amount, parse_yuan
from tracelib.views.receipt import payment_template, receipt_view

from . import qr
from .access import WRITE, require
from .api import _json_body, maybe_sign_checkpoint
from .extension import ledger, service
from .httputil import (
    conditional,
    etag_of,
    json_body,
    json_response,
    prepared,
    wants_json_body,
)
from .i18n import current_lang
from .ids import known
from .links import external_url
from .problems import BadInput, Forbidden
from .stall import proof_template
from .witnessing import witnessed_size

__all__ = ["bp", "payment_link", "receipt_id_for"]

bp = Blueprint("receipts", __name__)

_PRINTABLE = validate.Regexp(r"\A[^\x00-\x1f\x7f-\x9f]+\Z",
                             error="must be printable characters without control characters")


class SaleItem(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=validate.Length(min=1, max=200))
    qty = fields.String(required=True, validate=validate.Length(min=1, max=40))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=20))
    unit_price = fields.String(validate=validate.Length(min=1, max=20))


class SaleBody(Schema):
    """``{"items": [{lot, qty, unit, unit_price?}], "receipt_no"?}``"""

    class Meta:
        unknown = RAISE

    items = fields.List(fields.Nested(SaleItem), required=True,
                        validate=validate.Length(min=1, max=MAX_LINES))
    receipt_no = fields.String(validate=[validate.Length(min=1, max=MAX_NUMBER), _PRINTABLE])


def _load(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadInput("expected a JSON object {\"items\": [...]}", field="body")
    try:
        loaded: dict[str, Any] = SaleBody().load(body)
    except marshmallow.ValidationError as e:
        field, message = flatten_messages(e.messages, "")
        raise BadInput(f"{field}: {message}", field=field) from e
    return loaded


def receipt_id_for(signature: bytes) -> str:
    """128 bits of ``signature`` (or of randomness) as a receipt id: base32, no padding."""
    return base64.b32encode(signature[:16]).decode("ascii").rstrip("=")


def _priced(items: list[dict[str, Any]]) -> tuple[list[str] | None, str | None]:
    """The unit prices and the total (docs/contract.md "Receipts"), or (None, None)."""
    given = ["unit_price" in item for item in items]
    if not any(given):
        return None, None
    if not all(given):
        missing = given.index(False)
        raise BadInput("every item needs a unit_price when one has it (明码标价)",
                       field=f"items[{missing}].unit_price")
    total = Decimal(0)
    for i, item in enumerate(items):
        try:
            qty = Decimal(item["qty"])
            total += line_amount(qty, parse_yuan(item["unit_price"]))
        except (ValueError, ArithmeticError) as e:
            raise BadInput(f"items[{i}]: {e}", field=f"items[{i}].unit_price") from e
    if total > MAX_YUAN:
        raise BadInput(f"the total {format_yuan(total)} is more than {MAX_YUAN}", field="items")
    return [item["unit_price"] for item in items], format_yuan(total)


def _answer(receipt: str, total: str | None, seq: int, status: int) -> Response:
    return json_response({
        "receipt": receipt, "total": total, "seq": seq,
        "receipt_url": external_url("receipts.receipt_page", receipt=receipt),
        "qr_png": external_url("receipts.receipt_qr_png", receipt=receipt),
        "qr_svg": external_url("receipts.receipt_qr_svg", receipt=receipt)}, status=status)


def _stored(receipt: str) -> Response | None:
    led = ledger()
    with led.store.reader() as conn:
        row = led.store.find_events(conn, [receipt]).get(receipt)
    if row is None:
        return None
    doc = canonical.loads(bytes(row["body"]))
    return _answer(receipt, doc.get("data", {}).get("total"), int(row["seq"]), 200)


@bp.post("/api/v1/stalls/<stall>/sales")
def post_sale(stall: str) -> Response:
    who = require(WRITE)
    known(stall, "stall")
    if who.device is None:
        raise Forbidden("sales are recorded with a device token of the stall: tracelib token "
                        "issue STALL --device NAME", reason="device_token")
    if who.stall != stall:
        raise Forbidden(f"this token is device {who.device!r} of stall {who.stall!r}, not of "
                        f"{stall!r}", reason="device_token")
    body = _load(_json_body())
    led, ext = ledger(), service()
    place = led.location(stall)
    if place is None or place.type != "stall" or place.holder != who.party:
        raise Forbidden(f"stall {stall!r} is not held by {who.party!r}", reason="device_token")
    try:
        key = _signing_key(who.party)
    except NotFoundError as e:
        raise SignatureError(f"the service holds no key for {who.party!r} to sign the stall's "
                             "sales") from e
    number = body.get("receipt_no")
    if number is None:
        receipt = receipt_id_for(secrets.token_bytes(16))
    else:
        receipt = receipt_id_for(key.sign(
            f"tracelib receipt id\n{stall}\n{who.device}\n{number}".encode()))
        found = _stored(receipt)
        if found is not None:  # the device sent this receipt before: the same answer
            return found
    prices, total = _priced(body["items"])
    data: dict[str, Any] = {"receipt": number or receipt, "device": who.device}
    if prices is not None:
        data.update(unit_prices=prices, total=total)
    doc = {"id": receipt, "kind": "sale", "time": ext.now().isoformat(timespec="seconds"),
           "actor": who.party, "location": stall,
           "inputs": [{k: item[k] for k in ("lot", "qty", "unit")} for item in body["items"]],
           "data": data}
    try:
        # all-or-nothing: one event, one append transaction (docs/contract.md "Receipts")
        (stored,) = led.append([sign_event(doc, key)], now=ext.now())
    except ConflictError:
        found = _stored(receipt)  # the same number from two requests at once
        if found is None:
            raise
        return found
    maybe_sign_checkpoint()
    return _answer(receipt, total, stored.seq, 200 if stored.duplicate else 201)


def _signing_key(party: str) -> SigningKey:
    """The key the service signs ``party``'s sales with, kept per worker while the ledger
    says it is live (the keystore's files are read once, not at every sale; a key revoked
    or rotated out is chosen again from the keystore)."""
    led, ext = ledger(), service()
    live = {k.key_id for k in led.keys_of(party) if k.revoked_seq is None}
    keys: dict[str, SigningKey] = current_app.extensions.setdefault("tracelib_sale_keys", {})
    found = keys.get(party)
    if found is not None and found.key_id in live:
        return found
    key = led.signing_key(ext.keystore, party)
    keys[party] = key
    return key


def payment_link(template: str | None, *, amount: str, order: str, stall: str) -> str | None:
    """The payment link of a template (docs/contract.md "Payments"): each placeholder
    filled percent-encoded (RFC 3986 §2.1)."""
    if template is None:
        return None
    return (template.replace("{amount}", quote(amount, safe=""))
            .replace("{order}", quote(order, safe="")).replace("{stall}", quote(stall, safe="")))


def _view(receipt: str) -> dict[str, Any]:
    view = receipt_view(ledger(), receipt, proof_url=proof_template(),
                        witnessed=witnessed_size())
    stall = view["stall"]["id"]
    total = view["receipt"]["total"]
    view["pay_url"] = (payment_link(payment_template(ledger(), stall), amount=total,
                                    order=receipt, stall=stall)
                       if total is not None and view["payment"] is None else None)
    return view


#: receipt answers kept per worker (each a few kB), least recently used dropped first
CACHED_RECEIPTS = 2048
_Cached = tuple[tuple[int, int], bytes, str, str]  # version, body, type, ETag
_cache_lock = threading.Lock()


def _cache() -> OrderedDict[tuple[Any, ...], _Cached]:
    found: OrderedDict[tuple[Any, ...], _Cached] = current_app.extensions.setdefault(
        "tracelib_receipts", OrderedDict())
    return found


def _cached_body(receipt: str, as_json: bool) -> tuple[bytes, str, str]:
    """The receipt's body and type, from this worker's cache while the ledger has not
    moved (an append — a hold, a recall, a payment — or a signed checkpoint changes its
    version, so the next scan shows it, as the stall page's cache does)."""
    lang = None if as_json else current_lang()
    key = (receipt, as_json, lang, proof_template(), witnessed_size())
    version = service().ledger_version()
    cache = _cache()
    with _cache_lock:
        found = cache.get(key)
        if found is not None and found[0] == version:
            cache.move_to_end(key)
            return found[1], found[2], found[3]
    view = _view(receipt)
    if as_json:
        body, kind = json_body(view), "application/json"
    else:
        body, kind = render_template("receipt.html", v=view).encode("utf-8"), "text/html"
    etag = etag_of(body)
    with _cache_lock:
        cache[key] = (version, body, kind, etag)
        cache.move_to_end(key)
        while len(cache) > CACHED_RECEIPTS:
            cache.popitem(last=False)
    return body, kind, etag


@bp.get("/r/<receipt>")
def receipt_page(receipt: str) -> Response:
    body, kind, etag = _cached_body(receipt, wants_json_body())
    return prepared(body, etag, kind, vary=("Accept", "Accept-Language"))


def _receipt_url(receipt: str) -> str:
    receipt_view(ledger(), receipt, proof_url=proof_template())  # 404 unless a receipt
    return external_url("receipts.receipt_page", receipt=receipt)


@bp.get("/r/<receipt>/qr.png")
def receipt_qr_png(receipt: str) -> Response:
    response = current_app.response_class(qr.receipt_qr_png(_receipt_url(receipt)),
                                          mimetype="image/png")
    return conditional(response, vary=())


@bp.get("/r/<receipt>/qr.svg")
def receipt_qr_svg(receipt: str) -> Response:
    response = current_app.response_class(qr.receipt_qr_svg(_receipt_url(receipt)),
                                          mimetype="image/svg+xml")
    return conditional(response, vary=())
