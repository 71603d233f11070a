"""The states a derived row can be in, as stored: why stock is held, and where a failed
test's follow-up stands. Rules and views compare with these names, never with words of a
reason or a status typed again."""

from __future__ import annotations

__all__ = ["FollowUp", "HoldCause"]


class HoldCause:
    """Why stock is held at a location (``stock.hold_cause``): it decides what may lift it."""

    TEST = "test"  # a positive rapid test or a failed lab result held it
    EVENT = "hold"  # a ``hold`` event (a market's decision, a recall's holds)


class FollowUp:
    """Where a failed result's follow-up stands (``test_results.follow_up``); every failure
    is followed up until it closes."""

    OPEN = "held"  # the lot is on hold at the stall until the follow-up closes
    RELEASED = "released"  # a negative retest, or a release of the hold
    CLEARED = "cleared"  # a passing laboratory result
    CONFIRMED = "lab_confirmed"  # a failing laboratory result confirms a rapid result
    DISPOSED = "disposed"  # the stock was destroyed
    CLOSED = (RELEASED, CLEARED, CONFIRMED, DISPOSED)
