"""``slaughter``: designated slaughter (定点屠宰) turns animal lots into meat lots, with
两章两证一报告 on record.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from ..bounds import MAX_NUMBER
from ..cbv import EpcisNames, EpcisSources, transformation_event
from ._fields import STORAGE, OpenData, text
from ._stock import inherit, need, take
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers


class SlaughterData(OpenData):
    """两章两证一报告: quarantine certificate, meat inspection certificate, ASF report."""

    quarantine_cert = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_NUMBER),
        metadata={"description": "the animal quarantine certificate's number (动物检疫合格证明)"})
    meat_inspection_cert = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_NUMBER),
        metadata={"description": "the meat quality inspection certificate's number "
                                 "(肉品品质检验合格证)"})
    asf_report = fields.String(required=True, validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the African swine fever test report's number (非洲猪瘟检测报告)"})
    product = fields.String(validate=text(), metadata={
        "description": "the meat lots' product; default `猪肉`"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the meat lots are kept; default: as their inputs, when they agree"})


def apply_slaughter(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    need(event.outputs, "outputs", at_least=1)
    parents = [take(ctx, event, i, item, moving="slaughtered")
               for i, item in enumerate(event.inputs)]
    inherit(ctx, event, parents, event.data.get("product") or "猪肉")


RULES = """\
`inputs`: the animal lot(s) on hand at the abattoir (e.g. in `head`), taken off its stock (mass
balance); `outputs`: the new meat lots, which inherit storage and import status from their
inputs."""


EXAMPLE = {'id': 'slaughter-ab01-0042',
 'kind': 'slaughter',
 'time': '2026-11-21T04:30:00+08:00',
 'actor': 'abattoir-yy01',
 'location': 'abattoir-yy01',
 'inputs': [{'lot': 'PIG-20261120-07', 'qty': '12', 'unit': 'head'}],
 'outputs': [{'lot': 'PK-20261121-0042', 'qty': '960', 'unit': 'kg'}],
 'data': {'quarantine_cert': 'A5002351120000731',
          'meat_inspection_cert': 'RP20261121042',
          'asf_report': 'ASF-YY-20261121-07',
          'product': '猪肉'}}


def epcis_slaughter(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Live animals in, carcasses out: a transformation that commissions new lots."""
    data = doc["data"]
    event = transformation_event(doc, names, step="commissioning", disp="active")
    event["certificationInfo"] = [names.document(k, data[k]) for k in
                                  ("quarantine_cert", "meat_inspection_cert", "asf_report")
                                  if data.get(k)]
    if data.get("product"):
        event["tracelib:product"] = data["product"]
    return event



def from_epcis_slaughter(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Only a slaughter tracelib exported (``tracelib:kind``) is one: its certificates
    travel in ``tracelib:data``."""
    return src.envelope(event, "slaughter", inputs=src.items(event, "inputQuantityList"),
                        outputs=src.items(event, "outputQuantityList"))

EPCIS_WORDS = """\
`TransformationEvent`, bizStep `commissioning`, disposition `active`: the live animals
(`inputs`) in `inputQuantityList`, the carcasses (`outputs`) in `outputQuantityList`; the
quarantine certificate, meat inspection certificate and ASF report in `certificationInfo`."""


SPEC = KindSpec(
    epcis=epcis_slaughter, from_epcis=from_epcis_slaughter, epcis_words=EPCIS_WORDS,
    name="slaughter", order=20, data_schema=SlaughterData(), apply=apply_slaughter,
    label_zh="屠宰", label_en="Slaughter", summary="designated slaughter",
    bizstep="commissioning", epcis_type="TransformationEvent", cte="transformation",
    cte_facts=lambda doc: CteFacts(doc["location"], doc["location"],
                                 "动物检疫合格证明 quarantine certificate",
                                 doc.get("data", {}).get("quarantine_cert", "")),
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("abattoir",), location_types=("abattoir",)),
)
