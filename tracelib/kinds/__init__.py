"""Event kinds: each kind's ``data`` schema, its CBV bizStep and its rules at append.

A kind's ``apply`` runs inside the append transaction, in seq order, against the
ledger's state *including earlier events of the same batch*. It raises
``ValidationError`` to reject the event (and so the whole batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from marshmallow import INCLUDE, Schema

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..events import Event
    from ..ledger import AppendContext

__all__ = ["KINDS", "KindSpec", "kind_spec", "register_kind"]

Apply = Callable[["AppendContext", "Event", int], None]


@dataclass(frozen=True)
class KindSpec:
    name: str
    bizstep: str | None  # GS1 CBV 2.0 bizStep for EPCIS export
    data_schema: Schema
    apply: Apply | None = None


KINDS: dict[str, KindSpec] = {}


def register_kind(spec: KindSpec) -> KindSpec:
    KINDS[spec.name] = spec
    return spec


def kind_spec(name: str) -> KindSpec:
    try:
        return KINDS[name]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ValidationError(f"unknown kind {name!r}; expected one of: {known}",
                              field="kind") from None


class _OpenData(Schema):
    """Provisional schema: any object (the kind's own rules tighten it)."""

    class Meta:
        unknown = INCLUDE


# DESIGN.md §4: kind → CBV 2.0 bizStep.
_BIZSTEPS = {
    "origin": "commissioning", "slaughter": "commissioning", "ship": "shipping",
    "receive": "receiving", "transform": None, "sale": "retail_selling",
    "rapid_test": "inspecting", "lab_test": "sampling", "hold": "holding",
    "release": None, "recall": None, "drill": None,
}
for _name, _step in _BIZSTEPS.items():
    register_kind(KindSpec(_name, _step, _OpenData()))

from . import register as _register  # noqa: E402,F401  (registers the "register" kind)
from . import supply as _supply  # noqa: E402,F401  (registers the supply-chain kinds)
from . import testing as _testing  # noqa: E402,F401  (registers rapid_test and lab_test)
