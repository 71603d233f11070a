"""``origin``: a farm's origin certificate (食用农产品承诺达标合格证) makes new lots.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from ..bounds import MAX_NUMBER, MAX_TIME_TEXT
from ..cbv import EpcisNames, EpcisSources, object_event
from ._fields import IMPORT_DOCS, STORAGE, ImportDocsSchema, OpenData, text
from ._stock import make, need, none
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers

CERT_BASIS = ("self_test", "commissioned_test", "internal_control")


class CertificateSchema(OpenData):
    """食用农产品承诺达标合格证 (the farm's origin certificate)."""

    no = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the certificate's number"})
    product = fields.String(required=True, validate=text(), metadata={
        "description": "the product certified, e.g. `豇豆`"})
    producer = fields.String(required=True, validate=text(), metadata={
        "description": "the producer's name"})
    origin_place = fields.String(required=True, validate=text(), metadata={
        "description": "where it was produced"})
    issued_at = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TIME_TEXT), metadata={
        "description": "when the certificate was issued, as printed (RFC 3339 preferred)"})
    commitments = fields.List(fields.String(validate=text()), required=True,
                              validate=validate.Length(min=1, max=20), metadata={
        "description": "the producer's commitments as printed, e.g. "
                       "`不使用禁用农药兽药、停用兽药和非法添加物`"})
    basis = fields.String(required=True, validate=validate.OneOf(CERT_BASIS), metadata={
        "description": "what the commitments rest on: the producer's own test, a test it "
                       "commissioned, or internal quality control"})
    quantity = fields.String(validate=text(), metadata={
        "description": "the quantity as printed on the certificate"})
    contact = fields.String(validate=text(), metadata={
        "description": "the producer's contact, as printed"})


class OriginData(OpenData):
    certificate = fields.Nested(CertificateSchema, required=True, metadata={
        "description": "the origin certificate (食用农产品承诺达标合格证) the lots are made under"})
    product = fields.String(validate=text(), metadata={
        "description": "the new lots' product; default `certificate.product`"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the lots are kept; decides the temperature limit of their "
                       "shipments"})
    gtin = fields.String(validate=validate.Regexp(r"\A\d{14}\Z", error="must be 14 digits"),
                         metadata={"description": "the product's GS1 GTIN-14 (for GS1 Digital "
                                                  "Link lot pages)"})
    imported = fields.Boolean(metadata={
        "description": "`true` for imported goods: a market, stall, supermarket, canteen or "
                       "restaurant then receives them only with all three import documents "
                       "on record"})
    import_docs = fields.Nested(ImportDocsSchema, metadata={
        "description": "import documents on record for the new lots"})


def apply_origin(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    need(event.outputs, "outputs", at_least=1)
    data = event.data
    docs = {k for k in IMPORT_DOCS if data.get("import_docs", {}).get(k)}
    for i, item in enumerate(event.outputs):
        make(ctx, event, i, item, product=data.get("product") or data["certificate"]["product"],
              storage=data.get("storage"), gtin=data.get("gtin"),
              imported=bool(data.get("imported")), docs=docs,
              certificate_no=data["certificate"]["no"])


RULES = """\
No `inputs`; `outputs`: the new lots, at least one. A lot code is made once: an output that
already exists is rejected. The lots start on hand at `location`."""


EXAMPLE = {'id': 'origin-hs01-20261122-01',
 'kind': 'origin',
 'time': '2026-11-22T05:30:00+08:00',
 'actor': 'farm-hs01',
 'location': 'farm-hs01.base',
 'outputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '800', 'unit': 'kg'}],
 'data': {'product': '豇豆',
          'certificate': {'no': 'HG50023520261122001',
                          'product': '豇豆',
                          'producer': '云阳县红狮镇蔬菜专业合作社',
                          'origin_place': '重庆市云阳县红狮镇',
                          'issued_at': '2026-11-22T05:30:00+08:00',
                          'commitments': ['不使用禁用农药兽药、停用兽药和非法添加物',
                                          '常规农药兽药残留不超标'],
                          'basis': 'self_test'}}}


def epcis_origin(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """New lots under an origin certificate: commissioned (CBV 2.0 §7.2)."""
    data = doc["data"]
    event = object_event(doc, names, action="ADD", step="commissioning", disp="active",
                         items=doc.get("outputs", []))
    docs = data.get("import_docs", {})
    event["certificationInfo"] = [names.document("origin-certificate", data["certificate"]["no"]),
                                  *(names.document(k, docs[k]) for k in IMPORT_DOCS if docs.get(k))]
    event["tracelib:product"] = data.get("product") or data["certificate"]["product"]
    return event



def from_epcis_origin(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """A commissioning ``ADD``: its quantityList the new lots. The certificate only tracelib
    carries (``tracelib:data``): a commissioning without it is refused."""
    src.needs_data(event, "an origin needs the farm's origin certificate (承诺达标合格证) as "
                   "tracelib:data.certificate; this commissioning event carries none")
    return src.envelope(event, "origin", outputs=src.items(event, "quantityList"))

EPCIS_WORDS = """\
`ObjectEvent`, action `ADD`, bizStep `commissioning`, disposition `active`: the `outputs` in
`quantityList`; the certificate's number and the import documents in `certificationInfo`."""


SPEC = KindSpec(
    epcis=epcis_origin, from_epcis=from_epcis_origin, epcis_words=EPCIS_WORDS,
    name="origin", order=10, data_schema=OriginData(), apply=apply_origin,
    label_zh="产地合格证", label_en="Origin certificate",
    summary="a farm's origin certificate makes new lots",
    bizstep="commissioning", epcis_type="ObjectEvent", cte="harvesting/initial packing",
    cte_facts=lambda doc: CteFacts(doc["location"], doc["location"], "合格证 origin certificate",
                                 doc.get("data", {}).get("certificate", {}).get("no", "")),
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("farm", "importer", "wholesaler"), relation_words=(
        "The producers: a wholesaler signs an origin as a collector (产地收购).")),
)
