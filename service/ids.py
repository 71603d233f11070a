"""Ids as URLs and request bodies name them.

An id in the ledger (event, lot, party, location) never holds a control character
(tracelib's ``ID_PATTERN``), so a path segment that does names nothing: it is answered 404
without asking the store, which on PostgreSQL could not even be asked (text cannot hold
U+0000). For the same reason a request body may not carry U+0000 in any string: the ledger
keeps one form on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re

from tracelib.errors import NotFoundError
from tracelib.events import nul_path
from tracelib.ids import ID_PATTERN

__all__ = ["known", "nul_path"]

_ID = re.compile(ID_PATTERN)


def known(value: str, what: str) -> str:
    """``value`` when it can be an id; NotFoundError (404) naming ``what`` otherwise."""
    if not _ID.match(value):
        raise NotFoundError(f"unknown {what} {value[:200]!r}")
    return value
