"""What a kind of event is: :class:`KindSpec`, and the registry of kinds.

A kind owns everything about itself in one module of :mod:`tracelib.kinds`: its ``data``
schema (with field descriptions), its rules at append, what its rules need read ahead,
who may sign it and where, its GS1 CBV bizStep, EPCIS event type and EPCIS 2.0 mapping, its
FSMA 204 critical tracking event and reference document, its Chinese and English labels, its
rules in words and an example. The event reference (``docs/events.md``), the recall drill's CTE rows and
the report's kind names are generated from these specs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from marshmallow import Schema

from ..errors import ValidationError

if TYPE_CHECKING:
    from ..cbv import EpcisMap, FromEpcis
    from ..directory import Party
    from .context import AppendContext, EventView

__all__ = ["ANY_ROLE", "KINDS", "CteFacts", "KindSpec", "Needs", "Signers", "facts_at_location",
           "kind_spec", "register_kind", "unregister_kind"]

#: A kind's rules at append: (context, event, seq). Raise ValidationError to reject.
Apply = Callable[["AppendContext", "EventView", int], None]
#: What a kind's rules will read besides the lots of ``inputs`` and ``outputs`` at the
#: event's location (those the engine reads ahead for every kind).
Prefetch = Callable[["EventView", "Needs"], None]
#: The blob names (``sha256:<64 hex>``) one event's ``data`` cites, in the order it cites them.
Attachments = Callable[[Mapping[str, Any]], Sequence[str]]
#: A kind's rule on the signer's relation to the lots and places its event names:
#: (context, event, signer's party, signer's role). Raise ValidationError to refuse.
Relation = Callable[["AppendContext", "EventView", "Party", str], None]

#: :attr:`Signers.roles` for a kind any registered party may sign (where it may act).
ANY_ROLE: tuple[str, ...] = ()

_ROLE_NAMES = {"operator": "the operator", "regulator": "a regulator", "farm": "a farm",
               "importer": "an importer", "wholesaler": "a wholesaler", "abattoir": "an abattoir",
               "carrier": "a carrier", "market": "a market", "stall": "a stall", "lab": "a lab"}


def role_name(role: str) -> str:
    """A role in words: ``regulator`` → "a regulator"."""
    return _ROLE_NAMES.get(role, f"a {role}")


def _any_of(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


@dataclass(frozen=True)
class Signers:
    """Who may sign one kind of event, and where (docs/contract.md "Authority").

    The signer is the event's ``actor`` (the key's party). Its role must be one of
    :attr:`roles` (:data:`ANY_ROLE`: any registered party); the role ``operator`` is only
    ever the ledger's operator. It acts at the event's ``location`` when it holds that
    location — or, with :attr:`parent`, holds the location it is part of (a market at its
    stalls) — unless its role is one of :attr:`anywhere` (a regulator, the operator, a
    carrier picking up). Then :attr:`relation` judges its relation to the lots and places
    the event names, against the ledger's state before the event. Everything read is
    ledger state, so replaying the records through the same rules gives the same answer.
    """

    #: party roles that may sign the kind; ANY_ROLE: any registered party
    roles: tuple[str, ...] = ANY_ROLE
    #: roles that may sign it at any location (not only one they hold)
    anywhere: tuple[str, ...] = ()
    #: a party may also act at a location whose parent it holds (a market at its stalls)
    parent: bool = False
    #: location types the signer's own location must have (the others: any); a role in
    #: ``anywhere`` is not bound by it
    location_types: tuple[str, ...] = ()
    #: the rule on the signer's relation to the event's lots and places, if any
    relation: Relation | None = None
    #: that rule in words, Markdown, for the event reference ("Who may sign")
    relation_words: str = ""

    def who(self) -> str:
        """The roles that may sign, in words: "a market, a lab or a regulator"."""
        if not self.roles:
            return "any registered party"
        return _any_of([role_name(r) for r in self.roles])

    def describe(self) -> str:
        """Who may sign and where, in words (Markdown), for the event reference."""
        held = "a location it holds" + (" or whose parent it holds" if self.parent else "")
        if self.location_types:
            held += " (of type " + _any_of([f"`{t}`" for t in self.location_types]) + ")"
        bound = [r for r in self.roles if r not in self.anywhere] if self.roles else None
        parts = []
        if bound is None:
            parts.append(f"Any registered party, at {held}")
        elif bound:
            parts.append(_any_of([role_name(r) for r in bound]).capitalize() + f", at {held}")
        if self.anywhere:
            free = _any_of([role_name(r) for r in self.anywhere])
            parts.append((free if parts else free.capitalize()) + ", anywhere")
        text = "; ".join(parts) + "."
        if self.relation_words:
            text += " " + self.relation_words
        return text


@dataclass
class Needs:
    """What one chunk of events will read, gathered before its rules run, so the append
    engine reads it in a few statements instead of one per event."""

    lots: set[str] = field(default_factory=set)
    #: (lot, location) pairs whose stock rows are read
    places: set[tuple[str, str]] = field(default_factory=set)
    #: (ship event id, lot) pairs whose shipment rows are read
    shipments: set[tuple[str, str]] = field(default_factory=set)
    #: lots whose open test follow-ups are read
    follow_ups: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class CteFacts:
    """How one event appears as a critical tracking event of an FSMA 204 sortable
    spreadsheet (21 CFR 1.1455(c)): where from, where to, and the reference document."""

    source: str
    target: str
    reference_type: str
    reference_number: str


def facts_at_location(doc: Mapping[str, Any]) -> CteFacts:
    """The CTE facts of an event that moves nothing between places: from and to its
    location, its own id as the reference (any kind without a document of its own)."""
    return CteFacts(doc["location"], doc["location"], f"{doc['kind']} event", doc["id"])


@dataclass(frozen=True)
class KindSpec:
    """Everything about one kind of event. Build one per module of :mod:`tracelib.kinds`
    (named ``SPEC``); :func:`register_kind` adds others at run time."""

    name: str
    data_schema: Schema
    #: the rules at append, run inside the write transaction in seq order
    apply: Apply | None
    label_zh: str
    label_en: str
    #: the title of the kind's section in the event reference: what it is, in a few words
    summary: str
    #: the rules in words, Markdown, for the event reference
    rules: str
    #: one wire-form example (unsigned), validated and shown in the event reference
    example: Mapping[str, Any]
    #: who may sign it and where (docs/contract.md "Authority"), enforced at append
    signers: Signers
    #: the page order of the event reference
    order: int = 1000
    #: GS1 CBV 2.0 §7.2 bizStep of the event in EPCIS, or None when there is no fitting one
    bizstep: str | None = None
    #: EPCIS 2.0 event type (ObjectEvent, TransformationEvent, …); None: not an EPCIS event
    epcis_type: str | None = None
    #: the kind's EPCIS 2.0 mapping (the export, ``tracelib epcis export``): a stored event
    #: to one EPCIS event (built with :mod:`tracelib.cbv`); None: the kind has no EPCIS event
    epcis: EpcisMap | None = None
    #: the mapping in words (or why there is none), Markdown, for the event reference
    epcis_words: str = ""
    #: the reverse mapping (``tracelib epcis import``, ``POST /epcis/capture``): an EPCIS 2.0
    #: event and the master data to read its names back (:class:`tracelib.cbv.EpcisSources`)
    #: to this kind's event fields, or :class:`tracelib.cbv.Refusal` with the reason; None:
    #: the kind is never imported
    from_epcis: FromEpcis | None = None
    #: FSMA 204 critical tracking event (21 CFR 1.1325-1.1350) the kind records, if any
    cte: str | None = None
    #: where from, where to and which document, for the drill's CTE rows
    cte_facts: Callable[[Mapping[str, Any]], CteFacts] = facts_at_location
    #: what the rules read besides the lots of inputs and outputs at the event's location
    prefetch: Prefetch | None = None
    #: the attachments an event's ``data`` cites: ``sha256:<64 hex>`` names of files in the
    #: ledger's blob store (docs/contract.md "Attachments"); None: the kind cites none
    attachments: Attachments | None = None


KINDS: dict[str, KindSpec] = {}


def register_kind(spec: KindSpec) -> KindSpec:
    """Add a kind to the registry (a kind's name is registered once)."""
    if spec.name in KINDS and KINDS[spec.name] is not spec:
        raise ValueError(f"kind {spec.name!r} is already registered")
    KINDS[spec.name] = spec
    return spec


def unregister_kind(name: str) -> None:
    """Remove a kind added by :func:`register_kind` (tests, plug-ins being unloaded)."""
    KINDS.pop(name, None)


def kind_spec(name: str) -> KindSpec:
    try:
        return KINDS[name]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ValidationError(f"unknown kind {name!r}; expected one of: {known}",
                              field="kind") from None
