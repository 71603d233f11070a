"""The plain data a recall-drill report is written from (FSMA 204, 21 CFR 1.1300ff).

The trace engine builds these; :func:`tracelib.report.write_drill_report` turns them into
files. Nothing here touches the ledger: a report is a pure function of this input.

Invariants (checked in ``__post_init__``, so an instance cannot be built invalid):

* every quantity is a finite :class:`~decimal.Decimal` (never a float: docs/contract.md "Wire rules");
* every CTE ``date`` is an RFC 3339 time with an offset (docs/contract.md: all times carry one);
* every :class:`PathEdge` joins two ids of ``DrillReportInput.nodes``, and node ids are unique;
* every text field is a ``str`` (names are untrusted: the writers escape them, not this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import ValidationError
from ..timeutil import parse_rfc3339, to_micros

__all__ = [
    "CriticalTrackingEvent",
    "DrillReportInput",
    "FsmaRangeReport",
    "LocationDescription",
    "NodeStock",
    "PathEdge",
    "PathNode",
]


def _check_text(owner: str, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValidationError(f"expected a string, got {type(value).__name__}",
                              field=f"{owner}.{name}")


def _check_quantity(owner: str, value: object) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(f"expected a finite Decimal, got {value!r}", field=f"{owner}.quantity")


@dataclass(frozen=True)
class CriticalTrackingEvent:
    """One row of the FSMA-204-style sortable spreadsheet (21 CFR 1.1325-1.1350 KDEs).

    ``cte`` is the FSMA critical tracking event name ("harvesting/initial packing",
    "shipping", "receiving", "transformation", "sale", ...); ``kind`` is the tracelib event
    kind it came from. ``tlc_source`` is the location where the traceability lot code was
    assigned (21 CFR 1.1320 "traceability lot code source"). ``date`` is the RFC 3339 time
    of the event as recorded in the ledger.
    """

    event_id: str
    kind: str
    cte: str
    traceability_lot_code: str
    quantity: Decimal
    unit: str
    product: str
    from_location: str
    from_location_name: str
    to_location: str
    to_location_name: str
    date: str
    tlc_source: str
    tlc_source_name: str
    reference_document_type: str
    reference_document_number: str
    kind_zh: str = ""  # the kind's Chinese label, shown beside the CTE name

    def __post_init__(self) -> None:
        for name in ("event_id", "kind", "cte", "traceability_lot_code", "unit", "product",
                     "from_location", "from_location_name", "to_location", "to_location_name",
                     "date", "tlc_source", "tlc_source_name", "reference_document_type",
                     "reference_document_number"):
            _check_text("CriticalTrackingEvent", name, getattr(self, name))
        _check_quantity("CriticalTrackingEvent", self.quantity)
        parse_rfc3339(self.date, field="CriticalTrackingEvent.date")

    @property
    def moment(self) -> datetime:
        """The event time as an aware datetime."""
        return parse_rfc3339(self.date, field="CriticalTrackingEvent.date")

    def sort_key(self) -> tuple[int, str]:
        """Rows are ordered by instant (not by the text of ``date``), then event id."""
        return (to_micros(self.moment), self.event_id)


@dataclass(frozen=True)
class NodeStock:
    """What the lot's family did at one location in one ``unit``, as the trace's location
    totals give it (docs/contract.md "Trace JSON", ``downstream.locations``): ``received``,
    ``sold`` and ``on_hand``, and ``held`` — the part of ``on_hand`` that is on hold (下架) or
    recalled, so not for sale. Invariant: all four are finite and ``0 <= held <= on_hand``."""

    unit: str
    received: Decimal
    sold: Decimal
    on_hand: Decimal
    held: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _check_text("NodeStock", "unit", self.unit)
        for name in ("received", "sold", "on_hand", "held"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValidationError(f"expected a finite Decimal, got {value!r}",
                                      field=f"NodeStock.{name}")
        if not Decimal(0) <= self.held <= self.on_hand:
            raise ValidationError(f"expected held between 0 and on_hand {self.on_hand}, "
                                  f"got {self.held}", field="NodeStock.held")

    @property
    def for_sale(self) -> Decimal:
        """On hand and not held: what is still on sale here."""
        return self.on_hand - self.held


@dataclass(frozen=True)
class PathNode:
    """A location on the lot's path. ``type`` is a location type of docs/contract.md (farm, abattoir,
    port, coldstore, warehouse, wholesale_market, market, stall, lab) or anything else,
    which is drawn in the middle column.

    ``market`` and ``market_name`` name the market a stall belongs to (its registered parent
    location, docs/contract.md "Drill picture"; empty when it has none): the picture draws each
    market as a band holding its stalls. ``stock`` is what the lot's family did here, one
    entry per unit (empty for a place the stock only passed through)."""

    id: str
    name: str
    type: str
    market: str = ""
    market_name: str = ""
    stock: tuple[NodeStock, ...] = ()

    def __post_init__(self) -> None:
        for name in ("id", "name", "type", "market", "market_name"):
            _check_text("PathNode", name, getattr(self, name))
        if not self.id:
            raise ValidationError("expected a non-empty location id", field="PathNode.id")
        object.__setattr__(self, "stock", tuple(self.stock))
        for entry in self.stock:
            if not isinstance(entry, NodeStock):
                raise ValidationError(f"expected a NodeStock, got {entry!r}",
                                      field="PathNode.stock")


@dataclass(frozen=True)
class PathEdge:
    """Stock that moved from ``source`` to ``target`` (location ids): the lots, their summed
    quantity in ``unit``, whether a temperature excursion was recorded on the way, and
    whether the moved stock is now on hold."""

    source: str
    target: str
    lots: tuple[str, ...]
    quantity: Decimal
    unit: str
    excursion: bool = False
    held: bool = False
    recalled: bool = False  # one of ``lots`` is recalled (a ``recall`` event, docs/contract.md)

    def __post_init__(self) -> None:
        for name in ("source", "target", "unit"):
            _check_text("PathEdge", name, getattr(self, name))
        object.__setattr__(self, "lots", tuple(self.lots))
        for lot in self.lots:
            _check_text("PathEdge", "lots[]", lot)
        _check_quantity("PathEdge", self.quantity)
        for name in ("excursion", "held", "recalled"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError("expected a bool", field=f"PathEdge.{name}")


@dataclass(frozen=True)
class DrillReportInput:
    """Everything a drill report shows.

    ``summary`` is the ``tracelib trace LOT --json`` object (docs/contract.md) plus timing and
    counts; it is written as-is to ``summary.json`` (with a ``files`` list added) and must
    be JSON-serialisable (``Decimal`` is written as a string). ``held_locations`` are the
    location ids where the lot or a descendant is on hold (下架).
    """

    lot: str
    question: str
    generated_at: str
    summary: Mapping[str, Any] = field(hash=False)
    ctes: tuple[CriticalTrackingEvent, ...] = ()
    nodes: tuple[PathNode, ...] = ()
    edges: tuple[PathEdge, ...] = ()
    held_locations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("lot", "question", "generated_at"):
            _check_text("DrillReportInput", name, getattr(self, name))
        if not isinstance(self.summary, Mapping):
            raise ValidationError("expected a mapping", field="DrillReportInput.summary")
        object.__setattr__(self, "ctes", tuple(self.ctes))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "edges", tuple(self.edges))
        object.__setattr__(self, "held_locations", frozenset(self.held_locations))
        for cte in self.ctes:
            if not isinstance(cte, CriticalTrackingEvent):
                raise ValidationError(f"expected a CriticalTrackingEvent, got {cte!r}",
                                      field="DrillReportInput.ctes")
        seen: set[str] = set()
        for node in self.nodes:
            if not isinstance(node, PathNode):
                raise ValidationError(f"expected a PathNode, got {node!r}",
                                      field="DrillReportInput.nodes")
            if node.id in seen:
                raise ValidationError(f"location id {node.id!r} appears twice",
                                      field="DrillReportInput.nodes")
            seen.add(node.id)
        for index, edge in enumerate(self.edges):
            if not isinstance(edge, PathEdge):
                raise ValidationError(f"expected a PathEdge, got {edge!r}",
                                      field=f"DrillReportInput.edges[{index}]")
            for end in ("source", "target"):
                if getattr(edge, end) not in seen:
                    raise ValidationError(
                        f"expected a location id among the nodes, got {getattr(edge, end)!r}",
                        field=f"DrillReportInput.edges[{index}].{end}")

    def sorted_ctes(self) -> tuple[CriticalTrackingEvent, ...]:
        """The CTEs by date (instant) then event id: the spreadsheet's row order."""
        return tuple(sorted(self.ctes, key=CriticalTrackingEvent.sort_key))


@dataclass(frozen=True)
class LocationDescription:
    """A location as master data registers it: FSMA 204's "location description" (21 CFR
    1.1310: business name, phone number, physical location address), with its location
    type and the name of the party holding it. Empty strings where nothing is registered."""

    id: str
    name: str
    type: str = ""
    address: str = ""
    phone: str = ""
    holder: str = ""

    def __post_init__(self) -> None:
        for name in ("id", "name", "type", "address", "phone", "holder"):
            _check_text("LocationDescription", name, getattr(self, name))


@dataclass(frozen=True)
class FsmaRangeReport:
    """The FSMA 204 sortable spreadsheet for a date range (21 CFR 1.1455(c)(3)(ii)): every
    critical tracking event whose event time is in [``since``, ``until``), optionally only
    lots of ``product``, with the description of every location the rows name."""

    since: str
    until: str
    product: str | None
    generated_at: str
    ctes: tuple[CriticalTrackingEvent, ...] = ()
    locations: Mapping[str, LocationDescription] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("since", "until", "generated_at"):
            _check_text("FsmaRangeReport", name, getattr(self, name))
        if parse_rfc3339(self.since, field="FsmaRangeReport.since") >= parse_rfc3339(
                self.until, field="FsmaRangeReport.until"):
            raise ValidationError("expected since before until", field="FsmaRangeReport.until")
        if self.product is not None:
            _check_text("FsmaRangeReport", "product", self.product)
        object.__setattr__(self, "ctes", tuple(self.ctes))
        for cte in self.ctes:
            if not isinstance(cte, CriticalTrackingEvent):
                raise ValidationError(f"expected a CriticalTrackingEvent, got {cte!r}",
                                      field="FsmaRangeReport.ctes")
        for key, place in self.locations.items():
            if not isinstance(place, LocationDescription) or place.id != key:
                raise ValidationError(f"expected the LocationDescription of {key!r}",
                                      field="FsmaRangeReport.locations")

    def sorted_ctes(self) -> tuple[CriticalTrackingEvent, ...]:
        """The CTEs by date (instant) then event id, as the drill's sheet orders them."""
        return tuple(sorted(self.ctes, key=CriticalTrackingEvent.sort_key))

    def location(self, ident: str) -> LocationDescription:
        """The description of ``ident``; a place not registered (the consumer) by its id."""
        return self.locations.get(ident) or LocationDescription(ident, ident)
