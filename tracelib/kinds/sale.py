"""``sale``: a stall or a supermarket sells from its stock, a canteen or a restaurant serves it.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from ..bounds import MAX_NUMBER
from ..cbv import EpcisNames, EpcisSources, biz_transaction, object_event
from ..errors import ValidationError
from ._fields import CONSUMER_TYPES, OpenData
from ._stock import need, none, take
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers


class SaleData(OpenData):
    receipt = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the receipt number (a canteen: its serving record's number)"})
    payment_ref = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the payment's reference, e.g. the QR payment's order number"})


def apply_sale(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    here = ctx.location(event.location)
    if here is None or here.type not in CONSUMER_TYPES:
        raise ValidationError("a sale happens at a stall, a supermarket, a canteen or a "
                              "restaurant", field="location")
    for i, item in enumerate(event.inputs):
        take(ctx, event, i, item, moving="sold")


RULES = """\
`inputs`: lots on hand at `location`, which must be where goods reach the people who eat them:
a `stall` or a `supermarket` (sold), a `canteen` or a `restaurant` (served); no `outputs`. A
held or recalled lot cannot be sold."""


EXAMPLE = {'id': 'sale-a01-0001',
 'kind': 'sale',
 'time': '2026-11-22T09:05:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '2.5', 'unit': 'kg'}],
 'data': {'receipt': 'A01-20261122-0001', 'payment_ref': 'wx-20261122-8841'}}


def epcis_sale(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Goods sold: retail selling, its receipt the business transaction."""
    data = doc["data"]
    event = object_event(doc, names, action="OBSERVE", step="retail_selling", disp="retail_sold",
                         items=doc["inputs"])
    event["bizTransactionList"] = [biz_transaction("inv", names.document("receipt",
                                                                         data["receipt"]))]
    return event



def from_epcis_sale(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Retail selling: the quantityList sold, the ``inv`` transaction its receipt."""
    receipt = src.document(src.transaction(event, "inv"), "receipt")
    data = {"receipt": receipt} if receipt else {}
    return src.envelope(event, "sale", inputs=src.items(event, "quantityList"), data=data)

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `retail_selling`, disposition `retail_sold`: the
`inputs` in `quantityList`; the receipt as an `inv` business transaction."""


SPEC = KindSpec(
    epcis=epcis_sale, from_epcis=from_epcis_sale, epcis_words=EPCIS_WORDS,
    name="sale", order=60, data_schema=SaleData(), apply=apply_sale,
    label_zh="销售", label_en="Sale", summary="at a stall, a supermarket, a canteen or a restaurant",
    bizstep="retail_selling", epcis_type="ObjectEvent", cte=None,
    cte_facts=lambda doc: CteFacts(doc["location"], "consumer", "小票 receipt",
                                 doc.get("data", {}).get("receipt", "")),
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(relation_words="The holder of the stall, supermarket, canteen or restaurant."),
)
