"""``inspection``: a regulator's routine supervisory inspection (日常监督检查) of a place.

The event's ``location`` is the inspected place (a stall, a market, a canteen …); the
regulator signs it from anywhere. A result other than compliant opens a rectification
(整改) with a deadline, closed by a [rectification](#kind:rectification).

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from datetime import date

from marshmallow import fields, validate

from ..bounds import MAX_LABEL, MAX_NUMBER
from ..errors import ValidationError
from ..store.inspections import InspectionRow
from ..store.states import InspectionResult, Rectification
from ._fields import OpenData, text
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

_DAY = validate.Regexp(r"\A\d{4}-\d{2}-\d{2}\Z", error="must be a date, YYYY-MM-DD")


class InspectedItem(OpenData):
    name = fields.String(required=True, validate=text(MAX_LABEL), metadata={
        "description": "the item checked, e.g. `进货查验记录`, `亮证亮照`, `从业人员健康证明`"})
    compliant = fields.Boolean(required=True, metadata={
        "description": "whether the place complied with the item"})
    note = fields.String(validate=text(), metadata={"description": "what was seen, in words"})


class Inspector(OpenData):
    name = fields.String(required=True, validate=text(MAX_LABEL), metadata={
        "description": "the inspecting officer's name; never shown to anonymous readers"})
    badge = fields.String(validate=validate.Length(min=1, max=MAX_NUMBER), metadata={
        "description": "the officer's law-enforcement certificate number (执法证号)"})


class InspectionData(OpenData):
    items = fields.List(fields.Nested(InspectedItem), required=True,
                        validate=validate.Length(min=1, max=200), metadata={
        "description": "the items checked and whether each complied"})
    result = fields.String(required=True, validate=validate.OneOf(InspectionResult.ALL), metadata={
        "description": "`compliant` (符合), `basically_compliant` (基本符合) or "
                       "`non_compliant` (不符合)"})
    findings = fields.String(validate=text(), metadata={
        "description": "what was found, in words; required unless compliant"})
    rectification_deadline = fields.String(validate=_DAY, metadata={
        "description": "the day by which the place must rectify (整改期限), YYYY-MM-DD; "
                       "required unless compliant, never before the inspection's day"})
    inspectors = fields.List(fields.Nested(Inspector), required=True,
                             validate=validate.Length(min=1, max=20), metadata={
        "description": "the officers who inspected (at least one; 2 by practice)"})


def _deadline(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a calendar date",
                              field="data.rectification_deadline") from None


def apply_inspection(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")
    data = event.data
    place = ctx.location(event.location)  # registered: the engine refuses an unknown one
    if place is not None and place.holder == event.actor:
        raise ValidationError(f"{event.actor} inspects the places of others, not its own "
                              f"{place.id!r}", field="location")
    result = data["result"]
    on = event.time.date()
    deadline = data.get("rectification_deadline")
    if result == InspectionResult.COMPLIANT:
        failed = [i for i, item in enumerate(data["items"]) if not item["compliant"]]
        if failed:
            raise ValidationError("a compliant inspection has no item that did not comply",
                                  field=f"data.items[{failed[0]}].compliant")
        if deadline is not None:
            raise ValidationError("a compliant inspection has nothing to rectify: no deadline",
                                  field="data.rectification_deadline")
        rectification = None
    else:
        if "findings" not in data:
            raise ValidationError(f"a {result} inspection says what was found",
                                  field="data.findings")
        if deadline is None:
            raise ValidationError(f"a {result} inspection sets a rectification deadline",
                                  field="data.rectification_deadline")
        if _deadline(deadline) < on:
            raise ValidationError(f"the rectification deadline {deadline} is before the "
                                  f"inspection's day {on.isoformat()}",
                                  field="data.rectification_deadline")
        rectification = Rectification.OPEN
    ctx.inspections.add(InspectionRow(
        seq=seq, event_id=event.id, location=event.location, actor=event.actor,
        day=on.isoformat(), time=event.time_text, result=result, deadline=deadline,
        rectification=rectification))


RULES = """\
No `inputs` or `outputs`. The event's `location` is the inspected place, a registered
location not held by the inspecting regulator; the regulator signs from anywhere. A
`compliant` result has no item that did not comply and no deadline; a `basically_compliant`
or `non_compliant` result needs `findings` and a `rectification_deadline` on or after the
inspection's day (its local date), and opens a rectification that a
[rectification](#kind:rectification) closes. The stall page's 公示栏 shows the latest
inspection's result and day, never the inspectors' names."""


EXAMPLE = {'id': 'insp-yunyang-amr-0031',
 'kind': 'inspection',
 'time': '2026-11-20T09:40:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'stall-a01',
 'data': {'items': [{'name': '亮证亮照', 'compliant': True},
                    {'name': '进货查验记录', 'compliant': False, 'note': '11月18日豇豆无购货凭证'},
                    {'name': '从业人员健康证明', 'compliant': True}],
          'result': 'basically_compliant',
          'findings': '进货查验记录不全',
          'rectification_deadline': '2026-11-27',
          'inspectors': [{'name': '李明', 'badge': '50023500123'},
                         {'name': '陈静', 'badge': '50023500124'}]}}


SPEC = KindSpec(
    epcis_words=("None: an inspection of a business's premises and records observes no goods "
                 '(EPCIS events are about objects).'),
    name="inspection", order=160, data_schema=InspectionData(), apply=apply_inspection,
    label_zh="日常监督检查", label_en="Inspection",
    summary="a regulator's routine inspection of a place",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("regulator",), anywhere=("regulator",), relation_words=(
        "The event's location is the place inspected, not where the regulator sits.")),
)
