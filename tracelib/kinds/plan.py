"""``plan``: a regulator's sampling plan for a year (年度食品安全抽检计划): the area's
population and the batches to sample, by sampling type, food category and stage.

The KPI report reads the latest plan of its year (:mod:`tracelib.views.kpi`): the population
its per-1,000 figures divide by, and the targets of 计划完成率.

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..bounds import MAX_LABEL
from ..errors import ValidationError
from ..sampling import PLANNED, STAGES
from ._fields import OpenData, text
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

#: The most target rows one plan may hold.
MAX_TARGETS = 500


class TargetData(Schema):
    sampling = fields.String(required=True, validate=validate.OneOf(PLANNED), metadata={
        "description": "`supervision` (监督抽检), `evaluation` (评价性抽检) or `monitoring` "
                       "(风险监测)"})
    category = fields.String(validate=text(MAX_LABEL), metadata={
        "description": "the food category, as lab results name it in `data.category`; "
                       "absent: every category"})
    stage = fields.String(validate=validate.OneOf(STAGES), metadata={
        "description": "`production`, `circulation` or `catering`; absent: every stage"})
    batches = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=1, max=10_000_000), metadata={
        "description": "the batches to sample in the year"})


class PlanData(OpenData):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100),
                          metadata={"description": "the year planned, e.g. `2026`"})
    population = fields.Integer(required=True, strict=True,
                                validate=validate.Range(min=1, max=2_000_000_000), metadata={
        "description": "the area's residents (常住人口), the divisor of the per-1,000 figures"})
    area = fields.String(validate=text(MAX_LABEL), metadata={
        "description": "the area planned for, e.g. `开州区`"})
    targets = fields.List(fields.Nested(TargetData), required=True,
                          validate=validate.Length(min=1, max=MAX_TARGETS), metadata={
        "description": "batch targets, one per (sampling, category, stage)"})


def apply_plan(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")
    seen: set[tuple[str, str | None, str | None]] = set()
    for i, target in enumerate(event.data["targets"]):
        key = (target["sampling"], target.get("category"), target.get("stage"))
        if key in seen:
            raise ValidationError(f"targets[{i}] repeats sampling {key[0]!r}, category "
                                  f"{key[1]!r}, stage {key[2]!r}",
                                  field=f"data.targets[{i}]")
        seen.add(key)


RULES = """\
No `inputs` or `outputs`. Each (`sampling`, `category`, `stage`) appears once in `targets`.
A later `plan` for the same `year` replaces the earlier one (a revised plan): the KPI report
reads the latest. A target's batches are counted from the year's lab results with that
`sampling`, and that `category` and `stage` when the target names them."""


EXAMPLE = {'id': 'plan-kaizhou-2026',
 'kind': 'plan',
 'time': '2026-01-15T09:00:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'yunyang-amr.office',
 'data': {'year': 2026,
          'population': 1200000,
          'area': '开州区',
          'targets': [{'sampling': 'supervision', 'category': '蔬菜', 'stage': 'circulation',
                       'batches': 1800},
                      {'sampling': 'evaluation', 'batches': 2400},
                      {'sampling': 'monitoring', 'stage': 'production', 'batches': 600}]}}


SPEC = KindSpec(
    epcis_words=("None: a sampling plan is a regulator's intention, not a business event."),
    name="plan", order=115, data_schema=PlanData(), apply=apply_plan,
    label_zh="抽检计划", label_en="Sampling plan",
    summary="a regulator's sampling plan for a year",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("regulator",), anywhere=("regulator",)),
)
