"""``lab_test``: a laboratory's residue result, judged against GB 2763 maximum residue
limits (with the food-category cascade and bans) by the active limits table.

A failed result holds the lot at its stall and confirms an open rapid-test follow-up; a
passing one clears it (see :mod:`tracelib.kinds._testing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import fields, validate

from ..bounds import MAX_DECIMAL_TEXT, MAX_LABEL
from ..cbv import EpcisNames, EpcisSources, biz_transaction, object_event, uom
from ..sampling import SAMPLING_TYPES, STAGES
from ..standards import judge_lab
from ..store.states import FollowUp, HeldByTest
from ._authority import TESTERS, tester_relation
from ._commitments import break_commitments
from ._fields import OpenData, id_field, text
from ._testing import (
    check_lot,
    hold,
    judge,
    open_follow_up,
    prefetch_test,
    release_test_holds,
    stall_of,
)
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

_short = text(MAX_LABEL)


class LabTestData(OpenData):
    analyte = fields.String(required=True, validate=_short, metadata={
        "description": "the substance measured, e.g. `毒死蜱`; one of the limits table"})
    commodity = fields.String(required=True, validate=_short, metadata={
        "description": "the food tested, e.g. `芹菜`; a commodity of the GB 2763 classification"})
    value = fields.String(required=True, validate=validate.Length(min=1, max=MAX_DECIMAL_TEXT), metadata={
        "description": "the measured value, a decimal string; `ND` / `未检出` for not detected"})
    unit = fields.String(required=True, validate=validate.Length(min=1, max=10), metadata={
        "description": "`mg/kg` or `μg/kg`, converted exactly"})
    lab = fields.String(required=True, validate=_short, metadata={
        "description": "the laboratory"})
    report_no = fields.String(required=True, validate=_short, metadata={
        "description": "the laboratory's report number"})
    lot = fields.String(validate=id_field(), metadata={
        "description": "the lot sampled: held on a fail, released on a pass"})
    stall = fields.String(validate=id_field(), metadata={
        "description": "the stall sampled, when the event's location is a lab"})
    sample = fields.String(validate=_short, metadata={"description": "the sample's label"})
    method = fields.String(validate=_short, metadata={
        "description": "the analytical method, e.g. `GB 23200.113-2018`"})
    sampling = fields.String(validate=validate.OneOf(SAMPLING_TYPES), metadata={
        "description": "who had the sample taken, and why: `supervision` (监督抽检), "
                       "`evaluation` (评价性抽检), `monitoring` (风险监测), `commissioned` "
                       "(委托检验) or `self` (企业自检). Absent (records before it existed): not "
                       "stated, and counted in no official figure"})
    stage = fields.String(validate=validate.OneOf(STAGES), metadata={
        "description": "the sampling stage: `production` (生产), `circulation` (流通) or "
                       "`catering` (餐饮)"})
    category = fields.String(validate=_short, metadata={
        "description": "the food category as the sampling plan names it, e.g. `蔬菜`"})
    business_type = fields.String(validate=_short, metadata={
        "description": "the kind of business sampled, e.g. `农贸市场`, `超市`, `餐馆`"})


def apply_lab_test(ctx: AppendContext, event: EventView, seq: int) -> None:
    data = event.data
    stall = stall_of(ctx, event)
    lot = data.get("lot")
    check_lot(ctx, lot)
    on: date = event.time.date()
    verdict = judge(judge_lab, data["analyte"], data["commodity"], data["value"], data["unit"],
                    on, ctx.tests.limits())
    outcome = verdict.verdict
    follow_up = None
    if outcome == "fail" and lot is not None:
        ctx.tests.close_follow_ups(lot, None, seq, FollowUp.CONFIRMED)
        # a confirmed failure breaks the commitments of the certificates the lot came from
        # (docs/contract.md "Producers' standing")
        break_commitments(ctx, test_seq=seq, lot=lot, stall=stall, analyte=data["analyte"],
                          day=on.isoformat())
        if stall is not None:
            hold(ctx, lot, stall, seq, HeldByTest.LAB_FAILED + data["analyte"],
                 event.actor)
            follow_up = open_follow_up(ctx, lot, stall)
    elif outcome == "pass" and lot is not None:
        release_test_holds(ctx, lot, stall, seq, FollowUp.CLEARED)
    ctx.tests.add(
        seq=seq, event_id=event.id, kind="lab", stall=stall, location=event.location, lot=lot,
        day=on.isoformat(), time=event.time_text, item=data["analyte"],
        method=data.get("method"), sample=data.get("sample"), commodity=data["commodity"],
        rate=None, result=outcome, value_mg_kg=str(verdict.value_mg_kg),
        limit_mg_kg=None if verdict.limit_mg_kg is None else str(verdict.limit_mg_kg),
        table_version=verdict.table_version, retest=0, residue=1,
        follow_up=follow_up, explanation=verdict.explanation, sampling=data.get("sampling"),
        stage=data.get("stage"), category=data.get("category"),
        business_type=data.get("business_type"))


RULES = """\
At a lab or a stall; the stall concerned is the event's location when it is a stall, else
`data.stall`. tracelib looks up the GB 2763 limit (with the food-category cascade) and records
it with the table's version; a banned substance fails on any detection from its ban date. A
fail holds the lot at the stall and confirms an open rapid-test follow-up (`lab_confirmed`); a
pass clears it and releases the hold (`cleared`). A fail also breaks the commitment of every
origin certificate (or entry) the lot was made from, traced upstream through the lot edges
(docs/contract.md "Producers' standing"). `sampling`, `stage`, `category` and
`business_type` are recorded as given; only `supervision`, `evaluation` and `monitoring` are
official sampling in the KPI report (a result without `sampling` is not)."""

EXAMPLE = {'id': 'lab-R-2026-1122-031',
 'kind': 'lab_test',
 'time': '2026-11-23T15:00:00+08:00',
 'actor': 'lab-yy01',
 'location': 'lab-yy01',
 'data': {'analyte': '毒死蜱',
          'commodity': '芹菜',
          'value': '0.12',
          'unit': 'mg/kg',
          'lab': '云阳县食品药品检验所',
          'report_no': 'R-2026-1122-031',
          'lot': 'LOT-CP-20261122-01',
          'stall': 'stall-a01',
          'sampling': 'supervision',
          'stage': 'circulation',
          'category': '蔬菜',
          'business_type': '农贸市场'}}

def epcis_lab_test(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """A laboratory result: the residue found, as a sensor report."""
    data = doc["data"]
    lot = data.get("lot")
    event = object_event(doc, names, action="OBSERVE", step="sampling")
    if lot:
        event["quantityList"] = [{"epcClass": names.lot(lot)}]
    # a residue in mg/kg is a mass fraction: a dimensionless quantity (ISO 80000-1)
    per_volume = data["unit"].lower().endswith("/l")
    report: dict[str, Any] = {"type": "MassConcentration" if per_volume else "Dimensionless",
                              "chemicalSubstance": names.term("analyte", data["analyte"]),
                              "value": float(Decimal(data["value"]))}
    code = uom(data["unit"])
    if code is not None:
        report["uom"] = code
    else:
        event["tracelib:unit"] = data["unit"]
    event["sensorElementList"] = [{"sensorReport": [report]}]
    event["bizTransactionList"] = [biz_transaction("testres", names.document(
        "lab-report", data["report_no"]))]
    event["tracelib:commodity"] = data["commodity"]
    return event



def from_epcis_lab_test(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """A test's item, method and result only tracelib carries (``tracelib:data``)."""
    src.needs_data(event, "a lab_test needs its test record as tracelib:data")
    return src.envelope(event, "lab_test")

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `sampling`: `data.lot` (when named) in
`quantityList`; one sensor report with the analyte as `chemicalSubstance` and the value in
its Rec 20 unit (`mg/kg` → `NA`, type `Dimensionless`: a mass fraction; per litre
`MassConcentration`); the report number as a `testres` business transaction. The
verdict against GB 2763 is the ledger's, not the event's: it is not exported."""


SPEC = KindSpec(
    epcis=epcis_lab_test, from_epcis=from_epcis_lab_test, epcis_words=EPCIS_WORDS,
    name="lab_test", order=140, data_schema=LabTestData(), apply=apply_lab_test,
    label_zh="实验室检测", label_en="Laboratory test", summary="a laboratory's residue result",
    bizstep="sampling", epcis_type="ObjectEvent", cte=None,
    prefetch=prefetch_test, rules=RULES, example=EXAMPLE,
    signers=Signers(roles=TESTERS, anywhere=("regulator",), parent=True,
                    relation=tester_relation, relation_words=(
                        "Never the holder of the stall whose goods are tested; a market only at "
                        "its own stalls (or its own test room, naming one of them in "
                        "`data.stall`).")),
)
