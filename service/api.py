"""The JSON API, ``/api/v1``: write events, read events, traces, stalls, checkpoints and
Merkle proofs. Each endpoint's scope is declared in :data:`.access.ENDPOINTS` and checked
before the view runs: writes need a token with ``write`` acting for one party; records and
traces need a read scope covering them; stalls, checkpoints and proofs are public (a proof
reveals hashes, not data)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import marshmallow
from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import RAISE, Schema, fields, validate
from werkzeug.exceptions import UnsupportedMediaType

from tracelib import canonical
from tracelib.errors import NotFoundError, SignatureError, ValidationError
from tracelib.events import flatten_messages, sign_event
from tracelib.views.disclosure import (
    PUBLIC,
    disclose_stall,
    disclose_trace,
    event_in_reach,
    lot_in_reach,
    widen,
)
from tracelib.views.stall import stall_view
from tracelib.views.tracing import trace
from tracelib.witness import cosigned_note

from .access import WRITE, current_principal, forbid_other_books, reach, require
from .extension import ledger, service
from .httputil import conditional, json_response, read_body
from .ids import known, nul_path
from .openapi import MAX_SEQ, openapi_document
from .problems import BadInput, Forbidden
from .stall import proof_template
from .witnessing import ask_witnesses_later, witness_status, witnessed_size

__all__ = ["bp", "maybe_sign_checkpoint"]

bp = Blueprint("api", __name__, url_prefix="/api/v1")


_DIGITS = re.compile(r"\A[0-9]+\Z")


class Count(fields.Integer):
    """A whole number as a query string writes it: ASCII digits only — no sign, blank,
    fraction, exponent or other script's digits (``int()`` would take ``" 1"`` and ``"１"``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not _DIGITS.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class EventsBody(Schema):
    """``{"events": [...]}`` (a bare JSON array is accepted as the same)."""

    class Meta:
        unknown = RAISE

    events = fields.List(fields.Dict(), required=True)


class TraceQuery(Schema):
    class Meta:
        unknown = RAISE

    direction = fields.String(load_default="both",
                              validate=validate.OneOf(("both", "back", "forward")))


class InclusionQuery(Schema):
    class Meta:
        unknown = RAISE

    size = Count(validate=validate.Range(min=1, max=MAX_SEQ))


class ConsistencyQuery(Schema):
    class Meta:
        unknown = RAISE

    first = Count(required=True, validate=validate.Range(min=1, max=MAX_SEQ))
    second = Count(validate=validate.Range(min=1, max=MAX_SEQ))


def _load(schema: Schema, value: Any, *, prefix: str = "") -> dict[str, Any]:
    try:
        result: dict[str, Any] = schema.load(value)
    except marshmallow.ValidationError as e:
        field, message = flatten_messages(e.messages, prefix)
        raise BadInput(f"{field}: {message}", field=field) from e
    return result


def _query(schema: Schema) -> dict[str, Any]:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return _load(schema, args)


def _json_body() -> Any:
    if not request.mimetype or not (request.mimetype == "application/json"
                                     or request.mimetype.endswith("+json")):
        raise UnsupportedMediaType("send the events as application/json")
    raw = read_body()  # 413 past MAX_CONTENT_LENGTH, however the body is sent
    try:
        doc = canonical.loads(raw)  # strict: no duplicate keys, no floats
    except ValidationError as e:
        raise BadInput(f"malformed JSON: {e}",
                       field=e.field or _number_path(raw) or "body") from e
    where = nul_path(doc) if b"\\u0000" in raw else None  # JSON can carry NUL only escaped
    if where is not None:
        raise BadInput(f"malformed JSON: field {where!r}: a string holds U+0000 (NUL), which "
                       "the ledger does not store", field=where)
    return doc


class _Refused:
    """Where the strict parser refused a number: a fraction, exponent, NaN or Infinity, or an
    integer beyond ±MAX_SAFE_INTEGER (RFC 7493 §2.2)."""


def _whole(text: str) -> Any:
    try:
        value = int(text)
    except ValueError:  # more digits than int() takes
        return _Refused()
    return value if abs(value) <= canonical.MAX_SAFE_INTEGER else _Refused()


def _number_path(raw: bytes) -> str | None:
    """The field of the first number :func:`tracelib.canonical.loads` refuses, as the
    events' fields are named (``events[0].inputs[0].qty``); None when none is found."""
    try:
        doc = json.loads(raw, parse_float=lambda _: _Refused(), parse_int=_whole,
                         parse_constant=lambda _: _Refused())
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, str]] = [(doc, "events" if isinstance(doc, list) else "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Refused):
            return path or "body"
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k))
                         for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(value))))
    return None


def _events_of(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, list):
        doc = {"events": doc}
    if not isinstance(doc, Mapping):
        raise BadInput("expected a JSON array of events or an object {\"events\": [...]}",
                       field="body")
    events: list[dict[str, Any]] = _load(EventsBody(), doc)["events"]
    limit = int(current_app.config["API_MAX_EVENTS"])
    if not 1 <= len(events) <= limit:
        raise BadInput(f"expected 1 to {limit} events, got {len(events)}", field="events")
    return events


def _sign_as(party: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check every event acts for ``party``; sign the unsigned ones with its custodial key."""
    for i, doc in enumerate(events):
        if doc.get("actor") != party:
            raise Forbidden(f"events[{i}] (id {str(doc.get('id'))[:200]!r}) acts for "
                            f"{str(doc.get('actor'))[:200]!r}, but this token acts for {party!r}")
    signed: list[dict[str, Any]] = []
    key = None
    for i, doc in enumerate(events):
        if "sig" in doc:
            signed.append(doc)
            continue
        if key is None:
            ext = service()
            try:
                assert ext.ledger is not None
                key = ext.ledger.signing_key(ext.keystore, party)
            except NotFoundError as e:
                raise SignatureError(f"events[{i}] is unsigned and the service holds no "
                                     f"custodial key for {party!r}: sign it yourself",
                                     field="sig", line=i + 1) from e
        signed.append(sign_event(doc, key))
    return signed


def maybe_sign_checkpoint() -> dict[str, Any] | None:
    """A checkpoint signed after a write, when the service signs them and holds the operator
    key (the API, the regulator's API and the console call it after appending)."""
    ext = service()
    led = ledger()
    if current_app.config["SIGN_CHECKPOINTS"] and ext.keystore.has_party(led.operator):
        memory = led.signer_memory(ext.keystore)
        starting = not memory.exists()
        try:
            before = led.latest_checkpoint()
            signed = led.sign_checkpoint(led.signing_key(ext.keystore, led.operator),
                                         now=ext.now(), memory=memory)
            if before is None or before.size != signed.size:
                # docs/contract.md "Witnesses": asked in the background, never awaited
                ask_witnesses_later(led, signed)
            if starting:
                current_app.logger.warning(
                    "the operator's signer remembered no earlier checkpoint of %r; from now on "
                    "it remembers the newest it signed (size %d) in %s", led.origin,
                    signed.size, memory.path)
            return signed.to_dict()
        except OSError as e:  # the signer cannot remember, so it signed nothing; the events
            # are stored (their own transaction), and the answer says which checkpoint holds
            current_app.logger.error("checkpoint not signed: the operator's signer cannot "
                                     "write its memory: %s", e)
    latest = led.latest_checkpoint()
    return latest.to_dict() if latest else None


@bp.post("/events")
def post_events() -> Response:
    party = require(WRITE).party
    assert party is not None
    events = _sign_as(party, _events_of(_json_body()))
    # An event citing an attachment not in the blob store is refused (docs/integrity.md
    # "Attachments"): upload it first, PUT /api/v1/blobs/sha256:<hex>.
    receipts = ledger().append(events, now=service().now(), require_attachments=True)
    fresh = any(not r.duplicate for r in receipts)
    checkpoint = maybe_sign_checkpoint() if fresh else None
    body = {"receipts": [{**r.to_dict(), "url": url_for("api.get_event", event_id=r.event_id)}
                         for r in receipts],
            "checkpoint": checkpoint}
    return json_response(body, status=201 if fresh else 200)


@bp.get("/events/<path:event_id>")
def get_event(event_id: str) -> Response:
    record = ledger().record_for_event(known(event_id, "event"))
    doc = record.to_dict()
    if not event_in_reach(ledger(), reach(ledger()), doc["event"]):
        raise forbid_other_books(f"event {event_id!r}")
    doc["proof"] = url_for("api.inclusion_proof", seq=record.seq)
    return conditional(json_response(doc))


@bp.get("/lots/<path:lot>/trace")
def lot_trace(lot: str) -> Response:
    direction = _query(TraceQuery())["direction"]
    led = ledger()
    answer = trace(led, known(lot, "lot"), back=direction != "forward",
                   forward=direction != "back")
    mine = reach(led)
    if not lot_in_reach(led, mine, lot):
        raise forbid_other_books(f"lot {lot!r}")
    near = widen(led, mine, [lot, *answer.upstream_lots, *answer.downstream_lots])
    return conditional(json_response(disclose_trace(answer.to_dict(), near)))


@bp.get("/stalls/<stall>")
def get_stall(stall: str) -> Response:
    ext = service()
    view = stall_view(ledger(), known(stall, "stall"), today=ext.today(), rules=ext.rules,
                      proof_url=proof_template(), witnessed=witnessed_size())
    mine = reach(ledger()) if current_principal().reads else PUBLIC
    return conditional(json_response(disclose_stall(view, mine)))


@bp.get("/checkpoint")
def get_checkpoint() -> Response:
    led = ledger()
    latest = led.latest_checkpoint()
    if latest is None:
        raise NotFoundError("no signed checkpoint yet")
    # The note with the witnesses' cosignature lines (C2SP tlog-cosignature), as stored.
    note = cosigned_note(led, latest.size) or latest.note
    best = request.accept_mimetypes.best_match(["application/json", "text/plain"],
                                               default="application/json")
    if best == "text/plain":  # the C2SP signed note itself, for witnesses and auditors
        response = current_app.response_class(note, mimetype="text/plain")
    else:
        body: dict[str, Any] = {**latest.to_dict(), "note": note, "signed": True,
                                "cosignatures": note[len(latest.note):].splitlines()}
        status = witness_status()
        if status is not None:
            body["witnessing"] = status.to_dict()
        response = json_response(body)
    return conditional(response)


@bp.get("/proofs/inclusion/<seq:seq>")
def inclusion_proof(seq: int) -> Response:
    size = _query(InclusionQuery()).get("size")
    proof = ledger().inclusion_proof(seq, size)
    return conditional(json_response(proof.to_dict()))


@bp.get("/proofs/consistency")
def consistency_proof() -> Response:
    args = _query(ConsistencyQuery())
    proof = ledger().consistency_proof(args["first"], args.get("second"))
    return conditional(json_response(proof.to_dict()))


@bp.get("/openapi.json")
def openapi() -> Response:
    return json_response(openapi_document(
        request.script_root, max_events=int(current_app.config["API_MAX_EVENTS"])))
