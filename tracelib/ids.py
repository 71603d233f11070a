"""Identifiers on the wire (docs/contract.md "Identifiers"): ids of events, parties,
locations and lots are 1-200 characters without control characters (C0, DEL or C1),
bounded for hostile-string hygiene."""

from __future__ import annotations

from marshmallow import validate

from .bounds import MAX_ID

__all__ = ["ID_PATTERN", "MAX_ID", "id_field"]

ID_PATTERN = rf"\A[^\x00-\x1f\x7f-\x9f]{{1,{MAX_ID}}}\Z"


def id_field() -> validate.Regexp:
    """The marshmallow validator of an identifier field."""
    return validate.Regexp(ID_PATTERN, error=f"must be 1-{MAX_ID} characters without control characters")
