"""``entry``: goods from a supplier outside the ledger enter it at a receiving point
(进货查验): new lots, with the supplier and the vouchers seen.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from marshmallow import fields, validate

from ..cbv import EpcisNames, EpcisSources, object_event, source_dest
from ..errors import ValidationError
from ._fields import (
    CATEGORIES,
    MARKET_TYPES,
    RECEIVING_TYPES,
    STORAGE,
    VOUCHER_IMPORT_DOCS,
    OpenData,
    SupplierSchema,
    VoucherSchema,
    text,
)
from ._stock import make, need, none
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers

#: Where goods entering need at least one voucher: a farmers' market and its stalls, and a
#: wholesale market (《食用农产品市场销售质量安全监督管理办法》: the market checks the
#: supplier's 进货凭证 and 合格证明 before goods go on sale).
VOUCHER_NEEDED_AT = ("wholesale_market", *MARKET_TYPES)
#: The vouchers meat must come with (《动物防疫法》 §49-§51 on the 动物检疫合格证明,
#: 《生猪屠宰管理条例》 §15 on the 肉品品质检验合格证).
MEAT_VOUCHERS = ("动物检疫合格证明", "肉品品质检验合格证")
#: The vouchers imported goods must come with (the 浙冷链 model's three import documents).
IMPORT_VOUCHERS = tuple(VOUCHER_IMPORT_DOCS)
#: The reference documents of an entry's CTE row (21 CFR 1.1345), in English.
VOUCHER_ENGLISH = {"购货凭证": "purchase voucher", "合格证": "certificate of conformity"}


class EntryData(OpenData):
    supplier = fields.Nested(SupplierSchema, required=True, metadata={
        "description": "the supplier outside the ledger the goods come from"})
    product = fields.String(required=True, validate=text(), metadata={
        "description": "the product, e.g. `鲜猪肉`"})
    category = fields.String(required=True, validate=validate.OneOf(tuple(CATEGORIES)), metadata={
        "description": "the product's category, which decides the vouchers it needs: " + "; ".join(
            f"`{k}` {v}" for k, v in CATEGORIES.items())})
    imported = fields.Boolean(metadata={
        "description": "`true` for imported goods: they need the three import documents, which "
                       "the new lots then carry on record"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the lots are kept; decides the temperature limit of their "
                       "shipments"})
    gtin = fields.String(validate=validate.Regexp(r"\A\d{14}\Z", error="must be 14 digits"),
                         metadata={"description": "the product's GS1 GTIN-14 (for GS1 Digital "
                                                  "Link lot pages)"})
    vouchers = fields.List(fields.Nested(VoucherSchema), validate=validate.Length(max=50),
                           metadata={"description": "the vouchers seen (票证), in the order "
                                                    "they are kept"})


def vouchers_of(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = data.get("vouchers")
    return [v for v in found if isinstance(v, Mapping)] if isinstance(found, list) else []


def voucher_files(data: Mapping[str, Any]) -> Sequence[str]:
    """The blob names the vouchers cite (their ``file``), in order."""
    return [v["file"] for v in vouchers_of(data) if isinstance(v.get("file"), str)]


def voucher_rules(data: Mapping[str, Any], place_type: str | None) -> None:
    """The voucher rules of goods entering (docs/contract.md "entry"). A ``reject`` of a
    delivery from outside does not apply them: its vouchers are what was shown, often the
    reason for the refusal."""
    types = {v["type"] for v in vouchers_of(data)}
    if data["category"] == "meat":
        missing = [t for t in MEAT_VOUCHERS if t not in types]
        if missing:
            raise ValidationError(f"meat enters only with {' and '.join(MEAT_VOUCHERS)}: "
                                  f"{', '.join(missing)} missing", field="data.vouchers")
    if data.get("imported"):
        missing = [t for t in IMPORT_VOUCHERS if t not in types]
        if missing:
            raise ValidationError(f"imported goods enter only with {', '.join(IMPORT_VOUCHERS)}: "
                                  f"{', '.join(missing)} missing", field="data.vouchers")
    if place_type in VOUCHER_NEEDED_AT and not types:
        raise ValidationError(f"goods entering at a {place_type} need at least one voucher",
                              field="data.vouchers")


def apply_entry(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    need(event.outputs, "outputs", at_least=1)
    data = event.data
    place = ctx.location(event.location)
    voucher_rules(data, place.type if place is not None else None)
    vouchers = vouchers_of(data)
    imported = bool(data.get("imported"))
    docs = {VOUCHER_IMPORT_DOCS[v["type"]] for v in vouchers if v["type"] in VOUCHER_IMPORT_DOCS}
    certificate = next((v["no"] for v in vouchers if v["type"] == "合格证"), None)
    for i, item in enumerate(event.outputs):
        make(ctx, event, i, item, product=data["product"], storage=data.get("storage"),
             gtin=data.get("gtin"), imported=imported, docs=docs if imported else set(),
             certificate_no=certificate)


def entry_facts(doc: Mapping[str, Any]) -> CteFacts:
    """Where from: the supplier; the reference document: the 购货凭证 (purchase voucher),
    else the 合格证, else the first voucher, else the entry itself."""
    data = doc.get("data", {})
    supplier = data.get("supplier", {}).get("name") or doc["location"]
    vouchers = vouchers_of(data)
    for wanted in ("购货凭证", "合格证"):
        found = next((v for v in vouchers if v.get("type") == wanted), None)
        if found is not None:
            return CteFacts(supplier, doc["location"], f"{wanted} {VOUCHER_ENGLISH[wanted]}",
                            found.get("no", ""))
    if vouchers:
        first = vouchers[0]
        return CteFacts(supplier, doc["location"], str(first.get("type", "")),
                        first.get("no", ""))
    return CteFacts(supplier, doc["location"], "entry event", doc["id"])



RULES = """\
No `inputs`; `outputs`: the new lots, at least one, made at `location` (a lot code is made
once). The location is a receiving point: a `wholesale_market`, `market`, `stall`,
`supermarket`, `canteen`, `restaurant`, `coldstore` or `warehouse`. Vouchers by category and
place:

- `meat` needs both a `动物检疫合格证明` (《动物防疫法》) and a `肉品品质检验合格证`
  (《生猪屠宰管理条例》);
- `imported: true` needs a `报关单`, an `入境货物检验检疫证明` and a `消毒证明`, and the new lots
  carry them as their import documents on record (`customs_declaration`, `inspection_cert`,
  `disinfection_cert`), so a market, stall, supermarket, canteen or restaurant may receive them
  later;
- goods entering at a `wholesale_market`, `market` or `stall` need at least one voucher
  (the market checks the supplier's 进货凭证 and 合格证明 before goods go on sale).

The lots' certificate number (`lots.certificate_no`) is the `合格证` voucher's `no` when one is
given. Each voucher's `file`, when given, names its scan in the ledger's blob store
(the event's attachments, in order)."""


EXAMPLE = {'id': 'entry-a01-20261122-01',
 'kind': 'entry',
 'time': '2026-11-22T06:10:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'outputs': [{'lot': 'ENT-A01-20261122-01', 'qty': '30', 'unit': 'kg'}],
 'data': {'supplier': {'name': '重庆某某食品有限公司', 'licence': 'JY15001234567890',
                       'address': '重庆市云阳县青龙街道', 'contact': '023-55123456'},
          'product': '鲜猪肉', 'category': 'meat', 'imported': False, 'storage': 'chilled',
          'vouchers': [{'type': '动物检疫合格证明', 'no': '5001234567', 'issuer': '云阳县动物卫生监督所',
                        'issued_at': '2026-11-22',
                        'file': 'sha256:' + '5f' * 32},
                       {'type': '肉品品质检验合格证', 'no': 'RJ-5002-20261122-031',
                        'issuer': '云阳县生猪定点屠宰场'},
                       {'type': '购货凭证', 'no': 'FP-20261122-0088'}]}}


def epcis_entry(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Goods from outside the ledger: received, and their class-level lots made here."""
    data = doc["data"]
    supplier = data["supplier"]
    event = object_event(doc, names, action="ADD", step="receiving", disp="in_progress",
                         items=doc.get("outputs", []))
    event["sourceList"] = source_dest("source", names.supplier(supplier))
    event["destinationList"] = source_dest("destination", names.places(doc["location"]))
    certs = [names.document(v["type"], v["no"]) for v in data.get("vouchers", [])]
    if certs:
        event["certificationInfo"] = certs
    event["tracelib:product"] = data["product"]
    event["tracelib:supplier"] = supplier["name"]
    return event



def from_epcis_entry(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Goods from outside the ledger: the supplier's records travel in ``tracelib:data``."""
    src.needs_data(event, "an entry needs its supplier and vouchers as tracelib:data")
    return src.envelope(event, "entry", outputs=src.items(event, "quantityList"))

EPCIS_WORDS = """\
`ObjectEvent`, action `ADD` (the new class-level lots), bizStep `receiving`, disposition
`in_progress`: the `outputs` in `quantityList`; the supplier (by licence, else name) as
`owning_party` in `sourceList`, this location in `destinationList`; the vouchers in
`certificationInfo`."""


SPEC = KindSpec(
    epcis=epcis_entry, from_epcis=from_epcis_entry, epcis_words=EPCIS_WORDS,
    name="entry", order=15, data_schema=EntryData(), apply=apply_entry,
    label_zh="进货查验", label_en="Entry",
    summary="goods from a supplier outside the ledger enter it",
    bizstep="receiving", epcis_type="ObjectEvent", cte="receiving",
    cte_facts=entry_facts,
    attachments=voucher_files,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(parent=True, location_types=RECEIVING_TYPES, relation_words=(
        "The holder of the receiving point, or of its parent: a market records the 进货查验 "
        "of goods entering at its stalls.")),
)
