"""Who may sign an event, and where: the one check the append engine runs for every event
after the genesis, before the kind's own rules (docs/contract.md "Authority").

Each kind declares its :class:`~tracelib.kinds.spec.Signers`; :func:`authorize` enforces
the declaration and the kind's relation rule, reading only ledger state (the directory, lots,
lot edges and stock rows as of the event), so a replay of the records through the append
rules answers the same. The relation rules shared by several kinds live here too: who made a
lot (:func:`made_by`), who may recall it or lift its recall (:func:`may_recall`,
:func:`recall_relation`, :func:`release_relation`) and who may test a stall's goods
(:func:`tester_relation`).
"""

from __future__ import annotations

from ..directory import Location, Party
from ..errors import ValidationError
from ..store.states import HoldCause
from .context import AppendContext, EventView
from .spec import KindSpec

__all__ = [
    "OVERSEERS",
    "TESTERS",
    "authorize",
    "made_by",
    "may_recall",
    "recall_relation",
    "release_relation",
    "role_of",
    "tested_stall",
    "tester_relation",
]

#: Who may act on any lot anywhere: the ledger's operator and a regulator (市场监管).
OVERSEERS = ("operator", "regulator")
#: Who may test a stall's goods: its market (at its own stalls), a laboratory, a regulator.
TESTERS = ("market", "lab", "regulator")
#: An ancestor walk stops after this many lots (a lot's family is far smaller in practice).
_MAX_ANCESTORS = 100_000


def role_of(ctx: AppendContext, party: Party) -> str:
    """The party's role for authority: ``operator`` only for the ledger's operator."""
    if party.id == ctx.operator:
        return "operator"
    return "operator (not the ledger's)" if party.role == "operator" else party.role


def _holds(ctx: AppendContext, actor: str, place: Location, parent: bool) -> bool:
    if place.holder == actor:
        return True
    if parent and place.parent:
        above = ctx.location(place.parent)
        return above is not None and above.holder == actor
    return False


def authorize(ctx: AppendContext, spec: KindSpec, event: EventView) -> None:
    """Refuse the event unless its actor may sign its kind at its location, and its
    relation to the event's lots and places allows it (:class:`~tracelib.kinds.Signers`).
    Errors name ``actor`` (role and place) or the field the relation rule is about."""
    signers = spec.signers
    party = ctx.party(event.actor)
    if party is None:
        raise ValidationError(f"unregistered actor {event.actor!r}", field="actor")
    role = role_of(ctx, party)
    if signers.roles and role not in signers.roles:
        raise ValidationError(f"{event.actor} ({role}) may not sign a {spec.name} event: only "
                              f"{signers.who()}", field="actor")
    if role not in signers.anywhere:
        place = ctx.location(event.location)
        if place is None:
            raise ValidationError(f"unknown location {event.location!r}", field="location")
        if not _holds(ctx, event.actor, place, signers.parent):
            raise ValidationError(f"{event.actor!r} does not hold {place.id!r} (held by "
                                  f"{place.holder!r}) and cannot sign a {spec.name} event there",
                                  field="actor")
        if signers.location_types and place.type not in signers.location_types:
            kinds = " or ".join(signers.location_types)
            raise ValidationError(f"{event.actor} ({role}) signs a {spec.name} event at its "
                                  f"{kinds}, not at {place.type} {place.id!r}", field="location")
    if signers.relation is not None:
        signers.relation(ctx, event, party, role)


# -- who made a lot ------------------------------------------------------------------------

def made_by(ctx: AppendContext, lot: str, actor: str) -> bool:
    """Whether ``actor`` made ``lot`` or one of its ancestors: it holds the location where
    that lot's code was assigned (its origin, slaughter or transform)."""
    seen = {lot}
    todo = [lot]
    while todo and len(seen) <= _MAX_ANCESTORS:
        code = todo.pop()
        row = ctx.supply.lot(code)
        if row is not None:
            place = ctx.location(row.location)
            if place is not None and place.holder == actor:
                return True
        for parent in ctx.supply.parents(code):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return False


def may_recall(ctx: AppendContext, lot: str, actor: str, role: str) -> bool:
    """A regulator or the operator may recall any lot; any other party, voluntarily, a lot it
    made or one made from a lot it made."""
    return role in OVERSEERS or made_by(ctx, lot, actor)


def recall_relation(ctx: AppendContext, event: EventView, party: Party, role: str) -> None:
    for i, item in enumerate(event.inputs):
        if ctx.supply.lot(item.lot) is None:
            continue  # the kind's rules name the unknown lot
        if not may_recall(ctx, item.lot, party.id, role):
            raise ValidationError(
                f"{party.id} ({role}) may not recall {item.lot}: only a regulator, the operator, "
                "or the party that made it or one of its ancestors", field=f"inputs[{i}].lot")


def release_relation(ctx: AppendContext, event: EventView, party: Party, role: str) -> None:
    """A hold placed by a test is lifted by a regulator (or by a negative retest or a passing
    lab result); a hold placed by a ``hold`` event by the party that placed it or a
    regulator; a recall by a regulator, the operator or the party that recalled it."""
    for i, item in enumerate(event.inputs):
        where = f"inputs[{i}].lot"
        lot = ctx.supply.lot(item.lot)
        if lot is None:
            continue
        row = ctx.supply.stock(item.lot, event.location)
        if row is not None and row.hold_seq is not None and role != "regulator":
            if row.hold_cause == HoldCause.TEST:
                raise ValidationError(
                    f"{party.id} ({role}) may not release the hold a test put on {item.lot} at "
                    f"{event.location} (seq {row.hold_seq}): it is lifted by a negative retest or "
                    "a passing lab result from a tester, or by a regulator", field=where)
            if row.hold_by != party.id:
                raise ValidationError(
                    f"{party.id} ({role}) may not release the hold on {item.lot} at "
                    f"{event.location} (seq {row.hold_seq}): only the party that placed it "
                    f"({row.hold_by}) or a regulator", field=where)
        if (lot.recalled_seq is not None and event.data.get("scope") == "recall"
                and role not in OVERSEERS and lot.recalled_by != party.id):
            raise ValidationError(
                f"{party.id} ({role}) may not lift a recall of {item.lot}: only a regulator, "
                f"the operator, or the party that recalled it ({lot.recalled_by})", field=where)


# -- tests -----------------------------------------------------------------------------------

def tested_stall(ctx: AppendContext, event: EventView) -> Location | None:
    """The stall whose goods a test is about, when it is a registered stall: ``data.stall``,
    else the event's location when that is a stall (the kind's rules judge the rest)."""
    named = event.data.get("stall")
    if isinstance(named, str):
        place = ctx.location(named)
    else:
        place = ctx.location(event.location)
    return place if place is not None and place.type == "stall" else None


def tester_relation(ctx: AppendContext, event: EventView, party: Party, role: str) -> None:
    """Never the stall whose goods are tested; a market only at its own stalls."""
    stall = tested_stall(ctx, event)
    if stall is None:
        return
    field = "data.stall" if "stall" in event.data else "location"
    if stall.holder == party.id:
        raise ValidationError(f"{party.id} ({role}) may not test the goods of its own stall "
                              f"{stall.id}: tests are by the market, a lab or a regulator",
                              field=field)
    if role == "market":
        market = ctx.location(stall.parent) if stall.parent else None
        if market is None or market.holder != party.id:
            raise ValidationError(f"{party.id} (market) tests only at its own stalls; "
                                  f"{stall.id} is in {stall.parent or 'no market'}", field=field)
