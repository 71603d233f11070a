"""Who may sign in to the console: the holder of an API token with ``read:all`` (issue 16;
service/scopes.py issues it to regulators and the ledger's operator only)."""

from __future__ import annotations

import hashlib

from ..problems import Unauthorized
from ..scopes import READ_ALL
from ..tokens import grant_for

__all__ = ["SignInRefused", "console_party"]


class SignInRefused(Exception):
    """The token does not open the console; ``reason`` says why (``unknown``: no such live
    token; ``not_regulator``: the token cannot read every party's books)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def console_party(token: str) -> tuple[str, str]:
    """``(party, SHA-256 of the token)`` when ``token`` is a live API token with ``read:all``;
    :class:`SignInRefused` otherwise."""
    token = token.strip()
    try:
        party, scopes = grant_for(f"Bearer {token}")
    except Unauthorized:
        raise SignInRefused("unknown") from None
    if READ_ALL not in scopes:
        raise SignInRefused("not_regulator")
    return party, hashlib.sha256(token.encode("utf-8")).hexdigest()
