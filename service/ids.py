"""Ids as URLs and request bodies name them.

An id in the ledger (event, lot, party, location) never holds a control character
(tracelib's ``ID_PATTERN``), so a path segment that does names nothing: it is answered 404
without asking the store, which on PostgreSQL could not even be asked (text cannot hold
U+0000). For the same reason a request body may not carry U+0000 in any string: the ledger
keeps one form on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import IntegerConverter

from tracelib.canonical import MAX_SAFE_INTEGER
from tracelib.errors import NotFoundError
from tracelib.events import nul_path
from tracelib.ids import ID_PATTERN

__all__ = ["SeqConverter", "known", "nul_path"]

_ID = re.compile(ID_PATTERN)


def known(value: str, what: str) -> str:
    """``value`` when it can be an id; NotFoundError (404) naming ``what`` otherwise."""
    if not _ID.match(value):
        raise NotFoundError(f"unknown {what} {value[:200]!r}")
    return value


class SeqConverter(IntegerConverter):
    """``<seq:…>``: a record number in a path, ASCII digits only (``\\d`` would also take
    ``１``) and at most ``MAX_SAFE_INTEGER``; anything else names no record (404)."""

    regex = r"[0-9]{1,16}"

    def __init__(self, map: Any) -> None:
        super().__init__(map, min=0, max=MAX_SAFE_INTEGER)
