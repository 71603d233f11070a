"""``recall``: a lot is stopped everywhere.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cbv import EpcisNames, EpcisSources, object_event
from ._authority import OVERSEERS, recall_relation
from ._fields import ReasonData
from ._stock import existing_lot, need, none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


def apply_recall(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        lot = existing_lot(ctx, item, f"inputs[{i}].lot")
        lot.recalled_seq, lot.recalled_by = seq, event.actor
        ctx.supply.touch_lot(lot)
        ctx.supply.add_lot_event(item.lot, seq)


RULES = """\
`inputs`: the lots recalled; no `outputs`. A recalled lot cannot be shipped, transformed or
sold anywhere until a `release` with `"scope": "recall"`. `tracelib recall LOT` writes these,
signed by the operator, in one transaction: a `hold` at every location with stock of the lot or
of a lot made from it, and one `recall` of every such lot on hand or in transit (with
`recall_of` naming the lot asked about)."""


EXAMPLE = {'id': 'recall-LOT-CP-20261122-01-20261123T160000000000',
 'kind': 'recall',
 'time': '2026-11-23T16:00:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'yunyang-amr.office',
 'inputs': [{'lot': 'LOT-CP-20261122-01-A', 'qty': '380', 'unit': 'kg'},
            {'lot': 'LOT-CP-20261122-01-B', 'qty': '395', 'unit': 'kg'}],
 'data': {'reason': '毒死蜱超标 (R-2026-1122-031), 召回同批次', 'recall_of': 'LOT-CP-20261122-01'}}


def epcis_recall(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """The lots of ``inputs``, their disposition recalled (CBV 2.0 §7.3)."""
    event = object_event(doc, names, action="OBSERVE", step="holding", disp="recalled",
                         items=doc["inputs"])
    event["tracelib:reason"] = doc["data"]["reason"]
    return event



def from_epcis_recall(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """The quantityList's lots; the reason from ``tracelib:reason``, else the disposition."""
    reason = event.get("tracelib:reason") or f"EPCIS {event.get('disposition', 'recall')}"
    return src.envelope(event, "recall", inputs=src.items(event, "quantityList"),
                        data={"reason": str(reason)})

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `holding`, disposition `recalled`:
the `inputs` in `quantityList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_recall, from_epcis=from_epcis_recall, epcis_words=EPCIS_WORDS,
    name="recall", order=90, data_schema=ReasonData(), apply=apply_recall,
    label_zh="召回", label_en="Recall", summary="a lot stopped everywhere",
    bizstep="holding", epcis_type="ObjectEvent", cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(anywhere=OVERSEERS, relation=recall_relation, relation_words=(
        "Any other party only voluntarily, of a lot it made or one made from a lot it made "
        "(the holder of the location where the lot or an ancestor was made); a recall is "
        "lifted only by a regulator, the operator or the party that recalled it.")),
)
