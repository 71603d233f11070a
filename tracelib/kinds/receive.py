"""``receive``: a shipment arrives and its stock is on hand at the destination.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields

from ..bounds import MAX_MICRO
from ..cbv import EpcisNames, EpcisSources, biz_transaction, object_event, source_dest
from ..errors import ValidationError
from ..quantity import format_micro, to_micro
from ._fields import CONSUMER_TYPES, IMPORT_DOCS, MARKET_TYPES, OpenData, id_field
from ._stock import existing_lot, need, none, shipment_rows
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers


class ReceiveData(OpenData):
    from_ = fields.String(required=True, data_key="from", validate=id_field(), metadata={
        "description": "where the shipment left from: the `ship` event's location"})
    ship_event = fields.String(required=True, validate=id_field(), metadata={
        "description": "the id of the `ship` event this receipt closes"})


def apply_receive(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    data = event.data
    here = ctx.location(event.location)
    for i, item in enumerate(event.inputs):
        where = f"inputs[{i}]"
        lot = existing_lot(ctx, item, f"{where}.lot")
        shipment = ctx.supply.shipment(data["ship_event"], item.lot)
        if shipment is None:
            raise ValidationError(f"lot {item.lot!r} is not in shipment {data['ship_event']!r}",
                                  field="data.ship_event")
        if shipment.to_location != event.location:
            raise ValidationError(f"shipment {data['ship_event']!r} goes to "
                                  f"{shipment.to_location!r}, not {event.location!r}",
                                  field="location")
        if shipment.from_location != data["from"]:
            raise ValidationError(f"shipment {data['ship_event']!r} left from "
                                  f"{shipment.from_location!r}, not {data['from']!r}",
                                  field="data.from")
        if shipment.receive_seq is not None:
            done = "refused" if shipment.reject_reason is not None else "received"
            raise ValidationError(f"lot {item.lot!r} of shipment {data['ship_event']!r} was "
                                  f"already {done} at seq {shipment.receive_seq}",
                                  field=f"{where}.lot")
        qty = to_micro(item.qty)
        if qty > shipment.qty:
            raise ValidationError(f"received {format_micro(qty)} {item.unit} but only "
                                  f"{format_micro(shipment.qty)} were shipped",
                                  field=f"{where}.qty")
        # docs/contract.md "Limits": running totals are 64-bit integers of micro-units; a lot
        # shipped back and forth could otherwise carry them past what the database holds.
        before = ctx.supply.stock(item.lot, event.location)
        if before is not None and before.received + qty > MAX_MICRO:
            raise ValidationError(
                f"lot {item.lot!r} has received {format_micro(before.received)} {item.unit} at "
                f"{event.location!r} in all: {format_micro(qty)} more would pass the largest "
                f"total the ledger keeps ({format_micro(MAX_MICRO)})", field=f"{where}.qty")
        if lot.imported and here is not None and here.type in (*MARKET_TYPES, *CONSUMER_TYPES):
            missing = [d for d in IMPORT_DOCS if d not in lot.import_docs]
            if missing:
                raise ValidationError(
                    f"imported lot {item.lot!r} cannot be received by a {here.type} without "
                    f"{', '.join(missing)} on record", field=f"{where}.lot")
        shipment.received_qty, shipment.receive_seq = qty, seq
        shipment.discrepancy = (qty - shipment.qty) or None
        ctx.supply.touch_shipment(shipment)
        row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
        row.received += qty
        row.on_hand += qty
        ctx.supply.add_lot_event(item.lot, seq)



RULES = """\
`inputs`: the lots received at `location`. Each must be in the shipment `data.ship_event`,
addressed to this location, received at most once and no more than was shipped; less is
recorded as a discrepancy on the hop; a hop refused by a `reject` is not received. A market,
stall, supermarket, canteen or restaurant cannot receive an imported lot unless all three
import documents are on record for it."""


EXAMPLE = {'id': 'recv-a01-0001',
 'kind': 'receive',
 'time': '2026-11-22T08:20:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '200', 'unit': 'kg'}],
 'data': {'from': 'coldstore-cq01', 'ship_event': 'ship-cq01-a01-0001'}}


def epcis_receive(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """A shipment arriving: receiving, closing the ``bol`` of its ship event."""
    data = doc["data"]
    event = object_event(doc, names, action="OBSERVE", step="receiving", disp="in_progress",
                         items=doc["inputs"])
    event["bizTransactionList"] = [biz_transaction("bol", names.event(data["ship_event"]))]
    event["sourceList"] = source_dest("source", names.places(data["from"]))
    event["destinationList"] = source_dest("destination", names.places(doc["location"]))
    return event



def from_epcis_receive(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Receiving: the quantityList arrives from the sourceList's ``location``, closing the
    ship event its ``bol`` names."""
    data: dict[str, Any] = {}
    origin = src.place(event, "sourceList")
    if origin is not None:
        data["from"] = origin
    bol = src.transaction(event, "bol")
    if bol is not None:
        data["ship_event"] = src.event(bol, "bizTransactionList")
    return src.envelope(event, "receive", inputs=src.items(event, "quantityList"), data=data)

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `receiving`, disposition `in_progress`: the `inputs`
in `quantityList`; the ship event as the `bol` business transaction; `sourceList` `data.from`,
`destinationList` this location (each with its holder as `owning_party`)."""


SPEC = KindSpec(
    epcis=epcis_receive, from_epcis=from_epcis_receive, epcis_words=EPCIS_WORDS,
    name="receive", order=40, data_schema=ReceiveData(), apply=apply_receive,
    label_zh="收货", label_en="Receiving", summary="the hop arrives",
    bizstep="receiving", epcis_type="ObjectEvent", cte="receiving",
    cte_facts=lambda doc: CteFacts(doc.get("data", {}).get("from", doc["location"]), doc["location"],
                                 "收货记录 receiving record (ship event)",
                                 doc.get("data", {}).get("ship_event", "")),
    prefetch=shipment_rows,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(relation_words="The holder of the destination."),
)
