"""Testing kinds: ``rapid_test`` (the market's rapid-test room, 快检室) and ``lab_test``
(residue results from a laboratory), judged by :mod:`tracelib.standards`, with their
consequences applied in the same transaction:

* a positive rapid test or a failed lab result holds the tested lot at that stall
  (下架) and opens a follow-up (100 % of failures are followed up: DESIGN.md §5);
* a negative retest or a passing lab result on a lot held by a test releases it and
  closes the follow-up (``released`` / ``cleared``); a failed lab result on a lot
  with an open follow-up confirms it (``lab_confirmed``, Food Safety Law: a rapid
  result is confirmed by a lab method before enforcement).

The hold is the signed test event itself: the tester's (the market's) signature
on the result is what takes the lot off sale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from marshmallow import INCLUDE, Schema, fields, validate

from ..errors import ValidationError
from ..events import ID_PATTERN
from ..standards import judge_lab, judge_rapid
from . import KindSpec, register_kind

if TYPE_CHECKING:
    from ..events import Event
    from ..ledger import AppendContext

_id = validate.Regexp(ID_PATTERN, error="must be 1-200 characters without control characters")
_text = validate.Length(min=1, max=200)
TEST_PLACES = ("stall", "lab")
T = TypeVar("T")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class Readings(Schema):
    delta_a0 = fields.String(required=True, validate=validate.Length(min=1, max=20))
    delta_at = fields.String(required=True, validate=validate.Length(min=1, max=20))


class Instrument(_Open):
    model = fields.String(validate=_text)
    serial = fields.String(validate=_text)


class RapidTestData(_Open):
    sample = fields.String(required=True, validate=_text)
    item = fields.String(required=True, validate=_text)
    method = fields.String(required=True, validate=_text)
    tester = fields.String(required=True, validate=_text)
    readings = fields.Nested(Readings)
    result = fields.String(validate=validate.OneOf(("negative", "suspect", "positive")))
    lot = fields.String(validate=_id)
    stall = fields.String(validate=_id)
    commodity = fields.String(validate=_text)
    reviewer = fields.String(validate=_text)
    instrument = fields.Nested(Instrument)
    retest = fields.Boolean()
    test_no = fields.String(validate=_text)


class LabTestData(_Open):
    analyte = fields.String(required=True, validate=_text)
    commodity = fields.String(required=True, validate=_text)
    value = fields.String(required=True, validate=validate.Length(min=1, max=40))
    unit = fields.String(required=True, validate=validate.Length(min=1, max=10))
    lab = fields.String(required=True, validate=_text)
    report_no = fields.String(required=True, validate=_text)
    lot = fields.String(validate=_id)
    stall = fields.String(validate=_id)
    sample = fields.String(validate=_text)
    method = fields.String(validate=_text)


def _stall_of(ctx: AppendContext, event: Event) -> str | None:
    """The stall a test is about: the event's location when it is a stall, else data.stall."""
    here = ctx.location(event.location)
    if here is None or here.type not in TEST_PLACES:
        raise ValidationError(f"a test happens at a stall or a lab, not at "
                              f"{here.type if here else 'an unknown location'} "
                              f"{event.location!r}", field="location")
    stall = event.data.get("stall") or (event.location if here.type == "stall" else None)
    if stall is not None:
        place = ctx.location(stall)
        if place is None or place.type != "stall":
            raise ValidationError(f"{stall!r} is not a registered stall", field="data.stall")
    return stall


def _judge(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a standards judgement, placing its field errors under ``data.``."""
    try:
        return call(*args, **kwargs)
    except ValidationError as e:
        raise ValidationError(e.message, field=f"data.{e.field}" if e.field else "data") from e


def _check_lot(ctx: AppendContext, lot: str | None) -> None:
    if lot is not None and ctx.supply.lot(lot) is None:
        raise ValidationError(f"unknown lot {lot!r}", field="data.lot")


def _hold(ctx: AppendContext, lot: str, stall: str, seq: int, reason: str) -> bool:
    row = ctx.supply.stock(lot, stall)
    if row is None or row.hold_seq is not None:
        return False
    row = ctx.supply.stock_for_update(lot, stall, row.unit)
    row.hold_seq, row.hold_reason = seq, reason
    ctx.supply.add_lot_event(lot, seq)
    return True


def _open_follow_up(ctx: AppendContext, lot: str, stall: str) -> str | None:
    """A failure opens a follow-up when its lot is (now, or already) held at the stall —
    a second positive on a held lot joins the open follow-up rather than being lost."""
    row = ctx.supply.stock(lot, stall)
    return "held" if row is not None and row.hold_seq is not None else None


def close_follow_ups(ctx: AppendContext, lot: str, stall: str | None, seq: int,
                     status: str) -> list[str]:
    """Set the status of the open follow-ups of ``lot`` (at ``stall``, or anywhere);
    return the stalls they were at."""
    return ctx.tests.close_follow_ups(lot, stall, seq, status)


def _release(ctx: AppendContext, lot: str, stall: str | None, seq: int, status: str) -> None:
    """Close open follow-ups of ``lot`` (at ``stall``) and lift the holds tests put there."""
    for place in close_follow_ups(ctx, lot, stall, seq, status):
        row = ctx.supply.stock(lot, place)
        if row is not None and row.hold_seq is not None and (row.hold_reason or "").startswith(
                ("快检", "检测")):
            row = ctx.supply.stock_for_update(lot, place, row.unit)
            row.hold_seq = row.hold_reason = None
            ctx.supply.add_lot_event(lot, seq)


def apply_rapid_test(ctx: AppendContext, event: Event, seq: int) -> None:
    data = event.data
    stall = _stall_of(ctx, event)
    lot = data.get("lot")
    _check_lot(ctx, lot)
    if "readings" not in data and "result" not in data:
        raise ValidationError("give readings {delta_a0, delta_at} (enzyme inhibition) or a "
                              "result (strips)", field="data.readings")
    verdict = _judge(judge_rapid, data["item"], data["method"], data.get("readings"),
                     data.get("result"), commodity=data.get("commodity"))
    result, rate, item_ = verdict.result, verdict.rate, verdict.item
    follow_up = None
    if result == "positive" and lot is not None and stall is not None:
        _hold(ctx, lot, stall, seq, f"快检阳性 rapid test positive: {item_.name_zh}")
        follow_up = _open_follow_up(ctx, lot, stall)
    if result == "negative" and data.get("retest") and lot is not None:
        _release(ctx, lot, stall, seq, "released")
    ctx.tests.add(
        seq=seq, event_id=event.id, kind="rapid", stall=stall, location=event.location,
        lot=lot, day=event.time.date().isoformat(), time=event.time_text,
        item=item_.name_zh, method=data["method"], sample=data["sample"],
        commodity=data.get("commodity"), rate=None if rate is None else str(rate),
        result=result, value_mg_kg=None, limit_mg_kg=None, table_version=None,
        retest=int(bool(data.get("retest"))),
        residue=int(item_.kind == "enzyme" or item_.must_not_detect),
        follow_up=follow_up, explanation="; ".join(verdict.reasons))


def apply_lab_test(ctx: AppendContext, event: Event, seq: int) -> None:
    data = event.data
    stall = _stall_of(ctx, event)
    lot = data.get("lot")
    _check_lot(ctx, lot)
    on: date = event.time.date()
    verdict = _judge(judge_lab, data["analyte"], data["commodity"], data["value"], data["unit"],
                     on, ctx.tests.limits())
    outcome = verdict.verdict
    follow_up = None
    if outcome == "fail" and lot is not None:
        close_follow_ups(ctx, lot, None, seq, "lab_confirmed")
        if stall is not None:
            _hold(ctx, lot, stall, seq, f"检测不合格 lab result failed: {data['analyte']}")
            follow_up = _open_follow_up(ctx, lot, stall)
    elif outcome == "pass" and lot is not None:
        _release(ctx, lot, stall, seq, "cleared")
    ctx.tests.add(
        seq=seq, event_id=event.id, kind="lab", stall=stall, location=event.location, lot=lot,
        day=on.isoformat(), time=event.time_text, item=data["analyte"],
        method=data.get("method"), sample=data.get("sample"), commodity=data["commodity"],
        rate=None, result=outcome, value_mg_kg=str(verdict.value_mg_kg),
        limit_mg_kg=None if verdict.limit_mg_kg is None else str(verdict.limit_mg_kg),
        table_version=verdict.table_version, retest=0, residue=1,
        follow_up=follow_up, explanation=verdict.explanation)


register_kind(KindSpec("rapid_test", "inspecting", RapidTestData(), apply_rapid_test))
register_kind(KindSpec("lab_test", "sampling", LabTestData(), apply_lab_test))
