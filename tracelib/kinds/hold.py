"""``hold``: a lot is taken off sale (下架) at one location.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cbv import EpcisNames, EpcisSources, object_event
from ..errors import ValidationError
from ..store.states import HoldCause
from ._authority import OVERSEERS
from ._fields import ReasonData
from ._stock import existing_lot, need, none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


def apply_hold(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        existing_lot(ctx, item, f"inputs[{i}].lot")
        row = ctx.supply.stock(item.lot, event.location)
        if row is None:
            raise ValidationError(f"lot {item.lot!r} was never at {event.location!r}",
                                  field=f"inputs[{i}].lot")
        if row.hold_seq is not None:
            raise ValidationError(f"lot {item.lot!r} is already on hold at {event.location!r} "
                                  f"(seq {row.hold_seq})", field=f"inputs[{i}].lot")
        row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
        row.hold_seq, row.hold_reason, row.hold_cause = seq, event.data["reason"], HoldCause.EVENT
        row.hold_by = event.actor  # who may release it (docs/contract.md "Authority")
        ctx.supply.add_lot_event(item.lot, seq)


RULES = """\
`inputs`: lots that have been at `location`; no `outputs`. The lot cannot be shipped,
transformed or sold there until a `release` there; a lot already on hold there cannot be held
again. A positive rapid test or a failed lab result holds its lot by itself (see
[rapid_test](#kind:rapid_test) and [lab_test](#kind:lab_test))."""


EXAMPLE = {'id': 'hold-a01-0007',
 'kind': 'hold',
 'time': '2026-11-22T07:35:00+08:00',
 'actor': 'market-yy01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-CP-20261122-01', 'qty': '197.5', 'unit': 'kg'}],
 'data': {'reason': '快检阳性, 待实验室确认', 'test': 'rt-1'}}


def epcis_hold(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """The lots of ``inputs``, their disposition non_sellable_other (CBV 2.0 §7.3)."""
    event = object_event(doc, names, action="OBSERVE", step="holding", disp="non_sellable_other",
                         items=doc["inputs"])
    event["tracelib:reason"] = doc["data"]["reason"]
    return event



def from_epcis_hold(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """The quantityList's lots; the reason from ``tracelib:reason``, else the disposition."""
    reason = event.get("tracelib:reason") or f"EPCIS {event.get('disposition', 'hold')}"
    return src.envelope(event, "hold", inputs=src.items(event, "quantityList"),
                        data={"reason": str(reason)})

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `holding`, disposition `non_sellable_other`:
the `inputs` in `quantityList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_hold, from_epcis=from_epcis_hold, epcis_words=EPCIS_WORDS,
    name="hold", order=70, data_schema=ReasonData(), apply=apply_hold,
    label_zh="下架", label_en="Hold", summary="a lot off sale at one location",
    bizstep="holding", epcis_type="ObjectEvent", cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(anywhere=OVERSEERS, parent=True, relation_words=(
        "The hold remembers who placed it: only that party or a regulator may release it.")),
)
