"""tracelib's Flask service (installed as ``tracelib_service``): the API, the stall and lot
pages a shopper's scan opens, placard QR codes, the market board and the regulator's
console.

Thin by design: parse, call tracelib, render.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

__all__ = ["create_app"]

DEFAULTS: dict[str, Any] = {
    "DB": "tracelib.db",             # TRACELIB_DB: SQLAlchemy URL or SQLite path
    "KEYSTORE": None,                # TRACELIB_KEYSTORE: default beside the database
    "BLOBS": None,                   # TRACELIB_BLOBS: attachments' folder; default beside the database
    "SERVICE_DB": None,              # tokens and scan counts; default: the ledger's database
    "STATE_URL": None,               # scan counts' own writable database; default: SERVICE_DB
    "READ_ONLY": False,              # never write the ledger's database (a read replica)
    "PRIMARY_URL": None,             # public URL of the writable service, named to writers
    "TIMEZONE": "Asia/Shanghai",     # what "today" means for tests and scan counts
    "PUBLIC_URL": None,              # base of every absolute link and QR code, e.g. https://t.example.cn
    "BIND": None,                    # host:port the service listens on (default 127.0.0.1:8000)
    "TRUSTED_HOSTS": None,           # Host values accepted; default: the public and bound hosts
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "API_MAX_EVENTS": 1000,
    "SIGN_CHECKPOINTS": True,        # sign a checkpoint after each write when the operator key is here
    "WITNESS_POLICY": None,          # a C2SP tlog-policy file: pages say "见证 k/n" (docs/contract.md)
    "COUNT_SCANS": True,
    "PUBLIC_ENTRIES": False,         # /log/tile/entries/ without a token (docs/operations.md)
    "REPORTS_DIR": None,             # drill report folders (POST /api/v1/drills); default beside the keystore
    "STALL_CACHE_MB": 32,            # per worker: stall pages and scan JSON kept (LRU)
    "TILE_CACHE_MB": 8,              # per worker: /log/ hash tiles kept (LRU; they never change)
    "QR_LEVEL": "H",                 # error correction of placards: Q or H
    "STANDING_WINDOW_DAYS": 30,      # 红黑榜 rules (tracelib.views.stall.StandingRules)
    "STANDING_RED_MIN_TESTS": 20,
    "STANDING_RED_MIN_PASS_RATE": "100",
    "STANDING_BLACK_ON_ANY_FAILURE": False,
    "EPCIS_ALLOW_LOOPBACK_HTTP": False,  # EPCIS webhooks to http://127.0.0.1 or localhost (tests)
    "PEER_TOKENS": None,             # "ORIGIN=TOKEN …": bearer tokens for peers' APIs
    "PAYMENT_SECRETS": None,         # "MARKET=SECRET …": payment notifications' HMAC keys
    "PAYMENT_SECRETS_FILE": None,    # a 0600 file of MARKET=SECRET lines (docs/operations.md)
    "NOW": None,                     # tests: a datetime or a callable returning one
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The application factory (flaskr): defaults, then ``TRACELIB_*`` environment
    variables, or ``test_config`` instead of the environment."""
    from .console import CONSOLE_DEFAULTS

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(CONSOLE_DEFAULTS)
    if test_config is None:
        app.config.from_prefixed_env("TRACELIB")
    else:
        app.config.from_mapping(test_config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from . import (
        api,
        blobs,
        board,
        console,
        epcis,
        epcis_capture,
        epcis_queries,
        index,
        links,
        log,
        lots,
        ops,
        payments,
        peers,
        producers,
        read_only,
        receipts,
        regulator_api,
        stall,
    )

    app.config.update(links.configure(app.config))  # links never come from the Host header
    from .extension import TracelibService
    from .i18n import basis_label, current_lang, html_lang, item_label, lang_arg, method_label, t
    from .ids import SeqConverter
    from .problems import register_error_handlers

    app.url_map.converters["seq"] = SeqConverter
    from . import witnessing

    witnessing.init_app(app)  # a witness policy that does not parse stops here, before the ledger opens
    ext = TracelibService(app)
    read_only.init_app(app)  # before every other request hook: a write goes nowhere else
    console.configure(app, ext.keystore.path)
    register_error_handlers(app)
    payments.init_app(app)  # the markets' shared secrets: a bad setting stops here
    for module in (index, stall, lots, producers, board, api, peers, blobs, regulator_api,
                   epcis_capture, epcis_queries, console, epcis, log, receipts, payments):
        app.register_blueprint(module.bp)
    ops.init_app(app, ext)  # probes, metrics, logs, CORS, rate limits (docs/operations.md)
    from .access import check_classified, enforce

    # Every endpoint's scope (service/access.py), before its view and after the rate limit:
    # made-up tokens are limited as no token is.
    app.before_request(enforce)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {"t": t, "html_lang": html_lang, "lang": current_lang, "lang_arg": lang_arg()}

    @app.template_filter("hm")
    def _hm(value: str | None) -> str:
        """``2026-11-22T07:30:00+08:00`` → ``07:30`` (the time in its own offset)."""
        return value[11:16] if value and len(value) >= 16 else (value or "")

    app.add_template_filter(method_label, "method_label")
    app.add_template_filter(item_label, "item_label")
    app.add_template_filter(basis_label, "basis_label")

    @app.template_filter("day")
    def _day(value: str | None) -> str:
        return value[:10] if value else ""

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response
    check_classified(app)  # last: a route registered above without an access rule stops here
    return app
