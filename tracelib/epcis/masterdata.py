"""EPCIS master data: which GLN (and GLN extension) names which of the ledger's locations, so
an imported event's SGLN or Digital Link ``414``/``254`` URI finds its place
(docs/contract.md "EPCIS 2.0 capture and import", "Master data").

Two forms are read:

* tracelib's own, a JSON object ``{"locations": [{"id", "gln", "gln_extension"?}, …]}``; an
  entry may also carry every field a ``register`` location takes (``name``, ``type``,
  ``holder``, …) to register a location the ledger does not know yet;
* EPCIS 2.0 master data (EPCIS 2.0 §7.1.7), an ``EPCISDocument`` or ``EPCISMasterDataDocument``
  whose ``epcisHeader.epcisMasterData.vocabularyList`` holds ``BusinessLocation`` or
  ``ReadPoint`` vocabularies: each element's ``id`` is the GLN (SGLN URN or Digital Link
  ``414`` URI) and its attribute ``urn:tracelib:epcis:location`` names the ledger's location.

Both become one operator-signed ``register`` event that re-registers each location with its
fields as they stand plus the GLN: master data is ledger data, signed and replayed like the
rest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from ..cbv import NAMESPACE, gs1_check_digit_ok
from ..errors import ValidationError
from ..events import sign_event
from ..keys import SigningKey
from ..ledger import Ledger
from ..timeutil import utcnow

__all__ = ["LOCATION_ATTRIBUTE", "masterdata_entries", "masterdata_event", "register_masterdata"]

#: The EPCIS master data attribute naming the ledger's location of a GLN.
LOCATION_ATTRIBUTE = f"{NAMESPACE}location"
_LOCATION_VOCABULARIES = ("urn:epcglobal:epcis:vtype:BusinessLocation",
                          "urn:epcglobal:epcis:vtype:ReadPoint", "BusinessLocation", "ReadPoint")
_GLN_LINK = re.compile(r"\Ahttps?://[^/]+/414/(\d{13})(?:/254/([^/?#]+))?\Z")
_SGLN = re.compile(r"\Aurn:epc:id:sgln:(\d+)\.(\d*)\.(.*)\Z")
#: The fields of a location the register event keeps as they are (the rest are details).
_CORE = ("id", "name", "type", "parent", "holder")


def _gln_of(uri: str, where: str) -> tuple[str, str | None]:
    found = _GLN_LINK.match(uri)
    if found:
        return found.group(1), found.group(2)
    urn = _SGLN.match(uri)
    if urn and len(urn.group(1)) + len(urn.group(2)) == 12:
        body = urn.group(1) + urn.group(2)
        total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
        return body + str((10 - total % 10) % 10), None if urn.group(3) in ("", "0") else urn.group(3)
    raise ValidationError(f"{uri[:120]!r} is neither an SGLN nor a GS1 Digital Link 414 URI",
                          field=where)


def masterdata_entries(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The location entries (``id``, ``gln``, ``gln_extension``?, and any register fields) of
    a master data document in either form."""
    if "locations" in doc:
        entries = doc["locations"]
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            raise ValidationError("expected a list of location objects", field="locations")
        return [dict(e) for e in entries]
    header = doc.get("epcisHeader")
    master = header.get("epcisMasterData") if isinstance(header, Mapping) else None
    vocabularies = master.get("vocabularyList") if isinstance(master, Mapping) else None
    if not isinstance(vocabularies, list):
        raise ValidationError("expected {\"locations\": [...]} or EPCIS master data in "
                              "epcisHeader.epcisMasterData.vocabularyList", field="")
    out = []
    for i, vocabulary in enumerate(vocabularies):
        if not isinstance(vocabulary, Mapping) or vocabulary.get("type") not in _LOCATION_VOCABULARIES:
            continue
        for j, element in enumerate(vocabulary.get("vocabularyElementList") or ()):
            where = f"epcisHeader.epcisMasterData.vocabularyList[{i}].vocabularyElementList[{j}]"
            attributes = {a.get("id"): a.get("attribute")
                          for a in element.get("attributes") or () if isinstance(a, Mapping)}
            location = attributes.get(LOCATION_ATTRIBUTE)
            if not isinstance(location, str):
                raise ValidationError(f"names no ledger location: give the attribute "
                                      f"{LOCATION_ATTRIBUTE}", field=f"{where}.attributes")
            gln, extension = _gln_of(str(element.get("id")), f"{where}.id")
            entry: dict[str, Any] = {"id": location, "gln": gln}
            if extension:
                entry["gln_extension"] = extension
            out.append(entry)
    if not out:
        raise ValidationError("the document names no BusinessLocation or ReadPoint",
                              field="epcisHeader.epcisMasterData.vocabularyList")
    return out


def masterdata_event(ledger: Ledger, doc: Mapping[str, Any], *,
                     now: datetime | None = None) -> dict[str, Any]:
    """The operator's unsigned ``register`` event that gives each location of ``doc`` its
    GLN: a location the ledger knows keeps all its fields; one it does not must come whole."""
    entries = masterdata_entries(doc)
    locations = []
    for i, entry in enumerate(entries):
        where = f"locations[{i}]"
        if not isinstance(entry.get("id"), str) or not isinstance(entry.get("gln"), str):
            raise ValidationError("each location needs an id and a gln", field=where)
        if not re.fullmatch(r"\d{13}", entry["gln"]) or not gs1_check_digit_ok(entry["gln"]):
            raise ValidationError(f"{entry['gln'][:20]!r} is not a GLN (13 digits, GS1 "
                                  "check digit)", field=f"{where}.gln")
        known = ledger.location(entry["id"])
        if known is None:
            if "name" not in entry or "type" not in entry:
                raise ValidationError(f"location {entry['id']!r} is not registered: give its "
                                      "name and type (and holder) to register it",
                                      field=f"{where}.id")
            locations.append(entry)
            continue
        current: dict[str, Any] = {"id": known.id, "name": known.name, "type": known.type}
        if known.parent:
            current["parent"] = known.parent
        if known.holder:
            current["holder"] = known.holder
        current.update({k: v for k, v in known.details.items()
                        if k not in ("gln", "gln_extension")})
        current.update({k: v for k, v in entry.items() if k != "id"})
        locations.append(current)
    moment = now or utcnow()
    digest = hashlib.sha256(orjson.dumps(locations, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return {"id": f"masterdata-{moment.strftime('%Y%m%dT%H%M%S%f')}-{digest[:12]}",
            "kind": "register",
            "time": moment.isoformat(), "actor": ledger.operator, "location": ledger.office,
            "data": {"locations": locations}}


def register_masterdata(ledger: Ledger, doc: Mapping[str, Any], operator_key: SigningKey, *,
                        now: datetime | None = None) -> int:
    """Register the GLNs of ``doc`` in one operator-signed event; the number of locations."""
    event = masterdata_event(ledger, doc, now=now)
    ledger.append([sign_event(event, operator_key)], now=now)
    return len(event["data"]["locations"])
