"""The service benchmark's baseline: a bare Flask app whose stall page is one indexed SQLite
lookup (``locations`` by primary key) in the ledger's own database file, rendered as a
small HTML page — or a small JSON document for ``Accept: application/json``.

Served by gunicorn exactly like ``tracelib serve`` (``bench._bare_app:app``, database in
``BENCH_BARE_DB``). Each worker opens its own connection on its first request.
"""

from __future__ import annotations

import json
import os
import sqlite3
from html import escape

from flask import Flask, Response, abort, request

app = Flask(__name__)
_DB = os.environ.get("BENCH_BARE_DB", "")
_conn: sqlite3.Connection | None = None

_PAGE = ("<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{name}</title>"
         "</head><body><h1>{name}</h1><p>摊位 {id} · {market}</p></body></html>")


def _db() -> sqlite3.Connection:
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(_DB, check_same_thread=False)
    return _conn


@app.get("/s/<stall>")
def stall_page(stall: str) -> Response:
    row = _db().execute("SELECT id, name, type, parent FROM locations WHERE id = ?",
                        (stall,)).fetchone()
    if row is None or row[2] != "stall":
        abort(404)
    sid, name, _type, market = row
    best = request.accept_mimetypes.best_match(["text/html", "application/json"],
                                               default="text/html")
    if best == "application/json":
        body = json.dumps({"stall": {"id": sid, "name": name, "market": market}},
                          ensure_ascii=False, separators=(",", ":"))
        return Response(body, mimetype="application/json")
    return Response(_PAGE.format(name=escape(name), id=escape(sid), market=escape(market or "")),
                    mimetype="text/html")
