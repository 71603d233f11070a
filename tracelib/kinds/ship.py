"""``ship``: a cold-chain hop leaves; the stock arrives when a ``receive`` closes it.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from ..bounds import MAX_TIME_TEXT
from ..cbv import (
    EpcisNames,
    EpcisSources,
    biz_transaction,
    object_event,
    sensor_temperatures,
    source_dest,
)
from ..errors import ValidationError
from ..quantity import to_micro
from ..store.supply import ShipmentRow
from ._fields import (
    DEFAULT_TEMPERATURE_LIMITS,
    IMPORT_DOCS,
    STORAGE,
    ImportDocsSchema,
    OpenData,
    id_field,
    text,
)
from ._stock import need, none, take
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers

_celsius = validate.Regexp(r"\A-?\d{1,3}(?:\.\d{1,2})?\Z",
                           error='must be a decimal string in °C like "-19.5"')


class ReadingSchema(Schema):
    """One temperature reading of a cold-chain hop."""

    class Meta:
        unknown = RAISE

    time = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TIME_TEXT), metadata={
        "description": "when it was read (RFC 3339)"})
    celsius = fields.String(required=True, validate=_celsius, metadata={
        "description": "the temperature in °C, a decimal string"})


class ShipData(OpenData):
    to = fields.String(required=True, validate=id_field(), metadata={
        "description": "the destination: a registered location other than this one"})
    vehicle = fields.String(validate=text(), metadata={
        "description": "the vehicle, e.g. its plate `渝F·7L302`"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "the hop's storage; default `frozen` when any lot shipped is frozen, "
                       "else `chilled` when any is chilled"})
    temperatures = fields.List(fields.Nested(ReadingSchema), validate=validate.Length(max=1000),
                               metadata={"description": "readings during the hop; one above the "
                                                        "storage's limit is an excursion"})
    import_docs = fields.Nested(ImportDocsSchema, metadata={
        "description": "import documents for the lots shipped: marks them imported and adds "
                       "these documents to their record"})


def apply_ship(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    data = event.data
    if ctx.location(data["to"]) is None:
        raise ValidationError(f"unknown destination {data['to']!r}", field="data.to")
    if data["to"] == event.location:
        raise ValidationError("a shipment must go somewhere else", field="data.to")
    docs = {k for k in IMPORT_DOCS if data.get("import_docs", {}).get(k)}
    storages = set()
    for i, item in enumerate(event.inputs):
        lot = take(ctx, event, i, item, moving="shipped")
        if "import_docs" in data:
            lot.imported = True
            lot.import_docs |= docs
            ctx.supply.touch_lot(lot)
        storages.add(lot.storage)
        if ctx.supply.shipment(event.id, item.lot) is not None:
            raise ValidationError(f"lot {item.lot!r} appears twice in this shipment",
                                  field=f"inputs[{i}].lot")
        ctx.supply.add_shipment(ShipmentRow(event.id, item.lot, seq, to_micro(item.qty),
                                            event.location, data["to"]))
    storage = data.get("storage") or ("frozen" if "frozen" in storages else
                                      "chilled" if "chilled" in storages else None)
    limit = ctx.temperature_limits.get(storage) if storage else None
    if limit is not None:
        for n, reading in enumerate(data.get("temperatures", [])):
            if Decimal(reading["celsius"]) > limit:
                ctx.supply.add_excursion(seq, n, reading["time"], reading["celsius"],
                                         str(limit), storage or "")


_EXCURSIONS = "a reading " + " or ".join(
    f"above {limit} °C for {storage} goods" for storage, limit in DEFAULT_TEMPERATURE_LIMITS.items()
) + " (the default limits)"


RULES = ("""\
`inputs`: lots on hand at `location`, taken off its stock — mass balance (精准追溯): no more than
is on hand there; no `outputs`. A held or recalled lot cannot be shipped, and a lot appears at
most once in a shipment. The stock arrives at `data.to` only when a `receive` closes the
shipment. An excursion is recorded on the hop and shown in traces, and the hop is still
accepted, for """ + _EXCURSIONS + """.""")


EXAMPLE = {'id': 'ship-cq01-a01-0001',
 'kind': 'ship',
 'time': '2026-11-22T07:40:00+08:00',
 'actor': 'carrier-cq01',
 'location': 'coldstore-cq01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '200', 'unit': 'kg'}],
 'data': {'to': 'stall-a01',
          'vehicle': '渝F·7L302',
          'temperatures': [{'time': '2026-11-22T07:50:00+08:00', 'celsius': '3.8'}]}}


def epcis_ship(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """A hop leaving: shipping, in transit, from this location to ``data.to``."""
    data = doc["data"]
    event = object_event(doc, names, action="OBSERVE", step="shipping", disp="in_transit",
                         items=doc["inputs"])
    event["bizTransactionList"] = [biz_transaction("bol", names.event(doc["id"]))]
    event["sourceList"] = source_dest("source", names.places(doc["location"]))
    event["destinationList"] = source_dest("destination", names.places(data["to"]))
    sensors = sensor_temperatures(data.get("temperatures", []))
    if sensors:
        event["sensorElementList"] = sensors
    docs = data.get("import_docs", {})
    certificates = [names.document(k, docs[k]) for k in IMPORT_DOCS if docs.get(k)]
    if certificates:
        event["certificationInfo"] = certificates
    if data.get("vehicle"):
        event["tracelib:vehicle"] = data["vehicle"]
    return event



def from_epcis_ship(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Shipping: the quantityList leaves for the destinationList's ``location``; Temperature
    readings in °C come back as ``temperatures``."""
    data: dict[str, Any] = {}
    to = src.place(event, "destinationList")
    if to is not None:
        data["to"] = to
    readings = [{"time": r["time"], "celsius": str(r["value"])}
                for element in event.get("sensorElementList") or ()
                for r in element.get("sensorReport") or ()
                if str(r.get("type", "")).endswith("Temperature") and r.get("uom") == "CEL"
                and "time" in r and isinstance(r.get("value"), (int, float))]
    if readings:
        data["temperatures"] = readings
    if isinstance(event.get("tracelib:vehicle"), str):
        data["vehicle"] = event["tracelib:vehicle"]
    return src.envelope(event, "ship", inputs=src.items(event, "quantityList"), data=data)

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `shipping`, disposition `in_transit`: the `inputs`
in `quantityList`; `sourceList` this location and its holder (`owning_party`),
`destinationList` `data.to` and its holder; the shipment itself (this event) as a `bol`
business transaction; `temperatures` as `Temperature` readings in `CEL` in
`sensorElementList`; import documents in `certificationInfo`."""


SPEC = KindSpec(
    epcis=epcis_ship, from_epcis=from_epcis_ship, epcis_words=EPCIS_WORDS,
    name="ship", order=30, data_schema=ShipData(), apply=apply_ship,
    label_zh="发货", label_en="Shipping", summary="a cold-chain hop leaves",
    bizstep="shipping", epcis_type="ObjectEvent", cte="shipping",
    cte_facts=lambda doc: CteFacts(doc["location"], doc.get("data", {}).get("to", doc["location"]),
                                 "运单 shipping record",
                                 doc.get("data", {}).get("vehicle", doc["id"])),
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(anywhere=("carrier",), relation_words=(
        "The holder of the location the stock leaves, or a carrier picking it up there.")),
)
