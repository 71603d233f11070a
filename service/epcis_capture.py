"""EPCIS 2.0 capture over HTTP (the EPCIS 2.0 REST binding, OpenAPI ``/capture``):
``POST /epcis/capture`` takes an ``EPCISDocument`` and answers ``202`` with
``Location: /epcis/capture/{captureID}``; ``GET /epcis/capture/{captureID}`` answers the
capture job (``captureID``, ``running``, ``success``, ``captureErrorBehaviour``, ``errors``).

The capture runs inside the request (:func:`tracelib.epcis.capture`): when the 202 is sent
the job is finished and recorded (``epcis_captures``, not ledger state). A document refused
whole (not JSON, nested too deeply, not GS1's schema or ``@context``, an unknown event type,
a bizStep or disposition CBV 2.0 does not define) is a 400 naming the JSON path; past
:data:`MAX_EVENTS` events or ``EPCIS_CAPTURE_MAX_BYTES`` bytes a 413; nothing is stored.
Every event must act for the token's party and is signed with the key the service holds
for it.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from tracelib.epcis import BEHAVIOURS, MAX_EVENTS, DocumentRefused, capture, load_document
from tracelib.errors import NotFoundError
from tracelib.keys import SigningKey
from tracelib.store.captures import CaptureJobRow, CaptureSql
from tracelib.timeutil import format_utc

from .access import READ_ALL, WRITE, current_principal, require
from .api import maybe_sign_checkpoint
from .epcis import CBV_VERSION, EPCIS_VERSION, binding_headers
from .extension import ledger, service
from .httputil import body_chunks, json_response
from .i18n import t
from .links import public_url

__all__ = ["bp"]

bp = Blueprint("epcis_capture", __name__, url_prefix="/epcis")

PROBLEM_JSON = "application/problem+json"
#: A capture document's largest body: 10,000 events of a few kilobytes each.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


def _headers(response: Response) -> Response:
    response.headers["GS1-EPCIS-Capture-Limit"] = str(MAX_EVENTS)
    return binding_headers(response)


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": extra.pop("type", "about:blank"), "title": title, "status": status,
            "detail": detail, "instance": request.path,
            **{k: v for k, v in extra.items() if v is not None}}
    return _headers(json_response(body, status=status, mimetype=PROBLEM_JSON))


def _version_refused() -> Response | None:
    """406 when the client asks for an EPCIS or CBV version other than 2.0."""
    for header, ours in (("GS1-EPCIS-Version", EPCIS_VERSION), ("GS1-CBV-Version", CBV_VERSION)):
        asked = request.headers.get(header)
        if asked is not None and not asked.strip().startswith("2.0"):
            return _problem(406, t("epcis.version"), t("epcis.version.detail").format(
                header=header, asked=asked[:40], ours=ours),
                type="epcisException:NotAcceptableException", field=header)
    return None


def _job(row: CaptureJobRow) -> dict[str, Any]:
    return {"captureID": row.id, "createdAt": row.created_at, "finishedAt": row.finished_at,
            "running": row.finished_at is None, "success": row.success,
            "captureErrorBehaviour": row.behaviour, "errors": row.errors}


@bp.post("/capture")
def post_capture() -> Response:
    party = require(WRITE).party
    assert party is not None
    refused = _version_refused()
    if refused is not None:
        return refused
    behaviour = request.headers.get("GS1-Capture-Error-Behaviour", "rollback").strip().lower()
    if behaviour not in BEHAVIOURS:
        return _problem(400, t("epcis.behaviour"), t("epcis.behaviour.detail").format(
            value=behaviour[:40]), type="epcisException:ValidationException",
            field="GS1-Capture-Error-Behaviour")
    if not request.mimetype or not (request.mimetype == "application/json"
                                     or request.mimetype.endswith("+json")):
        return _problem(415, t("epcis.media"), t("epcis.media.detail"),
                        field="Content-Type")
    limit = int(current_app.config.get("EPCIS_CAPTURE_MAX_BYTES") or DEFAULT_MAX_BYTES)
    raw = b"".join(body_chunks(limit))
    ext = service()
    led = ledger()
    key: list[SigningKey | None] = []

    def keys(actor: str) -> SigningKey | None:
        if actor != party:
            return None
        if not key:
            try:
                key.append(led.signing_key(ext.keystore, party))
            except NotFoundError:
                key.append(None)
        return key[0]

    created = format_utc(ext.now())
    try:
        doc = load_document(raw)
        result = capture(led, doc, keys=keys, base=str(current_app.config["LINK_BASE"]),
                         behaviour=behaviour, now=ext.now(), as_party=party)
    except DocumentRefused as e:
        title = t("epcis.too_large") if e.status == 413 else t("epcis.invalid")
        return _problem(e.status, title, e.message, type=e.type, path=e.path or None)
    stored = 0 if (behaviour == "rollback" and result.refused) else result.stored
    row = CaptureJobRow(uuid.uuid4().hex, party, behaviour, created, format_utc(ext.now()),
                        result.success, len(result.outcomes), stored,
                        [p.to_dict() for p in result.errors])
    with led.store.writer() as conn:
        CaptureSql.save_job(conn, row)
    if stored:
        maybe_sign_checkpoint()
    response = json_response(_job(row), status=202)
    response.headers["Location"] = public_url(url_for("epcis_capture.get_capture",
                                                      capture_id=row.id))
    return _headers(response)


@bp.get("/capture/<capture_id>")
def get_capture(capture_id: str) -> Response:
    who = current_principal()
    with ledger().store.reader() as conn:
        row = CaptureSql.job(conn, capture_id[:64])
    if row is None or (row.party != who.party and not who.can(READ_ALL)):
        return _problem(404, t("epcis.no_capture"), t("epcis.no_capture.detail"),
                        type="epcisException:NoSuchResourceException")
    return _headers(json_response(_job(row)))
