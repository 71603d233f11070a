"""Who may sign in to the console: the holder of an API token that may read every party's
books (issue 16: ``read:all``, issued to regulators and the ledger's operator only)."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from ..extension import ledger, service
from ..state import api_tokens
from ..tokens import PREFIX

__all__ = ["CONSOLE_ROLES", "SignInRefused", "console_party"]

#: The roles whose tokens may read everything, and so sign in.
CONSOLE_ROLES = ("regulator", "operator")


class SignInRefused(Exception):
    """The token does not open the console; ``reason`` says why (``unknown``: no such live
    token; ``not_regulator``: its party may not read every party's books)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def console_party(token: str) -> tuple[str, str]:
    """``(party, SHA-256 of the token)`` when ``token`` is a live API token whose party may
    read everything; :class:`SignInRefused` otherwise."""
    token = token.strip()
    if not token.startswith(PREFIX) or len(token) > 200:
        raise SignInRefused("unknown")
    wanted = hashlib.sha256(token.encode("utf-8")).hexdigest()
    ext = service()
    assert ext.state_engine is not None
    with ext.state_engine.connect() as conn:
        row = conn.execute(select(api_tokens.c.token_sha256, api_tokens.c.party).where(
            api_tokens.c.token_sha256 == wanted, api_tokens.c.revoked_at.is_(None))).first()
    if row is None or not hmac.compare_digest(row.token_sha256, wanted):
        raise SignInRefused("unknown")
    party = ledger().party(str(row.party))
    if party is None or party.role not in CONSOLE_ROLES:
        raise SignInRefused("not_regulator")
    return party.id, wanted
