"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``).

The schemas state the rules the service enforces, so a client (or a fuzzer) generating
from them sends what the service accepts: identifiers as tracelib's ``ID_PATTERN``,
quantities as its ``_QTY`` rule, JSON without floats or unsafe integers as
:mod:`tracelib.canonical` parses it. Rules that need the ledger (a kind's ``data``, mass
balance, who may act where, signatures) are checked on append and answered with 422.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from tracelib.bounds import MAX_BLOB_BYTES
from tracelib.canonical import MAX_SAFE_INTEGER
from tracelib.ids import ID_PATTERN, MAX_ID
from tracelib.kinds import KINDS

from .access import ENDPOINTS, SCOPES, openapi_security

__all__ = ["DATA_SCHEMA_PREFIX", "EPCIS_OPERATIONS", "OPERATIONS", "epcis_openapi_document",
           "openapi_document"]

#: Each operation's Flask endpoint, whose access rule (service/access.py) the operation
#: states: ``security``, ``x-tracelib-scope`` and a line of its description.
OPERATIONS = {
    "postSale": "receipts.post_sale", "notifyPayment": "payments.notify",
    "appendEvents": "api.post_events", "getEvent": "api.get_event",
    "traceLot": "api.lot_trace", "getStall": "api.get_stall",
    "getCheckpoint": "api.get_checkpoint", "inclusionProof": "api.inclusion_proof",
    "consistencyProof": "api.consistency_proof", "openapi": "api.openapi",
    "getAlerts": "regulator.get_alerts", "getKpi": "regulator.get_kpi",
    "runDrill": "regulator.post_drill", "getDrillReport": "regulator.drill_report",
    "getDrillPicture": "regulator.drill_picture", "startRecall": "regulator.post_recall",
    "putBlob": "blobs.put_blob", "getBlob": "blobs.get_blob",
    "createQuery": "epcis_queries.post_query", "listQueries": "epcis_queries.get_queries",
    "getQuery": "epcis_queries.get_query", "deleteQuery": "epcis_queries.delete_query",
    "getQueryEvents": "epcis_queries.get_query_events",
    "subscribe": "epcis_queries.post_subscription",
    "listSubscriptions": "epcis_queries.get_subscriptions",
    "getSubscription": "epcis_queries.get_subscription",
    "unsubscribe": "epcis_queries.delete_subscription",
    "epcisCapture": "epcis_capture.post_capture", "epcisCaptureJob": "epcis_capture.get_capture",
    "lotRecords": "peers.get_lot_records", "keyRecord": "peers.get_key_record",
    "receiveFromPeer": "peers.post_peer_receive", "peerNotice": "peers.post_peer_notice",
    "logCheckpoint": "log.checkpoint", "logHashTile": "log.hash_tile",
    "logEntryBundle": "log.entry_bundle",
}

#: The EPCIS 2.0 binding's operations (:func:`epcis_openapi_document`), likewise.
EPCIS_OPERATIONS = {
    "postSale": "receipts.post_sale", "notifyPayment": "payments.notify",
    "epcisOpenapi": "epcis.openapi",
    "epcisEvents": "epcis.events", "epcisEventById": "epcis.event_by_id",
    "epcisEventTypes": "epcis.event_types", "epcisEventTypeEvents": "epcis.event_type_events",
    "epcisBizSteps": "epcis.biz_steps", "epcisBizStepEvents": "epcis.biz_step_events",
    "epcisDispositions": "epcis.dispositions",
    "epcisDispositionEvents": "epcis.disposition_events",
    "epcisBizLocations": "epcis.biz_locations",
    "epcisBizLocationEvents": "epcis.biz_location_events",
    "epcisReadPoints": "epcis.read_points", "epcisReadPointEvents": "epcis.read_point_events",
    "epcisEpcs": "epcis.epcs", "epcisEpcEvents": "epcis.epc_events",
}

#: Each kind's ``data`` schema is ``components.schemas["EventData.<kind>"]``.
DATA_SCHEMA_PREFIX = "EventData."

# tracelib.events.ID_PATTERN, written for ECMA-262 regular expressions (JSON Schema).
ID = r"^[^\u0000-\u001f\u007f-\u009f]{1,200}$"
HEX64 = r"^[0-9a-f]{64}$"
NO_NUL = r"^[^\u0000]*$"  # the service refuses U+0000 in any string (PostgreSQL text has none)
# tracelib.events._UNIT: no control characters and nothing Python's ``str.isspace`` calls space.
UNIT = (r"^[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
        r"\u3000]{1,20}$")
MAX_SEQ = MAX_SAFE_INTEGER  # record numbers and tree sizes beyond this are never served


_SCOPE_TEXT = {
    "write": "appends events acting for the token's party",
    "read:own": "reads the party's own books: events it signed or that name its locations, "
                "and one hop up and down the chain",
    "read:market": "as `read:own`, with every stall inside the markets the party holds",
    "read:all": "reads everything (regulators and the operator only)",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _id(description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ID,
            "description": description}


def _str(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def _int(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **more}


def _path_param(name: str, description: str, schema: dict[str, Any],
                example: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema, "example": example}


def _query_param(name: str, description: str, schema: dict[str, Any], *,
                 required: bool = False, example: Any = None) -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": required, "description": description,
             "schema": schema}
    if example is not None:
        param["example"] = example
    return param


_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False,
                  "description": "an `ETag` from an earlier answer: `304 Not Modified` while "
                                 "the answer is unchanged",
                  "schema": {"type": "string"}}
_NOT_MODIFIED = {"304": {"description": "Not modified: the `If-None-Match` ETag matches "
                                        "(no body)"}}

# Each error's meaning per status (the body is always an RFC 9457 problem document).
_ERROR_TEXT = {
    400: "Malformed request: not JSON, duplicate keys, floats, a wrong type, an unknown "
         "field or parameter, an integer parameter outside its `minimum`..`maximum` or not "
         "written in ASCII digits, a number in the body beyond ±9007199254740991 (`field` "
         "names it, e.g. `size` or `events[0].inputs[0].qty`)",
    401: "No valid API token: missing, unknown or revoked (`WWW-Authenticate: Bearer`)",
    403: "The token lacks the scope this needs (`code: insufficient_scope`, "
         "`WWW-Authenticate` names the scope), or what is asked lies outside the token's "
         "reach (`code: not_your_books`)",
    404: "Not found",
    409: "An event id is already stored with other content (`code: conflict`)",
    413: "The body is larger than the service's limit (`MAX_CONTENT_LENGTH`, 1 MiB by default), "
         "whether it was sent with a `Content-Length` or chunked (`code: too_large`, `limit` "
         "in bytes); nothing was stored",
    415: "The body is not `application/json`",
    502: "A peer ledger did not answer, or its answer did not verify (`code: peer`; the "
         "detail names the peer and what failed)",
    422: "Well-formed but refused: an event breaks a rule or its signature does not verify "
         "(`code: validation` or `signature`; `field`, `line`, `event_id` say where); "
         "nothing was stored",
}


def _errors(*codes: int, **texts: str) -> dict[str, Any]:
    """Problem responses; ``texts`` (``e404="…"``) replace the generic meaning."""
    return {str(c): {"description": texts.get(f"e{c}", _ERROR_TEXT[c]),
                     "content": {"application/problem+json": {"schema": _ref("Problem")}}}
            for c in codes}


def _ecma(pattern: str) -> str:
    """A Python ``re`` pattern of the event schema, written for ECMA-262 (JSON Schema)."""
    text = pattern.replace("\\A", "^").replace("\\Z", "$")
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: f"\\u00{m.group(1).lower()}", text)


def _field_schema(field: fields.Field[Any]) -> dict[str, Any]:
    """JSON Schema of one marshmallow field of the event schema, with its limits."""
    out: dict[str, Any]
    if isinstance(field, fields.Nested):
        nested = field.schema
        out = _object_schema(nested)
        if field.many:
            out = {"type": "array", "items": out}
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": _field_schema(field.inner)}
    elif isinstance(field, fields.Dict):
        out = {"type": "object"}
        if field.value_field is not None:
            out["additionalProperties"] = _field_schema(field.value_field)
        if field.key_field is not None:
            out["propertyNames"] = _field_schema(field.key_field)
    elif isinstance(field, fields.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, fields.String):
        out = {"type": "string"}
    elif isinstance(field, fields.Integer):  # a plan's year, population and batches
        out = {"type": "integer"}
    else:  # a field type the event schema does not use yet
        raise TypeError(f"no JSON Schema for {type(field).__name__}")
    array = out["type"] == "array"
    for check in field.validators:
        if isinstance(check, validate.Length):
            low, high = ("minItems", "maxItems") if array else ("minLength", "maxLength")
            if check.equal is not None:
                out[low] = out[high] = check.equal
            if check.min is not None:
                out[low] = check.min
            if check.max is not None:
                out[high] = check.max
        elif isinstance(check, validate.Regexp):
            out["pattern"] = _ecma(check.regex.pattern)
            if check.regex.pattern == ID_PATTERN:  # an identifier: say its limit outright
                out.update(minLength=1, maxLength=MAX_ID)
        elif isinstance(check, validate.OneOf):
            out["enum"] = list(check.choices)
        elif isinstance(check, validate.Range):
            if check.min is not None:
                out["minimum"] = check.min
            if check.max is not None:
                out["maximum"] = check.max
    description = field.metadata.get("description")
    if description:
        out["description"] = description
    return out


def _object_schema(schema: Schema) -> dict[str, Any]:
    """JSON Schema of a kind's ``data`` (or of an object inside it): its fields and limits."""
    properties = {f.data_key or name: _field_schema(f) for name, f in schema.fields.items()}
    out: dict[str, Any] = {"type": "object", "properties": properties}
    required = [f.data_key or name for name, f in schema.fields.items() if f.required]
    if required:
        out["required"] = required
    if schema.unknown == RAISE:
        out["additionalProperties"] = False
    elif schema.unknown == INCLUDE:
        out["additionalProperties"] = _ref("JsonValue")
    if schema.__doc__ and type(schema).__doc__ != Schema.__doc__:
        out["description"] = " ".join(schema.__doc__.split())
    return out


def _data_schemas() -> dict[str, Any]:
    """``EventData.<kind>``: each kind's ``data``, from the same schema the ledger validates
    it with (tracelib.kinds), so every limit shown is the one enforced."""
    out = {}
    for name in sorted(KINDS):
        spec = KINDS[name]
        schema = _object_schema(spec.data_schema)
        schema["description"] = f"`data` of the `{name}` kind: {spec.summary}"
        out[f"{DATA_SCHEMA_PREFIX}{name}"] = schema
    return out


def _schemas() -> dict[str, Any]:
    return {
        "JsonValue": {
            "description": "A JSON value as the ledger stores it: no fractions, exponents or "
                           "NaN (write decimals as strings such as \"12.50\"), integers within "
                           f"±{MAX_SAFE_INTEGER} (RFC 7493 §2.2), no duplicate keys, no U+0000 "
                           "in strings or keys",
            "type": ["object", "array", "string", "integer", "boolean", "null"],
            "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER, "pattern": NO_NUL,
            "items": _ref("JsonValue"), "additionalProperties": _ref("JsonValue"),
            "propertyNames": {"pattern": NO_NUL}},
        "LotQuantity": {
            "type": "object", "description": "An amount of one lot",
            "required": ["lot", "qty", "unit"], "additionalProperties": False,
            "properties": {
                "lot": _id("the lot code"),
                "qty": _str("a decimal string greater than 0: at most 12 digits before the "
                            "point and 6 after it",
                            pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$", maxLength=19),
                "unit": _str("a unit like `kg`, `head`, `box`: no spaces or control characters",
                             minLength=1, maxLength=20,
                             pattern=UNIT)}},
        "Event": {
            "type": "object", "description": "Event ([contract v1](contract.md#event))",
            "required": ["id", "kind", "time", "actor", "location", "data"],
            "additionalProperties": False,
            "properties": {
                "id": _id("the event id, unique in the ledger (resending the same event is "
                          "idempotent)"),
                "kind": {"type": "string", "enum": sorted(KINDS),
                         "description": "what happened; see [events.md](events.md)"},
                "time": _str("when it happened, RFC 3339 with an offset",
                             format="date-time", pattern=(
                                 r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                                 r"(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$")),
                "actor": _id("the party whose key signs the event"),
                "location": _id("where it happened (a registered location id)"),
                "inputs": {"type": "array", "items": _ref("LotQuantity"),
                           "description": "lots consumed, moved or tested"},
                "outputs": {"type": "array", "items": _ref("LotQuantity"),
                            "description": "lots created"},
                "data": {"type": "object", "additionalProperties": _ref("JsonValue"),
                         "propertyNames": {"pattern": NO_NUL},
                         "description": "the kind's fields, with their limits: "
                                        f"`{DATA_SCHEMA_PREFIX}<kind>` below; see "
                                        "[events.md](events.md)"},
                "sig": {"type": "object", "required": ["key", "value"],
                        "additionalProperties": False,
                        "description": "Ed25519 signature over the RFC 8785 bytes of the event "
                                       "without `sig`; omit it to have the service sign with "
                                       "the actor's custodial key",
                        "properties": {
                            "key": _str("key id: the first 8 bytes of SHA-256 of the public "
                                        "key, hex", pattern="^[0-9a-f]{16}$"),
                            "value": _str("the 64-byte signature", contentEncoding="base64",
                                          pattern="^[A-Za-z0-9+/]{86}==$")}},
            }},
        "Receipt": {
            "type": "object", "description": "What the ledger answers for an appended event",
            "required": ["seq", "id", "hash", "recorded_at", "duplicate"],
            "properties": {
                "seq": _int("the record's number (its Merkle leaf index)", minimum=0),
                "id": _str("the event id"),
                "hash": _str("the record hash (RFC 9162 leaf hash)", pattern=HEX64),
                "recorded_at": _str("when the ledger recorded it, RFC 3339 UTC"),
                "duplicate": {"type": "boolean", "description": "true when the event was "
                              "already stored with the same bytes"},
                "url": _str("where to read the record")}},
        "Checkpoint": {
            "type": "object", "description": "A tree head signed by the operator",
            "required": ["size", "root"],
            "properties": {
                "origin": _str("the checkpoint origin line, e.g. `tracelib/yunyang-amr`"),
                "size": _int("tree size: the number of records committed to", minimum=0),
                "root": _str("RFC 9162 root hash at `size`", pattern=HEX64),
                "note": _str("the C2SP signed note (origin, size, base64 root, signature "
                             "lines)"),
                "created_at": _str("when it was signed, RFC 3339 UTC"),
                "signed": {"type": "boolean", "description": "false when a stall page is "
                           "served from a head newer than the last signed checkpoint"},
                "witnessed": {"type": "boolean", "description": "on pages with a witness "
                              "policy: true when the proofs are against the newest checkpoint "
                              "the policy counts as witnessed"},
                "witness": {"type": "object", "description": "on pages with a witness policy: "
                            "`count` of `total` policy witnesses cosigned the checkpoint shown; "
                            "`witnessed` when they meet the quorum"},
                "cosignatures": {"type": "array", "items": {"type": "string"},
                                 "description": "GET /checkpoint: the witnesses' C2SP "
                                 "cosignature/v1 lines, also at the end of `note`"},
                "witnessing": {"type": "object", "description": "GET /checkpoint with a "
                               "witness policy: `witnessed_size` (the newest checkpoint meeting "
                               "its quorum), `cosigners`, `newest_size`, `newest_cosigned`, "
                               "`witnesses`"}}},
        "Record": {
            "type": "object", "description": "A stored event with its place in the ledger",
            "required": ["seq", "hash", "prev", "event"],
            "properties": {
                "seq": _int("the record's number (its Merkle leaf index)", minimum=0),
                "hash": _str("the record hash: SHA-256(0x00 ‖ record bytes)", pattern=HEX64),
                "prev": _str("the previous record's hash (32 zero bytes for seq 0)",
                             pattern=HEX64),
                "recorded_at": _str("RFC 3339 UTC"),
                "key": _str("id of the key that signed the event", pattern="^[0-9a-f]{16}$"),
                "event": {**_ref("Event"), "description": "the event as signed, with its `sig`"},
                "proof": _str("URL of the record's inclusion proof")}},
        "Trace": {
            "type": "object", "description": "Trace JSON ([contract v1](contract.md#trace-json))",
            "required": ["lot"],
            "properties": {
                "lot": _str("the lot traced"),
                "upstream": {"type": "object", "description":
                             "`lots`, `origins` (lot, event, seq, location, certificate) and the "
                             "cold-chain `path` (omitted with `direction=forward`)"},
                "downstream": {"type": "object", "description":
                               "`lots` and `locations` with `received`, `sold`, `on_hand`, "
                               "`held` per location and unit (omitted with `direction=back`)"}}},
        "Scan": {
            "type": "object", "description": 'Scan JSON ([contract v1](contract.md#scan-json))',
            "required": ["stall", "on_hand", "tests", "holds", "checkpoint"],
            "properties": {
                "stall": {"type": "object", "description":
                          "`id`, `name`, `number`, `market`, `market_name`, `holder`, "
                          "`address`, `licences` {`business`, `food`}"},
                "on_hand": {"type": "array", "description":
                            "lots with stock at the stall: `lot`, `product`, `qty`, `unit`, "
                            "`held`, `origin` (the first origin certificate), `origins`, "
                            "`gtin`"},
                "tests": {"type": "array", "description":
                          "today's rapid tests, newest first: `time`, `item`, `sample`, "
                          "`result` (`negative`, `suspect`, `positive`), `rate`, `method`, "
                          "`lot`, `commodity`, `retest`, `follow_up`, `event`, `seq`"},
                "holds": {"type": "array", "description":
                          "lots held at the stall or recalled: `lot`, `reason`, `seq`, "
                          "`kind` (`hold` or `recall`)"},
                "checkpoint": {**_ref("Checkpoint"), "description":
                               "the tree head the shown records are proven against"},
                "record": {"type": "object", "description":
                           "the 30-day record and the red/black-list `standing`"},
                "lab_results": {"type": "array",
                                "description": "the stall's latest lab results"},
                "proofs": {"type": "array",
                           "description": "each shown record's `seq`, `what` and proof `url`"}}},
        "InclusionProof": {
            "type": "object", "description": "RFC 9162 §2.1.3 inclusion proof",
            "required": ["seq", "size", "leaf_hash", "proof", "root"],
            "properties": {
                "seq": _int("the record", minimum=0),
                "size": _int("the tree size the proof is for", minimum=1),
                "leaf_hash": _str("the record hash", pattern=HEX64),
                "proof": {"type": "array", "items": {"type": "string", "pattern": HEX64},
                          "description": "sibling hashes, leaf to root (RFC 9162 §2.1.3)"},
                "root": _str("the root at `size`", pattern=HEX64),
                "checkpoint": {"type": ["string", "null"], "description":
                               "the signed note of the checkpoint at `size`, if one exists"}}},
        "ConsistencyProof": {
            "type": "object", "description": "RFC 9162 §2.1.4 consistency proof",
            "required": ["size1", "size2", "proof", "root1", "root2"],
            "properties": {
                "size1": _int("the older tree size", minimum=1),
                "size2": _int("the newer tree size", minimum=1),
                "proof": {"type": "array", "items": {"type": "string", "pattern": HEX64},
                          "description": "RFC 9162 §2.1.4 proof hashes"},
                "root1": _str("the root at `size1`", pattern=HEX64),
                "root2": _str("the root at `size2`", pattern=HEX64)}},
        **_regulator_schemas(),
        "Problem": {
            "type": "object", "description": "RFC 9457 problem details",
            "required": ["type", "title", "status"],
            "properties": {
                "type": _str("always `about:blank`"),
                "title": _str("the status, in words"),
                "status": _int("the HTTP status", minimum=400, maximum=599),
                "detail": _str("what went wrong, with expected and found values"),
                "instance": _str("the request path"),
                "code": _str("`bad_request`, `validation`, `signature`, `conflict`, "
                             "`not_found`, …"),
                "field": _str("the offending field or parameter"),
                "line": _int("1-based position of the offending event in the request",
                             minimum=1),
                "event_id": _str("id of the offending event"),
                "seq": _int("the first record that failed an integrity check", minimum=0),
                "request_id": _str("the request's id, as in the `X-Request-Id` response "
                                   "header and the service's log lines"),
                "retry_after": _int("seconds to wait before asking again (`code: "
                                    "rate_limited`, also in `Retry-After`)", minimum=1)}},
    }


def _paths(max_events: int) -> dict[str, Any]:
    events = {"type": "array", "items": _ref("Event"), "minItems": 1, "maxItems": max_events,
              "description": "appended in order, in one transaction"}
    events_body = {"oneOf": [events,
                             {"type": "object", "required": ["events"],
                              "additionalProperties": False,
                              "properties": {"events": events}}]}
    receipts = {"type": "object", "required": ["receipts", "checkpoint"],
                "properties": {
                    "receipts": {"type": "array", "items": _ref("Receipt"),
                                 "description": "one per event, in request order"},
                    "checkpoint": {"oneOf": [_ref("Checkpoint"), {"type": "null"}],
                                   "description": "after a write that stored something: the "
                                   "checkpoint the service signed (or the latest one when it "
                                   "does not sign); `null` when nothing new was stored"}}}
    example = [{"id": "sale-a01-0003", "kind": "sale", "time": "2026-11-22T10:00:00+08:00",
                "actor": "stall-a01", "location": "stall-a01",
                "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}],
                "data": {"receipt": "A01-0003"}}]
    size = {"type": "integer", "minimum": 1, "maximum": MAX_SEQ}
    return {
        "/events": {"post": {
            "operationId": "appendEvents", "summary": "Append events (one transaction)",
            "description": "Each event is signed by its actor, or unsigned and then signed "
                           "with the actor's custodial key. Every event must act for the "
                           "token's party. The batch is all or nothing: one refused event "
                           "refuses the request and nothing is stored. An event already "
                           "stored with the same bytes is answered with its receipt again.",
            "requestBody": {"required": True,
                            "description": "the events: a JSON array, or an object with "
                                           "`events`; strict JSON (no duplicate keys, no "
                                           "floats), at most 1 MiB",
                            "content": {"application/json": {"schema": events_body,
                                                             "example": example}}},
            "responses": {"201": _json(receipts, "Appended (receipts in order)"),
                          "200": _json(receipts, "All events were already stored (idempotent)"),
                          **_errors(400, 401, 403, 409, 413, 415, 422,
                                    e403="The token lacks `write` "
                                    "(`code: insufficient_scope`), or an event acts for "
                                    "another party than the token's (`code: forbidden`)")}}},
        "/events/{event_id}": {"get": {
            "operationId": "getEvent", "summary": "A stored event with its record",
            "description": "The event exactly as signed, with its record number, hashes and a "
                           "link to its inclusion proof.",
            "parameters": [_path_param("event_id", "the event id", {
                "type": "string", "minLength": 1, "maxLength": 200, "pattern": ID},
                "origin-LOT-CP-0001"),
                           _IF_NONE_MATCH],
            "responses": {"200": _json(_ref("Record"), "The record"), **_NOT_MODIFIED,
                          **_errors(401, 403, 404, e404="No event with this id")}}},
        "/lots/{lot}/trace": {"get": {
            "operationId": "traceLot", "summary": "Trace a lot back and forward",
            "description": "Upstream: the lots it came from, their origin certificates and "
                           "the cold-chain path. Downstream: the lots made from it and where "
                           "they are, received, sold, on hand or held.",
            "parameters": [_path_param("lot", "the lot code", {
                "type": "string", "minLength": 1, "maxLength": 200, "pattern": ID},
                "LOT-CP-0001"),
                           _query_param("direction", "`back` (upstream only), `forward` "
                                        "(downstream only) or `both`", {
                                            "type": "string", "enum": ["both", "back", "forward"],
                                            "default": "both"}),
                           _IF_NONE_MATCH],
            "responses": {"200": _json(_ref("Trace"), "The trace"), **_NOT_MODIFIED,
                          **_errors(400, 401, 403, 404, e400="An unknown `direction` or parameter",
                                    e404="No lot with this code")}}},
        "/stalls/{stall}": {"get": {
            "operationId": "getStall", "summary": "A stall's scan JSON",
            "description": "What a shopper's scan of the stall's placard shows: the holder and "
                           "licences, lots on sale, today's rapid tests, holds and recalls, the "
                           "30-day record, with inclusion proofs against a checkpoint.",
            "parameters": [_path_param("stall", "the stall's location id", {
                "type": "string", "minLength": 1, "maxLength": 200,
                "pattern": r"^[^/\u0000-\u001f\u007f-\u009f]{1,200}$"}, "stall-a01"),
                           _IF_NONE_MATCH],
            "responses": {"200": _json(_ref("Scan"), "The stall"), **_NOT_MODIFIED,
                          **_errors(401, 404, e404="No stall with this id",
                                    e401="A token was sent and is not a live token (no "
                                    "token is needed)")}}},
        "/checkpoint": {"get": {
            "operationId": "getCheckpoint", "summary": "The latest signed checkpoint",
            "description": "The newest tree head the operator signed, with the witnesses' "
                           "cosignature lines stored for it (C2SP tlog-cosignature). "
                           "`Accept: text/plain` gives the C2SP signed note itself.",
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": {"description": "JSON, or the C2SP signed note as text/plain",
                                  "content": {"application/json": {"schema": _ref("Checkpoint")},
                                              "text/plain": {"schema": {"type": "string"}}}},
                          **_NOT_MODIFIED,
                          **_errors(404, e404="No checkpoint has been signed yet")}}},
        "/proofs/inclusion/{seq}": {"get": {
            "operationId": "inclusionProof", "summary": "RFC 9162 inclusion proof of a record",
            "description": "The hashes that prove record `seq` is in the tree of `size` "
                           "records, with the root and the signed note at `size` when one "
                           "exists.",
            "parameters": [_path_param("seq", "the record number (0-based)", {
                "type": "integer", "minimum": 0, "maximum": MAX_SEQ}, 5),
                           _query_param("size", "the tree size (default: the latest checkpoint "
                                        "covering `seq`, else the current size)", size,
                                        example=16),
                           _IF_NONE_MATCH],
            "responses": {"200": _json(_ref("InclusionProof"), "The proof"), **_NOT_MODIFIED,
                          **_errors(400, 404, e400="`size` is not a positive integer, or an "
                                    "unknown parameter",
                                    e404="`seq` is not below `size`, or `size` is larger than "
                                    "the ledger")}}},
        "/proofs/consistency": {"get": {
            "operationId": "consistencyProof", "summary": "RFC 9162 consistency proof",
            "description": "The hashes that prove the tree of `second` records extends the "
                           "tree of `first` records, with both roots.",
            "parameters": [_query_param("first", "the older tree size", size, required=True,
                                        example=3),
                           _query_param("second", "the newer tree size (default: the current "
                                        "size)", size, example=16),
                           _IF_NONE_MATCH],
            "responses": {"200": _json(_ref("ConsistencyProof"), "The proof"), **_NOT_MODIFIED,
                          **_errors(400, 404, 422,
                                    e400="`first` is missing, a size is not a positive "
                                    "integer, or an unknown parameter",
                                    e404="`second` is larger than the ledger",
                                    e422="`first` is larger than `second`")}}},
        "/lots/{lot}/records": {"get": {
            "operationId": "lotRecords",
            "summary": "A lot's family's records with their proofs, for peer ledgers",
            "description": "The records of the lot, its ancestors and descendants, each with "
                           "its stored bytes (base64) and its inclusion proof in the tree of "
                           "the newest checkpoint, whose signed note is `checkpoint`; "
                           "`peer_places` names the places that stand for a peer ledger's "
                           "receiving point (docs/contract.md \"Peers and entries from another "
                           "ledger\"). What `tracelib drill --follow` reads of a peer.",
            "parameters": [_path_param("lot", "the lot code", {
                "type": "string", "minLength": 1, "maxLength": 200, "pattern": ID},
                "LOT-CP-0001"), _IF_NONE_MATCH],
            "responses": {"200": _json({"type": "object", "required": [
                "origin", "lot", "family", "checkpoint", "size", "records", "peer_places"],
                "properties": {
                    "origin": _str("the ledger's checkpoint origin line"),
                    "lot": _str("the lot asked for"),
                    "family": {"type": "array", "items": {"type": "string"},
                               "description": "the lot, its ancestors and descendants"},
                    "checkpoint": _str("the newest checkpoint's C2SP signed note"),
                    "size": {"type": "integer", "description": "its tree size"},
                    "records": {"type": "array", "items": {"type": "object", "properties": {
                        "seq": {"type": "integer"},
                        "record": _str("the record's stored bytes, base64"),
                        "proof": {"type": "array", "items": {"type": "string"},
                                  "description": "RFC 9162 inclusion proof, hex"}}}},
                    "peer_places": {"type": "object", "additionalProperties": {
                        "type": "string"}, "description": "place id → peer origin line"}}},
                "The records"), **_NOT_MODIFIED,
                          **_errors(401, 403, 404, e404="No lot with this code, or no "
                                    "checkpoint signed yet")}}},
        "/keys/{key_id}": {"get": {
            "operationId": "keyRecord", "summary": "The record that registered a key",
            "description": "The `register` record that registered the key, as "
                           "`GET /api/v1/events/{event_id}` gives a record: what a peer cites "
                           "to check a shipment's signature.",
            "parameters": [_path_param("key_id", "the key id (16 hex digits)", {
                "type": "string", "pattern": "^[0-9a-f]{16}$"}, "0123456789abcdef"),
                           _IF_NONE_MATCH],
            "responses": {"200": _json({"type": "object", "required": ["key_id", "party",
                                                                       "record"],
                                        "properties": {"key_id": _str("the key id"),
                                                       "party": _str("its party"),
                                                       "revoked_seq": {"type": ["integer",
                                                                                "null"]},
                                                       "record": _ref("Record")}},
                                       "The key's register record"), **_NOT_MODIFIED,
                          **_errors(401, 403, 404, e404="No key with this id")}}},
        "/peers/receive": {"post": {
            "operationId": "receiveFromPeer",
            "summary": "Bring a peer ledger's shipment in (peer_entry)",
            "description": "Fetches the ship record, the peer's checkpoint and the proofs from "
                           "the registered peer's API (with the token `TRACELIB_PEER_TOKENS` "
                           "names for it) and appends the `peer_entry` for the token's party, "
                           "signed with its custodial key; the ledger checks the citation at "
                           "append (docs/contract.md \"Peers and entries from another "
                           "ledger\").",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "required": ["peer", "ship_event", "location", "product"],
                "properties": {"peer": {**_str("the peer's origin line"), "minLength": 1,
                                        "maxLength": 500, "pattern": NO_NUL},
                               "ship_event": {**_str("the peer's ship event id"), "minLength": 1,
                                              "maxLength": 200, "pattern": ID},
                               "location": {**_str("the receiving point here"), "minLength": 1,
                                            "maxLength": 200, "pattern": ID},
                               "product": {**_str("the product, as named here"),
                                           "minLength": 1, "maxLength": 500,
                                           "pattern": NO_NUL},
                               "storage": {"type": "string",
                                           "enum": ["ambient", "chilled", "frozen"]}}}}}},
            "responses": {"201": _json({"type": "object"}, "Entered: the receipt and lots"),
                          **_errors(400, 401, 403, 404, 415, 422, 502,
                                    e403="The token's party holds neither the receiving point "
                                    "nor its parent",
                                    e404="No location with this id",
                                    e422="Unknown peer, or the citation does not verify",
                                    e502="The peer did not answer, or its answer did not "
                                    "verify")}}},
        "/peers/notices": {"post": {
            "operationId": "peerNotice", "summary": "A recall notice from a peer ledger",
            "description": "A peer's `recall` record with its inclusion proof in the peer's "
                           "checkpoint (`tracelib peer notify` in the peer builds and sends "
                           "it). Kept when the peer is registered, the checkpoint is signed by "
                           "its registered key and the proof verifies; the regulator's console "
                           "shows it, and the regulator recalls here.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["peer", "recall_event", "recall_seq", "record",
                                               "proof", "checkpoint"],
                "properties": {"peer": _str("the peer's origin line"),
                               "recall_event": _str("the recall's event id"),
                               "recall_seq": {"type": "integer"},
                               "record": _str("the recall record's bytes, base64"),
                               "proof": {"type": "array", "items": {"type": "string"}},
                               "checkpoint": _str("the peer's signed note")}}}}},
            "responses": {"201": _json({"type": "object"}, "Kept"),
                          "200": _json({"type": "object"}, "Already kept"),
                          **_errors(400, 401, 403, 404, 415, 422,
                                    e403="Not a token of this ledger's operator or a "
                                    "regulator",
                                    e404="No peer registered with this origin line",
                                    e422="The notice does not verify")}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document",
            "description": "The OpenAPI 3.1 description of `/api/v1`, generated by the service "
                           "itself.",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")}}},
    }


# -- the regulator's endpoints (service/regulator_api.py) ---------------------------------

_REGULATOR_ONLY = "For regulators (and the operator)."
_NOT_A_REGULATOR = "The token lacks `read:all` (or `write`, to sign)"


def _regulator_schemas() -> dict[str, Any]:
    from tracelib.views.alerts import KINDS as ALERT_KINDS

    lot_links = {"type": "object", "description": "links to the evidence: `events` (each "
                 "event's record, with its inclusion proof), `lot` (the lot page), `trace`, "
                 "`board` (the market's board)"}
    return {
        "Alert": {
            "type": "object", "description": "One matter on the regulator's work list "
                                             "([contract v1](contract.md#alerts-json))",
            "required": ["id", "kind", "severity", "title", "since", "evidence", "links"],
            "properties": {
                "id": _str("stable while the matter lasts (16 hex digits)",
                           pattern="^[0-9a-f]{16}$"),
                "kind": {"type": "string", "enum": list(ALERT_KINDS),
                         "description": "what the matter is"},
                "severity": {"type": "string", "enum": ["critical", "warning"],
                             "description": "`critical` alerts are listed first"},
                "title": {"type": "object", "required": ["zh", "en"],
                          "description": "the alert in words, in Chinese and in English",
                          "properties": {"zh": _str("Chinese"), "en": _str("English")}},
                "since": _str("since when, RFC 3339 in the event's own offset"),
                "location": {"type": ["string", "null"], "description": "the place concerned"},
                "location_name": {"type": ["string", "null"]},
                "lot": {"type": ["string", "null"], "description": "the lot concerned"},
                "party": {"type": ["string", "null"], "description": "the party concerned: "
                          "the holder of the place (the carrier for an excursion)"},
                "party_name": {"type": ["string", "null"]},
                "evidence": {"type": "object", "description": "`events` (ids), `lot`, "
                             "`market`"},
                "details": {"type": "object", "description": "the kind's own facts"},
                "links": lot_links}},
        "Alerts": {
            "type": "object", "description": "Alerts JSON: the day's work list "
                                             "([contract v1](contract.md#alerts-json))",
            "required": ["now", "day", "rules", "counts", "alerts", "not_checked"],
            "properties": {
                "now": _str("the service's clock, in its time zone (`TIMEZONE`)"),
                "day": _str("the local date", format="date"),
                "rules": {"type": "object", "description": "the thresholds: "
                          "`follow_up_hours`, `receive_hours`, `tests_published_by`, "
                          "`excursion_days`"},
                "counts": {"type": "object", "description": "`total`, `critical`, `warning`, "
                           "`by_kind`"},
                "alerts": {"type": "array", "items": _ref("Alert"),
                           "description": "critical first, then oldest first"},
                "not_checked": {"type": "array", "description": "alerts tracelib cannot "
                                "produce, and why (`kind`, `reason_zh`, `reason_en`)"}}},
        "Kpi": {
            "type": "object", "description": "Demonstration-city figures of a year, as "
                                             "`tracelib report kpi --json` prints them",
            "required": ["year", "population", "counts", "figures", "daily"],
            "properties": {
                "year": _int("the year"), "population": _int("residents"),
                "counts": {"type": "object", "description": "`batches` (official sampling), "
                           "`by_sampling` (lab results by `sampling`, and `unstated`), "
                           "`residue_batches`, `evaluation_passed`, `evaluation_failed`, "
                           "`evaluation_no_limit`, `official_failed`, `followed_up`, `rapid`, "
                           "`rapid_positive`, `rapid_suspect`"},
                "figures": {"type": "array", "description": "each official figure (`name`, "
                            "`value`, `target`, `met`, `definition`): "
                            "`sampling_batches_per_1000`, `residue_batches_per_1000`, "
                            "`evaluation_pass_rate`, `follow_up_rate` and, when the year has "
                            "a plan, `plan_completion`"},
                "rapid_figures": {"type": "array", "description": "market rapid tests apart, "
                                  "never official sampling: `rapid_tests`, "
                                  "`rapid_positive_rate`"},
                "plan": {"type": ["object", "null"], "description": "the year's latest plan: "
                         "`event`, `targets` (`sampling`, `category`, `stage`, `target`, "
                         "`done`, `completion`)"},
                "daily": {"type": "array", "description": "per day of 评价性抽检: `day`, "
                          "`tests`, `passed`, `failed`, `pass_rate` (the chart's data)"}}},
        "Drill": {
            "type": "object", "description": "A recall drill's answer, recorded as a `drill` "
                                             "event signed by the regulator",
            "required": ["id", "event", "lot", "elapsed_ms", "answer_digest", "counts",
                         "stalls_to_visit", "canteens_reached", "schools_reached", "trace",
                         "report", "picture"],
            "properties": {
                "id": _int("the drill event's record number: names its report", minimum=0),
                "event": _str("the drill event's id"),
                "lot": _str("the lot drilled"), "question": _str("the drill's question"),
                "elapsed_ms": {"type": "number", "description": "how long the trace took"},
                "answer_digest": _str("SHA-256 of the canonical trace answer", pattern=HEX64),
                "counts": {"type": "object", "description": "`origins`, `upstream_lots`, "
                           "`downstream_lots`, `locations`, `stalls`, `stalls_with_stock`, "
                           "`canteens`, `schools`"},
                "stalls_to_visit": {"type": "array", "description": "stalls with stock of "
                                    "the lot or a lot made from it: `location`, `name`, "
                                    "`unit`, `received`, `sold`, `on_hand`, `held`"},
                "canteens_reached": {"type": "array", "description": "canteens that received "
                                     "the lot or a lot made from it: `location`, `name`, "
                                     "`school` (`true` for a school's canteen, 学校食堂)"},
                "schools_reached": {"type": "array", "description": "the school canteens "
                                    "among `canteens_reached`, in the same shape"},
                "trace": _ref("Trace"),
                "receipt": _ref("Receipt"),
                "report": _str("where to download the report folder as a zip"),
                "picture": _str("the path picture (SVG)"),
                "checkpoint": {"oneOf": [_ref("Checkpoint"), {"type": "null"}]}}},
        "Recall": {
            "type": "object", "description": "A recall signed by the regulator",
            "required": ["lot", "reason", "holds", "in_transit", "recalled_lots", "receipts",
                         "canteens_reached", "schools_reached"],
            "properties": {
                "lot": _str("the lot recalled"), "reason": _str("why"),
                "holds": {"type": "array", "description": "the places to visit: `location`, "
                          "`name`, `type`, `lots` (`lot`, `qty`, `unit` on hand), "
                          "`already_held`"},
                "in_transit": {"type": "array", "description": "shipments on the road: "
                               "`ship_event`, `lot`, `to`, `qty`"},
                "recalled_lots": {"type": "array", "items": {"type": "string"}},
                "canteens_reached": {"type": "array", "description": "canteens holding stock "
                                     "or with stock on the way: `location`, `name`, `school`"},
                "schools_reached": {"type": "array", "description": "the school canteens "
                                    "among `canteens_reached`"},
                "receipts": {"type": "array", "items": _ref("Receipt"),
                             "description": "the hold and recall events appended"},
                "checkpoint": {"oneOf": [_ref("Checkpoint"), {"type": "null"}]},
                "notified_peers": {"type": "array", "items": {"type": "string"},
                                   "description": "the peer ledgers (origin lines) shipments "
                                   "went to, sent a notice of the recall after this answer "
                                   "(docs/contract.md \"Peers and entries from another "
                                   "ledger\")"}}},
    }


def _regulator_paths() -> dict[str, Any]:
    security = [{"bearer": []}]
    lot = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": ID}
    seq = _path_param("seq", "the drill event's record number (the `id` of the drill)",
                      {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}, 42)

    def body(required: list[str], properties: dict[str, Any],
             example: dict[str, Any]) -> dict[str, Any]:
        schema = {"type": "object", "required": required, "additionalProperties": False,
                  "properties": properties}
        return {"required": True, "content": {"application/json": {"schema": schema,
                                                                   "example": example}}}

    text = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NO_NUL}
    return {
        "/alerts": {"get": {
            "operationId": "getAlerts", "summary": "The day's alerts for a regulator",
            "description": "Failures whose follow-up is open past 24 h, lots held with stock "
                           "on hand, shipments not received after 24 h, cold-chain excursions "
                           "of the last 7 days, markets whose day's rapid tests were not "
                           "published by 09:00 local time, meat on sale with no slaughter in "
                           "its ancestry; each with links to its evidence. " + _REGULATOR_ONLY,
            "security": security,
            "responses": {"200": _json(_ref("Alerts"), "The work list"),
                          **_errors(400, 401, 403, e400="An unknown parameter",
                                    e403=_NOT_A_REGULATOR)}}},
        "/reports/kpi": {"get": {
            "operationId": "getKpi", "summary": "Demonstration-city KPI of a year",
            "description": "Batches and residue batches tested per 1,000 residents, the pass "
                           "rate and the follow-up rate, each beside its target, and the "
                           "daily figures of the pass-rate chart. " + _REGULATOR_ONLY,
            "security": security,
            "parameters": [
                _query_param("year", "the year", {"type": "integer", "minimum": 2000,
                                                  "maximum": 2100}, required=True,
                             example=2026),
                _query_param("population", "residents of the area",
                             {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER},
                             required=True, example=120000),
                _query_param("market", "only the tests of this market's stalls", lot)],
            "responses": {"200": _json(_ref("Kpi"), "The figures"),
                          **_errors(400, 401, 403, e400="`year` or `population` missing or "
                                    "out of range, or an unknown parameter",
                                    e403=_NOT_A_REGULATOR)}}},
        "/drills": {"post": {
            "operationId": "runDrill", "summary": "Run a recall drill on a lot",
            "description": "Traces the lot both ways, records a `drill` event signed with the "
                           "regulator's custodial key, writes the report folder (summary, "
                           "FSMA 204 sheet as CSV and XLSX, path picture) and answers the "
                           "stalls to visit with the quantities on hand. " + _REGULATOR_ONLY,
            "security": security,
            "requestBody": body(["lot"], {"lot": {**lot, "description": "the lot to drill"},
                                          "question": {**text, "description":
                                                       "the drill's question, in words"}},
                                {"lot": "LOT-CP-0001"}),
            "responses": {"201": _json(_ref("Drill"), "The drill, recorded"),
                          **_errors(400, 401, 403, 404, 413, 415, 422,
                                    e403=_NOT_A_REGULATOR, e404="No lot with this code",
                                    e422="The service holds no custodial key for the "
                                    "regulator (`code: signature`)")}}},
        "/drills/{seq}/report.zip": {"get": {
            "operationId": "getDrillReport", "summary": "A drill's report folder as a zip",
            "description": "summary.json, ctes.csv, ctes.xlsx, path.svg and path.png, in a "
                           "folder `drill-<seq>`. " + _REGULATOR_ONLY,
            "security": security, "parameters": [seq],
            "responses": {"200": {"description": "The zip",
                                  "content": {"application/zip": {"schema": {
                                      "type": "string", "contentEncoding": "binary"}}}},
                          **_errors(401, 403, 404, e403=_NOT_A_REGULATOR,
                                    e404="No drill report for this record")}}},
        "/drills/{seq}/path.svg": {"get": {
            "operationId": "getDrillPicture", "summary": "A drill's path picture",
            "description": "The locations the lot and the lots made from it went through, "
                           "joined by shipments (held places and excursions marked). "
                           + _REGULATOR_ONLY,
            "security": security, "parameters": [seq],
            "responses": {"200": {"description": "The picture",
                                  "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
                          **_errors(401, 403, 404, e403=_NOT_A_REGULATOR,
                                    e404="No drill report for this record")}}},
        "/recalls": {"post": {
            "operationId": "startRecall", "summary": "Recall a lot",
            "description": "In one transaction of events signed with the regulator's custodial "
                           "key: a `hold` at every place with stock of the lot or a lot made "
                           "from it, and a `recall` of every such lot on hand or in transit. "
                           + _REGULATOR_ONLY,
            "security": security,
            "requestBody": body(["lot", "reason"],
                                {"lot": {**lot, "description": "the lot to recall"},
                                 "reason": {**text, "description": "why, shown on the stall "
                                            "pages"}},
                                {"lot": "LOT-CP-0001", "reason": "抽检不合格: 豇豆 灭蝇胺超标"}),
            "responses": {"201": _json(_ref("Recall"), "Recalled: the places to visit"),
                          "200": _json(_ref("Recall"), "Nothing was on hand or in transit: "
                                       "no event appended"),
                          **_errors(400, 401, 403, 404, 413, 415, 422,
                                    e403=_NOT_A_REGULATOR, e404="No lot with this code",
                                    e422="The service holds no custodial key for the "
                                    "regulator (`code: signature`)")}}},
    }


def _receipt_paths() -> dict[str, Any]:
    """Sales from a stall's scale or till and payment notifications (docs/contract.md
    "Receipts", "Payments")."""
    yuan = {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,4})?$",
            "description": "yuan as a decimal string", "examples": ["12.80"]}
    item = {"type": "object", "required": ["lot", "qty", "unit"], "additionalProperties": False,
            "properties": {"lot": {"type": "string", "minLength": 1, "maxLength": 200},
                           "qty": {"type": "string", "description": "a decimal string, e.g. "
                                                                    "`0.735`"},
                           "unit": {"type": "string", "minLength": 1, "maxLength": 20},
                           "unit_price": {**yuan, "description": "the price per `unit` "
                                                                 "(明码标价); on every item or "
                                                                 "none"}}}
    sale = {"type": "object", "required": ["items"], "additionalProperties": False,
            "properties": {"items": {"type": "array", "items": item, "minItems": 1,
                                     "maxItems": 200},
                           "receipt_no": {"type": "string", "minLength": 1, "maxLength": 100,
                                          "description": "the device's receipt number: sent "
                                                         "again, it names the same receipt"}}}
    answer = {"type": "object", "required": ["receipt", "total", "seq", "receipt_url", "qr_png",
                                             "qr_svg"], "properties": {
        "receipt": {"type": "string", "pattern": "^[A-Z2-7]{26}$",
                    "description": "the receipt id (128 bits, base32): the sale event's id"},
        "total": {"type": ["string", "null"], "description": "yuan, two decimals; null "
                                                             "without unit prices"},
        "seq": {"type": "integer", "description": "the sale's record number"},
        "receipt_url": {"type": "string", "description": "the receipt page, from the "
                                                         "configured public URL"},
        "qr_png": {"type": "string", "description": "its QR, PNG at most 384 dots wide (a "
                                                    "58 mm thermal printer)"},
        "qr_svg": {"type": "string", "description": "its QR, SVG 40 mm wide"}}}
    note = {"type": "object", "additionalProperties": False,
            "required": ["notification", "receipt", "amount", "provider_ref", "paid_at",
                         "sent_at"], "properties": {
                "notification": {"type": "string", "description": "the provider's id of "
                                                                  "this notification"},
                "receipt": {"type": "string", "pattern": "^[A-Z2-7]{26}$"},
                "amount": {**yuan, "description": "what was paid: the receipt's total"},
                "provider_ref": {"type": "string", "maxLength": 100},
                "paid_at": {"type": "string", "format": "date-time"},
                "sent_at": {"type": "string", "format": "date-time",
                            "description": "when the notification was sent; refused more "
                                           "than 5 minutes from the service's clock"},
                "provider": {"type": "string", "maxLength": 100}}}
    paid = {"type": "object", "properties": {"payment": {"type": "string"},
                                             "receipt": {"type": "string"},
                                             "amount": {"type": "string"},
                                             "seq": {"type": "integer"}}}
    return {
        "/stalls/{stall}/sales": {"post": {
            "operationId": "postSale", "summary": "Record a sale from the stall's scale or till",
            "description": "Records a `sale` at the stall, signed as the stall, all lines in one "
                           "event (all or nothing); a held or recalled lot, or more than is on "
                           "hand, is refused. Answers the receipt: its id, total, page and QR. "
                           "Idempotent by `receipt_no`.",
            "parameters": [_path_param("stall", "the stall's location id", {
                "type": "string", "minLength": 1, "maxLength": 200}, "stall-a01")],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": sale}}},
            "responses": {"201": _json(answer, "Recorded"),
                          "200": _json(answer, "Recorded before under this `receipt_no`"),
                          **_errors(400, 401, 403, 404, 409, 413, 415, 422,
                                    e403="Not a device token of this stall (`code: "
                                    "device_token`)", e404="No stall with this id",
                                    e422="A lot unknown, held, recalled or short on hand; "
                                    "nothing was stored")}}},
        "/payments/notify": {"post": {
            "operationId": "notifyPayment", "summary": "A payment provider's notification",
            "description": "Records a `payment` of a receipt of one of the market's stalls. "
                           "`X-Tracelib-Market` names the market and `X-Tracelib-Signature` is "
                           "`sha256=` and the hex HMAC-SHA256 (RFC 2104) of the raw body with "
                           "the market's shared secret. A receipt is paid once.",
            "parameters": [
                {"name": "X-Tracelib-Market", "in": "header", "required": True,
                 "schema": {"type": "string"}, "description": "the market's location id"},
                {"name": "X-Tracelib-Signature", "in": "header", "required": True,
                 "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                 "description": "HMAC-SHA256 of the body with the market's secret"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": note}}},
            "responses": {"201": _json(paid, "Recorded"),
                          **_errors(400, 401, 403, 404, 409, 413, 422,
                                    e401="Unsigned, forged, or sent more than 5 minutes from "
                                    "now; nothing was stored",
                                    e403="The receipt is not of a stall of this market",
                                    e404="No such receipt",
                                    e409="The receipt is already paid (a replay); nothing "
                                    "was stored",
                                    e422="The amount is not the receipt's total; nothing was "
                                    "stored")}}},
    }


def _blob_paths() -> dict[str, Any]:
    """The attachments' blob store (docs/contract.md "Attachments")."""
    name = _path_param("name", "the blob's name: `sha256:` and the 64 lowercase hex digits of "
                       "the SHA-256 of its bytes", {
                           "type": "string", "pattern": "^sha256:[0-9a-f]{64}$",
                           "minLength": 71, "maxLength": 71},
                       "sha256:" + "0" * 64)
    stored = {"type": "object", "required": ["name", "size", "created"],
              "additionalProperties": False, "properties": {
                  "name": {"type": "string", "description": "the blob's name"},
                  "size": {"type": "integer", "minimum": 0, "maximum": MAX_BLOB_BYTES,
                           "description": "its size in bytes"},
                  "created": {"type": "boolean",
                              "description": "false: the blob was already stored"}}}
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    return {"/blobs/{name}": {
        "put": {
            "operationId": "putBlob", "summary": "Upload an attachment (a scan or PDF)",
            "description": "Stores the raw body under the SHA-256 of its bytes, which the "
                           "path names; an event's `data` then cites that name. An event "
                           "citing a blob not uploaded is refused (`422`, `field` names "
                           f"where it is cited). At most {MAX_BLOB_BYTES} bytes, sent with a "
                           "`Content-Length` or chunked.",
            "parameters": [name],
            "requestBody": {"required": True, "description": "the file's bytes, as they are",
                            "content": {"application/octet-stream": {"schema": binary}}},
            "responses": {
                "201": _json(stored, "Stored"),
                "200": _json(stored, "Already stored (idempotent)"),
                **_errors(400, 401, 403, 413, 422,
                          e400="The name is not `sha256:` and 64 lowercase hex digits "
                          "(`field: name`), or the body ended before its `Content-Length` "
                          "(`code: wrong_size`); nothing was stored",
                          e403="The token lacks `write`",
                          e413=f"The body is over {MAX_BLOB_BYTES} bytes, declared by "
                          "`Content-Length` or found while reading a chunked body "
                          "(`code: too_large`); nothing was stored",
                          e422="The body's SHA-256 is another name (the answer says the "
                          "body's hash and size); nothing was stored")}},
        "get": {
            "operationId": "getBlob", "summary": "Download an attachment",
            "description": "The blob's bytes, as an attachment (`Content-Disposition: "
                           "attachment`, `X-Content-Type-Options: nosniff`), typed "
                           "`application/pdf`, `image/png` or `image/jpeg` from its first "
                           "bytes, else `application/octet-stream`. `HEAD` answers the same "
                           "headers without the body.",
            "parameters": [name, _IF_NONE_MATCH],
            "responses": {
                "200": {"description": "The blob", "content": {
                    "application/octet-stream": {"schema": binary}}},
                **_NOT_MODIFIED,
                **_errors(400, 401, 403, 404,
                          e400="The name is not `sha256:` and 64 lowercase hex digits",
                          e403="The token lacks a read scope, or no event citing the blob "
                          "is within its reach (`code: not_your_books`); a blob no event "
                          "cites is readable with `read:all` only",
                          e404="Not in the blob store (cited or not)")}},
    }}


def _epcis_subscription_paths(script_root: str) -> dict[str, Any]:
    """EPCIS 2.0 named queries and subscriptions (the EPCIS 2.0 REST binding's ``/queries``
    paths), served under ``/epcis``: each path item names that server."""
    servers = [{"url": f"{script_root}/epcis"}]
    name = _path_param("name", "the query's name", _id("a query name, without '/'"),
                       "shipments")
    sid = _path_param("sid", "the subscription's id (`subscriptionID`)",
                      {"type": "string", "maxLength": 36},
                      "df5a33e3-5aa3-4403-ae01-99b83234e27b")
    params = {"type": "object", "description": "EPCIS 2.0 query parameters, each a string or "
              "a list of strings: those of `GET /epcis/events` (`eventType`, `EQ_bizStep`, "
              "`MATCH_anyEPCClass`, `GE_eventTime`, …) but `perPage` and `nextPageToken`",
              "additionalProperties": {"oneOf": [{"type": "string"}, {
                  "type": "array", "items": {"type": "string"}}]}}
    query = {"type": "object", "required": ["name", "query"], "additionalProperties": False,
             "properties": {"name": _id("the query's name (no '/')"), "query": params}}
    subscription = {
        "type": "object", "required": ["subscriptionID", "queryName", "dest", "stream",
                                       "createdAt"],
        "properties": {
            "subscriptionID": _str("the subscription's id"),
            "queryName": _str("the query it follows"),
            "dest": _str("the webhook URL"),
            "stream": {"type": "boolean", "description": "always true: each new matching "
                       "event is sent"},
            "reportIfEmpty": {"type": "boolean", "description": "send a document even when "
                              "none of the new records matches"},
            "createdAt": _str("when it was made", format="date-time"),
            "lastNotifiedAt": {"type": ["string", "null"], "format": "date-time",
                               "description": "when the webhook last answered 2xx"},
            "delivered": _int("events the webhook acknowledged, in all", minimum=0),
            "failures": _int("failed attempts since the last success", minimum=0),
            "lastError": {"type": ["string", "null"], "description": "why the last attempt "
                          "failed"},
            "nextAttemptAt": _str("when the deliverer next tries", format="date-time")}}
    body = {"type": "object", "required": ["dest", "signatureToken", "stream"],
            "additionalProperties": False, "properties": {
                "dest": _str("the webhook: an `https://` URL (certificate verified, redirects "
                             "not followed)", maxLength=2000),
                "signatureToken": _str("the key of the `GS1-Signature` header: base64 of "
                                       "HMAC-SHA256 over each delivery's body", minLength=1,
                                       maxLength=500),
                "stream": {"const": True, "description": "must be true (scheduled "
                           "subscriptions are not offered)"},
                "reportIfEmpty": {"type": "boolean", "default": False,
                                  "description": "also send a document with no events when "
                                  "new records matched nothing"}}}
    e404 = "No query with this name among the caller's (or, for `read:all`, anyone's)"
    return {
        "/queries": {
            "servers": servers,
            "post": {
                "operationId": "createQuery", "summary": "Create a named EPCIS query",
                "description": "Keeps the query parameters under a name, for the caller's "
                               "party; `Location` is the query's URL.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": query, "example": {"name": "shipments",
                                                 "query": {"EQ_bizStep": ["shipping"]}}}}},
                "responses": {"201": _json(query, "Created"),
                              **_errors(400, 401, 403, 409, 413, 415,
                                        e400="A malformed body, an unknown field, or a query "
                                        "parameter refused (`field: query.<parameter>`)",
                                        e409="A query with this name exists "
                                        "(`code: conflict`)")}},
            "get": {
                "operationId": "listQueries", "summary": "The named EPCIS queries",
                "description": "The caller's party's queries (`read:all`: every query), by "
                               "name.",
                "responses": {"200": _json({"type": "array", "items": query}, "The queries"),
                              **_errors(401, 403)}}},
        "/queries/{name}": {
            "servers": servers,
            "get": {
                "operationId": "getQuery", "summary": "A named EPCIS query",
                "description": "The query's name and parameters.", "parameters": [name],
                "responses": {"200": _json(query, "The query"),
                              **_errors(401, 403, 404, e404=e404)}},
            "delete": {
                "operationId": "deleteQuery", "summary": "Delete a named EPCIS query",
                "description": "Deletes the query and every subscription to it (EPCIS 2.0: "
                               "its subscribers are unsubscribed).", "parameters": [name],
                "responses": {"204": {"description": "Deleted"},
                              **_errors(401, 403, 404, e404=e404)}}},
        "/queries/{name}/events": {
            "servers": servers,
            "get": {
                "operationId": "getQueryEvents", "summary": "A named query's events",
                "description": "The events matching the named query and within the caller's "
                               "token's reach, as an `EPCISQueryDocument` "
                               "(`application/ld+json`, `queryName` the query's), `perPage` "
                               "at a time, with `Link: <…>; rel=\"next\"` while more may "
                               "follow; the request gives only `perPage` and "
                               "`nextPageToken`.",
                "parameters": [name, {
                    "name": "perPage", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "description": "events a page (default 30)"}, {
                    "name": "nextPageToken", "in": "query", "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "from the previous page's `Link`"}],
                "responses": {"200": {"description": "A page of events", "content": {
                    "application/ld+json": {"schema": {"type": "object"}}}},
                              **_errors(400, 401, 403, 404, e404=e404)}}},
        "/queries/{name}/subscriptions": {
            "servers": servers,
            "post": {
                "operationId": "subscribe", "summary": "Subscribe a webhook to a query",
                "description": "From now on, each record appended that maps to an EPCIS event "
                               "matching the query and lying within the caller's token's "
                               "reach is POSTed to `dest` by the deliverer (`tracelib epcis "
                               "deliver`) in an `EPCISQueryDocument` (at most 500 events), "
                               "signed in the `GS1-Signature` header; each event once, retried "
                               "with backoff. `Location` is the subscription's URL; the answer "
                               "never holds the signatureToken.",
                "parameters": [name],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": body, "example": {
                        "dest": "https://client.example.com/queryCallback",
                        "signatureToken": "13df38d8275b13f05704629e5f1cf3d45d6132d5",
                        "stream": True}}}},
                "responses": {"201": _json(subscription, "Subscribed"),
                              **_errors(400, 401, 403, 404, 413, 415,
                                        e400="A malformed body, `dest` not `https://`, "
                                        "`stream` not true, a `schedule`, or an unknown "
                                        "field (`field` names it)", e404=e404)}},
            "get": {
                "operationId": "listSubscriptions", "summary": "A query's subscriptions",
                "description": "The caller's subscriptions to the query (`read:all`: all), "
                               "with their delivery state.", "parameters": [name],
                "responses": {"200": _json({"type": "array", "items": subscription},
                                           "The subscriptions"),
                              **_errors(401, 403, 404, e404=e404)}}},
        "/queries/{name}/subscriptions/{sid}": {
            "servers": servers,
            "get": {
                "operationId": "getSubscription", "summary": "A subscription",
                "description": "The subscription and its delivery state.",
                "parameters": [name, sid],
                "responses": {"200": _json(subscription, "The subscription"),
                              **_errors(401, 403, 404, e404="No such query or subscription "
                                        "among the caller's")}},
            "delete": {
                "operationId": "unsubscribe", "summary": "Unsubscribe",
                "description": "Deletes the subscription: nothing more is sent.",
                "parameters": [name, sid],
                "responses": {"204": {"description": "Unsubscribed"},
                              **_errors(401, 403, 404, e404="No such query or subscription "
                                        "among the caller's")}}},
    }


#: The EPCIS 2.0 REST binding's paths are under ``/epcis``, not ``/api/v1``: each path item
#: names its own server (OpenAPI 3.1 §4.8.9 ``servers`` of a Path Item).
EPCIS_PREFIX = "/epcis"


def _log_paths(script_root: str) -> dict[str, Any]:
    """The tile log (docs/contract.md "Tile log"): C2SP tlog-tiles under ``/log/``."""
    server = [{"url": script_root}]  # the app's root: the paths carry /log/
    octets = {"application/octet-stream": {"schema": {"type": "string",
                                                      "format": "binary"}}}
    tile_path = _path_param(
        "path", "`<L>/<N>` or `<L>/<N>.p/<W>` (C2SP tlog-tiles): `L` the tile level 0-63 "
        "(tree level 8·L), `N` the tile index in zero-padded 3-digit path elements, all but "
        "the last prefixed with `x` (1234067 is `x001/x234/067`), `W` a partial tile's "
        "width 1-255; the slashes are part of the path", {"type": "string"}, "0/x001/234")
    bundle_path = _path_param(
        "path", "`<N>` or `<N>.p/<W>`, as for hash tiles", {"type": "string"}, "000.p/17")
    caching = ("Full tiles: `Cache-Control: public, max-age=31536000, immutable`; partial "
               "tiles (`.p/<W>`): `public, max-age=5`.")
    return {
        "/log/checkpoint": {"servers": server, "get": {
            "operationId": "logCheckpoint", "summary": "The tile log's checkpoint",
            "description": "The newest signed checkpoint as a C2SP signed note "
                           "(c2sp.org/tlog-checkpoint), `text/plain; charset=utf-8`, "
                           "`Cache-Control: public, max-age=5`, with an ETag.",
            "parameters": [_IF_NONE_MATCH],
            "responses": {"200": {"description": "The signed note",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          **_NOT_MODIFIED,
                          **_errors(404, e404="No checkpoint has been signed yet")}}},
        "/log/tile/{path}": {"servers": server, "get": {
            "operationId": "logHashTile", "summary": "A hash tile (C2SP tlog-tiles)",
            "description": "256 (or `W`) consecutive Merkle Tree Hashes of tree level 8·L of "
                           "the newest checkpoint's tree, 32 bytes each, read from the "
                           "stored subtree hashes. A partial tile narrower than the tree's "
                           "is an older checkpoint's, and served. " + caching,
            "parameters": [tile_path],
            "responses": {"200": {"description": "The tile's hashes", "content": octets},
                          **_errors(400, 404, e400="A malformed tile path (leading zeroes, "
                                    "a level above 63, a width outside 1-255, …)",
                                    e404="The newest checkpoint's tree holds no such tile "
                                    "(or not that wide) yet")}}},
        "/log/tile/entries/{path}": {"servers": server, "get": {
            "operationId": "logEntryBundle", "summary": "An entry bundle (C2SP tlog-tiles)",
            "description": "The records of level-0 tile `N`, each a big-endian uint16 length "
                           "then the record's bytes, whose RFC 9162 leaf hash is the hash "
                           "in the level-0 tile. " + caching + " (`private` behind a token.)",
            "parameters": [bundle_path],
            "responses": {"200": {"description": "The bundle", "content": octets},
                          **_errors(400, 401, 403, 404, 422,
                                    e400="A malformed bundle path",
                                    e404="The newest checkpoint's tree holds no such bundle "
                                    "(or not that wide) yet",
                                    e422="A record is longer than the 65,535 bytes a bundle "
                                    "entry can carry")}}},
    }


def _epcis_capture_paths(script_root: str) -> dict[str, Any]:
    """EPCIS 2.0 capture (docs/contract.md "EPCIS 2.0 capture and import"): the EPCIS 2.0
    OpenAPI's ``/capture`` and ``/capture/{captureID}``."""
    from tracelib.epcis import MAX_EVENTS

    problem = {"application/problem+json": {"schema": _ref("Problem")}}
    version = [{"name": h, "in": "header", "required": False, "schema": {"type": "string"},
                "description": f"the {what} version asked for; `2.0.0` is spoken (`406` "
                               "otherwise)"}
               for h, what in (("GS1-EPCIS-Version", "EPCIS"), ("GS1-CBV-Version", "CBV"))]
    behaviour = {"name": "GS1-Capture-Error-Behaviour", "in": "header", "required": False,
                 "schema": {"type": "string", "enum": ["rollback", "proceed"],
                            "default": "rollback"},
                 "description": "`rollback`: every event is stored or none; `proceed`: the "
                                "events the ledger accepts are stored, the others reported"}
    job = {"type": "object", "required": ["captureID", "createdAt", "running", "success",
                                          "captureErrorBehaviour", "errors"],
           "properties": {
               "captureID": {"type": "string", "description": "the capture's id"},
               "createdAt": {"type": "string", "format": "date-time"},
               "finishedAt": {"type": ["string", "null"], "format": "date-time"},
               "running": {"type": "boolean", "description": "always false: the capture is "
                                                             "done when the 202 is sent"},
               "success": {"type": "boolean", "description": "no event was refused"},
               "captureErrorBehaviour": {"type": "string", "enum": ["rollback", "proceed"]},
               "errors": {"type": "array", "description": "one RFC 9457 problem per refused "
                          "event: `index` in the eventList, `path` (and `instance`) the JSON "
                          "path of the field at fault, `status` 400 (a rule of the ledger), "
                          "403 (an event acting for another party) or 409",
                          "items": {"type": "object"}}}}
    capture_id = _path_param("captureID", "the capture's id, from the `Location` of its 202",
                             {"type": "string", "maxLength": 64}, "0f8e3c…")
    return {
        "/capture": {
            "servers": [{"url": f"{script_root}{EPCIS_PREFIX}"}],
            "post": {
                "operationId": "epcisCapture",
                "summary": "Capture an EPCIS 2.0 document (GS1 EPCIS 2.0 REST binding)",
                "description": "An `EPCISDocument` (JSON-LD): checked whole against GS1's "
                               "JSON schema, `@context`, event types and CBV 2.0 vocabulary; "
                               "each event mapped to the kind that records it, signed with "
                               "the key the service holds for the token's party and appended "
                               "under every rule of the ledger. The capture runs inside the "
                               "request: the `202`'s `Location` "
                               "(`/epcis/capture/{captureID}`, from the service's public URL) "
                               "names a finished job. An event already captured (same "
                               "`tracelib:eventId`, else the same GS1 event hash ID) answers "
                               f"with its original record. At most {MAX_EVENTS} events.",
                "parameters": [*version, behaviour],
                "requestBody": {"required": True, "content": {
                    "application/ld+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "202": {"description": "Captured (or refused event by event, as the job "
                                           "says)", "headers": {"Location": {
                                               "schema": {"type": "string"},
                                               "description": "the capture job"}},
                            "content": {"application/json": {"schema": job}}},
                    **{str(c): {"description": d, "content": problem} for c, d in (
                        (400, "The document is refused whole, nothing stored: not JSON, "
                              "nested deeper than 32 levels, not GS1's schema or `@context`, "
                              "an unknown event type, a bizStep or disposition CBV 2.0 does "
                              "not define (`path` names the field), or an unknown "
                              "`GS1-Capture-Error-Behaviour`"),
                        (401, _ERROR_TEXT[401]), (403, "The token lacks `write`"),
                        (406, "A `GS1-EPCIS-Version` or `GS1-CBV-Version` other than 2.0"),
                        (413, f"More than {MAX_EVENTS} events, or a body over "
                              "`EPCIS_CAPTURE_MAX_BYTES` (64 MiB); nothing was stored"),
                        (415, "The body is not JSON"))}}},
        },
        "/capture/{captureID}": {
            "servers": [{"url": f"{script_root}{EPCIS_PREFIX}"}],
            "get": {
                "operationId": "epcisCaptureJob",
                "summary": "A capture job (GS1 EPCIS 2.0 REST binding)",
                "description": "What a capture did: `running`, `success`, "
                               "`captureErrorBehaviour` and its `errors`.",
                "parameters": [capture_id],
                "responses": {
                    "200": _json(job, "The capture job"),
                    **{str(c): {"description": d, "content": problem} for c, d in (
                        (401, _ERROR_TEXT[401]),
                        (403, "The token lacks `write` and `read:all`"),
                        (404, "No capture has this id, or it is another party's"))}}},
        },
    }


_EPCIS_PARAMS = (
    ("eventType", "event types (comma-separated or repeated): `ObjectEvent`, "
                  "`TransformationEvent`, …"),
    ("GE_eventTime", "events at or after this time (RFC 3339 with offset)"),
    ("LT_eventTime", "events before this time"),
    ("GE_recordTime", "events recorded at or after this time"),
    ("LT_recordTime", "events recorded before this time"),
    ("EQ_bizStep", "bizSteps: CBV 2.0 short names (`shipping`), Web URIs or URNs"),
    ("EQ_disposition", "dispositions: CBV 2.0 short names (`in_transit`), Web URIs or URNs"),
    ("EQ_bizLocation", "location URIs as the export names them (GS1 Digital Link `414`, or "
                       "`{public URL}/loc/{id}`)"),
    ("EQ_readPoint", "read point URIs (as `EQ_bizLocation`)"),
    ("MATCH_anyEPCClass", "lot URIs (GS1 Digital Link `01`/`10`, or `{public URL}/l/{lot}`) "
                          "in any quantity list"),
    ("MATCH_epcClass", "lot URIs in `quantityList`"),
    ("MATCH_inputEPCClass", "lot URIs in `inputQuantityList`"),
    ("MATCH_outputEPCClass", "lot URIs in `outputQuantityList`"),
    ("EQ_action", "`ADD`, `OBSERVE` or `DELETE`"),
)
_PER_PAGE = _query_param("perPage", "events (or members) per page", {
    "type": "integer", "minimum": 1, "maximum": 1000, "default": 30})
_NEXT_PAGE = _query_param("nextPageToken", "the token of the next page, from the previous "
                          "page's `Link: <…>; rel=\"next\"`", {"type": "string"})
_QUERY_DOCUMENT = {"type": "object", "description": "an EPCIS 2.0 `EPCISQueryDocument` "
                   "(JSON-LD): `epcisBody.queryResults.resultsBody.eventList`, each event as "
                   "`tracelib epcis export` writes it", "required": ["type", "epcisBody"],
                   "properties": {"type": {"type": "string", "const": "EPCISQueryDocument"},
                                  "epcisBody": {"type": "object"}}}
_COLLECTION = {"type": "object", "description": "an EPCIS 2.0 `Collection`: `member` lists "
               "the values", "required": ["type", "member"],
               "properties": {"type": {"type": "string", "const": "Collection"},
                              "member": {"type": "array", "items": {"type": "string"}}}}


def _epcis_query_paths() -> dict[str, Any]:
    """The EPCIS 2.0 REST binding's queries (docs/contract.md "EPCIS query"), under
    ``/epcis``."""
    params = [_query_param(name, text, {"type": "string"}) for name, text in _EPCIS_PARAMS]
    query_errors = _errors(400, 401, e400="A parameter EPCIS 2.0 does not name, one this "
                           "repository does not implement, a malformed or out-of-range value, "
                           "or a page token of another query (`field` names the parameter: "
                           "the binding's `QueryParameterException`)")
    found = {"200": {"description": "The events within the token's reach; "
                                    "`Link: <…>; rel=\"next\"` when more may follow; "
                                    "`GS1-EPCIS-Version` and `GS1-CBV-Version` headers",
                     "content": {"application/ld+json": {"schema": _QUERY_DOCUMENT}}},
             **query_errors}

    def events(op: str, summary: str, described: str,
               path_param: dict[str, Any] | None = None) -> dict[str, Any]:
        given = [path_param] if path_param else []
        return {"get": {"operationId": op, "summary": summary, "description": described,
                        "parameters": [*given, *params, _PER_PAGE, _NEXT_PAGE],
                        "responses": found}}

    def listing(op: str, summary: str, described: str, paged: bool = False) -> dict[str, Any]:
        return {"get": {"operationId": op, "summary": summary, "description": described,
                        "parameters": [_PER_PAGE, _NEXT_PAGE] if paged else [],
                        "responses": {"200": _json(_COLLECTION, "The collection"),
                                      **_errors(400, 401)}}}

    def named(name: str, text: str, example: str) -> dict[str, Any]:
        return _path_param(name, text, {"type": "string", "minLength": 1}, example)

    query_words = ("An EPCIS 2.0 SimpleEventQuery: the events matching every parameter "
                   "given, in the order the ledger recorded them, `perPage` at a time.")
    paths = {
        "/events": events("epcisEvents", "Query EPCIS events", query_words),
        "/events/{eventID}": {"get": {
            "operationId": "epcisEventById", "summary": "An EPCIS event by its hash ID",
            "description": "The event whose GS1 event hash ID (`ni:///sha-256;…?ver=CBV2.0`, "
                           "URL-encoded) is `eventID`, in an `EPCISQueryDocument`. The ID "
                           "index catches up with the ledger before it answers.",
            "parameters": [named("eventID", "the event hash ID, URL-encoded",
                                 "ni%3A%2F%2F%2Fsha-256%3Bdf7b%3Fver%3DCBV2.0")],
            "responses": {"200": found["200"], **_errors(401, 403, 404,
                          e404="No event with this ID"),
                          "503": {"description": "The ID index has not yet read every "
                                                 "record (`code: indexing`, `Retry-After`)"}}}},
        "/eventTypes": listing("epcisEventTypes", "EPCIS event types",
                                     "The five EPCIS 2.0 event types."),
        "/eventTypes/{eventType}/events": events(
            "epcisEventTypeEvents", "Events of one type", query_words,
            named("eventType", "an EPCIS event type", "ObjectEvent")),
        "/bizSteps": listing("epcisBizSteps", "Business steps",
                                   "The CBV 2.0 business steps, by short name."),
        "/bizSteps/{bizStep}/events": events(
            "epcisBizStepEvents", "Events of one business step", query_words,
            named("bizStep", "a CBV 2.0 business step", "shipping")),
        "/dispositions": listing("epcisDispositions", "Dispositions",
                                       "The CBV 2.0 dispositions, by short name."),
        "/dispositions/{disposition}/events": events(
            "epcisDispositionEvents", "Events of one disposition", query_words,
            named("disposition", "a CBV 2.0 disposition", "in_transit")),
        "/bizLocations": listing("epcisBizLocations", "Business locations",
                                       "Every registered location's URI, by id.", True),
        "/bizLocations/{bizLocation}/events": events(
            "epcisBizLocationEvents", "Events at one location", query_words,
            named("bizLocation", "a location URI, URL-encoded",
                  "https%3A%2F%2Ftrace.example.cn%2Floc%2Fstall-a01")),
        "/readPoints": listing("epcisReadPoints", "Read points",
                                     "Every registered location's URI, by id.", True),
        "/readPoints/{readPoint}/events": events(
            "epcisReadPointEvents", "Events at one read point", query_words,
            named("readPoint", "a location URI, URL-encoded",
                  "https%3A%2F%2Ftrace.example.cn%2Floc%2Fstall-a01")),
        "/epcs": listing("epcisEpcs", "Lots (EPC classes)",
                               "Every lot's class-level URI, by lot code.", True),
        "/epcs/{epc}/events": events(
            "epcisEpcEvents", "Events of one lot", query_words,
            named("epc", "a lot URI, URL-encoded",
                  "https%3A%2F%2Fid.gs1.org%2F01%2F06901234567892%2F10%2FLOT-CP-0001")),
    }
    return paths


def _with_access(paths: dict[str, Any],
                 operations_map: dict[str, str] | None = None) -> dict[str, Any]:
    """Each operation with the scope its endpoint asks for (service/access.py)."""
    endpoints = OPERATIONS if operations_map is None else operations_map
    for operations in paths.values():
        for key, operation in operations.items():
            if key == "servers":  # a path item served elsewhere than /api/v1 names its server
                continue
            access = ENDPOINTS[endpoints[operation["operationId"]]]
            operation.update(openapi_security(access))
            operation["description"] = f"{operation['description']}\n\n**Access.** {access.note}."
    return paths


def openapi_document(script_root: str = "", *, max_events: int = 1000) -> dict[str, Any]:
    """OpenAPI 3.1.0; ``script_root`` is where the app is mounted (the server URL),
    ``max_events`` the app's ``API_MAX_EVENTS``."""

    return {
        "openapi": "3.1.0",
        "info": {"title": "tracelib API", "version": "1.0.0",
                 "description": "Food traceability ledger: signed events, traces, stalls, "
                                "checkpoints and Merkle proofs (data contract v1).",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": f"{script_root}/api/v1"}],
        "paths": _with_access({**_paths(max_events), **_regulator_paths(), **_blob_paths(),
                               **_receipt_paths(),
                               **_epcis_subscription_paths(script_root),
                               **_epcis_capture_paths(script_root),
                               **_log_paths(script_root)}),
        "components": {
            "schemas": {**_schemas(), **_data_schemas()},
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "an API token acting for one party (`tlk_…`) with scopes "
                               "(RFC 6749 §3.3 names; an operation's `security` lists the "
                               "scopes that will do, also as `x-tracelib-scope`): "
                               + "; ".join(f"`{s}` {_SCOPE_TEXT[s]}" for s in SCOPES)}},
        },
    }


def _bearer() -> dict[str, Any]:
    return {"type": "http", "scheme": "bearer",
            "description": "an API token acting for one party (`tlk_…`) with scopes: "
                           + "; ".join(f"`{s}` {_SCOPE_TEXT[s]}" for s in SCOPES)}


def epcis_openapi_document(script_root: str = "") -> dict[str, Any]:
    """The EPCIS 2.0 REST binding's queries as OpenAPI 3.1.0 (its paths and parameters
    as GS1's EPCIS 2.0 OpenAPI names them), served at ``/epcis/openapi.json``."""
    paths = _epcis_query_paths()
    paths["/openapi.json"] = {"get": {
        "operationId": "epcisOpenapi", "summary": "This document",
        "description": "The EPCIS 2.0 query binding as OpenAPI 3.1.0.", "parameters": [],
        "responses": {"200": _json({"type": "object"}, "The OpenAPI document")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "tracelib EPCIS 2.0 query", "version": "2.0.0",
                 "description": "The GS1 EPCIS 2.0 REST binding's queries over the ledger: "
                                "`GET /events` with the standard query parameters, events by "
                                "their GS1 event hash ID, and the discovery resources.",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": f"{script_root}/epcis"}],
        "paths": _with_access(paths, EPCIS_OPERATIONS),
        "components": {"schemas": {"Problem": _schemas()["Problem"]},
                       "securitySchemes": {"bearer": _bearer()}},
    }
