"""``release``: a hold or a recall ends.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..cbv import EpcisNames, EpcisSources, object_event
from ..errors import ValidationError
from ..store.states import FollowUp
from ._authority import OVERSEERS, release_relation
from ._fields import ReasonData
from ._stock import existing_lot, need, none
from ._testing import prefetch_input_follow_ups
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


def apply_release(ctx: AppendContext, event: EventView, seq: int) -> None:
    need(event.inputs, "inputs", at_least=1)
    none(event.outputs, "outputs")
    for i, item in enumerate(event.inputs):
        lot = existing_lot(ctx, item, f"inputs[{i}].lot")
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
            row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
            row.hold_seq = row.hold_reason = row.hold_cause = row.hold_by = None
            ctx.tests.close_follow_ups(item.lot, event.location, seq, FollowUp.RELEASED)
        if lot.recalled_seq is not None and event.data.get("scope") == "recall":
            lot.recalled_seq = lot.recalled_by = None
            ctx.supply.touch_lot(lot)
        ctx.supply.add_lot_event(item.lot, seq)


RULES = """\
`inputs`: lots on hold at `location`, or recalled; no `outputs`. Releasing a held lot lifts the
hold there and closes its open test follow-ups as `released`. A recall is lifted only by name:
with `"scope": "recall"` in `data`, the release also ends the lot's recall everywhere."""


EXAMPLE = {'id': 'release-a01-0009',
 'kind': 'release',
 'time': '2026-11-22T11:40:00+08:00',
 'actor': 'market-yy01',
 'location': 'stall-a01',
 'inputs': [{'lot': 'LOT-JC-20261122-02', 'qty': '40', 'unit': 'kg'}],
 'data': {'reason': '已补齐承诺达标合格证, 恢复销售'}}


def epcis_release(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """The lots of ``inputs``, their disposition sellable_accessible (CBV 2.0 §7.3)."""
    event = object_event(doc, names, action="OBSERVE", step=None, disp="sellable_accessible",
                         items=doc["inputs"])
    event["tracelib:reason"] = doc["data"]["reason"]
    return event



def from_epcis_release(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """The quantityList's lots; the reason from ``tracelib:reason``, else the disposition."""
    reason = event.get("tracelib:reason") or f"EPCIS {event.get('disposition', 'release')}"
    return src.envelope(event, "release", inputs=src.items(event, "quantityList"),
                        data={"reason": str(reason)})

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, no bizStep, disposition `sellable_accessible` (back on sale):
the `inputs` in `quantityList`; the reason as `tracelib:reason`."""


SPEC = KindSpec(
    epcis=epcis_release, from_epcis=from_epcis_release, epcis_words=EPCIS_WORDS,
    name="release", order=80, data_schema=ReasonData(), apply=apply_release,
    label_zh="解除下架", label_en="Release", summary="a hold or a recall ends",
    bizstep=None, epcis_type="ObjectEvent", cte=None,
    prefetch=prefetch_input_follow_ups,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(anywhere=OVERSEERS, parent=True, relation=release_relation, relation_words=(
        "Of each lot: a hold placed by a `hold` event only by the party that placed it or a "
        "regulator; a hold placed by a test only by a regulator (else by a negative retest or "
        "a passing lab result from a tester); a recall (`\"scope\": \"recall\"`) only by a "
        "regulator, the operator or the party that recalled it.")),
)
