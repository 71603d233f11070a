"""Mass balance (精准追溯), shared by the kinds that move stock: a lot cannot leave, be
transformed or be sold beyond what is on hand at that location; stock arrives at a
destination only when received."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ValidationError
from ..quantity import LotQuantity, format_micro, to_micro
from ..store.supply import LotRow, StockRow
from ._fields import IMPORT_DOCS
from .context import AppendContext, EventView
from .spec import Needs

__all__ = ["book_out", "existing_lot", "inherit", "make", "need", "none", "shipment_rows", "take"]


def need(items: Sequence[LotQuantity], name: str, *, at_least: int) -> None:
    if len(items) < at_least:
        raise ValidationError(f"needs at least {at_least} lot(s)", field=name)


def none(items: Sequence[LotQuantity], name: str) -> None:
    if items:
        raise ValidationError("must be empty for this kind", field=name)


def existing_lot(ctx: AppendContext, item: LotQuantity, field: str) -> LotRow:
    lot = ctx.supply.lot(item.lot)
    if lot is None:
        raise ValidationError(f"unknown lot {item.lot!r}", field=field)
    if lot.unit != item.unit:
        raise ValidationError(f"lot {item.lot!r} is counted in {lot.unit!r}, not {item.unit!r}",
                              field=f"{field[:-4]}.unit" if field.endswith(".lot") else field)
    return lot


def book_out(ctx: AppendContext, event: EventView, i: int, item: LotQuantity,
             moving: str) -> tuple[StockRow, int]:
    """Take ``item`` off the stock on hand at the event's location, or reject the event
    when there is not that much there."""
    row = ctx.supply.stock(item.lot, event.location)
    have = row.on_hand if row is not None else 0
    want = to_micro(item.qty)
    if want > have:
        raise ValidationError(
            f"mass balance: {format_micro(want)} {item.unit} of {item.lot!r} cannot be {moving} "
            f"at {event.location!r}: on hand there is {format_micro(have)} {item.unit}",
            field=f"inputs[{i}].qty")
    row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
    row.on_hand -= want
    return row, want


def take(ctx: AppendContext, event: EventView, i: int, item: LotQuantity, *,
         moving: str) -> LotRow:
    """Check a lot may leave ``event.location`` in this quantity and book it out."""
    where = f"inputs[{i}]"
    lot = existing_lot(ctx, item, f"{where}.lot")
    if lot.recalled_seq is not None:
        raise ValidationError(f"lot {item.lot!r} is recalled (seq {lot.recalled_seq}); it cannot "
                              f"be {moving} until released", field=f"{where}.lot")
    row = ctx.supply.stock(item.lot, event.location)
    if row is not None and row.hold_seq is not None:
        raise ValidationError(f"lot {item.lot!r} is on hold at {event.location!r} "
                              f"({row.hold_reason}); it cannot be {moving} until released",
                              field=f"{where}.lot")
    row, want = book_out(ctx, event, i, item, moving)
    if moving == "sold":
        row.sold += want
    elif moving == "shipped":
        row.shipped += want
    else:
        row.consumed += want
    ctx.supply.add_lot_event(item.lot, ctx.seq)
    return lot


def make(ctx: AppendContext, event: EventView, i: int, item: LotQuantity, *,
         product: str | None, storage: str | None, gtin: str | None = None,
         imported: bool = False, docs: set[str] | None = None,
         certificate_no: str | None = None) -> LotRow:
    """Create a new lot at ``event.location`` (``certificate_no``: an origin's, the number
    of the certificate it is made with)."""
    if ctx.supply.lot(item.lot) is not None:
        raise ValidationError(f"lot {item.lot!r} already exists; a lot code is made once",
                              field=f"outputs[{i}].lot")
    lot = LotRow(item.lot, item.unit, product, storage, gtin, ctx.seq, event.kind,
                 event.location, imported, set(docs or ()), certificate_no=certificate_no)
    ctx.supply.add_lot(lot)
    row = ctx.supply.stock_for_update(item.lot, event.location, item.unit)
    row.received += to_micro(item.qty)
    row.on_hand += to_micro(item.qty)
    # No lot_events row: the record that makes a lot is lots.seq (SupplySql.event_seqs).
    return lot


def inherit(ctx: AppendContext, event: EventView, parents: list[LotRow],
            product: str | None) -> None:
    """Make ``event.outputs`` from ``parents``: product, storage and import status pass
    on; a made lot has an import document only when every imported parent has it."""
    products = {p.product for p in parents}
    storages = {p.storage for p in parents}
    imported = any(p.imported for p in parents)
    docs = set(IMPORT_DOCS)
    for parent in parents:
        if parent.imported:
            docs &= parent.import_docs
    for i, item in enumerate(event.outputs):
        made = make(ctx, event, i, item,
                    product=product or (products.pop() if len(products) == 1 else None),
                    storage=event.data.get("storage") or
                    (next(iter(storages)) if len(storages) == 1 else None),
                    imported=imported, docs=docs if imported else set())
        for parent in parents:
            ctx.supply.add_edge(parent.lot, made.lot, ctx.seq)


def shipment_rows(event: EventView, needs: Needs) -> None:
    """Prefetch of a kind that closes or checks a shipment: the rows of ``data.ship_event``
    for the lots of ``inputs`` (receive, reject, return)."""
    ship = event.data.get("ship_event")
    if isinstance(ship, str):
        needs.shipments.update((ship, item.lot) for item in event.inputs)
