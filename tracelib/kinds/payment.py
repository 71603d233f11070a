"""``payment``: a shopper paid a receipt, as the market's aggregated-payment provider told
the market (docs/contract.md "Payments").

The market's payment service signs it, as the market (the holder of the stall's market), or
the operator does; the event's ``location`` is the stall whose receipt was paid. The event's
``id`` is ``payment-<receipt id>``, so a receipt is paid at most once: a provider's
notification sent again is the same event (a duplicate), never a second payment. No card or
account data is ever recorded: an amount, the provider's reference and a time.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from marshmallow import fields, validate

from ..bounds import MAX_ID, MAX_NUMBER
from ..errors import ValidationError
from ..ids import ID_PATTERN
from ..money import parse_yuan
from ..timeutil import parse_rfc3339
from ._fields import CONSUMER_TYPES, OpenData
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

#: the prefix of a payment event's id; the rest is the receipt id it pays
ID_PREFIX = "payment-"


class PaymentData(OpenData):
    receipt = fields.String(required=True, validate=validate.Regexp(
        ID_PATTERN, error=f"must be 1-{MAX_ID} characters without control characters"),
        metadata={"description": "the id of the `sale` event paid (its receipt id, the "
                                 "`/r/<receipt>` of the receipt page)"})
    amount = fields.String(required=True, metadata={
        "description": "what was paid, yuan with two decimals at most, e.g. `\"17.00\"`; the "
                       "receipt's `data.total`"})
    provider_ref = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER),
                                 metadata={"description": "the payment provider's reference of "
                                                          "the payment (its order or "
                                                          "transaction number)"})
    paid_at = fields.String(required=True, metadata={
        "description": "when the provider says the payment was made, RFC 3339"})
    notification = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the provider's id of the notification that told of the payment"})
    provider = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the payment provider's name, e.g. the market's aggregated cashier"})


def apply_payment(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")
    here = ctx.location(event.location)
    if here is None or here.type not in CONSUMER_TYPES:
        raise ValidationError("a payment is for a receipt of a stall, a supermarket, a canteen "
                              "or a restaurant", field="location")
    data = event.data
    if event.id != ID_PREFIX + str(data["receipt"]):
        raise ValidationError(f"a payment's id is {ID_PREFIX!r} and the receipt id: expected "
                              f"{ID_PREFIX + str(data['receipt'])!r}, got {event.id!r}",
                              field="data.receipt")
    try:
        parse_yuan(data["amount"], fen_only=True)
    except ValueError as e:
        raise ValidationError(str(e), field="data.amount") from e
    parse_rfc3339(data["paid_at"], field="data.paid_at")


RULES = """\
No `inputs` or `outputs`; `location` is the stall (or supermarket, canteen, restaurant) whose
receipt was paid. The `id` is `payment-` and `data.receipt`, so a receipt is paid once.
`data.amount` is yuan with two decimals at most. The service records a payment only from a
notification signed with the market's shared secret (HMAC-SHA256), for a receipt of that
stall, for exactly the receipt's `data.total` (docs/contract.md "Payments")."""


EXAMPLE = {'id': 'payment-8CK2Q0W3J7R1Z5V9N4T6B2M8XG',
 'kind': 'payment',
 'time': '2026-11-22T09:05:30+08:00',
 'actor': 'market-1',
 'location': 'stall-a01',
 'data': {'receipt': '8CK2Q0W3J7R1Z5V9N4T6B2M8XG', 'amount': '17.00',
          'provider_ref': 'agg-20261122-000193', 'paid_at': '2026-11-22T09:05:21+08:00',
          'provider': '聚合支付'}}


SPEC = KindSpec(
    epcis_words=("None: a payment moves money, not goods (EPCIS events are about objects); "
                 "the sale it pays is exported as `retail_selling`."),
    name="payment", order=61, data_schema=PaymentData(), apply=apply_payment,
    label_zh="付款", label_en="Payment",
    summary="a shopper paid a receipt, as the market's payment provider notified",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("market", "operator"), anywhere=("operator",), parent=True,
                    relation_words=(
                        "The market whose stall's receipt was paid (its payment service "
                        "signs as the market), or the operator.")),
)
