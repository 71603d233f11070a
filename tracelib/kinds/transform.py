"""``transform``: split, merge, repack, cut or process lots into new lots.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from ..cbv import EpcisNames, EpcisSources, transformation_event
from ..errors import ValidationError
from ..quantity import format_micro, to_micro
from ._fields import OpenData, text
from ._stock import inherit, need, take
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


class TransformData(OpenData):
    process = fields.String(required=True, validate=validate.OneOf(
        ("split", "merge", "repack", "cut", "process")), metadata={
            "description": "what was done to the inputs"})
    product = fields.String(validate=text(), metadata={
        "description": "the made lots' product; default: the inputs' product, when they agree"})


def apply_transform(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    need(event.outputs, "outputs", at_least=1)
    units = {q.unit for q in (*event.inputs, *event.outputs)}
    if len(units) == 1:
        total_in = sum(to_micro(q.qty) for q in event.inputs)
        total_out = sum(to_micro(q.qty) for q in event.outputs)
        if total_out > total_in:
            raise ValidationError(
                f"mass balance: outputs total {format_micro(total_out)} {units.pop()} but inputs "
                f"only {format_micro(total_in)}", field="outputs")
    parents = [take(ctx, event, i, item, moving="transformed")
               for i, item in enumerate(event.inputs)]
    inherit(ctx, event, parents, event.data.get("product"))


RULES = """\
`inputs` are consumed at `location` (mass balance; not held, not recalled), `outputs` are new
lots there. When all units agree, the outputs may not total more than the inputs. Made lots
inherit product, storage and import status from their inputs (an import document only when
every imported input has it)."""


EXAMPLE = {'id': 'split-ws01-0311',
 'kind': 'transform',
 'time': '2026-11-22T03:10:00+08:00',
 'actor': 'wholesale-yy01',
 'location': 'wholesale-yy01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '800', 'unit': 'kg'}],
 'outputs': [{'lot': 'LOT-CP-20261122-01-A', 'qty': '400', 'unit': 'kg'},
             {'lot': 'LOT-CP-20261122-01-B', 'qty': '395', 'unit': 'kg'}],
 'data': {'process': 'split'}}


#: CBV 2.0 §7.2 business step of each process.
_STEPS = {"split": "repackaging", "merge": "repackaging", "repack": "repackaging",
          "cut": "other", "process": "other"}


def epcis_transform(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Inputs become outputs: a transformation."""
    data = doc["data"]
    event = transformation_event(doc, names, step=_STEPS[data["process"]], disp="active")
    event["tracelib:process"] = data["process"]
    if data.get("product"):
        event["tracelib:product"] = data["product"]
    return event



def from_epcis_transform(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """Any TransformationEvent: inputQuantityList consumed, outputQuantityList made; the
    process from ``tracelib:process``, else ``process``."""
    process = event.get("tracelib:process")
    data = {"process": process if isinstance(process, str) else "process"}
    return src.envelope(event, "transform", inputs=src.items(event, "inputQuantityList"),
                        outputs=src.items(event, "outputQuantityList"), data=data)

EPCIS_WORDS = """\
`TransformationEvent`, disposition `active`: `inputs` in `inputQuantityList`, `outputs` in
`outputQuantityList`; bizStep `repackaging` for `split`, `merge` and `repack`, `other` for
`cut` and `process` (CBV 2.0 has no cutting or processing step); the process as
`tracelib:process`."""


SPEC = KindSpec(
    epcis=epcis_transform, from_epcis=from_epcis_transform, epcis_words=EPCIS_WORDS,
    name="transform", order=50, data_schema=TransformData(), apply=apply_transform,
    label_zh="加工转换", label_en="Transformation", summary="split, merge, repack, cut, process",
    bizstep=None, epcis_type="TransformationEvent", cte="transformation",
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(relation_words="The holder of the location with the stock."),
)
