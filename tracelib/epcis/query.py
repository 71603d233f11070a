"""EPCIS 2.0 event queries (EPCIS 2.0 §8.2.7.1 SimpleEventQuery, REST binding parameters):
an :class:`EventQuery` built from query parameters, and whether an event as the export maps
it matches.

This module holds the parameters ``eventType``, ``EQ_bizStep`` and ``MATCH_anyEPCClass``;
any other parameter is refused with a :class:`QueryError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cbv import BIZSTEPS, CBV

__all__ = ["EVENT_TYPES", "EventQuery", "QueryError"]

#: The EPCIS 2.0 event types (EPCIS 2.0 §7.4).
EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
               "AssociationEvent")

_BIZSTEP = f"{CBV}BizStep-"
_CLASS_LISTS = ("quantityList", "inputQuantityList", "outputQuantityList",
                "childQuantityList")


class QueryError(ValueError):
    """A query parameter the query cannot take: ``param`` names it, ``message`` says why."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def _values(param: str, raw: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in raw:
        if not isinstance(value, str):
            raise QueryError(param, f"expected text, got {type(value).__name__}")
        out.extend(v.strip() for v in value.split("|") if v.strip())  # EPCIS 2.0 REST: a|b
    if not out:
        raise QueryError(param, "expected at least one value")
    return tuple(dict.fromkeys(out))


def _bizstep_uri(param: str, value: str) -> str:
    """A CBV business step, bare (``shipping``) or as its URI, as its URI (CBV 2.0 §7.1)."""
    if value.startswith(_BIZSTEP):
        name = value[len(_BIZSTEP):]
    elif value.startswith("urn:epcglobal:cbv:bizstep:"):
        name = value.rsplit(":", 1)[1]
    else:
        name = value
    if name in BIZSTEPS:
        return _BIZSTEP + name
    if ":" in value:  # a user vocabulary's URI: compared as it is
        return value
    raise QueryError(param, f"not a CBV business step: {value!r}")


@dataclass(frozen=True)
class EventQuery:
    """Which events a query asks for; an empty field does not narrow."""

    event_types: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    any_epc_classes: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> EventQuery:
        """The query of REST query parameters (each a list of values); QueryError names an
        unknown or malformed parameter."""
        types: tuple[str, ...] = ()
        steps: tuple[str, ...] = ()
        classes: tuple[str, ...] = ()
        for param, raw in params.items():
            if isinstance(raw, str):
                raw = [raw]
            if param == "eventType":
                types = _values(param, raw)
                for value in types:
                    if value not in EVENT_TYPES:
                        raise QueryError(param, f"not an EPCIS event type: {value!r}")
            elif param == "EQ_bizStep":
                steps = tuple(_bizstep_uri(param, v) for v in _values(param, raw))
            elif param == "MATCH_anyEPCClass":
                classes = _values(param, raw)
            else:
                raise QueryError(param, "not a query parameter this service answers")
        return cls(types, steps, classes)

    def to_params(self) -> dict[str, list[str]]:
        """The query's parameters (what :meth:`from_params` reads back to an equal query)."""
        out: dict[str, list[str]] = {}
        if self.event_types:
            out["eventType"] = list(self.event_types)
        if self.biz_steps:
            out["EQ_bizStep"] = list(self.biz_steps)
        if self.any_epc_classes:
            out["MATCH_anyEPCClass"] = list(self.any_epc_classes)
        return out

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether ``event`` (an EPCIS 2.0 event as the export maps it) is one asked for."""
        if self.event_types and event.get("type") not in self.event_types:
            return False
        if self.biz_steps:
            step = event.get("bizStep")
            if not isinstance(step, str) or _uri_or_none(step) not in self.biz_steps:
                return False
        if self.any_epc_classes:
            found = set(_classes(event))
            if not found.intersection(self.any_epc_classes):
                return False
        return True


def _uri_or_none(step: str) -> str | None:
    try:
        return _bizstep_uri("bizStep", step)
    except QueryError:
        return None


def _classes(event: Mapping[str, Any]) -> Iterable[str]:
    for name in _CLASS_LISTS:
        for item in event.get(name) or ():
            if isinstance(item, Mapping) and isinstance(item.get("epcClass"), str):
                yield item["epcClass"]
