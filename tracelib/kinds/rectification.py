"""``rectification``: an inspection's rectification (整改), reported by the inspected place
and confirmed by a regulator.

Two steps, each its own event at the inspected place: ``report`` by the party that holds
the place (or its parent: a market for its stall) says what was done and leaves the
inspection's rectification ``reported``; ``confirm`` by a regulator (after its 复查, with or
without a report before it) closes it.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from marshmallow import fields, validate

from ..directory import Party
from ..errors import ValidationError
from ..store.states import Rectification
from ._fields import OpenData, id_field, text
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

REPORT, CONFIRM = "report", "confirm"


class RectificationData(OpenData):
    inspection = fields.String(required=True, validate=id_field(), metadata={
        "description": "the id of the `inspection` event whose rectification this is"})
    step = fields.String(required=True, validate=validate.OneOf((REPORT, CONFIRM)), metadata={
        "description": "`report`: the inspected place's holder reports it rectified; "
                       "`confirm`: a regulator confirms and closes it"})
    measures = fields.String(validate=text(), metadata={
        "description": "what was done, in words; required for a report"})


def rectification_relation(ctx: AppendContext, event: EventView, party: Party,
                           role: str) -> None:
    """A regulator confirms; the inspected place's holder (or its parent's) reports."""
    step = event.data["step"]
    if step == CONFIRM and role != "regulator":
        raise ValidationError(f"{party.id} ({role}) may not confirm a rectification: only a "
                              "regulator", field="data.step")
    if step == REPORT and role == "regulator":
        raise ValidationError(f"{party.id} (regulator) confirms a rectification; the inspected "
                              "place's holder reports it", field="data.step")


def apply_rectification(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")
    data = event.data
    row = ctx.inspections.inspection(data["inspection"])
    if row is None:
        raise ValidationError(f"no inspection {data['inspection']!r} in the ledger",
                              field="data.inspection")
    if row.location != event.location:
        raise ValidationError(f"inspection {row.event_id!r} is of {row.location!r}; its "
                              f"rectification is recorded there, not at {event.location!r}",
                              field="location")
    if row.rectification is None:
        raise ValidationError(f"inspection {row.event_id!r} found the place compliant: there "
                              "is nothing to rectify", field="data.inspection")
    if row.rectification == Rectification.CLOSED:
        raise ValidationError(f"the rectification of inspection {row.event_id!r} was already "
                              f"confirmed (seq {row.closed_seq})", field="data.inspection")
    if data["step"] == REPORT:
        if "measures" not in data:
            raise ValidationError("a report says what was done", field="data.measures")
        row.rectification, row.reported_seq = Rectification.REPORTED, seq
    else:
        row.rectification, row.closed_seq = Rectification.CLOSED, seq
    ctx.inspections.touch(row)


RULES = """\
No `inputs` or `outputs`; at the inspected place (`location` is the inspection's location).
`inspection` names an inspection in the ledger that was not `compliant` and whose
rectification is not yet confirmed. A `report` (with `measures`) leaves it `reported` and may
be repeated until it is confirmed; a `confirm` closes it (`closed`), whether or not a report
came before (the regulator's own re-inspection)."""


EXAMPLE = {'id': 'rect-stall-a01-0031',
 'kind': 'rectification',
 'time': '2026-11-25T16:00:00+08:00',
 'actor': 'stall-a01',
 'location': 'stall-a01',
 'data': {'inspection': 'insp-yunyang-amr-0031',
          'step': 'report',
          'measures': '已补全进货查验记录，留存购货凭证'}}


SPEC = KindSpec(
    epcis_words=("None: a business's rectification answers an inspection and observes no goods."),
    name="rectification", order=170, data_schema=RectificationData(),
    apply=apply_rectification,
    label_zh="整改", label_en="Rectification",
    summary="an inspection's rectification, reported and confirmed",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(anywhere=("regulator",), parent=True, relation=rectification_relation,
                    relation_words=(
        "A `report` is by the party that holds the inspected place or its parent (a market "
        "for its stall); a `confirm` is by a regulator only.")),
)
