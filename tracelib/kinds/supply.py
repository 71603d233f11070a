"""Supply-chain kinds: origin, slaughter, ship, receive, transform, sale, hold, release,
recall and drill — their ``data`` schemas and the rules enforced at append.

Mass balance (精准追溯): a lot cannot leave, be transformed or be sold beyond what
is on hand at that location; stock arrives at a destination only when received.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from marshmallow import INCLUDE, RAISE, Schema, fields, validate

from ..errors import ValidationError
from ..events import ID_PATTERN, LotQuantity
from ..quantity import format_micro, to_micro
from ..store.supply import LotRow, ShipmentRow, StockRow
from . import KindSpec, register_kind

if TYPE_CHECKING:
    from ..events import Event
    from ..ledger import AppendContext

_id = validate.Regexp(ID_PATTERN, error="must be 1-200 characters without control characters")
_text = validate.Length(min=1, max=500)
_celsius = validate.Regexp(r"\A-?\d{1,3}(?:\.\d{1,2})?\Z",
                           error='must be a decimal string in °C like "-19.5"')
STORAGE = ("frozen", "chilled", "ambient")
# DESIGN.md §4: frozen goods above −18 °C and chilled goods above 4 °C are excursions.
DEFAULT_TEMPERATURE_LIMITS = {"frozen": Decimal("-18"), "chilled": Decimal("4")}
# The three import documents of the 浙冷链 model a market or stall must see on record.
IMPORT_DOCS = ("customs_declaration", "inspection_cert", "disinfection_cert")
CERT_BASIS = ("self_test", "commissioned_test", "internal_control")
MARKET_TYPES = ("market", "stall")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE  # CONTRACT.md: more optional fields welcome


class CertificateSchema(_Open):
    """食用农产品承诺达标合格证 (the farm's origin certificate)."""

    no = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the certificate's number"})
    product = fields.String(required=True, validate=_text, metadata={
        "description": "the product certified, e.g. `豇豆`"})
    producer = fields.String(required=True, validate=_text, metadata={
        "description": "the producer's name"})
    origin_place = fields.String(required=True, validate=_text, metadata={
        "description": "where it was produced"})
    issued_at = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "when the certificate was issued, as printed (RFC 3339 preferred)"})
    commitments = fields.List(fields.String(validate=_text), required=True,
                              validate=validate.Length(min=1, max=20), metadata={
        "description": "the producer's commitments as printed, e.g. "
                       "`不使用禁用农药兽药、停用兽药和非法添加物`"})
    basis = fields.String(required=True, validate=validate.OneOf(CERT_BASIS), metadata={
        "description": "what the commitments rest on: the producer's own test, a test it "
                       "commissioned, or internal quality control"})
    quantity = fields.String(validate=_text, metadata={
        "description": "the quantity as printed on the certificate"})
    contact = fields.String(validate=_text, metadata={
        "description": "the producer's contact, as printed"})


class ImportDocsSchema(Schema):
    """The import documents of the 浙冷链 model, by number."""

    class Meta:
        unknown = RAISE

    customs_declaration = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "the customs declaration's number (报关单)"})
    inspection_cert = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "the entry inspection and quarantine certificate's number (检验检疫证明)"})
    disinfection_cert = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "the disinfection certificate's number (消毒证明)"})


class OriginData(_Open):
    certificate = fields.Nested(CertificateSchema, required=True, metadata={
        "description": "the origin certificate (食用农产品承诺达标合格证) the lots are made under"})
    product = fields.String(validate=_text, metadata={
        "description": "the new lots' product; default `certificate.product`"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the lots are kept; decides the temperature limit of their "
                       "shipments"})
    gtin = fields.String(validate=validate.Regexp(r"\A\d{14}\Z", error="must be 14 digits"),
                         metadata={"description": "the product's GS1 GTIN-14 (for GS1 Digital "
                                                  "Link lot pages)"})
    imported = fields.Boolean(metadata={
        "description": "`true` for imported goods: a market or stall then receives them only "
                       "with all three import documents on record"})
    import_docs = fields.Nested(ImportDocsSchema, metadata={
        "description": "import documents on record for the new lots"})


class SlaughterData(_Open):
    """两章两证一报告: quarantine certificate, meat inspection certificate, ASF report."""

    quarantine_cert = fields.String(
        required=True, validate=validate.Length(min=1, max=100),
        metadata={"description": "the animal quarantine certificate's number (动物检疫合格证明)"})
    meat_inspection_cert = fields.String(
        required=True, validate=validate.Length(min=1, max=100),
        metadata={"description": "the meat quality inspection certificate's number "
                                 "(肉品品质检验合格证)"})
    asf_report = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the African swine fever test report's number (非洲猪瘟检测报告)"})
    product = fields.String(validate=_text, metadata={
        "description": "the meat lots' product; default `猪肉`"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the meat lots are kept; default: as their inputs, when they agree"})


class ReadingSchema(Schema):
    """One temperature reading of a cold-chain hop."""

    class Meta:
        unknown = RAISE

    time = fields.String(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "when it was read (RFC 3339)"})
    celsius = fields.String(required=True, validate=_celsius, metadata={
        "description": "the temperature in °C, a decimal string"})


class ShipData(_Open):
    to = fields.String(required=True, validate=_id, metadata={
        "description": "the destination: a registered location other than this one"})
    vehicle = fields.String(validate=_text, metadata={
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


class ReceiveData(_Open):
    from_ = fields.String(required=True, data_key="from", validate=_id, metadata={
        "description": "where the shipment left from: the `ship` event's location"})
    ship_event = fields.String(required=True, validate=_id, metadata={
        "description": "the id of the `ship` event this receipt closes"})


class TransformData(_Open):
    process = fields.String(required=True, validate=validate.OneOf(
        ("split", "merge", "repack", "cut", "process")), metadata={
            "description": "what was done to the inputs"})
    product = fields.String(validate=_text, metadata={
        "description": "the made lots' product; default: the inputs' product, when they agree"})


class SaleData(_Open):
    receipt = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the stall's receipt number"})
    payment_ref = fields.String(validate=validate.Length(min=1, max=100), metadata={
        "description": "the payment's reference, e.g. the QR payment's order number"})


class ReasonData(_Open):
    reason = fields.String(required=True, validate=_text, metadata={
        "description": "why, in words; a hold's reason is shown on the stall page"})
    test = fields.String(validate=_id, metadata={
        "description": "the id of the test event behind it"})
    drill = fields.String(validate=_id, metadata={
        "description": "the id of the `drill` event behind it"})


class DrillData(_Open):
    question = fields.String(required=True, validate=_text, metadata={
        "description": "the drill's question, in words"})
    lot = fields.String(required=True, validate=_id, metadata={
        "description": "the lot traced"})
    answer_digest = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{64}\Z"),
                                  metadata={"description": "SHA-256 of the canonical trace "
                                                           "answer, hex"})
    elapsed_ms = fields.String(validate=validate.Regexp(r"\A\d{1,9}(?:\.\d{1,3})?\Z"), metadata={
        "description": "how long the answer took, in milliseconds"})


# -- rules ------------------------------------------------------------------------

def _need(items: Sequence[LotQuantity], name: str, *, at_least: int) -> None:
    if len(items) < at_least:
        raise ValidationError(f"needs at least {at_least} lot(s)", field=name)


def _none(items: Sequence[LotQuantity], name: str) -> None:
    if items:
        raise ValidationError("must be empty for this kind", field=name)


def _existing_lot(ctx: AppendContext, item: LotQuantity, field: str) -> LotRow:
    lot = ctx.supply.lot(item.lot)
    if lot is None:
        raise ValidationError(f"unknown lot {item.lot!r}", field=field)
    if lot.unit != item.unit:
        raise ValidationError(f"lot {item.lot!r} is counted in {lot.unit!r}, not {item.unit!r}",
                              field=f"{field[:-4]}.unit" if field.endswith(".lot") else field)
    return lot


def _book_out(ctx: AppendContext, event: Event, i: int, item: LotQuantity,
              moving: str) -> tuple[StockRow, int]:
    """Mass balance (精准追溯): take ``item`` off the stock on hand at the event's location,
    or reject the event when there is not that much there."""
    row = ctx.supply.stock(item.lot, event.location)
    have = row.on_hand if row is not None else 0
    want = to_micro(item.qty)
    if want > have:
        raise ValidationError(
            f"mass balance: {format_micro(want)} {item.unit} of {item.lot!r} cannot be {moving} "
            f"at {event.location!r}: on hand there is {format_micro(have)} {item.unit}",
            field=f"inputs[{i}].qty")
    row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
    row.on_hand -= want
    return row, want


def _take(ctx: AppendContext, event: Event, i: int, item: LotQuantity, *, moving: str) -> LotRow:
    """Check a lot may leave ``event.location`` in this quantity and book it out."""
    where = f"inputs[{i}]"
    lot = _existing_lot(ctx, item, f"{where}.lot")
    if lot.recalled_seq is not None:
        raise ValidationError(f"lot {item.lot!r} is recalled (seq {lot.recalled_seq}); it cannot "
                              f"be {moving} until released", field=f"{where}.lot")
    row = ctx.supply.stock(item.lot, event.location)
    if row is not None and row.hold_seq is not None:
        raise ValidationError(f"lot {item.lot!r} is on hold at {event.location!r} "
                              f"({row.hold_reason}); it cannot be {moving} until released",
                              field=f"{where}.lot")
    row, want = _book_out(ctx, event, i, item, moving)
    if moving == "sold":
        row.sold += want
    elif moving == "shipped":
        row.shipped += want
    else:
        row.consumed += want
    ctx.supply.add_lot_event(item.lot, ctx.seq)
    return lot


def _make(ctx: AppendContext, event: Event, i: int, item: LotQuantity, *, product: str | None,
          storage: str | None, gtin: str | None = None, imported: bool = False,
          docs: set[str] | None = None) -> LotRow:
    """Create a new lot at ``event.location``."""
    if ctx.supply.lot(item.lot) is not None:
        raise ValidationError(f"lot {item.lot!r} already exists; a lot code is made once",
                              field=f"outputs[{i}].lot")
    lot = LotRow(item.lot, item.unit, product, storage, gtin, ctx.seq, event.kind,
                 event.location, imported, set(docs or ()))
    ctx.supply.add_lot(lot)
    row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
    row.received += to_micro(item.qty)
    row.on_hand += to_micro(item.qty)
    # No lot_events row: the record that makes a lot is lots.seq (SupplySql.event_seqs).
    return lot


def apply_origin(ctx: AppendContext, event: Event, seq: int) -> None:
    _none(event.inputs, "inputs")
    _need(event.outputs, "outputs", at_least=1)
    data = event.data
    docs = {k for k in IMPORT_DOCS if data.get("import_docs", {}).get(k)}
    for i, item in enumerate(event.outputs):
        _make(ctx, event, i, item, product=data.get("product") or data["certificate"]["product"],
              storage=data.get("storage"), gtin=data.get("gtin"),
              imported=bool(data.get("imported")), docs=docs)


def _inherit(ctx: AppendContext, event: Event, parents: list[LotRow], product: str | None) -> None:
    products = {p.product for p in parents}
    storages = {p.storage for p in parents}
    imported = any(p.imported for p in parents)
    # A made lot has an import document only when every imported parent has it.
    docs = set(IMPORT_DOCS)
    for parent in parents:
        if parent.imported:
            docs &= parent.import_docs
    for i, item in enumerate(event.outputs):
        made = _make(ctx, event, i, item,
                     product=product or (products.pop() if len(products) == 1 else None),
                     storage=event.data.get("storage") or
                     (next(iter(storages)) if len(storages) == 1 else None),
                     imported=imported, docs=docs if imported else set())
        for parent in parents:
            ctx.supply.add_edge(parent.lot, made.lot, ctx.seq)


def apply_slaughter(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _need(event.outputs, "outputs", at_least=1)
    parents = [_take(ctx, event, i, item, moving="slaughtered")
               for i, item in enumerate(event.inputs)]
    _inherit(ctx, event, parents, event.data.get("product") or "猪肉")


def apply_transform(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _need(event.outputs, "outputs", at_least=1)
    units = {q.unit for q in (*event.inputs, *event.outputs)}
    if len(units) == 1:
        total_in = sum(to_micro(q.qty) for q in event.inputs)
        total_out = sum(to_micro(q.qty) for q in event.outputs)
        if total_out > total_in:
            raise ValidationError(
                f"mass balance: outputs total {format_micro(total_out)} {units.pop()} but inputs "
                f"only {format_micro(total_in)}", field="outputs")
    parents = [_take(ctx, event, i, item, moving="transformed")
               for i, item in enumerate(event.inputs)]
    _inherit(ctx, event, parents, event.data.get("product"))


def apply_ship(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    data = event.data
    if ctx.location(data["to"]) is None:
        raise ValidationError(f"unknown destination {data['to']!r}", field="data.to")
    if data["to"] == event.location:
        raise ValidationError("a shipment must go somewhere else", field="data.to")
    docs = {k for k in IMPORT_DOCS if data.get("import_docs", {}).get(k)}
    storages = set()
    for i, item in enumerate(event.inputs):
        lot = _take(ctx, event, i, item, moving="shipped")
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


def apply_receive(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    data = event.data
    here = ctx.location(event.location)
    for i, item in enumerate(event.inputs):
        where = f"inputs[{i}]"
        lot = _existing_lot(ctx, item, f"{where}.lot")
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
            raise ValidationError(f"lot {item.lot!r} of shipment {data['ship_event']!r} was "
                                  f"already received at seq {shipment.receive_seq}",
                                  field=f"{where}.lot")
        qty = to_micro(item.qty)
        if qty > shipment.qty:
            raise ValidationError(f"received {format_micro(qty)} {item.unit} but only "
                                  f"{format_micro(shipment.qty)} were shipped",
                                  field=f"{where}.qty")
        if lot.imported and here is not None and here.type in MARKET_TYPES:
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


def apply_sale(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    here = ctx.location(event.location)
    if here is None or here.type != "stall":
        raise ValidationError("a sale happens at a stall", field="location")
    for i, item in enumerate(event.inputs):
        _take(ctx, event, i, item, moving="sold")


def apply_hold(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        _existing_lot(ctx, item, f"inputs[{i}].lot")
        row = ctx.supply.stock(item.lot, event.location)
        if row is None:
            raise ValidationError(f"lot {item.lot!r} was never at {event.location!r}",
                                  field=f"inputs[{i}].lot")
        if row.hold_seq is not None:
            raise ValidationError(f"lot {item.lot!r} is already on hold at {event.location!r} "
                                  f"(seq {row.hold_seq})", field=f"inputs[{i}].lot")
        row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
        row.hold_seq, row.hold_reason = seq, event.data["reason"]
        ctx.supply.add_lot_event(item.lot, seq)


def apply_release(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        lot = _existing_lot(ctx, item, f"inputs[{i}].lot")
        row = ctx.supply.stock(item.lot, event.location)
        held = row is not None and row.hold_seq is not None
        if not held and lot.recalled_seq is None:
            raise ValidationError(f"lot {item.lot!r} is not on hold at {event.location!r}",
                                  field=f"inputs[{i}].lot")
        if not held and event.data.get("scope") != "recall":
            # Would release nothing: a recall is lifted only by name.
            raise ValidationError(f"lot {item.lot!r} is recalled (seq {lot.recalled_seq}) and "
                                  f"not on hold at {event.location!r}; to lift the recall set "
                                  "data.scope to \"recall\"", field="data.scope")
        if held:
            from .testing import close_follow_ups

            row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
            row.hold_seq = row.hold_reason = None
            close_follow_ups(ctx, item.lot, event.location, seq, "released")
        if lot.recalled_seq is not None and event.data.get("scope") == "recall":
            lot.recalled_seq = None
            ctx.supply.touch_lot(lot)
        ctx.supply.add_lot_event(item.lot, seq)


def apply_dispose(ctx: AppendContext, event: Event, seq: int) -> None:
    """Destroy stock at the event's location (a failed lot, spoiled goods): it leaves the
    stock even when held, the hold there ends, and open test follow-ups close as
    ``disposed``."""
    from .testing import close_follow_ups

    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        _existing_lot(ctx, item, f"inputs[{i}].lot")
        row, want = _book_out(ctx, event, i, item, "disposed of")
        row.consumed += want
        if row.on_hand == 0:
            row.hold_seq = row.hold_reason = None
        ctx.supply.add_lot_event(item.lot, seq)
        close_follow_ups(ctx, item.lot, event.location, seq, "disposed")


def apply_recall(ctx: AppendContext, event: Event, seq: int) -> None:
    _need(event.inputs, "inputs", at_least=1)
    _none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        lot = _existing_lot(ctx, item, f"inputs[{i}].lot")
        lot.recalled_seq = seq
        ctx.supply.touch_lot(lot)
        ctx.supply.add_lot_event(item.lot, seq)


def apply_drill(ctx: AppendContext, event: Event, seq: int) -> None:
    _none(event.inputs, "inputs")
    _none(event.outputs, "outputs")


for _name, _step, _schema, _apply in (
    ("origin", "commissioning", OriginData(), apply_origin),
    ("slaughter", "commissioning", SlaughterData(), apply_slaughter),
    ("ship", "shipping", ShipData(), apply_ship),
    ("receive", "receiving", ReceiveData(), apply_receive),
    ("transform", None, TransformData(), apply_transform),
    ("sale", "retail_selling", SaleData(), apply_sale),
    ("hold", "holding", ReasonData(), apply_hold),
    ("release", None, ReasonData(), apply_release),
    ("recall", None, ReasonData(), apply_recall),
    ("dispose", "destroying", ReasonData(), apply_dispose),
    ("drill", None, DrillData(), apply_drill),
):
    register_kind(KindSpec(_name, _step, _schema, _apply))
