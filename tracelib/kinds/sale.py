"""``sale``: a stall or a supermarket sells from its stock, a canteen or a restaurant serves it.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import fields, validate

from ..bounds import MAX_NUMBER
from ..cbv import EpcisNames, EpcisSources, biz_transaction, object_event
from ..errors import ValidationError
from ..money import MAX_YUAN, format_yuan, line_amount, parse_yuan
from ._fields import CONSUMER_TYPES, OpenData
from ._stock import need, none, take
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers

#: the most lines one receipt may have
MAX_LINES = 200


class SaleData(OpenData):
    receipt = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the receipt number (a canteen: its serving record's number)"})
    payment_ref = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the payment's reference, e.g. the QR payment's order number"})
    # docs/contract.md "Receipts": 明码标价, a price per unit of each line, in yuan.
    unit_prices = fields.List(fields.String(), validate=validate.Length(min=1, max=MAX_LINES),
                              metadata={"description": "the price per unit of each of `inputs`, "
                                                       "in the same order: yuan as a decimal "
                                                       "string, e.g. `\"12.80\"` (明码标价)"})
    total = fields.String(metadata={
        "description": "with `unit_prices`: what the receipt costs, yuan with two decimals; "
                       "the sum of each line's quantity times its unit price rounded half up "
                       "to the fen"})
    device = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the scale or till that weighed the sale out"})


def apply_sale(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    here = ctx.location(event.location)
    if here is None or here.type not in CONSUMER_TYPES:
        raise ValidationError("a sale happens at a stall, a supermarket, a canteen or a "
                              "restaurant", field="location")
    seen: set[str] = set()
    for i, item in enumerate(event.inputs):
        if item.lot in seen:  # one line a lot: a receipt weighs each lot out once
            raise ValidationError(f"lot {item.lot!r} is on two lines: sell each lot on one "
                                  "line", field=f"inputs[{i}].lot")
        seen.add(item.lot)
    _check_prices(event)
    for i, item in enumerate(event.inputs):
        take(ctx, event, i, item, moving="sold")


def _check_prices(event: EventView) -> None:
    """docs/contract.md "Receipts": one unit price a line, and a total that is their sum."""
    prices, total = event.data.get("unit_prices"), event.data.get("total")
    if prices is None:
        if total is not None:
            raise ValidationError("a total needs the unit price of each line (unit_prices)",
                                  field="data.total")
        return
    if len(prices) != len(event.inputs):
        raise ValidationError(f"expected one unit price per line of inputs: "
                              f"{len(event.inputs)}, got {len(prices)}", field="data.unit_prices")
    sum_ = Decimal(0)
    for i, (item, text) in enumerate(zip(event.inputs, prices, strict=True)):
        try:
            sum_ += line_amount(item.qty, parse_yuan(text))
        except ValueError as e:
            raise ValidationError(str(e), field=f"data.unit_prices[{i}]") from e
    if total is None:
        raise ValidationError("unit prices need the receipt's total", field="data.total")
    try:
        stated = parse_yuan(total, fen_only=True)
    except ValueError as e:
        raise ValidationError(str(e), field="data.total") from e
    if stated != sum_ or sum_ > MAX_YUAN:
        raise ValidationError(f"total does not match the lines: expected {format_yuan(sum_)}, "
                              f"got {total}", field="data.total")


RULES = """\
`inputs`: lots on hand at `location`, which must be where goods reach the people who eat them:
a `stall` or a `supermarket` (sold), a `canteen` or a `restaurant` (served); each lot on one
line; no `outputs`. A held or recalled lot cannot be sold. With `data.unit_prices` (明码标价:
one per line of `inputs`, yuan), `data.total` is required and must equal the sum of each line's
quantity times its unit price, rounded half up to the fen (docs/contract.md "Receipts")."""


EXAMPLE = {'id': 'sale-a01-0001',
 'kind': 'sale',
 'time': '2026-11-22T09:05:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '2.5', 'unit': 'kg'}],
 'data': {'receipt': 'A01-20261122-0001', 'payment_ref': 'wx-20261122-8841',
          'unit_prices': ['6.80'], 'total': '17.00', 'device': 'scale-1'}}


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
