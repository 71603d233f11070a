"""The EPCIS 2.0 REST binding's queries (docs/contract.md "EPCIS query"): ``GET /epcis/events``
with the standard query parameters, ``GET /epcis/events/{eventID}``, and the top-level
discovery resources (``/epcis/eventTypes``, ``/epcis/bizSteps``, ``/epcis/dispositions``,
``/epcis/bizLocations``, ``/epcis/readPoints``, ``/epcis/epcs``, each with its ``…/events``).

Every answer carries ``GS1-EPCIS-Version`` and ``GS1-CBV-Version``. Events are read as the
rest of the API reads them: a token with a read scope, and each event shown whole when the
reader may read its record (``tracelib.views.disclosure.event_in_reach``: a regulator every
event, a party its own books and one hop along the chain), left out otherwise. Links (the
``Link: rel="next"`` of a page) start from the configured public URL, never the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request

from tracelib.cbv import BIZSTEPS, DISPOSITIONS, EPCIS_CONTEXT, NAMESPACE, PREFIX, EpcisNames
from tracelib.epcis.eventids import find_event
from tracelib.epcis.query import (
    EVENT_TYPES,
    MAX_PER_PAGE,
    EventQuery,
    QueryError,
    run_query,
)
from tracelib.errors import NotFoundError
from tracelib.store.epcis import EpcisSql
from tracelib.timeutil import format_utc
from tracelib.views.disclosure import event_in_reach

from .access import forbid_other_books, reach
from .extension import ledger, service
from .httputil import json_response
from .links import public_url
from .problems import BadInput, problem

__all__ = ["CBV_VERSION", "EPCIS_VERSION", "binding_headers", "bp", "query_events"]

bp = Blueprint("epcis", __name__, url_prefix="/epcis")

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"


@bp.after_request
def binding_headers(response: Response) -> Response:
    """What every answer of the EPCIS 2.0 REST binding carries (its capture, queries and
    subscriptions too): the versions it speaks, and no caching unless an answer says."""
    response.headers["GS1-EPCIS-Version"] = EPCIS_VERSION
    response.headers["GS1-CBV-Version"] = CBV_VERSION
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _base() -> str:
    return str(current_app.config["LINK_BASE"])


def _document(events: list[dict[str, Any]], query_name: str = "SimpleEventQuery"
              ) -> dict[str, Any]:
    """An ``EPCISQueryDocument`` (EPCIS 2.0 §9.3) holding ``events``."""
    return {"@context": [EPCIS_CONTEXT, {PREFIX: NAMESPACE}], "type": "EPCISQueryDocument",
            "schemaVersion": "2.0", "creationDate": format_utc(service().now()),
            "epcisBody": {"queryResults": {"queryName": query_name,
                                           "resultsBody": {"eventList": events}}}}


def _bad(e: QueryError) -> BadInput:
    return BadInput(f"{e.param}: {e.message} (QueryParameterException)", field=e.param)


def query_events(params: Mapping[str, Sequence[str]], *, path: str = "/epcis/events",
                 query_name: str = "SimpleEventQuery") -> Response:
    """One page of the events matching ``params`` within the caller's reach, as an
    ``EPCISQueryDocument``; the next page's link is ``path`` with its token."""
    try:
        query = EventQuery.from_params(params)
    except QueryError as e:
        raise _bad(e) from None
    led = ledger()
    mine = reach(led)
    page = run_query(led, query, base=_base(),
                     keep=None if mine.everything else (lambda doc: event_in_reach(led, mine, doc)))
    response = json_response(_document(page.events, query_name),
                             mimetype="application/ld+json")
    if page.next_token is not None:
        following = {"perPage": [str(query.per_page)], "nextPageToken": [page.next_token]}
        if path == "/epcis/events":  # a named query's link names its parameters by its name
            following = {**query.to_params(), **following}
        link = public_url(path) + "?" + urlencode(following, doseq=True)
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


def _with(name: str, value: str) -> dict[str, list[str]]:
    params = request.args.to_dict(flat=False)
    if name in params:
        raise BadInput(f"{name} is given by the path", field=name)
    return {**params, name: [value]}


@bp.get("/events")
def events() -> Response:
    return query_events(request.args.to_dict(flat=False))


@bp.get("/events/<path:eventID>", merge_slashes=False)
def event_by_id(eventID: str) -> Response:
    event_id = eventID
    led = ledger()
    found = find_event(led, _base(), event_id)
    if found.event is None:
        if not found.complete:
            response = problem(503, "Service Unavailable",
                               f"the event ID index has read {found.indexed} of {found.size} "
                               "records; ask again shortly", code="indexing")
            response.headers["Retry-After"] = "5"
            return response
        raise NotFoundError(f"no event with the ID {event_id!r}")
    if found.stored is None or not event_in_reach(led, reach(led), found.stored):
        raise forbid_other_books(f"event {event_id!r}")
    return json_response(_document([found.event]), mimetype="application/ld+json")


def _collection(members: list[str], next_link: str | None = None) -> Response:
    response = json_response({"@context": EPCIS_CONTEXT, "type": "Collection",
                              "member": members})
    if next_link is not None:
        response.headers["Link"] = f'<{next_link}>; rel="next"'
    return response


@bp.get("/eventTypes")
def event_types() -> Response:
    return _collection(list(EVENT_TYPES))


@bp.get("/eventTypes/<eventType>/events")
def event_type_events(eventType: str) -> Response:
    return query_events(_with("eventType", eventType))


@bp.get("/bizSteps")
def biz_steps() -> Response:
    return _collection(sorted(BIZSTEPS))


@bp.get("/bizSteps/<path:bizStep>/events")
def biz_step_events(bizStep: str) -> Response:
    return query_events(_with("EQ_bizStep", bizStep))


@bp.get("/dispositions")
def dispositions() -> Response:
    return _collection(sorted(DISPOSITIONS))


@bp.get("/dispositions/<path:disposition>/events")
def disposition_events(disposition: str) -> Response:
    return query_events(_with("EQ_disposition", disposition))


def _page_of(what: str) -> tuple[int, str | None]:
    """``perPage`` and the id a ``nextPageToken`` resumes after, of a listing."""
    allowed = {"perPage", "nextPageToken"}
    for name in request.args:
        if name not in allowed:
            raise BadInput(f"{name} is not a parameter of {what}", field=name)
    text = request.args.get("perPage", "30")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PER_PAGE:
        raise BadInput(f"perPage must be a whole number from 1 to {MAX_PER_PAGE}",
                       field="perPage")
    token = request.args.get("nextPageToken")
    if token is None:
        return int(text), None
    try:
        after = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadInput("nextPageToken is not a page token of this list",
                       field="nextPageToken") from None
    if not after.startswith(what + ":"):
        raise BadInput("nextPageToken is not a page token of this list", field="nextPageToken")
    return int(text), after[len(what) + 1:]


def _next(what: str, path: str, per_page: int, last: str) -> str:
    token = base64.urlsafe_b64encode(f"{what}:{last}".encode()).decode().rstrip("=")
    return public_url(path) + "?" + urlencode({"perPage": per_page, "nextPageToken": token})


def _places(what: str, path: str) -> Response:
    per_page, after = _page_of(what)
    names = EpcisNames(_base(), gln=_gln)
    with ledger().store.reader() as conn:
        rows = EpcisSql.locations_after(conn, after, per_page + 1)
    members = [names.location(loc) for loc, _ in rows[:per_page]]
    more = len(rows) > per_page
    return _collection(members, _next(what, path, per_page, rows[per_page - 1][0])
                       if more else None)


def _gln(location: str) -> tuple[str, str | None] | None:
    with ledger().store.reader() as conn:
        found = ledger().store.location(conn, location)
    if found is None or not found.details.get("gln"):
        return None
    ext = found.details.get("gln_extension")
    return str(found.details["gln"]), None if ext is None else str(ext)


@bp.get("/bizLocations")
def biz_locations() -> Response:
    return _places("bizLocations", "/epcis/bizLocations")


@bp.get("/bizLocations/<path:bizLocation>/events")
def biz_location_events(bizLocation: str) -> Response:
    return query_events(_with("EQ_bizLocation", bizLocation))


@bp.get("/readPoints")
def read_points() -> Response:
    return _places("readPoints", "/epcis/readPoints")


@bp.get("/readPoints/<path:readPoint>/events")
def read_point_events(readPoint: str) -> Response:
    return query_events(_with("EQ_readPoint", readPoint))


@bp.get("/epcs")
def epcs() -> Response:
    """The lots, as class-level identifiers (EPCIS names a lot by its class)."""
    per_page, after = _page_of("epcs")
    with ledger().store.reader() as conn:
        rows = EpcisSql.lots_after(conn, after, per_page + 1)
    gtins = dict(rows)
    names = EpcisNames(_base(), gtin=gtins.get)
    members = [names.lot(lot) for lot, _ in rows[:per_page]]
    more = len(rows) > per_page
    return _collection(members, _next("epcs", "/epcis/epcs", per_page, rows[per_page - 1][0])
                       if more else None)


@bp.get("/epcs/<path:epc>/events")
def epc_events(epc: str) -> Response:
    return query_events(_with("MATCH_anyEPCClass", epc))


@bp.get("/openapi.json")
def openapi() -> Response:
    from .openapi import epcis_openapi_document

    return json_response(epcis_openapi_document(request.script_root))
