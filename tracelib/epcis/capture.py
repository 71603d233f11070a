"""EPCIS 2.0 capture: an ``EPCISDocument`` into the ledger (docs/contract.md "EPCIS 2.0
capture and import").

The document is checked whole first (:func:`check_document`): JSON, nesting depth, the
number of events, GS1's JSON schema (draft 7, ``epcis/EPCIS-JSON-Schema.json``), GS1's
``@context``, the event types and the CBV 2.0 vocabulary of every bizStep and disposition.
A document that fails is refused as a whole, naming the JSON path
(``epcisBody.eventList[3].quantityList[0].quantity``), and nothing is stored.

Then each event becomes a tracelib event: its kind is ``tracelib:kind`` when the event says
(events tracelib exported), else chosen from type, action, bizStep and disposition
(:func:`choose_kind`); the kind's own reverse mapping (``KindSpec.from_epcis``) reads its
names back through the master data (:class:`tracelib.cbv.EpcisSources`). Its id is
``tracelib:eventId`` when the event carries one, else its GS1 event hash ID, so a captured
event captured again answers with the original record. It is signed with the mapped party's
key where that key is local, and appended through the ledger: every rule of the kind holds.

``rollback`` (the default) stores all or nothing; ``proceed`` stores the events that pass and
reports the others. Either way the result says, per event, its index, hash ID and seq, or a
problem (RFC 9457) with the path of the field at fault.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import orjson

from .. import canonical
from .._cores import cpu_count
from .._gcpause import cyclic_gc_paused
from ..append.sigpool import pool
from ..cbv import EpcisSources, Refusal, disposition_name, step_name
from ..errors import ConflictError, TracelibError, ValidationError
from ..eventhash import document_context, document_ignore_fields, event_hash_id, event_hash_ids
from ..events import Signature, sign_bodies
from ..keys import SigningKey
from ..kinds import KINDS
from ..ledger import Ledger
from ..store.captures import CaptureSql
from ..store.supply import SupplySql

__all__ = ["BEHAVIOURS", "MAX_DEPTH", "MAX_EVENTS", "CaptureProblem", "CaptureResult",
           "DocumentRefused", "EventOutcome", "capture", "check_document", "choose_kind",
           "load_document", "sources_for"]

#: Events one document may hold (EPCIS 2.0 §12.3: a capture interface states its limit).
MAX_EVENTS = 10_000
#: How deep a document's JSON may nest: an event is 6 deep in GS1's own fields; the rest is
#: room for user extensions.
MAX_DEPTH = 32
#: ``GS1-Capture-Error-Behaviour`` values (EPCIS 2.0 REST binding).
BEHAVIOURS = ("rollback", "proceed")
#: Events appended per ledger call with ``proceed`` (a refused event costs its chunk a retry).
_PROCEED_CHUNK = 1000
#: GS1's JSON-LD context: a document must name it (EPCIS 2.0 §12.1).
_CONTEXT_HEAD = "https://ref.gs1.org/standards/epcis/"
_QUANTITY_LISTS = ("quantityList", "inputQuantityList", "outputQuantityList")
_EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
                "AssociationEvent")
#: The fields a tracelib export adds from its stored record, left out of the hash ID.
_RECORD_FIELDS = ("tracelib:seq", "tracelib:recordHash")
#: Problem types (EPCIS 2.0 OpenAPI, its exceptions).
VALIDATION = "epcisException:ValidationException"
TOO_LARGE = "epcisException:CaptureLimitExceededException"
FORBIDDEN = "epcisException:SecurityException"

Signer = Callable[[str], "SigningKey | None"]


class DocumentRefused(ValidationError):
    """The document as a whole is refused (nothing stored): ``path`` names where, ``status``
    is the HTTP status that says it (400; 413 past the size limit), ``type`` the problem
    type."""

    def __init__(self, message: str, *, path: str, status: int = 400,
                 type: str = VALIDATION) -> None:
        self.path = path
        self.status = status
        self.type = type
        super().__init__(message, field=path or None)


@dataclass(frozen=True)
class CaptureProblem:
    """One event's refusal as an RFC 9457 problem: ``path`` is the JSON path of the field at
    fault, from the document's root."""

    index: int
    title: str
    detail: str
    path: str
    type: str = VALIDATION
    status: int = 400

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status,
                "detail": self.detail, "instance": self.path, "index": self.index,
                "path": self.path}


@dataclass(frozen=True)
class EventOutcome:
    """What became of one event of the document."""

    index: int
    hash_id: str
    event_id: str | None = None
    seq: int | None = None
    duplicate: bool = False
    problem: CaptureProblem | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "eventID": self.hash_id}
        if self.problem is not None:
            out["error"] = self.problem.to_dict()
        else:
            out.update({"id": self.event_id, "seq": self.seq, "duplicate": self.duplicate})
        return out


@dataclass
class CaptureResult:
    """A capture's answer: one :class:`EventOutcome` per event, in document order."""

    behaviour: str
    outcomes: list[EventOutcome] = field(default_factory=list)

    @property
    def errors(self) -> list[CaptureProblem]:
        return [o.problem for o in self.outcomes if o.problem is not None]

    @property
    def success(self) -> bool:
        return not self.errors

    @property
    def stored(self) -> int:
        return sum(1 for o in self.outcomes if o.seq is not None and not o.duplicate)

    @property
    def duplicates(self) -> int:
        return sum(1 for o in self.outcomes if o.duplicate)

    @property
    def refused(self) -> int:
        return len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "captureErrorBehaviour": self.behaviour,
                "stored": self.stored, "duplicates": self.duplicates, "refused": self.refused,
                "events": [o.to_dict() for o in self.outcomes]}


# -- the document ---------------------------------------------------------------------------

def load_document(raw: bytes) -> dict[str, Any]:
    """Parse a document's bytes (JSON, at most 1,024 levels deep before anything recurses)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise DocumentRefused(f"malformed JSON: {e}", path="") from e
    if not isinstance(doc, dict):
        raise DocumentRefused("an EPCISDocument must be a JSON object", path="")
    return doc


def _schema() -> Any:
    text = resources.files("tracelib.epcis").joinpath("EPCIS-JSON-Schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], tuple[list[Any], str] | None]:
    """GS1's schema, compiled once by ``jsonschema-rs`` (a 10,000-event document in a
    fraction of a second): a function giving the first fault (its path and message) or None."""
    import jsonschema_rs

    fast = jsonschema_rs.Draft7Validator(_schema())

    def check(doc: Any) -> tuple[list[Any], str] | None:
        if fast.is_valid(doc):
            return None
        # the deepest fault is the most precise (an anyOf's branches report at their parent)
        error = max(fast.iter_errors(doc), key=lambda e: len(e.instance_path))
        return list(error.instance_path), str(error.message)
    return check


def _path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


#: What a JSON text keeps of its nesting: its brackets and the quotes of its strings.
_NOT_NESTING = bytes(b for b in range(256) if b not in b'[]{}"')
_STRING_LEFT = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _nests_within(doc: Any, limit: int) -> bool:
    """Whether no container in ``doc`` lies deeper than ``limit`` (the top is 1), read from
    its JSON text: the escapes and every byte but brackets and quotes taken out, then the
    strings, then one innermost ``[]``/``{}`` pair per level. Some ten times quicker than
    :func:`_too_deep`'s walk, which names the path when this says no."""
    try:
        text = orjson.dumps(doc)
    except TypeError:  # not JSON's types (a caller's own mapping): the walk decides
        return _too_deep(doc, limit) is None
    # In JSON text a backslash only starts an escape: take out the escaped backslashes,
    # then the escaped quotes, and every quote left delimits a string.
    text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    nesting = text.translate(None, _NOT_NESTING).replace(b'""', b"")
    if b'"' in nesting:  # strings that hold brackets
        nesting = _STRING_LEFT.sub(b"", nesting)
    for _ in range(limit):
        if not nesting:
            return True
        nesting = _INNERMOST.sub(b"", nesting)
    return not nesting


def _too_deep(doc: Any, limit: int) -> str | None:
    """The path of the first value nested deeper than ``limit``, iteratively (no recursion)."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(doc, 1, ())]
    while stack:
        value, depth, where = stack.pop()
        if depth > limit:
            return _path(where)
        if isinstance(value, dict):
            stack.extend((v, depth + 1, (*where, k)) for k, v in value.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, (*where, i)) for i, v in enumerate(value)
                         if isinstance(v, (dict, list)))
    return None


def _names_context(context: Any) -> bool:
    items = context if isinstance(context, list) else [context]
    return any(isinstance(c, str) and c.startswith(_CONTEXT_HEAD)
               and c.endswith("epcis-context.jsonld") for c in items)


def _event_list(doc: Mapping[str, Any]) -> list[Any]:
    body = doc.get("epcisBody")
    events = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(events, list):
        raise DocumentRefused("an EPCISDocument holds its events in epcisBody.eventList",
                              path="epcisBody.eventList")
    return events


def check_document(doc: Mapping[str, Any], *, max_events: int = MAX_EVENTS,
                   max_depth: int = MAX_DEPTH) -> list[dict[str, Any]]:
    """Check a whole document and return its events; :class:`DocumentRefused` names the
    first fault's path."""
    events = _check_shape(doc, max_events=max_events)
    fault = whole_document_fault(doc, max_depth)
    if fault is not None:
        raise DocumentRefused(fault[0], path=fault[1])
    _check_vocabulary(doc, events)
    return [dict(e) for e in events]


def _check_shape(doc: Mapping[str, Any], *, max_events: int) -> list[Any]:
    """The checks of a document's outline, before anything reads its events."""
    if doc.get("type") != "EPCISDocument":
        raise DocumentRefused(f"expected type EPCISDocument, got {str(doc.get('type'))[:80]!r}",
                              path="type")
    events = _event_list(doc)
    if len(events) > max_events:
        raise DocumentRefused(f"the document holds {len(events)} events; one capture takes "
                              f"at most {max_events}", path="epcisBody.eventList", status=413,
                              type=TOO_LARGE)
    if not events:
        raise DocumentRefused("the document holds no events", path="epcisBody.eventList")
    return events


def whole_document_fault(doc: Any, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """The first fault of a document read whole — nested deeper than ``max_depth``, or not
    valid against GS1's JSON schema — as (message, JSON path); None when there is none."""
    deep = None if _nests_within(doc, max_depth) else _too_deep(doc, max_depth)
    if deep is not None:
        return f"nested deeper than {max_depth} levels", deep
    fault = _validator()(doc)
    if fault is not None:
        parts, message = fault
        return f"not a valid EPCIS 2.0 document: {message[:300]}", _path(parts)
    return None


def _check_vocabulary(doc: Mapping[str, Any], events: Sequence[Any]) -> None:
    """GS1's ``@context``, and each event's type, bizStep and disposition (CBV 2.0)."""
    if not _names_context(doc.get("@context")):
        raise DocumentRefused("@context must name GS1's EPCIS 2.0 context "
                              "(https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld)",
                              path="@context")
    for i, event in enumerate(events):
        where = f"epcisBody.eventList[{i}]"
        if not isinstance(event, Mapping) or event.get("type") not in _EVENT_TYPES:
            kind = event.get("type") if isinstance(event, Mapping) else None
            raise DocumentRefused(f"unknown event type {str(kind)[:80]!r}; expected one of "
                                  f"{', '.join(_EVENT_TYPES)}", path=f"{where}.type")
        if "bizStep" in event and step_name(event["bizStep"]) is None:
            raise DocumentRefused(f"{str(event['bizStep'])[:120]!r} is not a CBV 2.0 business "
                                  "step", path=f"{where}.bizStep")
        if "disposition" in event and disposition_name(event["disposition"]) is None:
            raise DocumentRefused(f"{str(event['disposition'])[:120]!r} is not a CBV 2.0 "
                                  "disposition", path=f"{where}.disposition")


# -- events to kinds --------------------------------------------------------------------------

def choose_kind(event: Mapping[str, Any]) -> str:
    """The kind an EPCIS event becomes (docs/contract.md "EPCIS 2.0 capture and import"):
    ``tracelib:kind`` when it names a kind that imports; else by type, action, bizStep and
    disposition. :class:`Refusal` when no kind fits."""
    named = event.get("tracelib:kind")
    if isinstance(named, str):
        spec = KINDS.get(named)
        if spec is None or spec.from_epcis is None:
            raise Refusal(f"kind {named!r} is not imported", "tracelib:kind")
        return named
    kind = event.get("type")
    action = event.get("action")
    step = step_name(event.get("bizStep"))
    disp = disposition_name(event.get("disposition"))
    if kind == "TransformationEvent":
        return "transform"
    if kind == "ObjectEvent":
        if step == "commissioning" and action == "ADD":
            return "origin"
        if step == "shipping" and disp == "returned":
            return "return"
        if step == "shipping" and action == "OBSERVE":
            return "ship"
        if step == "receiving" and disp == "non_conformant":
            return "reject"
        if step == "receiving" and action == "OBSERVE":
            return "receive"
        if step == "retail_selling":
            return "sale"
        if disp == "recalled":
            return "recall"
        if step == "holding":
            return "hold"
        if step is None and disp == "sellable_accessible":
            return "release"
        if step == "destroying" or disp == "destroyed":
            return "dispose"
        if step == "inspecting":
            return "rapid_test"
        if step == "sampling":
            return "lab_test"
    what = ", ".join(f"{k} {v!r}" for k, v in (("type", kind), ("action", action),
                                                  ("bizStep", step), ("disposition", disp))
                     if v is not None)
    raise Refusal(f"no tracelib kind records this event ({what}): it moves or says nothing "
                  "the ledger keeps", "type")


def sources_for(ledger: Ledger, conn: Any, base: str,
                events: Sequence[Mapping[str, Any]] = ()) -> EpcisSources:
    """The ledger's master data as :class:`EpcisSources`: locations by GLN (read once), a
    location's holder (read once, when asked) and the units of the lots ``events`` name."""
    by_gln: dict[tuple[str, str | None], str] = {}
    by_bare: dict[str, set[str]] = {}
    for location, gln, extension in CaptureSql.located_glns(conn):
        by_gln.setdefault((gln, extension), location)
        by_bare.setdefault(gln, set()).add(location)

    def located(gln: str, extension: str | None) -> str | None:
        found = by_gln.get((gln, extension))
        if found is None and extension is None and len(by_bare.get(gln, ())) == 1:
            # a GLN without extension names the one location registered under it
            found = next(iter(by_bare[gln]))
        return found
    holders: dict[str, str | None] = {}

    def holder(location: str) -> str | None:
        if location not in holders:
            loc = ledger.store.location(conn, location)
            holders[location] = loc.holder if loc is not None else None
        return holders[location]

    units: dict[str, str | None] = {}
    src = EpcisSources(base.rstrip("/"), location_of=located, holder=holder,
                       lot_unit=lambda lot: units.get(lot))
    # The units of the lots the events name, read in a few statements, not one per event.
    codes: set[str] = set()
    for event in events:
        for key in _QUANTITY_LISTS:
            for element in event.get(key) or ():
                try:
                    codes.add(src.lot(element.get("epcClass"), key))
                except (Refusal, AttributeError):
                    continue  # the event's own mapping says why
    src.gtins.clear()
    units.update({code: row.unit for code, row in SupplySql.lots(conn, sorted(codes)).items()})
    return src


def _problem(index: int, reason: str, path: str, *, title: str = "event refused",
             type: str = VALIDATION, status: int = 400) -> CaptureProblem:
    where = f"epcisBody.eventList[{index}]" + (f".{path}" if path and not path.startswith("[")
                                               else path)
    return CaptureProblem(index, title, reason, where, type=type, status=status)


@dataclass
class _Mapped:
    index: int
    hash_id: str
    event: dict[str, Any] | None = None
    problem: CaptureProblem | None = None


#: A document of this many events or more has its hash IDs computed and its events signed in
#: the append engine's worker pool (the pool its append starts anyway), :data:`_POOL_CHUNK`
#: events a task and at most :data:`_IN_FLIGHT` tasks ahead of the mapping, which runs beside
#: them.
_POOL_FROM = 2000
_POOL_CHUNK = 500
_IN_FLIGHT = 4


def _serial_ids(events: Sequence[Any], context: Mapping[str, str],
                ignore: Sequence[str]) -> Iterator[str | ValidationError]:
    for raw in events:
        try:
            yield event_hash_id(raw, context, ignore=ignore)
        except ValidationError as e:
            yield e


def _hash_ids(events: list[dict[str, Any]], context: Mapping[str, str],
              ignore: Sequence[str]) -> Iterator[str | ValidationError]:
    """Each event's GS1 hash ID (or why it has none), in order."""
    if len(events) < _POOL_FROM or cpu_count() == 1:
        yield from _serial_ids(events, context, ignore)
        return
    starts = iter(range(0, len(events), _POOL_CHUNK))
    pending: list[tuple[int, Any]] = []

    def submit() -> None:
        start = next(starts, None)
        if start is not None:
            chunk = orjson.dumps(events[start:start + _POOL_CHUNK])
            pending.append((start, pool().submit(event_hash_ids, chunk, dict(context),
                                                 ignore=tuple(ignore))))

    for _ in range(_IN_FLIGHT):
        submit()
    while pending:
        start, future = pending.pop(0)
        submit()
        try:
            ids: list[str] = future.result()
        except ValidationError:  # a chunk with a bad event: each event says for itself
            yield from _serial_ids(events[start:start + _POOL_CHUNK], context, ignore)
            continue
        yield from ids


def _map_all(events: list[dict[str, Any]], doc: Mapping[str, Any], src: EpcisSources,
             keys: Signer, as_party: str | None,
             signed_here: dict[str, SigningKey]) -> Iterator[_Mapped]:
    """Each event mapped and signed, in order; ``signed_here`` is told each key signed with
    (key id → public key), for the ledger's append."""
    context = document_context(doc)
    # A tracelib export's record facts (its seq, its record hash) are the exporting ledger's,
    # not the event's: the hash ID is the one that export gave the event.
    ignore = [*document_ignore_fields(doc), *_RECORD_FIELDS]
    signing: dict[str, SigningKey | None] = {}

    def mapped() -> Iterator[_ToSign]:
        for i, (raw, found) in enumerate(zip(events, _hash_ids(events, context, ignore),
                                             strict=True)):
            if isinstance(found, ValidationError):
                yield _ToSign(_Mapped(i, "", problem=_problem(i, found.message,
                                                              found.field or "")))
                continue
            hash_id = found
            try:
                kind = choose_kind(raw)
                spec = KINDS[kind]
                assert spec.from_epcis is not None
                body = spec.from_epcis(raw, src)
            except Refusal as e:
                yield _ToSign(_Mapped(i, hash_id, problem=_problem(i, e.reason, e.path)))
                continue
            own_id = raw.get("tracelib:eventId")
            body["id"] = own_id if isinstance(own_id, str) else hash_id
            actor = body["actor"]
            if as_party is not None and actor != as_party:
                yield _ToSign(_Mapped(i, hash_id, problem=_problem(
                    i, f"the event acts for {actor!r}, but this capture acts for "
                    f"{as_party!r}", "bizLocation", title="not yours to sign", type=FORBIDDEN,
                    status=403)))
                continue
            if actor not in signing:
                found_key = signing[actor] = keys(actor)
                if found_key is not None:
                    signed_here[found_key.key_id] = found_key
            if signing[actor] is None:
                yield _ToSign(_Mapped(i, hash_id, problem=_problem(
                    i, f"no local key signs for {actor!r}", "bizLocation",
                    title="no key to sign with", type=FORBIDDEN, status=403)))
                continue
            try:
                canonical_body = canonical.dumps(body)
            except ValidationError as e:
                yield _ToSign(_Mapped(i, hash_id, problem=_problem(i, e.message,
                                                                   _field_path(e.field))))
                continue
            yield _ToSign(_Mapped(i, hash_id, event=body), actor, canonical_body)

    pooled = len(events) >= _POOL_FROM and cpu_count() > 1
    yield from _signed(mapped(), cast("Mapping[str, SigningKey]", signing), pooled=pooled)


@dataclass
class _ToSign:
    """A mapped event and, when it is to be signed, its party and canonical body."""

    mapped: _Mapped
    party: str | None = None
    body: bytes = b""


def _signed(items: Iterator[_ToSign], keys: Mapping[str, SigningKey], *,
            pooled: bool) -> Iterator[_Mapped]:
    """The mapped events, in order, each signed by its party (``sign_event``'s signature over
    its canonical body). ``pooled``: :data:`_POOL_CHUNK` events a task in the worker pool, at
    most :data:`_IN_FLIGHT` tasks ahead of the mapping, which goes on beside them."""

    def signed(batch: list[_ToSign], signatures: Sequence[bytes]) -> Iterator[_Mapped]:
        made = iter(signatures)
        for item in batch:
            if item.party is not None:
                assert item.mapped.event is not None
                item.mapped.event["sig"] = Signature(keys[item.party].key_id,
                                                     next(made)).to_dict()
            yield item.mapped

    def bodies(batch: list[_ToSign]) -> list[tuple[str, bytes]]:
        return [(item.party, item.body) for item in batch if item.party is not None]

    if not pooled:
        for item in items:
            yield from signed([item], [keys[p].sign(b) for p, b in bodies([item])])
        return
    pending: deque[tuple[list[_ToSign], Any]] = deque()
    batch: list[_ToSign] = []

    def submit() -> None:
        to_sign = bodies(batch)
        seeds = {party: keys[party].private_bytes() for party, _ in to_sign}
        pending.append((batch, pool().submit(sign_bodies, to_sign, seeds)))

    for item in items:
        batch.append(item)
        if len(batch) == _POOL_CHUNK:
            submit()
            batch = []
            if len(pending) > _IN_FLIGHT:
                done, future = pending.popleft()
                yield from signed(done, future.result())
    if batch:
        submit()
    while pending:
        done, future = pending.popleft()
        yield from signed(done, future.result())


def _field_path(field: str | None) -> str:
    """A tracelib event field (``inputs[0].qty``, ``data.to``) as the part of the EPCIS event
    it came from, as near as one can say."""
    if not field:
        return ""
    if field.startswith("data"):
        return f"tracelib:{field}"
    if field.startswith(("inputs", "outputs")):
        return "quantityList"
    if field in ("time",):
        return "eventTime"
    if field in ("location", "actor"):
        return "bizLocation"
    return ""


def _refusal(index: int, err: TracelibError) -> CaptureProblem:
    if isinstance(err, ValidationError):
        return _problem(index, err.message, _field_path(err.field))
    if isinstance(err, ConflictError):
        return _problem(index, str(err), "tracelib:eventId", title="event id taken",
                        status=409)
    return _problem(index, str(err), "")


def _append(ledger: Ledger, mapped: list[_Mapped], now: datetime | None,
            progress: Callable[[int], None] | None, signed_here: Mapping[str, SigningKey]
            ) -> tuple[list[Any], CaptureProblem | None]:
    """Append the mapped events in one transaction: their receipts, or the problem of the
    event that made the ledger refuse them all."""
    events = [m.event for m in mapped]
    try:
        return ledger.append(events, now=now, lines=[m.index for m in mapped],  # type: ignore[arg-type]
                             progress=progress, require_attachments=False,
                             signed_here=signed_here), None
    except ValidationError as e:
        index = e.line if e.line is not None else mapped[0].index
        return [], _refusal(index, e)
    except ConflictError as e:
        return [], _refusal(_conflicting(e, mapped), e)


def _conflicting(err: ConflictError, mapped: list[_Mapped]) -> int:
    text = str(err)
    for m in mapped:
        if m.event is not None and repr(m.event["id"]) in text:
            return m.index
    return mapped[0].index


class _Unmapped(Exception):
    """An event of a rollback capture did not map: the append stops, nothing is stored."""


def _rollback(ledger: Ledger, stream: Iterator[_Mapped], now: datetime | None,
              progress: Callable[[int], None] | None,
              signed_here: Mapping[str, SigningKey]
              ) -> tuple[list[_Mapped], dict[int, Any], CaptureProblem | None]:
    """All or nothing, the events mapped as the ledger draws them: while the append
    engine's workers check one chunk's signatures, this thread maps and signs the next.
    The first event that does not map stops the append (nothing stored); the rest are
    still mapped, so every refusal is reported."""
    mapped: list[_Mapped] = []
    drawn: list[_Mapped] = []

    def events() -> Iterator[dict[str, Any]]:
        for m in stream:
            mapped.append(m)
            if m.problem is not None:
                raise _Unmapped
            drawn.append(m)
            assert m.event is not None
            yield m.event

    lines = _Lines(drawn)
    problem: CaptureProblem | None = None
    receipts: dict[int, Any] = {}
    try:
        found = ledger.append(events(), now=now, lines=cast("Sequence[int]", lines),
                              progress=progress, signed_here=signed_here)
        receipts = {m.index: r for m, r in zip(drawn, found, strict=True)}
    except _Unmapped:
        pass
    except ValidationError as e:
        problem = _refusal(e.line if e.line is not None else drawn[0].index, e)
    except ConflictError as e:
        problem = _refusal(_conflicting(e, drawn), e)
    mapped.extend(stream)  # the events after a refusal: mapped, to report theirs too
    return mapped, receipts, problem


class _Lines:
    """The document index of the i-th event the ledger drew (``Ledger.append``'s
    ``lines``, asked for only after it drew the event)."""

    def __init__(self, drawn: list[_Mapped]) -> None:
        self._drawn = drawn

    def __getitem__(self, index: int) -> int:
        return self._drawn[index].index

    def __len__(self) -> int:
        return len(self._drawn)


def capture(ledger: Ledger, doc: Mapping[str, Any], *, keys: Signer, base: str,
            behaviour: str = "rollback", now: datetime | None = None,
            as_party: str | None = None, max_events: int = MAX_EVENTS,
            progress: Callable[[int], None] | None = None,
            pause_gc: bool = False) -> CaptureResult:
    """Capture an EPCISDocument into ``ledger``.

    ``keys(party)`` gives the local signing key of a party (None: none here); ``base`` is the
    ledger's public URL its own names are read under; ``as_party``, when given, is the only
    party the events may act for (an API token's). ``rollback`` stores every event or none;
    ``proceed`` stores those the ledger accepts. Raises :class:`DocumentRefused` for a
    document refused whole. ``pause_gc`` pauses Python's cyclic garbage collector for the
    capture, process-wide, as ``Ledger.append``'s does (for a command owning its process)."""
    with cyclic_gc_paused() if pause_gc else nullcontext():
        return _capture(ledger, doc, keys=keys, base=base, behaviour=behaviour, now=now,
                        as_party=as_party, max_events=max_events, progress=progress)


def _capture(ledger: Ledger, doc: Mapping[str, Any], *, keys: Signer, base: str,
             behaviour: str, now: datetime | None, as_party: str | None, max_events: int,
             progress: Callable[[int], None] | None) -> CaptureResult:
    if behaviour not in BEHAVIOURS:
        raise DocumentRefused(f"capture error behaviour must be rollback or proceed, got "
                              f"{behaviour[:40]!r}", path="GS1-Capture-Error-Behaviour")
    events = check_document(doc, max_events=max_events)
    result = CaptureResult(behaviour)
    receipts: dict[int, Any] = {}
    problems: dict[int, CaptureProblem] = {}
    # the keys the events are signed with here: the append checks those signatures by
    # making them again, at a third of the cost of verifying (Ledger.append, signed_here)
    signed_here: dict[str, SigningKey] = {}
    with ledger.store.reader() as conn:
        src = sources_for(ledger, conn, base, events)
        stream = _map_all(events, doc, src, keys, as_party, signed_here)
        if behaviour == "rollback":
            mapped, receipts, problem = _rollback(ledger, stream, now, progress,
                                                  signed_here)
            if problem is not None:
                problems[problem.index] = problem
        else:
            mapped = list(stream)
    problems.update({m.index: m.problem for m in mapped if m.problem is not None})
    if behaviour == "proceed":
        good = [m for m in mapped if m.problem is None]
        for start in range(0, len(good), _PROCEED_CHUNK):
            chunk = good[start:start + _PROCEED_CHUNK]
            while chunk:
                found, problem = _append(ledger, chunk, now, progress, signed_here)
                if problem is None:
                    receipts.update({m.index: r for m, r in zip(chunk, found, strict=True)})
                    break
                problems[problem.index] = problem
                chunk = [m for m in chunk if m.index != problem.index]
    for m in mapped:
        receipt = receipts.get(m.index)
        if m.index in problems:
            result.outcomes.append(EventOutcome(m.index, m.hash_id, problem=problems[m.index]))
        elif receipt is not None:
            result.outcomes.append(EventOutcome(m.index, m.hash_id, receipt.event_id,
                                                receipt.seq, receipt.duplicate))
        else:  # rolled back with the others
            result.outcomes.append(EventOutcome(
                m.index, m.hash_id, m.event["id"] if m.event else None))
    return result
