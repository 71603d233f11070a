"""Sign-in sessions of the regulator's console, kept on the server.

The browser holds only Flask's signed session cookie with a random session id (256 bits);
the service keeps the SHA-256 of that id (``svc_console_sessions``) with the party, the
SHA-256 of the API token it signed in with — never the token — and when it expires. A
session ends at sign-out, ``CONSOLE_SESSION_HOURS`` after sign-in, after
``CONSOLE_IDLE_MINUTES`` without a request, or when its token is revoked.

The cookie is ``HttpOnly``, ``SameSite=Lax`` and, when the configured public URL is
``https://`` (service/links.py), ``Secure``. Every POST form carries a CSRF token: for a
session, HMAC-SHA256 of its id under the app's secret key; before sign-in, a random value
kept in the signed cookie. Both are compared with :func:`hmac.compare_digest`.

The app's ``SECRET_KEY`` comes from configuration (``TRACELIB_SECRET_KEY``); without one,
it is generated once and kept readable by its owner only beside the keystore
(``<keystore>.secret``), so every worker and every restart signs cookies alike.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from sqlalchemy import delete, select, update
from werkzeug.exceptions import HTTPException

from tracelib.keys import write_private_file
from tracelib.timeutil import to_micros

from ..extension import service
from ..scopes import stored_scopes
from ..state import api_tokens, console_sessions

#: Where the console's pages are (service/console/pages.py ``bp``'s prefix).
CONSOLE_PATH = "/console"

__all__ = ["CONSOLE_DEFAULTS", "ConsoleSession", "CsrfRefused", "check_csrf", "configure",
           "csrf_token", "current", "end", "secret_key_file", "start"]

CONSOLE_DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,              # TRACELIB_SECRET_KEY; default: generated beside the keystore
    "CONSOLE_SESSION_HOURS": 8,      # a sign-in lasts at most this long
    "CONSOLE_IDLE_MINUTES": 30,      # and ends after this long without a request
}
_SID = "console_sid"
_LOGIN_CSRF = "console_login_csrf"
_TOUCH_US = 60 * 1_000_000  # remember a request at most once a minute (one write)


class CsrfRefused(HTTPException):
    """403: a POST form without the CSRF token of its session (OWASP CSRF Prevention Cheat
    Sheet, "Synchronizer Token Pattern")."""

    code = 403
    description = ("the form's CSRF token is missing or does not match this session: "
                   "reload the page and submit it again")

    def __init__(self) -> None:
        super().__init__()
        self.extra = {"code": "csrf"}


@dataclass(frozen=True)
class ConsoleSession:
    """A live sign-in: the party it acts for and its id (the cookie's, kept only here)."""

    sid: str
    party: str
    expires_us: int
    scopes: frozenset[str] = frozenset()  # its token's: ``write`` lets it sign

    @property
    def csrf(self) -> str:
        return _mac("csrf", self.sid)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mac(purpose: str, value: str) -> str:
    key = current_app.secret_key
    assert key is not None
    secret = key if isinstance(key, bytes) else str(key).encode("utf-8")
    return hmac.new(secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def secret_key_file(keystore: Path) -> Path:
    return keystore.with_name(f"{keystore.name}.secret")


def _stored_secret(path: Path) -> str:
    """The secret at ``path``, made now if missing; the first process to make it wins
    (a hard link never replaces a file), so workers starting together agree."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    write_private_file(candidate, (secrets.token_hex(32) + "\n").encode("ascii"))
    try:
        os.link(candidate, path)
    except FileExistsError:
        pass
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


class ConsoleOnlySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions for the console's pages only: every other request (a
    shopper's scan above all) gets a null session without reading a cookie or deriving a
    signing key, and never sets one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path != CONSOLE_PATH and not request.path.startswith(CONSOLE_PATH + "/"):
            return self.null_session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not self.is_null_session(session):
            super().save_session(app, session, response)


def configure(app: Flask, keystore: Path) -> None:
    """The secret key, the session cookie's flags, and sessions for the console only."""
    app.session_interface = ConsoleOnlySessions()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _stored_secret(secret_key_file(keystore))
    https = str(app.config.get("LINK_BASE", "")).startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="tracelib_console", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=float(app.config["CONSOLE_SESSION_HOURS"])))


def _now_us() -> int:
    return to_micros(service().now())


def start(party: str, token_sha256: str) -> ConsoleSession:
    """A new session for ``party``, signed in with the token whose SHA-256 is given; the
    cookie is set on the response (a fresh id: no session fixation)."""
    sid = secrets.token_urlsafe(32)
    now = _now_us()
    hours = float(current_app.config["CONSOLE_SESSION_HOURS"])
    expires = now + int(hours * 3600 * 1_000_000)
    with service().state_writer() as conn:
        conn.execute(console_sessions.insert().values(
            session_sha256=_sha256(sid), party=party, token_sha256=token_sha256,
            created_us=now, seen_us=now, expires_us=expires))
    session.clear()
    session.permanent = True
    session[_SID] = sid
    return ConsoleSession(sid, party, expires)


def current() -> ConsoleSession | None:
    """The request's live session, or None (no cookie, ended, expired, idle too long, or
    its token revoked)."""
    sid = session.get(_SID)
    if not isinstance(sid, str):
        return None
    ext = service()
    assert ext.state_engine is not None
    digest = _sha256(sid)
    with ext.state_engine.connect() as conn:
        row = conn.execute(
            select(console_sessions.c.party, console_sessions.c.seen_us,
                   console_sessions.c.expires_us, api_tokens.c.revoked_at,
                   api_tokens.c.scopes)
            .join(api_tokens, api_tokens.c.token_sha256 == console_sessions.c.token_sha256,
                  isouter=True)
            .where(console_sessions.c.session_sha256 == digest)).first()
    now = _now_us()
    idle = int(float(current_app.config["CONSOLE_IDLE_MINUTES"]) * 60 * 1_000_000)
    if (row is None or row.revoked_at is not None or now >= row.expires_us
            or now - row.seen_us >= idle):
        if row is not None:
            _forget(digest)
        session.pop(_SID, None)
        return None
    if now - row.seen_us >= _TOUCH_US:
        with ext.state_writer() as conn:
            conn.execute(update(console_sessions)
                         .where(console_sessions.c.session_sha256 == digest)
                         .values(seen_us=now))
    return ConsoleSession(sid, str(row.party), int(row.expires_us), stored_scopes(row.scopes))


def _forget(digest: str) -> None:
    with service().state_writer() as conn:
        conn.execute(delete(console_sessions)
                     .where(console_sessions.c.session_sha256 == digest))


def end() -> None:
    """Sign out: the session is deleted on the server and the cookie cleared."""
    sid = session.get(_SID)
    if isinstance(sid, str):
        _forget(_sha256(sid))
    session.clear()


def csrf_token(live: ConsoleSession | None) -> str:
    """The CSRF token forms carry: the session's, or before sign-in a random one kept in
    the signed cookie."""
    if live is not None:
        return live.csrf
    value = session.get(_LOGIN_CSRF)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[_LOGIN_CSRF] = value
    return value


def check_csrf(live: ConsoleSession | None, sent: str | None) -> None:
    """403 :class:`CsrfRefused` unless ``sent`` is this session's (or this browser's
    sign-in form's) CSRF token."""
    if live is not None:
        expected: str | None = live.csrf
    else:
        found = session.get(_LOGIN_CSRF)
        expected = found if isinstance(found, str) else None
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRefused()
