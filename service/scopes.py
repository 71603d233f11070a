"""The scopes an API token may carry (RFC 6749 §3.3 names, sent as Bearer tokens, RFC
6750), and who may hold which. :mod:`.access` enforces them; :mod:`.tokens` stores them.

* ``write`` — append events acting for the token's party;
* ``read:own`` — the party's own books: events it signed or that name its locations, and
  one hop up and down the chain (docs/contract.md "Who may read what");
* ``read:market`` — as read:own, with every stall inside the markets the party holds;
* ``read:all`` — everything (regulators and the operator only).
"""

from __future__ import annotations

__all__ = ["DEFAULT_SCOPES", "MARKET_TYPES", "READ_ALL", "READ_ALL_ROLES", "READ_MARKET",
           "READ_OWN", "READ_SCOPES", "SCOPES", "WRITE", "stored_scopes"]

WRITE = "write"
READ_OWN = "read:own"
READ_MARKET = "read:market"
READ_ALL = "read:all"
SCOPES = (WRITE, READ_OWN, READ_MARKET, READ_ALL)
READ_SCOPES = (READ_OWN, READ_MARKET, READ_ALL)
#: What ``tracelib token issue`` grants by default, and what a token stored before tokens
#: carried scopes keeps.
DEFAULT_SCOPES = frozenset({WRITE, READ_OWN})
#: The roles that may hold ``read:all``.
READ_ALL_ROLES = ("regulator", "operator")
#: The location types ``read:market`` reaches into (a party holding one may hold it).
MARKET_TYPES = ("market", "wholesale_market")


def stored_scopes(value: str | None) -> frozenset[str]:
    """Scopes as stored, space-separated; None (a token from before scopes) is the default."""
    return DEFAULT_SCOPES if value is None else frozenset(value.split())
