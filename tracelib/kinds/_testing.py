"""What the testing kinds (``rapid_test``, ``lab_test``) share: where a test is about,
judging it by :mod:`tracelib.standards`, and its consequences in the same transaction:

* a positive rapid test or a failed lab result holds the tested lot at that stall
  (下架) and opens a follow-up: every failure is followed up (the demonstration-city
  target "抽检不合格食品核查处置完成率达到100%", e.g. 开州府办发〔2022〕68号);
* a negative retest or a passing lab result on a lot held by a test releases it and
  closes the follow-up (``released`` / ``cleared``); a failed lab result on a lot
  with an open follow-up confirms it (``lab_confirmed``: Food Safety Law art. 112, a
  rapid result that may fail a standard is checked by a laboratory before enforcement).

The hold is the signed test event itself: the tester's signature on the result is what
takes the lot off sale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ValidationError
from ..store.states import FollowUp, HoldCause
from .context import AppendContext, EventView
from .spec import Needs

__all__ = [
    "TEST_PLACES",
    "FollowUp",
    "check_lot",
    "hold",
    "judge",
    "open_follow_up",
    "prefetch_test",
    "release_test_holds",
    "stall_of",
]

TEST_PLACES = ("stall", "lab")
T = TypeVar("T")


def stall_of(ctx: AppendContext, event: EventView) -> str | None:
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


def judge(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a standards judgement, placing its field errors under ``data.``."""
    try:
        return call(*args, **kwargs)
    except ValidationError as e:
        raise ValidationError(e.message, field=f"data.{e.field}" if e.field else "data") from e


def check_lot(ctx: AppendContext, lot: str | None) -> None:
    if lot is not None and ctx.supply.lot(lot) is None:
        raise ValidationError(f"unknown lot {lot!r}", field="data.lot")


def hold(ctx: AppendContext, lot: str, stall: str, seq: int, reason: str, by: str) -> bool:
    """Hold ``lot`` at ``stall`` because of this test (signed by ``by``), unless it is held
    there already."""
    row = ctx.supply.stock(lot, stall)
    if row is None or row.hold_seq is not None:
        return False
    row = ctx.supply.stock_for_update(lot, stall, row.unit)
    row.hold_seq, row.hold_reason, row.hold_cause = seq, reason, HoldCause.TEST
    row.hold_by = by
    ctx.supply.add_lot_event(lot, seq)
    return True


def open_follow_up(ctx: AppendContext, lot: str, stall: str) -> str | None:
    """A failure opens a follow-up when its lot is (now, or already) held at the stall —
    a second positive on a held lot joins the open follow-up rather than being lost."""
    row = ctx.supply.stock(lot, stall)
    return FollowUp.OPEN if row is not None and row.hold_seq is not None else None


def release_test_holds(ctx: AppendContext, lot: str, stall: str | None, seq: int,
                       status: str) -> None:
    """Close open follow-ups of ``lot`` (at ``stall``) and lift the holds tests put there;
    a hold placed by a ``hold`` event or a recall stays."""
    for place in ctx.tests.close_follow_ups(lot, stall, seq, status):
        row = ctx.supply.stock(lot, place)
        if row is not None and row.hold_seq is not None and row.hold_cause == HoldCause.TEST:
            row = ctx.supply.stock_for_update(lot, place, row.unit)
            row.hold_seq = row.hold_reason = row.hold_cause = row.hold_by = None
            ctx.supply.add_lot_event(lot, seq)


def prefetch_test(event: EventView, needs: Needs) -> None:
    """A test names its lot in ``data.lot`` (not in inputs), may hold it at its stall and
    may close the lot's open follow-ups."""
    lot = event.data.get("lot")
    if isinstance(lot, str):
        needs.lots.add(lot)
        stall = event.data.get("stall")
        needs.places.add((lot, stall if isinstance(stall, str) else event.location))
        needs.follow_ups.add(lot)


def prefetch_input_follow_ups(event: EventView, needs: Needs) -> None:
    """A kind that ends a hold (``release``, ``dispose``) closes the open test follow-ups of
    the lots it acts on."""
    needs.follow_ups.update(item.lot for item in event.inputs)
