"""``rapid_test``: the market's rapid-test room (快检室) tests a stall's sample.

Enzyme-inhibition tests are judged from their raw readings (GB/T 5009.199-2003: an
inhibition rate of 50 % or more is positive), strips and cards by their result; a positive
result holds the tested lot at its stall in the same transaction (see
:mod:`tracelib.kinds._testing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from ..bounds import MAX_LABEL
from ..cbv import EpcisNames, EpcisSources, object_event
from ..errors import ValidationError
from ..standards import judge_rapid
from ..store.states import FollowUp, HeldByTest
from ._authority import TESTERS, tester_relation
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


class Readings(Schema):
    delta_a0 = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={
        "description": "ΔA₀, the control's absorbance change, a decimal string"})
    delta_at = fields.String(required=True, validate=validate.Length(min=1, max=20), metadata={
        "description": "ΔAₜ, the sample's absorbance change, a decimal string"})


class Instrument(OpenData):
    model = fields.String(validate=_short, metadata={"description": "its model"})
    serial = fields.String(validate=_short, metadata={"description": "its serial number"})


class RapidTestData(OpenData):
    sample = fields.String(required=True, validate=_short, metadata={
        "description": "the sample's label, e.g. `A01-豇豆-1`"})
    item = fields.String(required=True, validate=_short, metadata={
        "description": "what is tested for, e.g. `有机磷和氨基甲酸酯类农药`; an item tracelib "
                       "knows, by its code or name"})
    method = fields.String(required=True, validate=_short, metadata={
        "description": "the method, e.g. `GB/T 5009.199-2003`; one valid for the item"})
    tester = fields.String(required=True, validate=_short, metadata={
        "description": "who ran the test"})
    readings = fields.Nested(Readings, metadata={
        "description": "enzyme inhibition absorbance changes, from which tracelib computes the "
                       "rate and the result"})
    result = fields.String(validate=validate.OneOf(("negative", "suspect", "positive")), metadata={
        "description": "the result read from a strip or test card (`negative` or `positive`); "
                       "with `readings`, it must agree with the computed result"})
    lot = fields.String(validate=id_field(), metadata={
        "description": "the lot the sample was taken from: held on a positive result"})
    stall = fields.String(validate=id_field(), metadata={
        "description": "the stall tested, when the event's location is a lab"})
    commodity = fields.String(validate=_short, metadata={
        "description": "the food sampled, e.g. `豇豆`; commodities prone to false positives are "
                       "flagged"})
    reviewer = fields.String(validate=_short, metadata={"description": "who reviewed the result"})
    instrument = fields.Nested(Instrument, metadata={"description": "the instrument used"})
    retest = fields.Boolean(metadata={
        "description": "`true` for a retest: a negative retest releases the lot's test hold"})
    test_no = fields.String(validate=_short, metadata={
        "description": "the test room's own number for the test"})


def apply_rapid_test(ctx: AppendContext, event: EventView, seq: int) -> None:
    data = event.data
    stall = stall_of(ctx, event)
    lot = data.get("lot")
    check_lot(ctx, lot)
    if "readings" not in data and "result" not in data:
        raise ValidationError("give readings {delta_a0, delta_at} (enzyme inhibition) or a "
                              "result (strips)", field="data.readings")
    verdict = judge(judge_rapid, data["item"], data["method"], data.get("readings"),
                    data.get("result"), commodity=data.get("commodity"))
    result, rate, item_ = verdict.result, verdict.rate, verdict.item
    follow_up = None
    if result == "positive" and lot is not None and stall is not None:
        hold(ctx, lot, stall, seq, HeldByTest.RAPID_POSITIVE + item_.name_zh, event.actor)
        follow_up = open_follow_up(ctx, lot, stall)
    if result == "negative" and data.get("retest") and lot is not None:
        release_test_holds(ctx, lot, stall, seq, FollowUp.RELEASED)
    ctx.tests.add(
        seq=seq, event_id=event.id, kind="rapid", stall=stall, location=event.location,
        lot=lot, day=event.time.date().isoformat(), time=event.time_text,
        item=item_.name_zh, method=data["method"], sample=data["sample"],
        commodity=data.get("commodity"), rate=None if rate is None else str(rate),
        result=result, value_mg_kg=None, limit_mg_kg=None, table_version=None,
        retest=int(bool(data.get("retest"))),
        residue=int(item_.kind == "enzyme" or item_.must_not_detect),
        follow_up=follow_up, explanation="; ".join(verdict.reasons), sampling=None, stage=None,
        category=None, business_type=None)


RULES = """\
At a stall, or at a lab naming the stall in `data.stall`. Sampling does not move stock: the lot
tested is `data.lot`, not an input. Give either `readings` (enzyme inhibition: tracelib
computes the inhibition rate (ΔA₀ − ΔAₜ) / ΔA₀ × 100 and the result, ≥ 50 % positive, 40–50 %
suspect, GB/T 5009.199-2003) or `result` (strips — clenbuterol, ractopamine, salbutamol,
malachite green, formaldehyde, sulfur dioxide, 吊白块, nitrite — and test cards). A claimed
result that contradicts the readings is rejected. A positive result holds the tested lot at
that stall in the same transaction and opens a follow-up; a negative retest releases it."""

EXAMPLE = {'id': 'rt-1',
 'kind': 'rapid_test',
 'time': '2026-11-22T07:30:00+08:00',
 'actor': 'market-yy01',
 'location': 'stall-a01',
 'data': {'sample': 'A01-豇豆-1',
          'item': '有机磷和氨基甲酸酯类农药',
          'method': 'GB/T 5009.199-2003',
          'tester': '李检',
          'readings': {'delta_a0': '0.800', 'delta_at': '0.300'},
          'lot': 'LOT-CP-20261122-01',
          'commodity': '豇豆'}}

#: A positive result is non-conformant, a negative one conformant (CBV 2.0 §7.3); a suspect
#: result decides neither.
_DISPOSITIONS = {"positive": "non_conformant", "negative": "conformant"}


def epcis_rapid_test(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """A rapid test: inspecting the lot tested, the test as a sensor report."""
    data = doc["data"]
    lot = data.get("lot")
    event = object_event(doc, names, action="OBSERVE", step="inspecting",
                         disp=_DISPOSITIONS.get(data.get("result", "")))
    if lot:
        event["quantityList"] = [{"epcClass": names.lot(lot)}]
    # an inhibition rate (a percentage) and a strip's reading are dimensionless
    report: dict[str, Any] = {"type": "Dimensionless",
                              "chemicalSubstance": names.term("test-item", data["item"]),
                              "dataProcessingMethod": names.term("method", data["method"])}
    readings = data.get("readings")
    if readings:
        a0, at = Decimal(readings["delta_a0"]), Decimal(readings["delta_at"])
        if a0 > 0:  # GB/T 5009.199-2003: inhibition rate (ΔA0 − ΔAt) / ΔA0 × 100, in percent
            report["value"] = float(round((a0 - at) / a0 * 100, 2))
            report["uom"] = "P1"
    if data.get("result"):
        report["stringValue"] = data["result"]
    event["sensorElementList"] = [{"sensorReport": [report]}]
    event["tracelib:sample"] = data["sample"]
    return event



def from_epcis_rapid_test(event: Mapping[str, Any], src: EpcisSources) -> dict[str, Any]:
    """A test's item, method and result only tracelib carries (``tracelib:data``)."""
    src.needs_data(event, "a rapid_test needs its test record as tracelib:data")
    return src.envelope(event, "rapid_test")

EPCIS_WORDS = """\
`ObjectEvent`, action `OBSERVE`, bizStep `inspecting`: `data.lot` (when named) in
`quantityList`; one `Dimensionless` sensor report with the test item as `chemicalSubstance`, the method as
`dataProcessingMethod`, the inhibition rate as `value` in `P1` (percent) when readings are
given and the strip's `result` as `stringValue`; disposition `non_conformant` for a positive
strip, `conformant` for a negative one."""


SPEC = KindSpec(
    epcis=epcis_rapid_test, from_epcis=from_epcis_rapid_test, epcis_words=EPCIS_WORDS,
    name="rapid_test", order=130, data_schema=RapidTestData(), apply=apply_rapid_test,
    label_zh="快检", label_en="Rapid test", summary="the market's rapid-test room (快检室)",
    bizstep="inspecting", epcis_type="ObjectEvent", cte=None,
    prefetch=prefetch_test, rules=RULES, example=EXAMPLE,
    signers=Signers(roles=TESTERS, anywhere=("regulator",), parent=True,
                    relation=tester_relation, relation_words=(
                        "Never the holder of the stall whose goods are tested; a market only at "
                        "its own stalls (or its own test room, naming one of them in "
                        "`data.stall`).")),
)
