"""Exact quantities: decimal strings on the wire, integer micro-units in the indexes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["MICRO", "LotQuantity", "format_micro", "to_micro"]

MICRO = 10**6  # events carry at most six decimals (tracelib.events)


def to_micro(qty: Decimal) -> int:
    scaled = qty * MICRO
    if scaled != scaled.to_integral_value():
        raise ValueError(f"quantity {qty} has more than six decimals")
    return int(scaled)


def format_micro(value: int) -> str:
    """``2500000`` → ``"2.5"``; ``10000000`` → ``"10"`` (no exponent, no trailing zeros)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), MICRO)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class LotQuantity:
    """One ``{lot, qty, unit}`` of an event's ``inputs`` or ``outputs``."""

    lot: str
    qty: Decimal
    unit: str
