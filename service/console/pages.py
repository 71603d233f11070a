"""The regulator's console, ``/console``: server-rendered pages for a party whose token may
read every party's books (issue 16). Sign in with the token, then: the day's alerts, find
anything, drill a lot (its path picture, the stalls to visit, the report folder as a zip),
recall it (signed with the regulator's own key, after a confirmation), and the year's
demonstration-city figures.

Every page but the sign-in form needs a live session (:mod:`.sessions`); every POST form
carries the session's CSRF token. The drill and the recall are the library's
(:mod:`tracelib.recalls`), as the CLI and the API run them.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import BadRequest

from tracelib.errors import NotFoundError, ValidationError
from tracelib.federation import peer_notices
from tracelib.recalls import drill, recall, report_input
from tracelib.timeutil import format_utc
from tracelib.views.alerts import NOT_CHECKED, alerts
from tracelib.views.find import MAX_QUERY, find
from tracelib.views.kpi import kpi
from tracelib.views.tracing import trace

from ..access import Access, classify
from ..api import maybe_sign_checkpoint
from ..extension import ledger, service
from ..i18n import current_lang, lang_arg, t
from ..ids import known
from ..problems import Forbidden
from ..regulator_api import custodial_key
from ..scopes import WRITE
from . import sessions
from .signin import SignInRefused, console_party

__all__ = ["bp"]

bp = Blueprint("console", __name__, url_prefix=sessions.CONSOLE_PATH)

#: Pages a browser may open without a session.
_OPEN = ("console.signin", "console.signin_post")
_MAX_REASON = 500
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")


@bp.before_request
def _guard() -> Response | None:
    """A live session for every page but sign-in (else to the sign-in form), and the CSRF
    token on every POST."""
    live = sessions.current()
    g.console = live
    if live is None and request.endpoint not in _OPEN:
        if request.method != "GET":
            sessions.check_csrf(None, None)  # no session: the form cannot be this session's
        return redirect(url_for("console.signin", next=request.full_path.rstrip("?"),
                                lang=lang_arg()))
    if request.method == "POST":
        sessions.check_csrf(live, request.form.get("csrf"))
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = _CSP
    return response


@bp.context_processor
def _console_helpers() -> dict[str, Any]:
    live = g.get("console")
    return {"party": live.party if live else None,
            "csrf": sessions.csrf_token(live),
            "lang_q": lang_arg()}


def _text(name: str, limit: int, *, required: bool = True) -> str:
    """A form field or query argument, stripped, within ``limit`` characters."""
    value = (request.form.get(name) if request.method == "POST" else None)
    if value is None:
        value = request.args.get(name, "")
    value = value.strip()
    if required and not value:
        raise BadRequest(f"{name}: required")
    if len(value) > limit or any(ord(c) < 0x20 and c not in "\t" for c in value):
        raise BadRequest(f"{name}: at most {limit} characters, no control characters")
    return value


def _safe_next(target: str | None) -> str:
    """Where to go after sign-in: only a path inside the console (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and parts.path.startswith("/console/")
                and "\\" not in target):
            return target
    return url_for("console.home", lang=lang_arg())


# -- sign in and out -------------------------------------------------------------------------

@bp.get("/signin")
def signin() -> str:
    return render_template("console/signin.html", error=None, next=request.args.get("next"))


@bp.post("/signin")
def signin_post() -> Response | tuple[str, int]:
    token = request.form.get("token", "")
    try:
        party, digest = console_party(token)
    except SignInRefused as e:
        return render_template("console/signin.html", error=t(f"console.refused.{e.reason}"),
                               next=request.form.get("next")), 401
    g.console = sessions.start(party, digest)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/signout")
def signout() -> Response:
    sessions.end()
    g.console = None
    return redirect(url_for("console.signin", lang=lang_arg()))


# -- pages ---------------------------------------------------------------------------------

@bp.get("/")
def home() -> str:
    """The day's work list (tracelib.views.alerts), each alert with its evidence."""
    found = alerts(ledger(), now=service().now())
    return render_template("console/alerts.html", alerts=found, counts=found.counts(),
                           rules=found.rules.to_dict(), not_checked=NOT_CHECKED,
                           english=current_lang() == "en", notices=_notices())


def _notices() -> list[dict[str, Any]]:
    """Recall notices from peer ledgers (docs/contract.md "Peers and entries from another
    ledger"), each with its lots and whether this ledger holds them."""
    out = []
    for notice in peer_notices(ledger(), limit=50):
        lots = [str(i.get("lot")) for i in json.loads(notice.lots) if isinstance(i, dict)]
        held_here = {lot for lot in lots if _known_lot(lot)}
        out.append({"peer": notice.origin, "event": notice.recall_event,
                    "seq": notice.recall_seq, "reason": notice.reason,
                    "time": notice.recall_time, "lots": lots, "here": held_here,
                    "size": notice.checkpoint.split("\n")[1] if "\n" in notice.checkpoint
                    else "?"})
    return out


def _known_lot(lot: str) -> bool:
    try:
        trace(ledger(), lot, back=False)
    except NotFoundError:
        return False
    return True


@bp.get("/find")
def find_page() -> str:
    q = _text("q", MAX_QUERY, required=False)
    matches = find(ledger(), q) if q else None
    return render_template("console/find.html", q=q, matches=matches)


@bp.get("/events/<path:event_id>")
def event_page(event_id: str) -> str:
    record = ledger().record_for_event(known(event_id, "event"))
    doc = record.to_dict()
    body = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True)
    return render_template("console/event.html", doc=doc, body=body,
                           proof=url_for("api.inclusion_proof", seq=record.seq))


def _path_svg(result: Any) -> str:
    from tracelib.report import layout_path, render_svg

    report = report_input(ledger(), result, generated_at=format_utc(service().now()))
    return render_svg(layout_path(report))


@bp.get("/drill")
def drill_page() -> str:
    lot = _text("lot", 200, required=False)
    if not lot:
        return render_template("console/drill.html", lot="", result=None, stalls=())
    result = drill(ledger(), known(lot, "lot"), now=service().now())  # not recorded: a look
    stalls = [loc for loc in result.trace.locations if loc.type == "stall"]
    return render_template("console/drill.html", lot=lot, result=result,
                           summary=result.summary(), stalls=stalls)


@bp.get("/drill/path.svg")
def drill_picture() -> Response:
    lot = known(_text("lot", 200), "lot")
    result = drill(ledger(), lot, now=service().now())
    return current_app.response_class(_path_svg(result), mimetype="image/svg+xml")


@bp.post("/drill/report.zip")
def drill_report() -> Response:
    """Run the drill as evidence (a ``drill`` event signed by the regulator) and send its
    report folder (summary.json, ctes.csv, ctes.xlsx, path.svg, path.png) as a zip."""
    lot = known(_text("lot", 200), "lot")
    question = _text("question", 500, required=False) or None
    party = _signer()
    key = custodial_key(party)
    now = service().now()
    with tempfile.TemporaryDirectory(prefix="tracelib-drill-") as folder:
        result = drill(ledger(), lot, question=question, key=key, actor=party,
                       report_dir=Path(folder) / "report", now=now)
        maybe_sign_checkpoint()
        buffer = io.BytesIO()
        stem = f"drill-{''.join(c if c.isalnum() or c in '-_.' else '_' for c in lot)[:80]}"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((Path(folder) / "report").iterdir()):
                archive.write(path, f"{stem}/{path.name}")
    response = current_app.response_class(buffer.getvalue(), mimetype="application/zip")
    name = f"{stem}-{now.strftime('%Y%m%dT%H%M%S')}.zip"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if result.receipt is not None:
        response.headers["X-Drill-Event"] = result.receipt.event_id
    return response


@bp.get("/recall")
def recall_page() -> str:
    lot = _text("lot", 200, required=False)
    return render_template("console/recall.html", step="ask", lot=lot, reason="", visits=())


@bp.post("/recall/confirm")
def recall_confirm() -> str:
    """What the recall will do, before it is signed: the places holding stock."""
    lot = known(_text("lot", 200), "lot")
    reason = _text("reason", _MAX_REASON)
    answer = trace(ledger(), lot, back=False)
    visits = [loc for loc in answer.locations if loc.on_hand > 0]
    return render_template("console/recall.html", step="confirm", lot=lot, reason=reason,
                           visits=visits, lots=answer.downstream_lots)


@bp.post("/recall")
def recall_post() -> str:
    lot = known(_text("lot", 200), "lot")
    reason = _text("reason", _MAX_REASON)
    if request.form.get("confirm") != "yes":
        raise BadRequest("confirm: the recall is signed only after its confirmation step")
    party = _signer()
    result = recall(ledger(), lot, key=custodial_key(party), reason=reason, actor=party,
                    now=service().now())
    maybe_sign_checkpoint()
    return render_template("console/recall.html", step="done", lot=lot, reason=reason,
                           result=result, visits=())


def _kpi_args() -> tuple[int, int | None]:
    """The year asked (default: this year) and the population, when given (default: the
    year's plan's)."""
    year_text = _text("year", 4, required=False) or str(service().today().year)
    population_text = _text("population", 12, required=False) or ""
    if not (year_text.isascii() and year_text.isdigit()
            and (not population_text or (population_text.isascii()
                                         and population_text.isdigit()))):
        raise BadRequest("year and population: whole numbers in ASCII digits")
    return int(year_text), int(population_text) if population_text else None


@bp.get("/kpi")
def kpi_page() -> str:
    year, population = _kpi_args()
    try:
        report = kpi(ledger(), population=population, year=year)
    except ValidationError as error:
        if population is None and error.field == "population":
            report = None  # no population given and no plan for the year: the form asks
        else:
            raise
    return render_template("console/kpi.html", report=report, year=year,
                           population=population)


@bp.get("/kpi/chart.svg")
def kpi_chart() -> Response:
    from tracelib.report.kpi_chart import write_pass_rate_chart

    year, population = _kpi_args()
    report = kpi(ledger(), population=population, year=year)
    with tempfile.TemporaryDirectory(prefix="tracelib-kpi-") as folder:
        files = write_pass_rate_chart(report, Path(folder))
        svg = files.svg.read_text(encoding="utf-8")
    return current_app.response_class(svg, mimetype="image/svg+xml")


def _signer() -> str:
    """The party a form signs for: the session's, when its token carries ``write`` (as the
    regulator's API asks of a request that signs, service/access.py)."""
    if WRITE not in g.console.scopes:
        raise Forbidden(t("console.needs_write"), reason="insufficient_scope", scope=WRITE)
    return str(g.console.party)


# The console's pages check their own caller (a signed-in session of a ``read:all`` token,
# :func:`_guard`), not an API token: service/access.py leaves them to it.
_SESSION = Access((), "A console session, signed in with a `read:all` token", own_check=True)
for _view in (signin, signin_post, signout, home, find_page, event_page, drill_page,
              drill_picture, drill_report, recall_page, recall_confirm, recall_post, kpi_page,
              kpi_chart):
    classify(f"{bp.name}.{_view.__name__}", _SESSION)
