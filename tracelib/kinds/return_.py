"""``return``: goods shipped back (退货) — to a location of the ledger, as a hop a ``receive``
closes there, or to the supplier outside the ledger they entered from.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`. The module is named ``return_`` because ``return`` is a Python keyword."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields

from ..cbv import EpcisNames, EpcisSources, object_event, source_dest
from ..errors import ValidationError
from ..quantity import LotQuantity, to_micro
from ..store.states import HoldCause
from ..store.supply import LotRow, ShipmentRow
from ._fields import OpenData, SupplierSchema, id_field, text
from ._stock import book_out, existing_lot, need, none, shipment_rows
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers


class ReturnData(OpenData):
    reason = fields.String(required=True, validate=text(), metadata={
        "description": "why the goods go back, e.g. `包装破损`"})
    to = fields.String(validate=id_field(), metadata={
        "description": "a location of the ledger the goods go back to (a `receive` there with "
                       "`ship_event` = this event's id closes the hop); or else `supplier`"})
    supplier = fields.Nested(SupplierSchema, metadata={
        "description": "the supplier outside the ledger the goods go back to: the lot entered "
                       "the ledger here, by an `entry`; or else `to`"})
    ship_event = fields.String(validate=id_field(), metadata={
        "description": "the shipment the goods arrived by from `to`: lets a recalled lot go "
                       "back to where it came from"})


def _to_its_source(ctx: AppendContext, event: EventView, lot: LotRow) -> bool:
    """Whether the goods go back where they came from: to the supplier they entered from,
    to the place the lot was made, or to where the shipment ``data.ship_event`` brought them
    from."""
    data = event.data
    if "supplier" in data:
        return True  # the lot entered here (checked before)
    if data["to"] == lot.location:
        return True
    ship = data.get("ship_event")
    if not isinstance(ship, str):
        return False
    hop = ctx.supply.shipment(ship, lot.lot)
    return (hop is not None and hop.from_location == data["to"]
            and hop.to_location == event.location and hop.reject_reason is None
            and hop.receive_seq is not None)


def _book_out(ctx: AppendContext, event: EventView, i: int, item: LotQuantity) -> LotRow:
    where = f"inputs[{i}]"
    lot = existing_lot(ctx, item, f"{where}.lot")
    if "supplier" in event.data and (lot.kind != "entry" or lot.location != event.location):
        raise ValidationError(f"lot {item.lot!r} did not enter the ledger here by an entry; it "
                              f"goes back through the ledger (`to`), not to a supplier outside "
                              f"it", field=f"{where}.lot")
    source = _to_its_source(ctx, event, lot)
    if lot.recalled_seq is not None and not source:
        raise ValidationError(f"lot {item.lot!r} is recalled (seq {lot.recalled_seq}); it goes "
                              f"back only to where it came from (the place it was made, the "
                              f"sender of `data.ship_event`, or its supplier)",
                              field=f"{where}.lot")
    row = ctx.supply.stock(item.lot, event.location)
    if row is not None and row.hold_seq is not None:
        # A recall's hold lets the goods go back to their source; any other hold (a test's,
        # a market's) stops them here until it is released.
        if not (lot.recalled_seq is not None and source and row.hold_cause == HoldCause.EVENT):
            raise ValidationError(f"lot {item.lot!r} is on hold at {event.location!r} "
                                  f"({row.hold_reason}); it cannot be returned until released",
                                  field=f"{where}.lot")
    row, want = book_out(ctx, event, i, item, "returned")
    row.shipped += want
    ctx.supply.add_lot_event(item.lot, ctx.seq)
    return lot


def apply_return(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    data = event.data
    if ("to" in data) == ("supplier" in data):
        raise ValidationError("a return goes either to a location of the ledger (`to`) or to a "
                              "supplier outside it (`supplier`)", field="data.to")
    if "to" in data:
        if ctx.location(data["to"]) is None:
            raise ValidationError(f"unknown destination {data['to']!r}", field="data.to")
        if data["to"] == event.location:
            raise ValidationError("a return must go somewhere else", field="data.to")
    for i, item in enumerate(event.inputs):
        _book_out(ctx, event, i, item)
        if "to" in data:
            if ctx.supply.shipment(event.id, item.lot) is not None:
                raise ValidationError(f"lot {item.lot!r} appears twice in this return",
                                      field=f"inputs[{i}].lot")
            ctx.supply.add_shipment(ShipmentRow(event.id, item.lot, seq, to_micro(item.qty),
                                                event.location, data["to"]))



def return_facts(doc: Mapping[str, Any]) -> CteFacts:
    data = doc.get("data", {})
    target = data.get("to") or data.get("supplier", {}).get("name") or doc["location"]
    return CteFacts(doc["location"], target, "退货单 return record", doc["id"])


RULES = """\
`data.reason` always, and exactly one of `data.to` and `data.supplier`. `inputs`: lots on hand
at `location`, taken off its stock — mass balance: no more than is on hand there; no
`outputs`. With `data.to` (a registered location other than this one) the return is a hop
like a `ship`: a `receive` at `to` with `ship_event` = this event's id closes it (or a `reject`
refuses it). With `data.supplier` the goods leave the ledger to a supplier outside it: each
lot must have entered the ledger here, by an `entry` at this location. A recalled lot may be
returned only to its source — its supplier, the place it was made, or the sender of the
shipment `data.ship_event` that brought it here — and the recall's hold at this location does
not stop that; any other hold (a test's, a market's) stops a return until released."""


EXAMPLE = {'id': 'return-a01-0001',
 'kind': 'return',
 'time': '2026-11-22T10:00:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '5', 'unit': 'kg'}],
 'data': {'reason': '包装破损', 'to': 'coldstore-cq01'}}


def epcis_return(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Goods sent back: shipping, returned."""
    data = doc["data"]
    event = object_event(doc, names, action="OBSERVE", step="shipping", disp="returned",
                         items=doc["inputs"])
    event["sourceList"] = source_dest("source", names.places(doc["location"]))
    if data.get("to"):
        event["destinationList"] = source_dest("destination", names.places(data["to"]))
    elif data.get("supplier"):
        event["destinationList"] = source_dest("destination", names.supplier(data["supplier"]))
    event["tracelib:reason"] = data["reason"]
    return event



def from_epcis_return(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Goods sent back: the return's record travels in ``tracelib:data``."""
    src.needs_data(event, "a return needs its record as tracelib:data")
    return src.envelope(event, "return", inputs=src.items(event, "quantityList"))

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `shipping`, disposition `returned`: the `inputs` in
`quantityList`; this location in `sourceList`, `data.to` (or the supplier, as
`owning_party`) in `destinationList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_return, from_epcis=from_epcis_return, epcis_words=EPCIS_WORDS,
    name="return", order=47, data_schema=ReturnData(), apply=apply_return,
    label_zh="退货", label_en="Return", summary="goods shipped back",
    bizstep="shipping", epcis_type="ObjectEvent", cte="shipping",
    cte_facts=return_facts,
    prefetch=shipment_rows,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(relation_words="The holder of the location the stock leaves."),
)
