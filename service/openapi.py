"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_document"]

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str, description: str, *, integer: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0} if integer else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


def _query_param(name: str, description: str, schema: dict[str, Any], *,
                 required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _PROBLEM for c in codes}


def openapi_document(script_root: str = "") -> dict[str, Any]:
    """OpenAPI 3.1.0; ``script_root`` is where the app is mounted (the server URL)."""
    lot_qty = {"type": "object", "required": ["lot", "qty", "unit"],
               "additionalProperties": False,
               "properties": {"lot": {"type": "string", "maxLength": 200},
                              "qty": {"type": "string", "pattern": r"^(0|[1-9]\d{0,11})(\.\d{1,6})?$"},
                              "unit": {"type": "string", "maxLength": 20}}}
    schemas: dict[str, Any] = {
        "Event": {
            "type": "object", "description": "CONTRACT.md Event (data contract v1)",
            "required": ["id", "kind", "time", "actor", "location", "data"],
            "properties": {
                "id": {"type": "string", "maxLength": 200},
                "kind": {"type": "string", "enum": [
                    "register", "origin", "slaughter", "ship", "receive", "transform", "sale",
                    "hold", "release", "recall", "drill", "rapid_test", "lab_test"]},
                "time": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"}, "location": {"type": "string"},
                "inputs": {"type": "array", "items": lot_qty},
                "outputs": {"type": "array", "items": lot_qty},
                "data": {"type": "object"},
                "sig": {"type": "object", "required": ["key", "value"],
                        "properties": {"key": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                                       "value": {"type": "string", "contentEncoding": "base64"}}},
            }},
        "Receipt": {"type": "object", "required": ["seq", "id", "hash", "recorded_at", "duplicate"],
                    "properties": {"seq": {"type": "integer"}, "id": {"type": "string"},
                                   "hash": {"type": "string"}, "recorded_at": {"type": "string"},
                                   "duplicate": {"type": "boolean"}, "url": {"type": "string"}}},
        "Checkpoint": {"type": "object", "required": ["size", "root"],
                       "properties": {"origin": {"type": "string"}, "size": {"type": "integer"},
                                      "root": {"type": "string"}, "note": {"type": "string"},
                                      "created_at": {"type": "string"},
                                      "signed": {"type": "boolean"}}},
        "Record": {"type": "object", "required": ["seq", "hash", "prev", "event"],
                   "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"},
                                  "prev": {"type": "string"}, "recorded_at": {"type": "string"},
                                  "key": {"type": "string"}, "event": _ref("Event"),
                                  "proof": {"type": "string"}}},
        "Trace": {"type": "object", "required": ["lot"], "description":
                  "CONTRACT.md `tracelib trace LOT --json`",
                  "properties": {"lot": {"type": "string"}, "upstream": {"type": "object"},
                                 "downstream": {"type": "object"}}},
        "Scan": {"type": "object", "description": 'CONTRACT.md "Scan JSON" (plus additive fields)',
                 "required": ["stall", "on_hand", "tests", "holds", "checkpoint"],
                 "properties": {"stall": {"type": "object"}, "on_hand": {"type": "array"},
                                "tests": {"type": "array"}, "holds": {"type": "array"},
                                "checkpoint": _ref("Checkpoint"), "record": {"type": "object"},
                                "lab_results": {"type": "array"}, "proofs": {"type": "array"}}},
        "InclusionProof": {"type": "object", "required": ["seq", "size", "leaf_hash", "proof", "root"],
                           "properties": {"seq": {"type": "integer"}, "size": {"type": "integer"},
                                          "leaf_hash": {"type": "string"},
                                          "proof": {"type": "array", "items": {"type": "string"}},
                                          "root": {"type": "string"},
                                          "checkpoint": {"type": ["string", "null"]}}},
        "ConsistencyProof": {"type": "object",
                             "required": ["size1", "size2", "proof", "root1", "root2"],
                             "properties": {"size1": {"type": "integer"},
                                            "size2": {"type": "integer"},
                                            "proof": {"type": "array", "items": {"type": "string"}},
                                            "root1": {"type": "string"},
                                            "root2": {"type": "string"}}},
        "Problem": {"type": "object", "description": "RFC 9457 problem details",
                    "required": ["type", "title", "status"],
                    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                   "status": {"type": "integer"}, "detail": {"type": "string"},
                                   "instance": {"type": "string"}, "code": {"type": "string"},
                                   "field": {"type": "string"}, "line": {"type": "integer"},
                                   "event_id": {"type": "string"}}},
    }
    events_body = {"oneOf": [{"type": "array", "items": _ref("Event"), "minItems": 1},
                             {"type": "object", "required": ["events"],
                              "additionalProperties": False,
                              "properties": {"events": {"type": "array", "items": _ref("Event"),
                                                        "minItems": 1}}}]}
    receipts = {"type": "object", "required": ["receipts"],
                "properties": {"receipts": {"type": "array", "items": _ref("Receipt")},
                               "checkpoint": {"oneOf": [_ref("Checkpoint"), {"type": "null"}]}}}
    paths: dict[str, Any] = {
        "/events": {"post": {
            "operationId": "appendEvents", "summary": "Append events (one transaction)",
            "description": "Each event is signed by its actor, or unsigned and then signed "
                           "with the actor's custodial key. Every event must act for the "
                           "token's party.",
            "security": [{"bearer": []}],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": events_body}}},
            "responses": {"201": _json(receipts, "Appended (receipts in order)"),
                          "200": _json(receipts, "All events were already stored (idempotent)"),
                          **_errors(400, 401, 403, 409, 413, 415, 422)}}},
        "/events/{event_id}": {"get": {
            "operationId": "getEvent", "summary": "A stored event with its record",
            "parameters": [_path_param("event_id", "the event id")],
            "responses": {"200": _json(_ref("Record"), "The record"), **_errors(404)}}},
        "/lots/{lot}/trace": {"get": {
            "operationId": "traceLot", "summary": "Trace a lot back and forward",
            "parameters": [_path_param("lot", "lot code"),
                           _query_param("direction", "which way", {
                               "type": "string", "enum": ["both", "back", "forward"],
                               "default": "both"})],
            "responses": {"200": _json(_ref("Trace"), "The trace"), **_errors(400, 404)}}},
        "/stalls/{stall}": {"get": {
            "operationId": "getStall", "summary": "A stall's scan JSON",
            "parameters": [_path_param("stall", "stall location id")],
            "responses": {"200": _json(_ref("Scan"), "The stall"), **_errors(404)}}},
        "/checkpoint": {"get": {
            "operationId": "getCheckpoint", "summary": "The latest signed checkpoint",
            "responses": {"200": {"description": "JSON, or the C2SP signed note as text/plain",
                                  "content": {"application/json": {"schema": _ref("Checkpoint")},
                                              "text/plain": {"schema": {"type": "string"}}}},
                          **_errors(404)}}},
        "/proofs/inclusion/{seq}": {"get": {
            "operationId": "inclusionProof", "summary": "RFC 9162 inclusion proof of a record",
            "parameters": [_path_param("seq", "record number", integer=True),
                           _query_param("size", "tree size (default: the latest checkpoint "
                                        "covering seq, else the current size)",
                                        {"type": "integer", "minimum": 1})],
            "responses": {"200": _json(_ref("InclusionProof"), "The proof"),
                          **_errors(400, 404)}}},
        "/proofs/consistency": {"get": {
            "operationId": "consistencyProof", "summary": "RFC 9162 consistency proof",
            "parameters": [_query_param("first", "the older tree size",
                                        {"type": "integer", "minimum": 1}, required=True),
                           _query_param("second", "the newer tree size (default: current)",
                                        {"type": "integer", "minimum": 1})],
            "responses": {"200": _json(_ref("ConsistencyProof"), "The proof"),
                          **_errors(400, 404, 422)}}},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "tracelib API", "version": "1.0.0",
                 "description": "Food traceability ledger: signed events, traces, stalls, "
                                "checkpoints and Merkle proofs (data contract v1).",
                 "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}},
        "servers": [{"url": f"{script_root}/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Problem": {"description": "RFC 9457 problem details", "content": {
                "application/problem+json": {"schema": _ref("Problem")}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "an API token acting for one party"}},
        },
    }
