"""The shared vocabulary of the EPCIS 2.0 export: GS1 CBV 2.0 URIs, UN/CEFACT Rec 20 units,
GS1 Digital Link identifiers for lots and locations, and the tracelib JSON-LD namespace.

Each kind owns its mapping (``KindSpec.epcis``, docs/events.md); the pieces every mapping
shares are here, pure, so kinds can import them. :func:`object_event` and
:func:`transformation_event` build the fields every event has (EPCIS 2.0 §7.4.1: eventTime,
eventTimeZoneOffset, readPoint, bizLocation; tracelib's own fields under the
``tracelib:`` prefix); a kind adds what is its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

__all__ = ["BIZSTEPS", "CBV", "DISPOSITIONS", "EPCIS_CONTEXT", "NAMESPACE", "PREFIX", "UNITS",
           "EpcisMap", "EpcisNames", "biz_transaction", "bizstep", "disposition", "gs1_check_digit_ok",
           "object_event", "quantity_list", "sensor_temperatures", "source_dest",
           "transformation_event", "uom"]

#: GS1's JSON-LD context for EPCIS 2.0 documents (EPCIS 2.0 §12.1).
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: CBV 2.0 §6 (Web URI form of the standard vocabularies).
CBV = "https://ref.gs1.org/cbv/"
#: The JSON-LD namespace of tracelib's own fields in an exported event (seq, event id,
#: actor, record hash, the kind's own data): a URN, so it claims no web domain.
NAMESPACE = "urn:tracelib:epcis:"
PREFIX = "tracelib"

#: CBV 2.0 §7.2 business steps.
BIZSTEPS = frozenset((
    "accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
    "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
    "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
    "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing",
    "repackaging", "repairing", "replacing", "reserving", "retail_selling", "sampling",
    "sensor_reporting", "shipping", "staging_outbound", "stock_taking", "stocking", "storing",
    "transporting", "unloading", "unpacking", "void_shipping"))
#: CBV 2.0 §7.3 dispositions.
DISPOSITIONS = frozenset((
    "active", "available", "completeness_inferred", "completeness_verified", "conformant",
    "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
    "encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_class",
    "mismatch_instance", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
    "non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
    "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
    "unavailable", "unknown"))
#: CBV 2.0 §7.4 business transaction types.
_BTT = frozenset(("bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder",
                  "recadv", "rma", "testprd", "testres", "upevt"))

#: UN/CEFACT Recommendation 20 common codes of the units tracelib lots are counted in. Rec 20
#: has no code for a head of livestock: it is counted as a piece (H87).
UNITS: Mapping[str, str] = {
    "kg": "KGM", "g": "GRM", "t": "TNE", "mg": "MGM",
    "l": "LTR", "L": "LTR", "ml": "MLT", "mL": "MLT",
    "head": "H87", "piece": "H87", "pcs": "H87", "pc": "H87", "each": "H87",
    "头": "H87", "只": "H87", "个": "H87", "件": "H87", "box": "H87", "箱": "H87",
    "mg/kg": "NA",
}
#: Units Rec 20 has no code for but which convert exactly to one that has: 斤 (jin, 500 g)
#: and 公斤 (kg).
_SCALED: Mapping[str, tuple[str, Decimal]] = {"斤": ("KGM", Decimal("0.5")),
                                              "公斤": ("KGM", Decimal(1)),
                                              "吨": ("TNE", Decimal(1)),
                                              "克": ("GRM", Decimal(1))}

_PLAIN = re.compile(r"\A[A-Za-z0-9._~-]+\Z")


def _segment(value: str) -> str:
    """One path segment of a URI: RFC 3986 §2.1 percent-encoding of anything else."""
    return value if _PLAIN.match(value) else quote(value, safe="")


def gs1_check_digit_ok(digits: str) -> bool:
    """The GS1 mod-10 check digit (GS1 General Specifications §7.9.1) of a GTIN or GLN."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


_BIZSTEP_URIS = {name: f"{CBV}BizStep-{name}" for name in BIZSTEPS}
_DISPOSITION_URIS = {name: f"{CBV}Disp-{name}" for name in DISPOSITIONS}


def bizstep(name: str) -> str:
    """A CBV 2.0 business step as its full Web URI (``…/BizStep-shipping``)."""
    try:
        return _BIZSTEP_URIS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a CBV 2.0 business step") from None


def disposition(name: str) -> str:
    """A CBV 2.0 disposition as its full Web URI (``…/Disp-recalled``)."""
    try:
        return _DISPOSITION_URIS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a CBV 2.0 disposition") from None


def uom(unit: str) -> str | None:
    """The Rec 20 code of a tracelib unit, or None when Rec 20 has none (see :data:`UNITS`)."""
    return UNITS.get(unit) or UNITS.get(unit.lower())


def _number(text: str) -> int | float:
    """A decimal string as a JSON number: an integer exactly; a fraction as the float whose
    shortest representation is the same decimal (exact up to 15 significant digits, as
    every tracelib quantity of up to 6 decimals below a billion is)."""
    if text.isdigit():
        return int(text)
    value = float(text)  # the double nearest the decimal: float(Decimal(text)) without it
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass
class EpcisNames:
    """How the export names things: lots as GS1 Digital Link URIs (EPCIS 2.0 §8.3.3, GS1
    Digital Link 1.2: ``https://id.gs1.org/01/{GTIN}/10/{lot}`` for a lot whose product has
    a GTIN, else the ledger's own lot page ``{base}/l/{lot}``), locations as Digital Link
    ``414``/``254`` URIs from the GLN registered for them, else ``{base}/loc/{id}``, parties
    as ``{base}/p/{id}`` and events as ``{base}/api/v1/events/{id}``.

    ``gtin`` and ``gln`` look up master data (the export passes the ledger's); ``base`` is
    the ledger's public URL without a trailing slash."""

    base: str
    gtin: Callable[[str], str | None] = field(default=lambda lot: None)
    gln: Callable[[str], tuple[str, str | None] | None] = field(default=lambda loc: None)
    holder: Callable[[str], str | None] = field(default=lambda loc: None)
    _locations: dict[str, str] = field(default_factory=dict, repr=False)

    def lot(self, lot: str) -> str:
        gtin = self.gtin(lot)
        if gtin is not None:
            return f"https://id.gs1.org/01/{gtin}/10/{_segment(lot)}"
        return f"{self.base}/l/{_segment(lot)}"

    def location(self, location: str) -> str:
        uri = self._locations.get(location)
        if uri is None:
            uri = self._locations[location] = self._location(location)
        return uri

    def _location(self, location: str) -> str:
        found = self.gln(location)
        if found is not None:
            gln, extension = found
            uri = f"https://id.gs1.org/414/{gln}"
            return f"{uri}/254/{_segment(extension)}" if extension else uri
        return f"{self.base}/loc/{_segment(location)}"

    def party(self, party: str) -> str:
        return f"{self.base}/p/{_segment(party)}"

    def places(self, location: str) -> list[tuple[str, str]]:
        """A location as source or destination: its holder (``owning_party``), if it has
        one, and the location itself."""
        holder = self.holder(location)
        out = [("owning_party", self.party(holder))] if holder else []
        out.append(("location", self.location(location)))
        return out

    def supplier(self, supplier: Mapping[str, Any]) -> list[tuple[str, str]]:
        """A supplier outside the ledger (an entry's, a refusal's, a return's) as source or
        destination: its ``owning_party``, named by its licence number, else its name."""
        return [("owning_party", self.term("supplier", supplier.get("licence")
                                           or supplier["name"]))]

    def event(self, event_id: str) -> str:
        return f"{self.base}/api/v1/events/{_segment(event_id)}"

    def document(self, kind: str, number: str) -> str:
        """A business document (certificate, receipt, waybill) by its number, as a URN under
        the tracelib namespace: ``urn:tracelib:epcis:doc:{kind}:{number}``."""
        return f"{NAMESPACE}doc:{_segment(kind)}:{_segment(number)}"

    def term(self, kind: str, value: str) -> str:
        """A value tracelib names in words (an analyte, a test item) as a URN."""
        return f"{NAMESPACE}{_segment(kind)}:{_segment(value)}"


#: A kind's mapping: a stored event (its wire form) to one EPCIS 2.0 event, or None when the
#: event does not map.
EpcisMap = Callable[[Mapping[str, Any], EpcisNames], "dict[str, Any] | None"]


def _offset(time: str) -> str:
    tail = time[-6:]
    return "+00:00" if time[-1] in "Zz" else tail


def quantity_list(items: Iterable[Mapping[str, str]], names: EpcisNames) -> list[dict[str, Any]]:
    """``{lot, qty, unit}`` items as EPCIS quantity elements (EPCIS 2.0 §7.3.3.3): the lot's
    class-level URI, the quantity as a number and its Rec 20 unit; a unit Rec 20 has no code
    for leaves ``uom`` out (the event keeps the unit under ``tracelib:units``)."""
    out = []
    for item in items:
        element: dict[str, Any] = {"epcClass": names.lot(item["lot"])}
        unit = item["unit"]
        code = uom(unit)
        if code is not None:
            element["quantity"] = _number(item["qty"])
            element["uom"] = code
        elif unit in _SCALED:
            code, factor = _SCALED[unit]
            element["quantity"] = _number(str(Decimal(item["qty"]) * factor))
            element["uom"] = code
        else:
            element["quantity"] = _number(item["qty"])
        out.append(element)
    return out


def _units(items: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {item["lot"]: item["unit"] for item in items
            if item["unit"] not in UNITS and uom(item["unit"]) is None
            and item["unit"] not in _SCALED}


def source_dest(key: str, values: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    """A sourceList or destinationList (EPCIS 2.0 §7.3.5.4): ``(type, uri)`` pairs, type a
    CBV 2.0 §7.5 source/destination type (``owning_party``, ``possessing_party``,
    ``location``)."""
    return [{"type": f"{CBV}SDT-{t}", key: uri} for t, uri in values]


def biz_transaction(kind: str, uri: str) -> dict[str, str]:
    """One bizTransactionList entry (EPCIS 2.0 §7.3.5.3), type a CBV 2.0 §7.4 type."""
    if kind not in _BTT:
        raise ValueError(f"{kind!r} is not a CBV 2.0 business transaction type")
    return {"type": f"{CBV}BTT-{kind}", "bizTransaction": uri}


def sensor_temperatures(readings: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Temperature readings ``{time, celsius}`` as one sensorElement (EPCIS 2.0 §7.3.5.7,
    CBV 2.0 measurement type ``Temperature``, Rec 20 ``CEL``)."""
    reports = [{"type": "Temperature", "time": r["time"].upper(), "value": _number(r["celsius"]),
                "uom": "CEL"} for r in readings]
    return [{"sensorReport": reports}] if reports else []


def _own(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{PREFIX}:eventId": doc["id"], f"{PREFIX}:kind": doc["kind"],
            f"{PREFIX}:actor": doc["actor"]}


def _where(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    where = {"id": names.location(doc["location"])}
    return {"readPoint": where, "bizLocation": dict(where)}


def object_event(doc: Mapping[str, Any], names: EpcisNames, *, action: str, step: str | None,
                 disp: str | None = None, items: Iterable[Mapping[str, str]] = ()
                 ) -> dict[str, Any]:
    """An ObjectEvent (EPCIS 2.0 §7.4.2) of ``doc``: its time, offset, place, the lots of
    ``items`` as its quantityList, the bizStep ``step`` and disposition ``disp`` (CBV names),
    and tracelib's own fields."""
    items = items if isinstance(items, list) else list(items)
    time = doc["time"].upper()
    event: dict[str, Any] = {"type": "ObjectEvent", "eventTime": time,
                             "eventTimeZoneOffset": _offset(time), "action": action}
    if items:
        event["quantityList"] = quantity_list(items, names)
    if step is not None:
        event["bizStep"] = bizstep(step)
    if disp is not None:
        event["disposition"] = disposition(disp)
    event.update(_where(doc, names))
    units = _units(items)
    if units:
        event[f"{PREFIX}:units"] = units
    event.update(_own(doc))
    return event


def transformation_event(doc: Mapping[str, Any], names: EpcisNames, *, step: str | None,
                         disp: str | None = None) -> dict[str, Any]:
    """A TransformationEvent (EPCIS 2.0 §7.4.6) of ``doc``: its ``inputs`` and ``outputs``
    as input and output quantity lists, the event id as its transformationID."""
    time = doc["time"].upper()
    inputs, outputs = doc.get("inputs", []), doc.get("outputs", [])
    event: dict[str, Any] = {"type": "TransformationEvent", "eventTime": time,
                             "eventTimeZoneOffset": _offset(time)}
    if inputs:
        event["inputQuantityList"] = quantity_list(inputs, names)
    if outputs:
        event["outputQuantityList"] = quantity_list(outputs, names)
    event["transformationID"] = names.event(doc["id"])
    if step is not None:
        event["bizStep"] = bizstep(step)
    if disp is not None:
        event["disposition"] = disposition(disp)
    event.update(_where(doc, names))
    units = _units([*inputs, *outputs])
    if units:
        event[f"{PREFIX}:units"] = units
    event.update(_own(doc))
    return event
