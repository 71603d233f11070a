"""A confirmed failure held against the certificates it came from (docs/contract.md
"Producers' standing").

An origin certificate (食用农产品承诺达标合格证) promises that the goods meet the standard
("常规农药兽药残留不超标"); an entry's vouchers (合格证, 检测报告 …) vouch for goods from a
supplier outside the ledger. A failing ``lab_test`` on a lot is a confirmed failure: the
lot's ancestors through the lot edges (the lot itself included) that an ``origin`` or an
``entry`` made each get a broken-commitment row naming the certificate (or voucher) number
and the party holding the place where the lot was made. Only a failing lab result walks;
a rapid test never does (a positive rapid test is a screen, Food Safety Law art. 112).
"""

from __future__ import annotations

from ..store.commitments import MAKERS, CommitmentRow
from .context import AppendContext

__all__ = ["MAX_ANCESTORS", "break_commitments"]

#: The walk stops after this many lots, as the authority walk does (kinds/_authority.py).
MAX_ANCESTORS = 100_000


def break_commitments(ctx: AppendContext, *, test_seq: int, lot: str, stall: str | None,
                      analyte: str, day: str) -> int:
    """Record a broken commitment for every origin- or entry-made ancestor of ``lot``;
    returns how many."""
    seen = {lot}
    todo = [lot]
    found = []
    while todo and len(seen) <= MAX_ANCESTORS:
        code = todo.pop()
        row = ctx.supply.lot(code)
        if row is not None and row.kind in MAKERS:
            found.append(row)
        for parent in ctx.supply.parents(code):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    for row in sorted(found, key=lambda r: r.lot):
        place = ctx.location(row.location)
        ctx.commitments.add(CommitmentRow(
            test_seq=test_seq, source_lot=row.lot, source_seq=row.seq, source_kind=row.kind,
            tested_lot=lot, certificate_no=row.certificate_no,
            producer=place.holder if place is not None else None, location=row.location,
            stall=stall, analyte=analyte, day=day))
    return len(found)
