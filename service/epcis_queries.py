"""EPCIS 2.0 named queries and webhook subscriptions under ``/epcis`` (the EPCIS 2.0
REST binding's ``/queries`` paths; docs/contract.md "EPCIS subscriptions").

Every endpoint needs a token with a read scope (service/access.py ``ENDPOINTS``). A party
sees, subscribes to and deletes the queries and subscriptions it made; a ``read:all`` token
(a regulator, the operator) sees them all. A subscription keeps how far its token reads, so
the deliverer (``tracelib epcis deliver``) sends it only events that token may read.
Webhook URLs must be ``https://`` (``EPCIS_ALLOW_LOOPBACK_HTTP`` lets ``http://`` to the
loopback address through, for tests and development); links come from configuration
(service/links.py), never from the request.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from tracelib.epcis import subscriptions as subs
from tracelib.epcis.subscriptions import Owner, subscription_doc
from tracelib.errors import NotFoundError, ValidationError
from tracelib.store.subscriptions import QueryRow, SubscriptionRow

from .access import READ_ALL, READ_MARKET, READ_SCOPES, Principal, require
from .epcis import binding_headers, query_events
from .extension import ledger, service
from .httputil import json_object_body, json_response
from .links import public_url
from .problems import BadInput

__all__ = ["bp"]

bp = Blueprint("epcis_queries", __name__, url_prefix="/epcis")

#: The EPCIS and CBV versions answered (EPCIS 2.0 REST: ``GS1-EPCIS-Version``, ``GS1-CBV-Version``).

_SUBSCRIPTION_KEYS = frozenset({"dest", "signatureToken", "stream", "reportIfEmpty"})


bp.after_request(binding_headers)


def _caller() -> tuple[Principal, Owner]:
    """The request's principal (401 or 403 without a read scope) and what it owns with:
    its party, how far it reads, the SHA-256 of its token."""
    who = require(*READ_SCOPES)
    assert who.party is not None
    reach = "all" if who.can(READ_ALL) else "market" if who.can(READ_MARKET) else "own"
    token = request.headers["Authorization"].partition(" ")[2].strip()
    return who, Owner(who.party, reach, hashlib.sha256(token.encode("utf-8")).hexdigest())


def _visible(who: Principal, owner: str) -> bool:
    return who.can(READ_ALL) or owner == who.party


def _body() -> dict[str, Any]:
    """The request's JSON object, strictly parsed (no duplicate keys, no floats, no NUL)."""
    return json_object_body(("application/json", "application/ld+json"))


def _query_doc(row: QueryRow) -> dict[str, Any]:
    return {"name": row.name, "query": row.params}


def _query_of(who: Principal, name: str) -> QueryRow:
    row = subs.get_query(ledger(), name)
    if row is None or not _visible(who, row.owner):
        raise NotFoundError(f"no query named {name!r}")
    return row


def _subscription_of(who: Principal, name: str, sid: str) -> SubscriptionRow:
    _query_of(who, name)
    row = subs.get_subscription(ledger(), sid)
    if row is None or row.query_name != name or not _visible(who, row.owner):
        raise NotFoundError(f"no subscription {sid!r} to the query {name!r}")
    return row


def _params(value: Any) -> dict[str, list[str]]:
    """The ``query`` object: each parameter a string or a list of strings."""
    if not isinstance(value, dict):
        raise BadInput("query must be an object of query parameters", field="query")
    out: dict[str, list[str]] = {}
    for key, item in value.items():
        items = [item] if isinstance(item, str) else item
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise BadInput(f"query parameter {key!r} must be a string or a list of strings",
                           field=f"query.{key}")
        out[key] = items
    return out


def _checked(call: Any, *args: Any, **kwargs: Any) -> Any:
    """A library call whose refusal of the body is a 400 naming the field."""
    try:
        return call(*args, **kwargs)
    except ValidationError as e:
        raise BadInput(str(e), field=e.field) from e


@bp.post("/queries")
def post_query() -> Response:
    _, owner = _caller()
    body = _body()
    unknown = sorted(set(body) - {"name", "query"})
    if unknown:
        raise BadInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    if "name" not in body:
        raise BadInput("name is required", field="name")
    row = _checked(subs.create_query, ledger(), body["name"], _params(body.get("query", {})),
                   owner, now=service().now())
    response = json_response(_query_doc(row), 201)
    response.headers["Location"] = public_url(url_for(".get_query", name=row.name))
    return response


@bp.get("/queries")
def get_queries() -> Response:
    who, _ = _caller()
    rows = subs.list_queries(ledger(), None if who.can(READ_ALL) else who.party)
    return json_response([_query_doc(r) for r in rows])


@bp.get("/queries/<name>")
def get_query(name: str) -> Response:
    who, _ = _caller()
    return json_response(_query_doc(_query_of(who, name)))


@bp.get("/queries/<name>/events")
def get_query_events(name: str) -> Response:
    """The named query's events within the caller's reach, a page at a time (EPCIS 2.0
    ``GET /queries/{queryName}/events``): its own parameters, and only ``perPage`` and
    ``nextPageToken`` from the request."""
    who, _ = _caller()
    row = _query_of(who, name)
    asked = request.args.to_dict(flat=False)
    other = sorted(set(asked) - {"perPage", "nextPageToken"})
    if other:
        raise BadInput(f"{other[0]}: a named query's parameters are its own; give only "
                       "perPage and nextPageToken", field=other[0])
    return query_events({**row.params, **asked}, query_name=name,
                        path=url_for(".get_query_events", name=name))


@bp.delete("/queries/<name>")
def delete_query(name: str) -> Response:
    who, _ = _caller()
    _query_of(who, name)
    subs.delete_query(ledger(), name)
    return Response(status=204)


@bp.post("/queries/<name>/subscriptions")
def post_subscription(name: str) -> Response:
    who, owner = _caller()
    _query_of(who, name)
    body = _body()
    unknown = sorted(set(body) - _SUBSCRIPTION_KEYS)
    if unknown:
        what = ("scheduled subscriptions are not offered: set stream to true"
                if unknown[0] in ("schedule", "initialRecordTime")
                else f"unknown field {unknown[0]!r}")
        raise BadInput(what, field=unknown[0])
    if body.get("stream") is not True:
        raise BadInput("stream must be true: this service sends each new matching event "
                       "(scheduled subscriptions are not offered)", field="stream")
    report_if_empty = body.get("reportIfEmpty", False)
    if not isinstance(report_if_empty, bool):
        raise BadInput("reportIfEmpty must be true or false", field="reportIfEmpty")
    for key in ("dest", "signatureToken"):
        if key not in body:
            raise BadInput(f"{key} is required", field=key)
    allow = bool(current_app.config.get("EPCIS_ALLOW_LOOPBACK_HTTP"))
    row = _checked(subs.subscribe, ledger(), name, body["dest"], body["signatureToken"], owner,
                   now=service().now(), report_if_empty=report_if_empty,
                   allow_loopback_http=allow)
    response = json_response(subscription_doc(row), 201)
    response.headers["Location"] = public_url(url_for(".get_subscription", name=name,
                                                      sid=row.id))
    return response


@bp.get("/queries/<name>/subscriptions")
def get_subscriptions(name: str) -> Response:
    who, _ = _caller()
    _query_of(who, name)
    rows = [r for r in subs.list_subscriptions(ledger(), name) if _visible(who, r.owner)]
    return json_response([subscription_doc(r) for r in rows])


@bp.get("/queries/<name>/subscriptions/<sid>")
def get_subscription(name: str, sid: str) -> Response:
    who, _ = _caller()
    return json_response(subscription_doc(_subscription_of(who, name, sid)))


@bp.delete("/queries/<name>/subscriptions/<sid>")
def delete_subscription(name: str, sid: str) -> Response:
    who, _ = _caller()
    _subscription_of(who, name, sid)
    subs.unsubscribe(ledger(), sid)
    return Response(status=204)
