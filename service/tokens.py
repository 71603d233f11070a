"""API tokens: random bearer secrets, each scoped to one party, stored only as SHA-256.

:func:`issue_token` is a plain function (no CLI, no request) so an operator's script, the
CLI and the tests can all mint tokens for an app.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Flask, request
from sqlalchemy import select, update

from tracelib.errors import NotFoundError, ValidationError
from tracelib.timeutil import format_utc, utcnow

from .extension import TracelibService
from .problems import Unauthorized
from .state import api_tokens

__all__ = ["PREFIX", "authenticate", "issue_token", "revoke_token"]

PREFIX = "tlk_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ext(app: Flask) -> TracelibService:
    ext: TracelibService = app.extensions["tracelib"]
    return ext


def issue_token(app: Flask, party: str, *, label: str | None = None) -> str:
    """A new API token acting for ``party`` (a party registered in the ledger). The token
    text is returned once; only its SHA-256 is kept."""
    ext = _ext(app)
    assert ext.ledger is not None and ext.state_engine is not None
    if not isinstance(party, str) or not party:
        raise ValidationError("party must be a non-empty string", field="party")
    if ext.ledger.party(party) is None:
        raise NotFoundError(f"unknown party {party!r}: register it before issuing a token")
    token = PREFIX + secrets.token_urlsafe(32)
    with ext.state_writer() as conn:
        conn.execute(api_tokens.insert().values(token_sha256=_digest(token), party=party,
                                                label=label, created_at=format_utc(utcnow())))
    return token


def revoke_token(app: Flask, token: str) -> bool:
    """Revoke a token; True when it existed and was live."""
    ext = _ext(app)
    assert ext.state_engine is not None
    with ext.state_writer() as conn:
        done = conn.execute(update(api_tokens).where(
            api_tokens.c.token_sha256 == _digest(token), api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=format_utc(utcnow())))
    return bool(done.rowcount)


def authenticate(app: Flask) -> str:
    """The party the request's ``Authorization: Bearer`` token acts for; 401 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 200:
        raise Unauthorized()
    ext = _ext(app)
    assert ext.state_engine is not None
    wanted = _digest(token)
    with ext.state_engine.connect() as conn:
        row = conn.execute(select(api_tokens.c.token_sha256, api_tokens.c.party).where(
            api_tokens.c.token_sha256 == wanted, api_tokens.c.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.token_sha256, wanted):
        raise Unauthorized()
    return str(row.party)
