"""``dispose``: stock is destroyed (a failed lot, spoiled goods).

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cbv import EpcisNames, EpcisSources, object_event
from ..store.states import FollowUp
from ._fields import ReasonData
from ._stock import book_out, existing_lot, need, none
from ._testing import prefetch_input_follow_ups
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


def apply_dispose(ctx: AppendContext, event: EventView, seq: int) -> None:
    """Destroy stock at the event's location (a failed lot, spoiled goods): it leaves the
    stock even when held, the hold there ends, and open test follow-ups close as
    ``disposed``."""
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        existing_lot(ctx, item, f"inputs[{i}].lot")
        row, want = book_out(ctx, event, i, item, "disposed of")
        row.consumed += want
        if row.on_hand == 0:
            row.hold_seq = row.hold_reason = row.hold_cause = row.hold_by = None
        ctx.supply.add_lot_event(item.lot, seq)
        ctx.tests.close_follow_ups(item.lot, event.location, seq, FollowUp.DISPOSED)


RULES = """\
`inputs`: lots on hand at `location`, even when held; no `outputs`. The stock leaves the
ledger's count, the hold there ends when nothing is left, and open test follow-ups of the lot
at that stall close as `disposed` (a `release` closes them as `released`)."""


EXAMPLE = {'id': 'dispose-a01-0002',
 'kind': 'dispose',
 'time': '2026-11-23T10:00:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '197.5', 'unit': 'kg'}],
 'data': {'reason': '实验室确认不合格, 监督销毁'}}


def epcis_dispose(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """The lots of ``inputs``, their disposition destroyed (CBV 2.0 §7.3)."""
    event = object_event(doc, names, action="DELETE", step="destroying", disp="destroyed",
                         items=doc["inputs"])
    event["tracelib:reason"] = doc["data"]["reason"]
    return event



def from_epcis_dispose(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """The quantityList's lots; the reason from ``tracelib:reason``, else the disposition."""
    reason = event.get("tracelib:reason") or f"EPCIS {event.get('disposition', 'dispose')}"
    return src.envelope(event, "dispose", inputs=src.items(event, "quantityList"),
                        data={"reason": str(reason)})

EPCIS_WORDS = """\
`ObjectEvent`, action `DELETE`, bizStep `destroying`, disposition `destroyed`:
the `inputs` in `quantityList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_dispose, from_epcis=from_epcis_dispose, epcis_words=EPCIS_WORDS,
    name="dispose", order=100, data_schema=ReasonData(), apply=apply_dispose,
    label_zh="销毁", label_en="Disposal", summary="destroying stock",
    bizstep="destroying", epcis_type="ObjectEvent", cte=None,
    prefetch=prefetch_input_follow_ups,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(relation_words="The holder of the location with the stock."),
)
