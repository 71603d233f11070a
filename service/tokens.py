"""API tokens: random bearer secrets, each acting for one party with its scopes
(:mod:`.scopes`; :mod:`.access` enforces them), stored only as SHA-256.

:func:`issue_token` is a plain function (no CLI, no request) so an operator's script, the
CLI and the tests can all mint tokens for an app.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import select, update

from tracelib.epcis.subscriptions import forget_token
from tracelib.errors import NotFoundError, ValidationError
from tracelib.timeutil import format_utc, utcnow

from .extension import TracelibService
from .problems import Unauthorized
from .scopes import (
    DEFAULT_SCOPES,
    MARKET_TYPES,
    READ_ALL,
    READ_ALL_ROLES,
    READ_MARKET,
    SCOPES,
    WRITE,
    stored_scopes,
)
from .state import api_tokens

__all__ = ["PREFIX", "Grant", "TokenInfo", "grant_for", "grant_of", "issue_device_token",
           "issue_token", "list_tokens", "revoke_token"]

PREFIX = "tlk_"


@dataclass(frozen=True)
class TokenInfo:
    """What is kept of a token: never its text, only the start of its SHA-256."""

    digest_prefix: str
    party: str
    scopes: frozenset[str]
    label: str | None
    created_at: str
    revoked_at: str | None
    stall: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class Grant:
    """What a live token grants: acting for ``party`` with ``scopes``; a device token is
    bound to ``stall`` and names its ``device``."""

    party: str
    scopes: frozenset[str]
    stall: str | None = None
    device: str | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ext(app: Flask) -> TracelibService:
    ext: TracelibService = app.extensions["tracelib"]
    return ext


def _checked_scopes(ext: TracelibService, party: str, scopes: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(scopes)
    if not wanted:
        raise ValidationError("a token needs at least one scope: "
                              f"{', '.join(SCOPES)}", field="scope")
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ValidationError(f"unknown scope {unknown[0]!r}: expected one of "
                              f"{', '.join(SCOPES)}", field="scope")
    assert ext.ledger is not None
    who = ext.ledger.party(party)
    assert who is not None
    if READ_ALL in wanted and who.role not in READ_ALL_ROLES:
        raise ValidationError(f"{READ_ALL} reads every party's books: only a regulator or the "
                              f"operator may hold it, and {party!r} is a {who.role}",
                              field="scope")
    if READ_MARKET in wanted:
        with ext.ledger.store.reader() as conn:
            held = ext.ledger.store.locations_held_by(conn, party)
        if not any(loc.type in MARKET_TYPES for loc in held):
            raise ValidationError(f"{READ_MARKET} reads a market's stalls: {party!r} holds no "
                                  "market", field="scope")
    return wanted


def issue_token(app: Flask, party: str, *, scopes: Iterable[str] = DEFAULT_SCOPES,
                label: str | None = None, stall: str | None = None,
                device: str | None = None) -> str:
    """A new API token acting for ``party`` (a party registered in the ledger) with
    ``scopes`` (default ``write`` and ``read:own``). ``read:all`` only for a regulator or
    the operator, ``read:market`` only for a party holding a market. The token text is
    returned once; only its SHA-256 is kept."""
    ext = _ext(app)
    assert ext.ledger is not None and ext.state_engine is not None
    if not isinstance(party, str) or not party:
        raise ValidationError("party must be a non-empty string", field="party")
    if ext.ledger.party(party) is None:
        raise NotFoundError(f"unknown party {party!r}: register it before issuing a token")
    granted = _checked_scopes(ext, party, scopes)
    token = PREFIX + secrets.token_urlsafe(32)
    with ext.state_writer() as conn:
        conn.execute(api_tokens.insert().values(
            token_sha256=_digest(token), party=party, label=label,
            created_at=format_utc(utcnow()), scopes=" ".join(sorted(granted)),
            stall=stall, device=device))
    return token


def issue_device_token(app: Flask, stall: str, device: str, *,
                       label: str | None = None) -> str:
    """A token for one device of ``stall`` (its scale or till, docs/contract.md
    "Receipts"): it acts for the stall's holder with ``write`` only, and only records sales
    of that stall (``POST /api/v1/stalls/<stall>/sales``); every other write is refused."""
    ext = _ext(app)
    assert ext.ledger is not None
    if not isinstance(device, str) or not 1 <= len(device) <= 100 or not device.isprintable():
        raise ValidationError("a device name is 1-100 printable characters", field="device")
    place = ext.ledger.location(stall)
    if place is None or place.type != "stall":
        raise NotFoundError(f"{stall!r} is not a registered stall")
    if place.holder is None:
        raise ValidationError(f"stall {stall!r} has no holder to sign its sales: register "
                              "one first", field="stall")
    return issue_token(app, place.holder, scopes=(WRITE,), label=label or f"device {device}",
                       stall=stall, device=device)


def revoke_token(app: Flask, token: str) -> bool:
    """Revoke a token; True when it existed and was live. The EPCIS subscriptions made with
    it end too (nothing more is delivered on its authority)."""
    ext = _ext(app)
    assert ext.state_engine is not None
    with ext.state_writer() as conn:
        done = conn.execute(update(api_tokens).where(
            api_tokens.c.token_sha256 == _digest(token), api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=format_utc(utcnow())))
    if done.rowcount and ext.ledger is not None and not ext.read_only:
        forget_token(ext.ledger, _digest(token))
    return bool(done.rowcount)


def list_tokens(app: Flask) -> list[TokenInfo]:
    """Every token issued, oldest first (revoked ones too, with when)."""
    ext = _ext(app)
    assert ext.state_engine is not None
    with ext.state_engine.connect() as conn:
        rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at,
                                                        api_tokens.c.token_sha256)).mappings()
        return [TokenInfo(r["token_sha256"][:12], r["party"], stored_scopes(r["scopes"]),
                          r["label"], r["created_at"], r["revoked_at"], r["stall"],
                          r["device"]) for r in rows]


def grant_for(header: str) -> tuple[str, frozenset[str]]:
    """The party and scopes of an ``Authorization: Bearer`` header's token; 401 when the
    header is not a live token of this service."""
    grant = grant_of(header)
    return grant.party, grant.scopes


def grant_of(header: str) -> Grant:
    """What an ``Authorization: Bearer`` header's token grants; 401 when the header is not
    a live token of this service."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 200:
        raise Unauthorized()
    ext = _ext(current_app)
    assert ext.state_engine is not None
    wanted = _digest(token)
    with ext.state_engine.connect() as conn:
        row = conn.execute(select(api_tokens.c.token_sha256, api_tokens.c.party,
                                  api_tokens.c.scopes, api_tokens.c.stall,
                                  api_tokens.c.device).where(
            api_tokens.c.token_sha256 == wanted, api_tokens.c.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.token_sha256, wanted):
        raise Unauthorized()
    return Grant(str(row.party), stored_scopes(row.scopes), row.stall, row.device)
