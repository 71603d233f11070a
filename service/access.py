"""Who is asking, and what they may read (docs/contract.md "Who may read what").

Every request has a :class:`Principal`: anonymous (a shopper's phone) or the party an API
token acts for, with the token's scopes. Every endpoint of the app is classified in
:data:`ENDPOINTS` — the scopes it asks for, stated per operation in the OpenAPI document —
and :func:`enforce` (run before every request) answers 401 or 403 as a problem document
before the view runs; an app whose routes are not all classified does not start
(:func:`check_classified`). A view then narrows what it shows with the reader's
:func:`reach` (:mod:`tracelib.views.disclosure` holds the field-by-field rules).

The scopes themselves (``write``, ``read:own``, ``read:market``, ``read:all``) are named
in :mod:`.scopes` and re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request

from tracelib.ledger import Ledger
from tracelib.views.disclosure import EVERYTHING, PUBLIC, Reach, reach_of

from .problems import Forbidden, Unauthorized
from .scopes import (
    DEFAULT_SCOPES,
    READ_ALL,
    READ_MARKET,
    READ_OWN,
    READ_SCOPES,
    SCOPES,
    WRITE,
)
from .tokens import grant_of

#: What a device token (docs/contract.md "Receipts") may write: its stall's sales, nothing else.
DEVICE_ENDPOINTS = frozenset({"receipts.post_sale"})

__all__ = ["ANONYMOUS", "DEFAULT_SCOPES", "DEVICE_ENDPOINTS", "ENDPOINTS", "READ_ALL",
           "READ_MARKET", "READ_OWN",
           "READ_SCOPES", "SCOPES", "WRITE", "Access", "Principal", "check_classified",
           "classify", "current_principal", "enforce", "forbid_other_books",
           "openapi_security", "reach", "require"]

@dataclass(frozen=True)
class Principal:
    """Who is asking: ``party`` (None: anonymous) and the scopes its token carries. A
    device token (a stall's scale or till) names its ``device`` and the ``stall`` it is
    bound to, and may write only at :data:`DEVICE_ENDPOINTS`."""

    party: str | None
    scopes: frozenset[str]
    device: str | None = None
    stall: str | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def is_anonymous(self) -> bool:
        return self.party is None

    @property
    def reads(self) -> bool:
        """Whether the token carries any read scope."""
        return any(s in self.scopes for s in READ_SCOPES)


ANONYMOUS = Principal(None, frozenset())


@dataclass(frozen=True)
class Access:
    """What an endpoint asks of its caller: one of ``scopes`` (none: anyone, a shopper
    included), and the line the OpenAPI document says about it."""

    scopes: tuple[str, ...]
    note: str
    own_check: bool = False  # the view checks its caller itself (its own bearer token)
    #: a public read whose answer a script on any origin may read (CORS, service/ops/cors.py):
    #: what a shopper's page, a market's own site or a witness needs
    cross_origin: bool = False

    @property
    def public(self) -> bool:
        return not self.scopes


_PUBLIC_VIEW = Access((), "Public: no token needed; the answer carries no personal data, no "
                          "receipts and no other party's volumes (a token whose read scope "
                          "covers the stall or lot shows certificates in full)",
                      cross_origin=True)
_PUBLIC = Access((), "Public: no token needed", cross_origin=True)
_RECEIPT = Access((), "Public: a receipt id is unguessable (128 bits); the receipt shows what "
                      "was bought, where it came from (shopper fields only) and its proof, "
                      "never who bought it", cross_origin=True)
_PROOF = Access((), "Public: a proof reveals hashes, not data", cross_origin=True)
_READ = Access(READ_SCOPES, "Needs a token with `read:own`, `read:market` or `read:all` whose "
                            "reach covers what is asked (403 otherwise)")

_REGULATOR = Access((READ_ALL,), "Needs a token with `read:all` (regulators and the operator)")
_REGULATOR_SIGNS = Access((READ_ALL,), "Needs a token with `read:all` and `write`: the event "
                                       "is signed with the key the service holds for the "
                                       "token's party")

_EPCIS_QUERIES = Access(READ_SCOPES, "Needs a token with `read:own`, `read:market` or "
                                    "`read:all`; a party sees the queries and subscriptions "
                                    "it made, `read:all` sees them all, and a subscription "
                                    "delivers only events its token may read")
_EPCIS_READ = Access(READ_SCOPES, "Needs a token with `read:own`, `read:market` or `read:all`; "
                                  "each event is shown whole when its record is within the "
                                  "token's reach (`read:all`: every event) and left out "
                                  "otherwise")
#: The EPCIS 2.0 query binding (service/epcis.py).
_EPCIS = {f"epcis.{view}": _EPCIS_READ for view in (
    "events", "event_by_id", "event_types", "event_type_events", "biz_steps",
    "biz_step_events", "dispositions", "disposition_events", "biz_locations",
    "biz_location_events", "read_points", "read_point_events", "epcs", "epc_events")}

#: Every endpoint of the app, by Flask endpoint name. A blueprint added later classifies
#: its endpoints with :func:`classify` before the app serves.
ENDPOINTS: dict[str, Access] = {
    "api.post_events": Access((WRITE,), "Needs a token with `write`; every event acts for "
                                        "the token's party"),
    "api.get_event": _READ,
    "api.lot_trace": _READ,
    "api.get_stall": _PUBLIC_VIEW,
    "api.get_checkpoint": _PUBLIC,
    "api.inclusion_proof": _PROOF,
    "api.consistency_proof": _PROOF,
    "api.openapi": _PUBLIC,
    # docs/contract.md "Peers and entries from another ledger": a peer's drill reads a lot's
    # whole family, every party's records in it, so only with `read:all` (a token the
    # ledger's operator gives the peer).
    "peers.get_lot_records": _REGULATOR,
    "peers.get_key_record": _REGULATOR,
    "peers.post_peer_notice": Access((WRITE,), "Needs a token with `write` (one this "
                                               "ledger's operator gave the peer); the notice "
                                               "must prove itself against the peer's "
                                               "registered key"),
    "peers.post_peer_receive": Access((WRITE,), "Needs a token with `write` of the receiving "
                                                "point's holder; the entry is signed with the "
                                                "key the service holds for it"),
    "blobs.put_blob": Access((WRITE,), "Needs a token with `write`"),
    "blobs.get_blob": Access(READ_SCOPES, "Needs a token with `read:all`, or `read:own` or "
                                          "`read:market` whose reach covers an event citing "
                                          "the blob (403 otherwise)"),
    # docs/contract.md "Receipts" and "Payments" (service/receipts.py, service/payments.py)
    "receipts.post_sale": Access((WRITE,), "Needs a device token of the stall (`tracelib token "
                                           "issue STALL --device NAME`); the sale is signed as "
                                           "the stall with the key the service holds for it"),
    "receipts.receipt_page": _RECEIPT,
    "receipts.receipt_qr_png": _RECEIPT,
    "receipts.receipt_qr_svg": _RECEIPT,
    "payments.notify": Access((), "The payment provider's notification: no token; signed with "
                                  "the market's shared secret (`X-Tracelib-Market`, "
                                  "`X-Tracelib-Signature: sha256=<HMAC-SHA256 of the body>`); "
                                  "refused unsigned, forged, stale or replayed",
                              own_check=True),
    "stall.stall_page": _PUBLIC_VIEW,
    "stall.qr_png": _PUBLIC,
    "stall.qr_svg": _PUBLIC,
    "lots.lot_page": _PUBLIC_VIEW,
    "lots.digital_link": _PUBLIC_VIEW,
    "producers.producer_page": _PUBLIC_VIEW,
    "board.market_board": _PUBLIC,
    "index.index_page": _PUBLIC,
    "static": Access((), "Public: no token needed"),
    "ops_health.healthz": Access((), "Public: whether the process is up"),
    "ops_health.readyz": Access((), "Public: whether the service can serve, check by check"),
    "ops_metrics.metrics": Access((), "Private addresses, or the `METRICS_TOKEN` bearer token "
                                      "(docs/operations.md)", own_check=True),
    "epcis_capture.post_capture": Access((WRITE,), "Needs a token with `write`; every event "
                                                   "acts for the token's party and is signed "
                                                   "with the key the service holds for it"),
    "epcis_capture.get_capture": Access((WRITE, READ_ALL), "Needs a token with `write` (the "
                                                           "capture's own party's) or "
                                                           "`read:all`"),
    "regulator.get_alerts": _REGULATOR,
    "regulator.get_kpi": _REGULATOR,
    "regulator.drill_report": _REGULATOR,
    "regulator.drill_picture": _REGULATOR,
    "regulator.post_drill": _REGULATOR_SIGNS,
    "regulator.post_recall": _REGULATOR_SIGNS,
    **{f"epcis_queries.{name}": _EPCIS_QUERIES for name in (
        "post_query", "get_queries", "get_query", "get_query_events", "delete_query",
        "post_subscription",
        "get_subscriptions", "get_subscription", "delete_subscription")},
    "epcis.openapi": _PUBLIC,
    **_EPCIS,
    # The tile log (service/log.py, docs/contract.md "Tile log").
    "log.checkpoint": Access((), "Public: the signed tree head reveals a size and a hash",
                             cross_origin=True),
    "log.hash_tile": Access((), "Public: a hash tile reveals hashes, not data",
                            cross_origin=True),
    # The view checks the token itself: `read:all`, or none when PUBLIC_ENTRIES is set.
    "log.entry_bundle": Access((READ_ALL,), "Needs a token with `read:all` (records carry "
                                            "parties' personal data), unless the operator "
                                            "serves entry bundles publicly (`PUBLIC_ENTRIES`)",
                               own_check=True, cross_origin=True),
}


def classify(endpoint: str, access: Access) -> None:
    """Declare what ``endpoint`` asks of its callers (for blueprints added to the app)."""
    ENDPOINTS[endpoint] = access


def check_classified(app: Flask) -> None:
    """Refuse to start an app with an endpoint no one classified: it would be served to
    anyone by mistake."""
    missing = sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(ENDPOINTS))
    if missing:
        raise RuntimeError(f"endpoints without an access rule (service/access.py ENDPOINTS): "
                           f"{', '.join(missing)}")


def current_principal() -> Principal:
    """The request's principal, read once per request from ``Authorization: Bearer``
    (none: :data:`ANONYMOUS`); an unknown, revoked or malformed token is a 401."""
    found: Principal | None = g.get("tracelib_principal")
    if found is None:
        if "Authorization" not in request.headers:
            found = ANONYMOUS
        else:
            grant = grant_of(request.headers["Authorization"])
            found = Principal(grant.party, grant.scopes, grant.device, grant.stall)
        g.tracelib_principal = found
    return found


def require(*scopes: str) -> Principal:
    """The principal when its token carries one of ``scopes``: 401 without a valid token,
    403 (``insufficient_scope``, RFC 6750 §3.1) when the token lacks them all."""
    who = current_principal()
    if who.is_anonymous:
        raise Unauthorized()
    if not any(who.can(s) for s in scopes):
        raise Forbidden(f"this token (party {who.party!r}, scopes "
                        f"{' '.join(sorted(who.scopes)) or 'none'}) lacks the scope this "
                        f"needs: one of {', '.join(scopes)}", reason="insufficient_scope",
                        scope=" ".join(scopes))
    return who


def enforce() -> None:
    """Before every request: the endpoint's :class:`Access`, checked. A public endpoint
    still reads the token when one is sent (a bad token is a 401 everywhere)."""
    access = ENDPOINTS.get(request.endpoint or "")
    if access is None or access.own_check:  # no route matched (the 404 or 405 follows),
        return  # or the endpoint reads its own credentials (/metrics)
    if access.public:
        if "Authorization" in request.headers:
            current_principal()
        return
    who = require(*access.scopes)
    if who.device is not None and request.endpoint not in DEVICE_ENDPOINTS:
        raise Forbidden(f"this token is device {who.device!r} of stall {who.stall!r}: it "
                        "records that stall's sales and nothing else", reason="device_token")


def reach(ledger: Ledger, who: Principal | None = None) -> Reach:
    """The places whose books ``who`` (default: the request's principal) may read."""
    who = who or current_principal()
    if who.party is None or not who.reads:
        return PUBLIC
    if who.can(READ_ALL):
        return EVERYTHING
    return reach_of(ledger, who.party, market_stalls=who.can(READ_MARKET))


def forbid_other_books(what: str) -> Forbidden:
    """403 for a reader asking for another party's books."""
    who = current_principal()
    return Forbidden(f"{what} is outside the books of {who.party!r} "
                     f"(scopes {' '.join(sorted(who.scopes))})", reason="not_your_books")


def openapi_security(access: Access) -> dict[str, Any]:
    """The OpenAPI ``security`` and ``x-tracelib-scope`` of an operation."""
    if access.public:
        return {"security": [{}], "x-tracelib-scope": []}
    return {"security": [{"bearer": [s]} for s in access.scopes],
            "x-tracelib-scope": list(access.scopes)}
