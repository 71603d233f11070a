"""The states a derived row can be in, as stored: why stock is held, where a failed test's
follow-up stands, an inspection's result and where its rectification stands. Rules and views
compare with these names, never with words of a reason or a status typed again."""

from __future__ import annotations

__all__ = ["FollowUp", "HeldByTest", "HoldCause", "InspectionResult", "Rectification"]


class HoldCause:
    """Why stock is held at a location (``stock.hold_cause``): it decides what may lift it."""

    TEST = "test"  # a positive rapid test or a failed lab result held it
    EVENT = "hold"  # a ``hold`` event (a market's decision, a recall's holds)


class HeldByTest:
    """The reason a test's own hold records (``stock.hold_reason``; ledger state, replayed,
    so never reworded): a positive rapid test or a failing lab result, then the item or
    analyte. :meth:`read` gives it back in parts, for a page to say it in its reader's
    language."""

    RAPID_POSITIVE = "快检阳性 rapid test positive: "
    LAB_FAILED = "检测不合格 lab result failed: "
    _OUTCOMES = (("rapid_positive", RAPID_POSITIVE), ("lab_failed", LAB_FAILED))

    @classmethod
    def read(cls, reason: str | None) -> tuple[str, str] | None:
        """``("rapid_positive" | "lab_failed", item)``, or None for any other reason."""
        for outcome, prefix in cls._OUTCOMES:
            if reason is not None and reason.startswith(prefix):
                return outcome, reason[len(prefix):]
        return None


class FollowUp:
    """Where a failed result's follow-up stands (``test_results.follow_up``); every failure
    is followed up until it closes."""

    OPEN = "held"  # the lot is on hold at the stall until the follow-up closes
    RELEASED = "released"  # a negative retest, or a release of the hold
    CLEARED = "cleared"  # a passing laboratory result
    CONFIRMED = "lab_confirmed"  # a failing laboratory result confirms a rapid result
    DISPOSED = "disposed"  # the stock was destroyed
    CLOSED = (RELEASED, CLEARED, CONFIRMED, DISPOSED)


class InspectionResult:
    """An inspection's result (``inspections.result``), the three outcomes of a
    日常监督检查: 符合, 基本符合, 不符合."""

    COMPLIANT = "compliant"  # 符合
    BASICALLY_COMPLIANT = "basically_compliant"  # 基本符合: rectify by the deadline
    NON_COMPLIANT = "non_compliant"  # 不符合: rectify by the deadline
    ALL = (COMPLIANT, BASICALLY_COMPLIANT, NON_COMPLIANT)


class Rectification:
    """Where an inspection's rectification (整改) stands (``inspections.rectification``);
    an inspection found compliant has none."""

    OPEN = "open"  # not compliant; nothing reported yet
    REPORTED = "reported"  # the inspected place's holder reported it rectified
    CLOSED = "closed"  # a regulator confirmed the rectification
