"""The event envelope (data contract v1): one hop of a lot.

An :class:`Event` cannot be built invalid: :meth:`Event.from_dict` validates the
envelope with marshmallow, then the kind's own ``data`` schema. The signed and
stored bytes are the RFC 8785 canonical form of the event *as sent* without
``sig`` (defaults such as ``inputs: []`` are not inserted), so a partner's
signature over its own bytes always verifies here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import marshmallow
from marshmallow import RAISE, Schema, fields, validate

from . import canonical
from ._fastschema import loader_for
from .bounds import MAX_UNIT
from .errors import ValidationError
from .ids import ID_PATTERN, id_field
from .keys import SigningKey
from .kinds import kind_spec
from .quantity import LotQuantity
from .timeutil import parse_event_time, to_micros

__all__ = ["Event", "LotQuantity", "Signature", "sign_bodies", "sign_event"]

_id = id_field()
# docs/contract.md "Event": qty is a decimal string > 0 ("12.50"); at most 12 digits before and 6 after the
# point, so every quantity is an exact integer count of micro-units in the indexes.
_QTY = re.compile(r"\A(?:0|[1-9]\d{0,11})(?:\.\d{1,6})?\Z")
_KEY_ID = r"\A[0-9a-f]{16}\Z"


_UNIT = re.compile(rf"\A[^\x00-\x1f\x7f-\x9f\s]{{1,{MAX_UNIT}}}\Z")
_ID = re.compile(ID_PATTERN)
_LOT_FIELDS = frozenset(("lot", "qty", "unit"))
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class LotQuantities(fields.Field[list[dict[str, str]]]):
    """A list of ``{lot, qty, unit}`` (docs/contract.md ``inputs`` / ``outputs``).

    One field instead of a nested schema per item: the envelope is validated for
    every appended event, and nested marshmallow schemas cost more than the
    signature check they precede. Errors keep marshmallow's shape
    (``{index: {field: [message]}}``), so paths read ``inputs[0].qty``.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise marshmallow.ValidationError("must be a list of {lot, qty, unit} objects")
        for index, item in enumerate(value):
            problem = _lot_quantity_problem(item)
            if problem is not None:
                raise marshmallow.ValidationError({index: problem})
        return value


def _lot_quantity_problem(item: Any) -> dict[str, list[str]] | list[str] | None:
    if not isinstance(item, dict):
        return ["must be an object {lot, qty, unit}"]
    for name in item.keys() - _LOT_FIELDS:
        return {name: ["Unknown field."]}
    for name in ("lot", "qty", "unit"):
        if name not in item:
            return {name: ["Missing data for required field."]}
        if not isinstance(item[name], str):
            return {name: ["Not a valid string."]}
    if not _ID.match(item["lot"]):
        return {"lot": ["must be 1-200 characters without control characters"]}
    qty = item["qty"]
    if not _QTY.match(qty) or Decimal(qty) <= 0:
        return {"qty": [f"expected a decimal string greater than 0 like \"12.50\", got {qty!r}"]}
    if not _UNIT.match(item["unit"]):
        return {"unit": ["must be a unit like kg, head, box"]}
    return None


class _SigSchema(Schema):
    """docs/contract.md "Signature": ``{key, value}``."""

    class Meta:
        unknown = RAISE

    key = fields.String(required=True, validate=validate.Regexp(
        _KEY_ID, error="must be a 16-hex-digit key id"), metadata={
            "description": "id of the signing key: the first 8 bytes of SHA-256 of the raw "
                           "Ed25519 public key, in hex; a key registered for the actor "
                           "(`register`) and not revoked"})
    value = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "the 64-byte Ed25519 signature, base64, over the RFC 8785 canonical "
                       "bytes of the event without `sig`"})


class EnvelopeSchema(Schema):
    """docs/contract.md "Event": required id, kind, time, actor, location, data."""

    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=_id, metadata={
        "description": "the event's id, unique in the ledger: the same id with the same bytes "
                       "is stored once, with other bytes it is rejected"})
    kind = fields.String(required=True, metadata={
        "description": "what happened; decides the `data` schema and the rules at append"})
    time = fields.String(required=True, metadata={
        "description": "when it happened: RFC 3339 with a UTC offset within ±14:00, e.g. "
                       "`2026-11-22T06:10:00+08:00`; not before 2000-01-01 nor more than 10 "
                       "minutes after the time it is recorded"})
    actor = fields.String(required=True, validate=_id, metadata={
        "description": "the registered party that did it and signs the event"})
    location = fields.String(required=True, validate=_id, metadata={
        "description": "the registered location where it happened"})
    inputs = LotQuantities(load_default=list, metadata={
        "description": "the lots the event acts on at `location`: shipped, received, "
                       "consumed, sold, held, …"})
    outputs = LotQuantities(load_default=list, metadata={
        "description": "lots the event makes at `location` (by `origin`, `slaughter`, "
                       "`transform`)"})
    data = fields.Dict(required=True, metadata={
        "description": "the kind's own fields: see the kind's section below"})
    sig = fields.Nested(_SigSchema, metadata={
        "description": "the actor's signature; `tracelib append` adds it to an unsigned event "
                       "when the actor's key is in the local keystore"})


_ENVELOPE = EnvelopeSchema()


def flatten_messages(messages: Any, prefix: str = "") -> tuple[str, str]:
    """First (field path, message) of a marshmallow error tree, e.g. ("inputs[0].qty", "...")."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if isinstance(key, int):
                path = f"{prefix}[{key}]"
            elif key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            return flatten_messages(value, path)
    if isinstance(messages, list) and messages:
        return flatten_messages(messages[0], prefix)
    return prefix or "event", str(messages)


def load_with(schema: Schema, value: Any, *, prefix: str) -> dict[str, Any]:
    """Run a marshmallow schema, turning its error tree into one tracelib ValidationError.

    The schema's compiled loader (:mod:`tracelib._fastschema`) answers first: it returns
    exactly ``schema.load(value)`` or declines, and marshmallow runs only when it declines,
    so every result and every error message is marshmallow's."""
    fast: dict[str, Any] | None = loader_for(schema)(value)
    if fast is not None:
        return fast
    try:
        result: dict[str, Any] = schema.load(value)
    except marshmallow.ValidationError as e:
        field, message = flatten_messages(e.messages, prefix)
        raise ValidationError(message, field=field) from e
    return result


@dataclass(frozen=True, slots=True)
class Signature:
    key: str
    value: bytes

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": base64.b64encode(self.value).decode("ascii")}


@dataclass(frozen=True)
class Event:
    """One validated hop. ``body`` is what is signed and stored (canonical, without sig)."""

    id: str
    kind: str
    time: datetime
    time_text: str
    time_us: int
    actor: str
    location: str
    inputs: tuple[LotQuantity, ...]
    outputs: tuple[LotQuantity, ...]
    data: Mapping[str, Any]
    sig: Signature | None
    body: bytes

    @classmethod
    def from_dict(cls, doc: Any) -> Event:
        """Validate a wire-form event (docs/contract.md) and return it; ValidationError names the field."""
        loaded, moment, body, sig = cls.validate(doc)
        return cls.assemble(loaded, moment, body, sig)

    @staticmethod
    def validate(doc: Any) -> tuple[Mapping[str, Any], datetime, bytes, Signature | None]:
        """Everything :meth:`from_dict` checks, returning what it derives (the loaded
        document, its time, its canonical body and decoded signature) without building
        the Event: the signature pool sends back only the body and signature."""
        if not isinstance(doc, Mapping):
            raise ValidationError(f"expected a JSON object, got {type(doc).__name__}", field="event")
        loaded = load_with(_ENVELOPE, doc, prefix="")
        event_id = loaded["id"]
        try:
            spec = kind_spec(loaded["kind"])
            moment = parse_event_time(loaded["time"], field="time")
            load_with(spec.data_schema, loaded["data"], prefix="data")
            unsigned = {k: v for k, v in doc.items() if k != "sig"}
            body = canonical.dumps(unsigned)
            if _NUL_ESCAPE in body and _has_nul(body):
                raise ValidationError("U+0000 (NUL) is not allowed in an event",
                                      field=nul_path(unsigned) or "event")
            sig = None
            if "sig" in loaded:
                try:
                    raw = base64.b64decode(loaded["sig"]["value"], validate=True)
                except (binascii.Error, ValueError) as e:
                    raise ValidationError("signature is not valid base64", field="sig.value") from e
                if len(raw) != 64:
                    raise ValidationError(
                        f"Ed25519 signature must be 64 bytes, got {len(raw)}", field="sig.value")
                sig = Signature(loaded["sig"]["key"], raw)
        except ValidationError as e:
            raise e.at(event_id=event_id) from e
        return loaded, moment, body, sig

    @classmethod
    def assemble(cls, doc: Mapping[str, Any], moment: datetime, body: bytes,
                 sig: Signature | None) -> Event:
        """The Event of a document :meth:`from_dict` has accepted, from the parts it
        derived (the time, the canonical body, the decoded signature); used where the
        validation ran in another process. Not a validator: never call it on anything else."""
        event = object.__new__(cls)
        # The frozen dataclass's __init__ sets each field through object.__setattr__, which
        # costs more than the rest of this method; the writer assembles thousands a second.
        event.__dict__.update(
            id=doc["id"], kind=doc["kind"], time=moment, time_text=doc["time"],
            time_us=to_micros(moment), actor=doc["actor"], location=doc["location"],
            inputs=tuple(_lot_qty(x) for x in doc.get("inputs", ())),
            outputs=tuple(_lot_qty(x) for x in doc.get("outputs", ())),
            data=dict(doc["data"]), sig=sig, body=body,
        )
        return event

    @classmethod
    def from_json(cls, text: bytes | str) -> Event:
        """Parse one JSON line strictly (no duplicate keys, no floats) and validate it."""
        try:
            doc = canonical.loads(text)
        except ValidationError as e:
            where = _number_path(text) if e.field is None else None
            if where is None:
                raise
            raise ValidationError(e.message, field=where, line=e.line) from e
        return cls.from_dict(doc)

    @classmethod
    def from_stored(cls, body: bytes, key_id: str, signature: bytes) -> Event:
        """Rebuild an event from the ledger's stored bytes and signature columns."""
        doc = canonical.loads(body)
        doc["sig"] = Signature(key_id, signature).to_dict()
        return cls.from_dict(doc)

    @classmethod
    def from_canonical(cls, body: bytes, key_id: str, signature: bytes) -> Event:
        """Rebuild an event from stored bytes already proven to be an event in its own
        RFC 8785 form (as ``verify`` proves every record's body before replaying it):
        validated as :meth:`from_dict` validates it, without the strict parse and the
        serialisation again that only establish what is already known of the bytes."""
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValidationError(f"expected a JSON object, got {type(doc).__name__}",
                                  field="event")
        loaded = load_with(_ENVELOPE, doc, prefix="")
        try:
            spec = kind_spec(loaded["kind"])
            moment = parse_event_time(loaded["time"], field="time")
            load_with(spec.data_schema, loaded["data"], prefix="data")
            if _NUL_ESCAPE in body and _has_nul(body):
                raise ValidationError("U+0000 (NUL) is not allowed in an event", field="event")
        except ValidationError as e:
            raise e.at(event_id=loaded["id"]) from e
        return cls.assemble(loaded, moment, body, Signature(key_id, signature))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Events cross process boundaries by the thousand (validated in the signature
        # pool, used by the writer); plain tuples pickle several times faster than the
        # dataclasses, and an Event is rebuilt from them without validating it again.
        return _rebuild_event, (
            self.id, self.kind, self.time, self.time_text, self.time_us, self.actor,
            self.location, tuple((q.lot, str(q.qty), q.unit) for q in self.inputs),
            tuple((q.lot, str(q.qty), q.unit) for q in self.outputs), self.data,
            None if self.sig is None else (self.sig.key, self.sig.value), self.body)

    def to_dict(self) -> dict[str, Any]:
        """The wire form (docs/contract.md), with ``sig`` when signed."""
        doc: dict[str, Any] = canonical.loads(self.body)
        if self.sig is not None:
            doc["sig"] = self.sig.to_dict()
        return doc

    def signed(self, key: SigningKey) -> Event:
        """A copy signed with ``key`` over :attr:`body`."""
        doc = self.to_dict()
        doc["sig"] = Signature(key.key_id, key.sign(self.body)).to_dict()
        return Event.from_dict(doc)

    def lots(self) -> set[str]:
        return {q.lot for q in self.inputs} | {q.lot for q in self.outputs}


# RFC 8785 writes U+0000 as the escape \u0000; a literal backslash before "u0000" is
# written doubled. Text columns on PostgreSQL cannot hold U+0000, and no name, lot code or
# note needs it: such events are refused outright (hostile-string hygiene).
_NUL_ESCAPE = b"\\u0000"


def _has_nul(body: bytes) -> bool:
    at = body.find(_NUL_ESCAPE)
    while at >= 0:
        run = 0
        while at - run - 1 >= 0 and body[at - run - 1] == 0x5C:  # backslashes before it
            run += 1
        if run % 2 == 0:  # the backslash at `at` starts an escape: a real U+0000
            return True
        at = body.find(_NUL_ESCAPE, at + 1)
    return False


def nul_path(value: Any, path: str = "") -> str | None:
    """Path (``[0].data.note``) of the first string or key holding U+0000, else None;
    odd keys are written as :mod:`tracelib.canonical` names them (``["no\\u0000te"]``)."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items = (value.items() if isinstance(value, Mapping)
             else enumerate(value) if isinstance(value, (list, tuple)) else ())
    for key, item in items:
        if isinstance(key, int):
            here = f"{path}[{key}]"
        elif _SIMPLE_KEY.match(key):
            here = f"{path}.{key}" if path else key
        else:
            here = f"{path}[{json.dumps(key)}]"
        if isinstance(key, str) and "\x00" in key:
            return here
        found = nul_path(item, here)
        if found is not None:
            return found
    return None


def _rebuild_event(event_id: str, kind: str, time: datetime, time_text: str, time_us: int,
                   actor: str, location: str, inputs: tuple[tuple[str, str, str], ...],
                   outputs: tuple[tuple[str, str, str], ...], data: Mapping[str, Any],
                   sig: tuple[str, bytes] | None, body: bytes) -> Event:
    """The inverse of :meth:`Event.__reduce__` (for pickle only: the parts were validated)."""
    return Event(event_id, kind, time, time_text, time_us, actor, location,
                 tuple(LotQuantity(lot, Decimal(qty), unit) for lot, qty, unit in inputs),
                 tuple(LotQuantity(lot, Decimal(qty), unit) for lot, qty, unit in outputs),
                 data, None if sig is None else Signature(*sig), body)


def _lot_qty(item: Mapping[str, str]) -> LotQuantity:
    return LotQuantity(item["lot"], Decimal(item["qty"]), item["unit"])


_NOT_INTEGER = object()


def _number_path(text: bytes | str) -> str | None:
    """Path (``data.readings[1].a``) of the first float / NaN / Infinity in a JSON text.

    ``canonical.loads`` refuses these inside the JSON scanner, which knows no path;
    a lenient second parse finds where, so the error names the field."""
    def path_of(value: Any, prefix: str) -> str | None:
        if value is _NOT_INTEGER:
            return prefix or "event"
        items = (value.items() if isinstance(value, dict)
                 else enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            found = path_of(item, f"{prefix}[{key}]" if isinstance(key, int)
                            else f"{prefix}.{key}" if prefix else key)
            if found is not None:
                return found
        return None

    try:
        doc = json.loads(text, parse_float=lambda _: _NOT_INTEGER,
                         parse_constant=lambda _: _NOT_INTEGER)
    except (ValueError, RecursionError):
        return None
    return path_of(doc, "")


def sign_event(doc: Mapping[str, Any], key: SigningKey) -> dict[str, Any]:
    """Return ``doc`` with a ``sig`` made by ``key`` over its canonical bytes without sig."""
    unsigned = {k: v for k, v in doc.items() if k != "sig"}
    body = canonical.dumps(unsigned)
    return {**unsigned, "sig": Signature(key.key_id, key.sign(body)).to_dict()}


def sign_bodies(bodies: Sequence[tuple[str, bytes]], secrets: Mapping[str, bytes]) -> list[bytes]:
    """The Ed25519 signature of each ``(party, canonical body)`` by that party's key, from the
    keys' 32-byte seeds: :func:`sign_event`'s signing, for a worker process."""
    keys = {party: SigningKey.from_bytes(seed) for party, seed in secrets.items()}
    return [keys[party].sign(body) for party, body in bodies]
