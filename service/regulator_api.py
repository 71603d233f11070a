"""The regulator's API under ``/api/v1`` — what the console's pages are built on: the day's
alerts, the demonstration-city KPI, recall drills with their report folder as a zip, and
recalls signed with the regulator's own key.

Every endpoint here is for regulators: a token with ``read:all`` (issued only to regulators
and the operator, service/scopes.py), and ``write`` too where the request signs an event;
service/access.py checks the scope before the view, and :func:`_regulator` names the party.
"""

from __future__ import annotations

import importlib.util
import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import marshmallow
from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import RAISE, Schema, fields, validate

from tracelib import canonical
from tracelib.bounds import MAX_TEXT
from tracelib.errors import NotFoundError, SignatureError
from tracelib.events import flatten_messages
from tracelib.ids import id_field
from tracelib.keys import SigningKey
from tracelib.recalls import drill, recall
from tracelib.views.alerts import alerts
from tracelib.views.kpi import kpi

from .access import require
from .api import Count, maybe_sign_checkpoint
from .extension import ledger, service
from .httputil import json_object_body, json_response
from .peers import notify_peers_later
from .problems import BadInput
from .scopes import READ_ALL, WRITE

__all__ = ["alert_links", "bp", "custodial_key", "reports_dir"]

bp = Blueprint("regulator", __name__, url_prefix="/api/v1")

#: The files of a drill's report folder (tracelib.report.write_drill_report), in zip order.
REPORT_FILES = ("summary.json", "ctes.csv", "ctes.xlsx", "path.svg", "path.png")


def _regulator(*, signs: bool = False) -> str:
    """The party the request's token acts for: a regulator's (or the operator's) token with
    ``read:all`` (service/access.py checks it before the view; 401 or 403 otherwise), and
    ``write`` as well for a request that signs an event (``signs``)."""
    who = require(READ_ALL)
    if signs:
        require(WRITE)
    assert who.party is not None
    return who.party


class NoQuery(Schema):
    class Meta:
        unknown = RAISE


class KpiQuery(Schema):
    class Meta:
        unknown = RAISE

    year = Count(required=True, validate=validate.Range(min=2000, max=2100))
    population = Count(required=True, validate=validate.Range(
        min=1, max=canonical.MAX_SAFE_INTEGER))
    market = fields.String(validate=id_field())


class DrillBody(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=id_field())
    question = fields.String(validate=validate.Length(min=1, max=MAX_TEXT))


class RecallBody(Schema):
    class Meta:
        unknown = RAISE

    lot = fields.String(required=True, validate=id_field())
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


def _load(schema: Schema, value: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = schema.load(value)
    except marshmallow.ValidationError as e:
        field, message = flatten_messages(e.messages, "")
        raise BadInput(f"{field}: {message}", field=field) from e
    return result


def _query(schema: Schema) -> dict[str, Any]:
    return _load(schema, {k: v for k, v in request.args.items() if k != "lang"})


def _body(schema: Schema) -> dict[str, Any]:
    """The request's JSON object, strictly parsed, loaded with ``schema``."""
    return _load(schema, json_object_body())


def custodial_key(party: str) -> SigningKey:
    """The key the service holds for ``party`` (a regulator's, to sign drills and recalls
    from the API and the console); a ``SignatureError`` (422) when it holds none."""
    ext = service()
    try:
        return ledger().signing_key(ext.keystore, party)
    except NotFoundError as e:
        raise SignatureError(f"the service holds no custodial key for {party!r}, so it cannot "
                             "sign as that regulator", field="sig") from e


def reports_dir() -> Path:
    """Where drill report folders are kept, one per drill record (``REPORTS_DIR``; default
    ``drill-reports`` beside the keystore)."""
    configured = current_app.config.get("REPORTS_DIR")
    return Path(configured) if configured else service().keystore.path.parent / "drill-reports"


def alert_links(alert: dict[str, Any]) -> dict[str, Any]:
    """Links to an alert's evidence: its events (with their inclusion proofs), the lot's
    page and trace, the market's board."""
    evidence = alert["evidence"]
    links: dict[str, Any] = {"events": [url_for("api.get_event", event_id=e)
                                        for e in evidence["events"]]}
    if evidence["lot"]:
        links["lot"] = url_for("lots.lot_page", lot=evidence["lot"])
        links["trace"] = url_for("api.lot_trace", lot=evidence["lot"])
    if evidence["market"]:
        links["board"] = url_for("board.market_board", market=evidence["market"])
    return links


@bp.get("/alerts")
def get_alerts() -> Response:
    _regulator()
    _query(NoQuery())
    doc = alerts(ledger(), now=service().now()).to_dict()
    for alert in doc["alerts"]:
        alert["links"] = alert_links(alert)
    return json_response(doc)


@bp.get("/reports/kpi")
def get_kpi() -> Response:
    _regulator()
    args = _query(KpiQuery())
    figures = kpi(ledger(), population=args["population"], year=args["year"],
                  market=args.get("market"))
    return json_response(figures.to_dict())


@bp.post("/drills")
def post_drill() -> Response:
    party = _regulator(signs=True)
    body = _body(DrillBody())
    key = custodial_key(party)
    missing = [m for m in ("openpyxl", "PIL") if importlib.util.find_spec(m) is None]
    if missing:  # checked first: the drill event is recorded before the report is written
        raise NotImplementedError(f"drill reports need the 'reports' extra ({', '.join(missing)} "
                             "not installed): pip install 'tracelib[reports]'")
    led = ledger()
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".drill-", dir=folder))
    try:
        result = drill(led, body["lot"], question=body.get("question"), key=key,
                       report_dir=scratch, now=service().now(), actor=party)
        assert result.receipt is not None
        seq = result.receipt.seq
        target = folder / str(seq)
        # A record number names one drill in a ledger: a folder already there is another
        # ledger's, left in the same REPORTS_DIR.
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = result.summary()
    stalls = [loc.to_dict() for loc in result.trace.locations
              if loc.type == "stall" and loc.on_hand > 0]
    body_out = {"id": seq, "event": result.receipt.event_id, "lot": result.lot,
                "question": result.question, "elapsed_ms": summary["elapsed_ms"],
                "answer_digest": result.answer_digest, "counts": summary["counts"],
                "stalls_to_visit": stalls, "canteens_reached": summary["canteens_reached"],
                "schools_reached": summary["schools_reached"], "trace": result.trace.to_dict(),
                "receipt": result.receipt.to_dict(),
                "report": url_for("regulator.drill_report", seq=seq),
                "picture": url_for("regulator.drill_picture", seq=seq),
                "checkpoint": maybe_sign_checkpoint()}
    response = json_response(body_out, status=201)
    response.headers["Location"] = body_out["report"]
    return response


def _report_folder(seq: int) -> Path:
    folder = reports_dir() / str(seq)
    if not (folder / "summary.json").is_file():
        raise NotFoundError(f"no drill report for record {seq}")
    return folder


@bp.get("/drills/<seq:seq>/report.zip")
def drill_report(seq: int) -> Response:
    _regulator()
    folder = _report_folder(seq)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in REPORT_FILES:
            path = folder / name
            if path.is_file():
                archive.write(path, f"drill-{seq}/{name}")
    response = current_app.response_class(buffer.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="drill-{seq}.zip"'
    return response


@bp.get("/drills/<seq:seq>/path.svg")
def drill_picture(seq: int) -> Response:
    _regulator()
    svg = (_report_folder(seq) / "path.svg").read_bytes()
    return current_app.response_class(svg, mimetype="image/svg+xml")


@bp.post("/recalls")
def post_recall() -> Response:
    party = _regulator(signs=True)
    body = _body(RecallBody())
    key = custodial_key(party)
    result = recall(ledger(), body["lot"], key=key, reason=body["reason"],
                    now=service().now(), actor=party)
    fresh = bool(result.receipts)
    checkpoint = maybe_sign_checkpoint() if fresh else None
    # the peer ledgers shipments went to are told once the recall is in a signed checkpoint
    told = notify_peers_later(ledger(), result) if checkpoint is not None else []
    doc = {**result.to_dict(), "receipts": [r.to_dict() for r in result.receipts],
           "checkpoint": checkpoint, "notified_peers": told}
    return json_response(doc, status=201 if fresh else 200)
