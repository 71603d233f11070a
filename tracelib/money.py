"""Money on receipts (docs/contract.md "Receipts"): yuan as decimal strings, exact.

明码标价 (the Provisions on Clearly Marked Prices, 明码标价和禁止价格欺诈规定 Art. 5): a
price is marked per unit, in yuan. A receipt line's amount is its quantity times its unit
price rounded half up to the fen (0.01 yuan); the total is the sum of the lines' amounts.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["FEN", "MAX_YUAN", "format_yuan", "line_amount", "parse_yuan"]

FEN = Decimal("0.01")
#: the largest amount a receipt line, total or payment may name: ¥99,999,999.99
MAX_YUAN = Decimal("99999999.99")
_YUAN = re.compile(r"\A(0|[1-9][0-9]{0,7})(\.[0-9]{1,4})?\Z")


def parse_yuan(text: object, *, fen_only: bool = False) -> Decimal:
    """A yuan amount from its decimal string (``"12.80"``): no sign, no exponent, at most
    four decimals (a unit price, e.g. ¥0.0350 a gram) or, with ``fen_only``, two (an amount
    paid). Raises ValueError naming what was expected."""
    if not isinstance(text, str) or not _YUAN.match(text):
        raise ValueError(f"expected yuan as a decimal string like \"12.80\", got {text!r}")
    value = Decimal(text)
    if fen_only and value != value.quantize(FEN):
        raise ValueError(f"an amount is whole fen (two decimals at most), got {text!r}")
    return value


def line_amount(qty: Decimal, unit_price: Decimal) -> Decimal:
    """What one line costs: ``qty × unit_price`` rounded half up to the fen."""
    return (qty * unit_price).quantize(FEN, rounding=ROUND_HALF_UP)


def format_yuan(value: Decimal) -> str:
    """``Decimal("9.4")`` → ``"9.40"``: always two decimals, never an exponent."""
    return f"{value.quantize(FEN, rounding=ROUND_HALF_UP):f}"
