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
from urllib.parse import quote, unquote

__all__ = [
    "BIZSTEPS",
    "CBV",
    "DISPOSITIONS",
    "EPCIS_CONTEXT",
    "NAMESPACE",
    "PREFIX",
    "UNITS",
    "EpcisMap",
    "EpcisNames",
    "EpcisSources",
    "FromEpcis",
    "Refusal",
    "biz_transaction",
    "bizstep",
    "disposition",
    "disposition_name",
    "gs1_check_digit_ok",
    "object_event",
    "quantity_list",
    "sensor_temperatures",
    "source_dest",
    "step_name",
    "transformation_event",
    "uom",
]

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
#: The tracelib unit each Rec 20 code reads back as on import (EPCIS → tracelib).
_REVERSE: Mapping[str, str] = {"KGM": "kg", "GRM": "g", "TNE": "t", "MGM": "mg", "LTR": "L",
                               "MLT": "mL", "H87": "piece", "NA": "mg/kg"}
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
    # The kind's whole ``data`` travels under the namespace: what the standard fields do not
    # say (a certificate's producer, a test's readings) comes back on import unchanged.
    return {f"{PREFIX}:eventId": doc["id"], f"{PREFIX}:kind": doc["kind"],
            f"{PREFIX}:actor": doc["actor"], f"{PREFIX}:data": doc["data"]}


def _counted(items: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The units that have a Rec 20 code (or convert exactly to one) but are not the unit that
    code reads back as (``头``, ``斤``, ``箱``, ``head``): kept so an import counts the lot as
    it was counted."""
    out = {}
    for item in items:
        unit = item["unit"]
        code = uom(unit) or (_SCALED[unit][0] if unit in _SCALED else None)
        if code is not None and _REVERSE.get(code) != unit:
            out[item["lot"]] = unit
    return out


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
    counted = _counted(items)
    if counted:
        event[f"{PREFIX}:countedIn"] = counted
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
    counted = _counted([*inputs, *outputs])
    if counted:
        event[f"{PREFIX}:countedIn"] = counted
    event.update(_own(doc))
    return event


# -- the other way: EPCIS 2.0 events into tracelib events (import and capture) ---------------

#: The CBV 2.0 bare names, Web URIs and EPCIS 1.x URNs a business step may be written as
#: (CBV 2.0 §6.2, §8.2): all read back to the bare name.
_STEP_FORMS = {**{n: n for n in BIZSTEPS}, **{u: n for n, u in _BIZSTEP_URIS.items()},
               **{f"urn:epcglobal:cbv:bizstep:{n}": n for n in BIZSTEPS}}
_DISP_FORMS = {**{n: n for n in DISPOSITIONS}, **{u: n for n, u in _DISPOSITION_URIS.items()},
               **{f"urn:epcglobal:cbv:disp:{n}": n for n in DISPOSITIONS}}
_DIGITAL_LINK = re.compile(r"\Ahttps?://[^/]+/01/(\d{14})/10/([^/?#]+)\Z")
_LGTIN = re.compile(r"\Aurn:epc:class:lgtin:(\d+)\.(\d+)\.(.+)\Z")
_GLN_LINK = re.compile(r"\Ahttps?://[^/]+/414/(\d{13})(?:/254/([^/?#]+))?\Z")
_SGLN = re.compile(r"\Aurn:epc:id:sgln:(\d+)\.(\d*)\.(.*)\Z")
_PREFIXED_TYPE = re.compile(r"\A(?:https://ref\.gs1\.org/cbv/[A-Za-z]+-|"
                            r"urn:epcglobal:cbv:[a-z]+:)?([A-Za-z_]+)\Z")


def step_name(value: Any) -> str | None:
    """A bizStep in any CBV 2.0 form as its bare name; None when it is not a CBV 2.0 step."""
    return _STEP_FORMS.get(value) if isinstance(value, str) else None


def disposition_name(value: Any) -> str | None:
    """A disposition in any CBV 2.0 form as its bare name; None when it is not CBV 2.0's."""
    return _DISP_FORMS.get(value) if isinstance(value, str) else None


def _bare_type(value: str) -> str:
    """A CBV type (``owning_party``, ``bol``) from its bare, Web URI or URN form."""
    found = _PREFIXED_TYPE.match(value)
    return found.group(1) if found else value


def _with_check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return digits + str((10 - total % 10) % 10)


def _unquote(segment: str) -> str:
    return unquote(segment)


def _plain_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class Refusal(ValueError):
    """An EPCIS event that does not become a tracelib event: ``reason``, and ``path``, the
    field of the event (``quantityList[0].epcClass``) it is about."""

    def __init__(self, reason: str, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)


@dataclass
class EpcisSources:
    """How an import reads names back (the inverse of :class:`EpcisNames`): lots from GS1
    Digital Link (``…/01/{GTIN}/10/{lot}``), LGTIN URNs or ``{base}/l/{lot}``; locations from
    Digital Link ``414``(+``254``) URIs or SGLN URNs through the GLN registered for them, or
    ``{base}/loc/{id}``; parties from ``{base}/p/{id}``; events from
    ``{base}/api/v1/events/{id}``.

    ``location_of`` finds the location registered with a GLN (and extension), ``holder`` a
    location's holder, ``lot_unit`` the unit a lot already in the ledger is counted in."""

    base: str
    location_of: Callable[[str, str | None], str | None] = field(default=lambda g, e: None)
    holder: Callable[[str], str | None] = field(default=lambda loc: None)
    lot_unit: Callable[[str], str | None] = field(default=lambda lot: None)
    #: lots' GTINs as read (a lot named by GTIN gives the import its product code)
    gtins: dict[str, str] = field(default_factory=dict)

    def _own(self, uri: str, kind: str) -> str | None:
        head = f"{self.base}/{kind}/"
        if uri.startswith(head) and len(uri) > len(head):
            return _unquote(uri[len(head):])
        return None

    def lot(self, uri: Any, path: str) -> str:
        """The lot an ``epcClass`` names (the GTIN, when it names one, is kept in
        :attr:`gtins`)."""
        if not isinstance(uri, str):
            raise Refusal("expected a lot's class-level identifier", path)
        found = _DIGITAL_LINK.match(uri)
        if found:
            lot = _unquote(found.group(2))
            self.gtins.setdefault(lot, found.group(1))
            return lot
        urn = _LGTIN.match(uri)
        if urn:
            prefix, ref, lot = urn.groups()
            if len(prefix) + len(ref) == 13:  # GS1 EPC TDS §6.3.1: indicator first, in ref
                self.gtins.setdefault(lot, _with_check_digit(ref[0] + prefix + ref[1:]))
            return _unquote(lot)
        own = self._own(uri, "l")
        if own is not None:
            return own
        raise Refusal(f"{uri!r} names no lot: expected a GS1 Digital Link "
                      f"https://id.gs1.org/01/{{GTIN}}/10/{{lot}}, an LGTIN URN or "
                      f"{self.base}/l/{{lot}}", path)

    def location(self, uri: Any, path: str) -> str:
        """The registered location an SGLN, a Digital Link 414(+254) URI or
        ``{base}/loc/{id}`` names."""
        if not isinstance(uri, str):
            raise Refusal("expected a location's identifier", path)
        gln: str | None = None
        extension: str | None = None
        found = _GLN_LINK.match(uri)
        if found:
            gln, extension = found.group(1), found.group(2) and _unquote(found.group(2))
        else:
            urn = _SGLN.match(uri)
            if urn and len(urn.group(1)) + len(urn.group(2)) == 12:
                gln = _with_check_digit(urn.group(1) + urn.group(2))
                extension = None if urn.group(3) in ("", "0") else _unquote(urn.group(3))
        if gln is not None:
            location = self.location_of(gln, extension)
            if location is None and extension is not None:
                location = self.location_of(gln, None)
            if location is None:
                raise Refusal(f"no location is registered with GLN {gln}"
                              + (f" extension {extension!r}" if extension else "")
                              + ": register it first (tracelib epcis masterdata)", path)
            return location
        own = self._own(uri, "loc")
        if own is not None:
            return own
        raise Refusal(f"{uri!r} names no location: expected an SGLN, a GS1 Digital Link "
                      f"414 URI or {self.base}/loc/{{id}}", path)

    def party(self, uri: Any, path: str) -> str:
        own = self._own(uri, "p") if isinstance(uri, str) else None
        if own is None:
            raise Refusal(f"{uri!r} names no party: expected {self.base}/p/{{id}}", path)
        return own

    def event(self, uri: Any, path: str) -> str:
        own = self._own(uri, "api/v1/events") if isinstance(uri, str) else None
        if own is None:
            raise Refusal(f"{uri!r} names no tracelib event: expected "
                          f"{self.base}/api/v1/events/{{id}}", path)
        return own

    def items(self, event: Mapping[str, Any], key: str) -> list[dict[str, str]]:
        """A quantity list as ``{lot, qty, unit}`` items: Rec 20 back to the unit the lot is
        counted in (``tracelib:units``/``tracelib:countedIn`` when the event says, else the
        lot's unit in the ledger, else the unit the code reads back as)."""
        units = event.get(f"{PREFIX}:units") or {}
        counted = event.get(f"{PREFIX}:countedIn") or {}
        out = []
        for i, element in enumerate(event.get(key) or ()):
            path = f"{key}[{i}]"
            lot = self.lot(element.get("epcClass"), f"{path}.epcClass")
            quantity = element.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, (int, float)):
                raise Refusal("expected the quantity as a number", f"{path}.quantity")
            qty = Decimal(str(quantity))
            code = element.get("uom")
            unit = units.get(lot) if isinstance(units, Mapping) else None
            if unit is None:
                unit = counted.get(lot) if isinstance(counted, Mapping) else None
            if unit is None and code is not None:
                known = self.lot_unit(lot)
                unit = known if known is not None and (uom(known) == code or (
                    known in _SCALED and _SCALED[known][0] == code)) else _REVERSE.get(code)
            if unit is None:
                raise Refusal(f"the unit of {lot!r} is not known: give its UN/CEFACT Rec 20 "
                              "code as uom" if code is None else
                              f"{code!r} is not a Rec 20 code tracelib counts lots in",
                              f"{path}.uom")
            if code is not None and unit in _SCALED and _SCALED[unit][0] == code:
                qty = qty / _SCALED[unit][1]
            if not str(unit).strip():
                raise Refusal("empty unit", f"{path}.uom")
            out.append({"lot": lot, "qty": _plain_number(qty), "unit": str(unit)})
        return out

    def place(self, event: Mapping[str, Any], key: str) -> str | None:
        """The ``location`` of a sourceList or destinationList, else the location its
        ``owning_party`` holds … None when it names none."""
        inner = "source" if key == "sourceList" else "destination"
        for i, entry in enumerate(event.get(key) or ()):
            if _bare_type(str(entry.get("type", ""))) == "location":
                return self.location(entry.get(inner), f"{key}[{i}].{inner}")
        return None

    def where(self, event: Mapping[str, Any]) -> str:
        """Where the event happened: its bizLocation, else its readPoint."""
        for key in ("bizLocation", "readPoint"):
            place = event.get(key)
            if isinstance(place, Mapping) and place.get("id"):
                return self.location(place["id"], f"{key}.id")
        raise Refusal("the event names no place: a bizLocation or readPoint is needed",
                      "bizLocation")

    @staticmethod
    def needs_data(event: Mapping[str, Any], refusal: str) -> None:
        """Refuse, in ``refusal``'s words, an event without ``tracelib:data``: a kind whose
        record only tracelib carries (a certificate, a test's record, a supplier) cannot be
        read from the standard fields alone."""
        if not isinstance(event.get(f"{PREFIX}:data"), Mapping):
            raise Refusal(refusal, f"{PREFIX}:data")

    def envelope(self, event: Mapping[str, Any], kind: str, *, location: str | None = None,
                 inputs: list[dict[str, str]] | None = None,
                 outputs: list[dict[str, str]] | None = None,
                 data: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A tracelib event (without id and signature) from an EPCIS event: its time, the
        place it happened, the actor (``tracelib:actor``, else the place's holder), and the
        kind's ``data`` — ``tracelib:data`` when the event carries it, else ``data``."""
        own = event.get(f"{PREFIX}:data")
        where = location if location is not None else self.where(event)
        actor = event.get(f"{PREFIX}:actor")
        if not isinstance(actor, str):
            actor = self.holder(where)
            if actor is None:
                raise Refusal(f"no party holds {where!r}, so no one can sign the event",
                              "bizLocation")
        body: dict[str, Any] = {"kind": kind, "time": event["eventTime"], "actor": actor,
                                "location": where,
                                "data": dict(own) if isinstance(own, Mapping) else
                                dict(data or {})}
        if inputs:
            body["inputs"] = inputs
        if outputs:
            body["outputs"] = outputs
        return body

    def document(self, uri: Any, kind: str) -> str | None:
        """A business document's number from ``urn:tracelib:epcis:doc:{kind}:{number}``,
        else the URI itself."""
        if not isinstance(uri, str):
            return None
        head = f"{NAMESPACE}doc:{kind}:"
        return _unquote(uri[len(head):]) if uri.startswith(head) else uri

    def transaction(self, event: Mapping[str, Any], kind: str) -> str | None:
        """The first bizTransaction of CBV type ``kind`` (``bol``, ``inv``)."""
        for entry in event.get("bizTransactionList") or ():
            if _bare_type(str(entry.get("type", ""))) == kind:
                value = entry.get("bizTransaction")
                return value if isinstance(value, str) else None
        return None


#: A kind's reverse mapping: an EPCIS 2.0 event to a tracelib event's fields (``kind``,
#: ``time``, ``actor``, ``location``, ``inputs``, ``outputs``, ``data``); raises
#: :class:`Refusal` when the event cannot be that kind.
FromEpcis = Callable[[Mapping[str, Any], EpcisSources], "dict[str, Any]"]
