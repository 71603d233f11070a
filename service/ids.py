"""Ids as URLs and request bodies name them.

An id in the ledger (event, lot, party, location) never holds a control character
(tracelib's ``ID_PATTERN``), so a path segment that does names nothing: it is answered 404
without asking the store, which on PostgreSQL could not even be asked (text cannot hold
U+0000). For the same reason a request body may not carry U+0000 in any string: the ledger
keeps one form on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tracelib.errors import NotFoundError
from tracelib.events import ID_PATTERN

__all__ = ["known", "nul_path"]

_ID = re.compile(ID_PATTERN)
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def known(value: str, what: str) -> str:
    """``value`` when it can be an id; NotFoundError (404) naming ``what`` otherwise."""
    if not _ID.match(value):
        raise NotFoundError(f"unknown {what} {value[:200]!r}")
    return value


def nul_path(value: Any, path: str = "") -> str | None:
    """Path (``[0].data.note``) of the first string or key holding U+0000, else None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        if isinstance(key, int):
            here = f"{path}[{key}]"
        elif _SIMPLE_KEY.match(key):
            here = f"{path}.{key}" if path else key
        else:  # as tracelib.canonical names odd keys: ["no\u0000te"]
            here = f"{path}[{json.dumps(key)}]"
        if isinstance(key, str) and "\x00" in key:
            return here
        found = nul_path(item, here)
        if found is not None:
            return found
    return None
