"""``reject``: a delivery refused at its destination (拒收) — a shipment of the ledger closed
with nothing received, or a delivery from outside the ledger recorded as refused.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from ..cbv import EpcisNames, EpcisSources, biz_transaction, object_event, source_dest
from ..errors import ValidationError
from ..quantity import format_micro, to_micro
from ._fields import (
    CATEGORIES,
    RECEIVING_TYPES,
    OpenData,
    SupplierSchema,
    VoucherSchema,
    id_field,
    text,
)
from ._stock import existing_lot, need, none, shipment_rows
from .context import AppendContext, EventView
from .entry import voucher_files
from .spec import CteFacts, KindSpec, Signers


class RejectData(OpenData):
    reason = fields.String(required=True, validate=text(), metadata={
        "description": "why the goods were refused, e.g. `无动物检疫合格证明`"})
    ship_event = fields.String(validate=id_field(), metadata={
        "description": "the id of the `ship` (or `return`) event whose hop is refused; absent "
                       "for a delivery from outside the ledger"})
    from_ = fields.String(data_key="from", validate=id_field(), metadata={
        "description": "where the refused shipment left from (its location), checked when "
                       "given"})
    supplier = fields.Nested(SupplierSchema, metadata={
        "description": "a delivery from outside the ledger: the supplier refused (required "
                       "without `ship_event`)"})
    product = fields.String(validate=text(), metadata={
        "description": "a delivery from outside the ledger: the product refused (required "
                       "without `ship_event`)"})
    category = fields.String(validate=validate.OneOf(tuple(CATEGORIES)), metadata={
        "description": "the refused product's category, as for `entry`"})
    quantity = fields.String(validate=text(), metadata={
        "description": "a delivery from outside the ledger: the quantity refused, in words, "
                       "e.g. `50 kg`"})
    vouchers = fields.List(fields.Nested(VoucherSchema), validate=validate.Length(max=50),
                           metadata={"description": "the vouchers shown with the refused "
                                                    "delivery, as for `entry`"})


def _refuse_shipment(ctx: AppendContext, event: EventView, seq: int) -> None:
    data = event.data
    ship_event = data["ship_event"]
    need(event.inputs, "inputs", at_least=1)
    for i, item in enumerate(event.inputs):
        where = f"inputs[{i}]"
        existing_lot(ctx, item, f"{where}.lot")
        shipment = ctx.supply.shipment(ship_event, item.lot)
        if shipment is None:
            raise ValidationError(f"lot {item.lot!r} is not in shipment {ship_event!r}",
                                  field="data.ship_event")
        if shipment.to_location != event.location:
            raise ValidationError(f"shipment {ship_event!r} goes to {shipment.to_location!r}, "
                                  f"not {event.location!r}", field="location")
        if "from" in data and shipment.from_location != data["from"]:
            raise ValidationError(f"shipment {ship_event!r} left from "
                                  f"{shipment.from_location!r}, not {data['from']!r}",
                                  field="data.from")
        if shipment.receive_seq is not None:
            done = "refused" if shipment.reject_reason is not None else "received"
            raise ValidationError(f"lot {item.lot!r} of shipment {ship_event!r} was already "
                                  f"{done} at seq {shipment.receive_seq}", field=f"{where}.lot")
        qty = to_micro(item.qty)
        if qty != shipment.qty:
            raise ValidationError(f"a refusal refuses the whole hop: {format_micro(shipment.qty)} "
                                  f"{item.unit} were shipped, not {format_micro(qty)}",
                                  field=f"{where}.qty")
        shipment.received_qty, shipment.receive_seq = 0, seq
        shipment.discrepancy = -shipment.qty
        shipment.reject_reason = data["reason"]
        ctx.supply.touch_shipment(shipment)
        # The goods go back to the sender: on hand again where the shipment left from, and
        # no longer counted as shipped from there (the hop that took them is undone).
        row = ctx.supply.stock_for_update(item.lot, shipment.from_location, item.unit)
        row.shipped -= qty
        row.on_hand += qty
        ctx.supply.add_lot_event(item.lot, seq)


def apply_reject(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.outputs, "outputs")
    data = event.data
    if "ship_event" in data:
        _refuse_shipment(ctx, event, seq)
        return
    none(event.inputs, "inputs")
    for name in ("supplier", "product"):
        if name not in data:
            raise ValidationError("a refused delivery from outside the ledger names its "
                                  "supplier and product (or `ship_event` names a shipment)",
                                  field=f"data.{name}")
    place = ctx.location(event.location)
    if place is not None and place.type not in RECEIVING_TYPES:
        raise ValidationError(f"goods from outside the ledger are refused at a receiving point "
                              f"({', '.join(RECEIVING_TYPES)}), not at {place.type} "
                              f"{place.id!r}", field="location")



def reject_facts(doc: Mapping[str, Any]) -> CteFacts:
    data = doc.get("data", {})
    source = data.get("from") or data.get("supplier", {}).get("name") or doc["location"]
    return CteFacts(source, doc["location"], "拒收记录 refusal record (ship event)"
                    if "ship_event" in data else "拒收记录 refusal record",
                    data.get("ship_event", doc["id"]))


RULES = """\
`data.reason` always. With `data.ship_event`: `inputs` are the lots of that shipment (a `ship`
or a `return`) refused at `location`; each must be in the shipment, addressed to this location
and not yet received or refused, and is refused whole (its shipped quantity). The hop is closed
with nothing received: its receipt is this record, its received quantity 0, its discrepancy
minus what was shipped and its refusal reason this `reason`; a later `receive` of it is
refused. The goods go back to the sender: the quantity is on hand again at the shipment's
source location and no longer counted as shipped from there, without a new shipment (the
carrier takes them back). Without
`data.ship_event`: a delivery from outside the ledger refused at a receiving point
(`wholesale_market`, `market`, `stall`, `supermarket`, `canteen`, `restaurant`, `coldstore`,
`warehouse`); no `inputs` or `outputs`, `data.supplier` and `data.product` required, and
nothing enters the ledger. The vouchers' `file`s are the event's attachments."""


EXAMPLE = {'id': 'reject-a01-0001',
 'kind': 'reject',
 'time': '2026-11-22T08:20:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '200', 'unit': 'kg'}],
 'data': {'reason': '无动物检疫合格证明', 'ship_event': 'ship-cq01-a01-0001',
          'from': 'coldstore-cq01'}}


def epcis_reject(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Goods refused at receiving: non-conformant."""
    data = doc["data"]
    event = object_event(doc, names, action="OBSERVE", step="receiving", disp="non_conformant",
                         items=doc.get("inputs", []))
    if not doc.get("inputs"):  # goods from outside the ledger: no lot, the refusal only
        event["epcList"] = []
    if data.get("ship_event"):
        event["bizTransactionList"] = [biz_transaction("bol", names.event(data["ship_event"]))]
    if data.get("from"):
        event["sourceList"] = source_dest("source", names.places(data["from"]))
    elif data.get("supplier"):
        event["sourceList"] = source_dest("source", names.supplier(data["supplier"]))
    event["tracelib:reason"] = data["reason"]
    return event



def from_epcis_reject(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Goods refused at receiving: the refusal's record travels in ``tracelib:data``."""
    src.needs_data(event, "a reject needs its refusal record as tracelib:data")
    return src.envelope(event, "reject", inputs=src.items(event, "quantityList"))

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `receiving`, disposition `non_conformant`: the
`inputs` refused in `quantityList`; the ship event as the `bol` business transaction and
`data.from` (or the supplier, as `owning_party`) in `sourceList` when named; goods from
outside the ledger, which have no lot, as an empty `epcList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_reject, from_epcis=from_epcis_reject, epcis_words=EPCIS_WORDS,
    name="reject", order=45, data_schema=RejectData(), apply=apply_reject,
    label_zh="拒收", label_en="Refusal", summary="a delivery refused at its destination",
    bizstep="receiving", epcis_type="ObjectEvent", cte=None,
    cte_facts=reject_facts,
    prefetch=shipment_rows,
    attachments=voucher_files,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(parent=True, relation_words=(
        "The holder of the destination (the event's location), or of its parent: a market "
        "refuses goods at its stalls.")),
)
