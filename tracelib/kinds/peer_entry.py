"""``peer_entry``: lots shipped in a peer ledger enter this one at the receiving point they
were shipped to, citing the peer's ``ship`` record with the proof that it is in the peer's
log (docs/contract.md "Peers and entries from another ledger").

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`. The checks of the citation itself (signed note, inclusion and consistency
proofs, the record's bytes and signature) are :mod:`tracelib.citation`'s; they need no
network, so a replay runs them again exactly as the append did."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from ..bounds import MAX_TEXT
from ..cbv import EpcisNames, object_event, source_dest
from ..citation import (
    accept_peer_note,
    check_extends,
    check_included,
    decode_record,
    hashes_of,
    open_cited_record,
)
from ..errors import ValidationError
from ..quantity import to_micro
from ..store.peers import PeerCheckpoint, PeerCitation
from ._fields import RECEIVING_TYPES, STORAGE, OpenData, id_field, text
from ._stock import make, need, none
from .context import AppendContext, EventView
from .spec import CteFacts, KindSpec, Signers

#: Most hashes in a proof: a tree of 2**64 leaves needs 64 (RFC 9162 §2.1.3, §2.1.4).
_MAX_PROOF = 64
#: Most characters of a cited record's base64 or a checkpoint note.
_MAX_CITED = 200_000

_hex32 = validate.Regexp(r"\A[0-9a-f]{64}\Z", error="must be 64 lowercase hex digits")


def _proof(description: str, *, required: bool = True) -> fields.List[str]:
    return fields.List(fields.String(validate=_hex32), required=required,
                       validate=validate.Length(max=_MAX_PROOF),
                       metadata={"description": description})


class CitationSchema(Schema):
    """The peer's record, checkpoint and proofs, as the peer's API gives them."""

    class Meta:
        unknown = RAISE

    checkpoint = fields.String(required=True, validate=validate.Length(min=1, max=_MAX_CITED),
                               metadata={"description": "a checkpoint of the peer: its C2SP "
                                                        "signed note, as `GET /api/v1/checkpoint` "
                                                        "(text/plain) gives it"})
    ship_record = fields.String(required=True, validate=validate.Length(min=1, max=_MAX_CITED),
                                metadata={"description": "the peer's `ship` record: its stored "
                                                         "bytes (docs/contract.md \"Record\"), "
                                                         "base64"})
    ship_proof = _proof("the inclusion proof of the ship record's leaf in the checkpoint's "
                        "tree (RFC 9162 §2.1.3), hex hashes")
    key_record = fields.String(required=True, validate=validate.Length(min=1, max=_MAX_CITED),
                               metadata={"description": "the peer's `register` record that "
                                                        "registered the key the ship is signed "
                                                        "with, base64"})
    key_proof = _proof("the inclusion proof of the key record in the same tree, hex hashes")
    consistency = _proof("the consistency proof (RFC 9162 §2.1.4) from the peer's checkpoint "
                         "this ledger cited last to this one; empty or absent for the first "
                         "citation of the peer or the same checkpoint", required=False)


class PeerEntryData(OpenData):
    peer = fields.String(required=True, validate=text(MAX_TEXT), metadata={
        "description": "the peer ledger's checkpoint origin line, as registered in `peers`"})
    ship_event = fields.String(required=True, validate=id_field(), metadata={
        "description": "the id of the peer's `ship` event that sent the lots here"})
    ship_seq = fields.Integer(required=True, strict=True, validate=validate.Range(min=1),
                              metadata={"description": "that ship record's seq in the peer's "
                                                       "ledger"})
    product = fields.String(required=True, validate=text(), metadata={
        "description": "the product, as the lots are named here"})
    storage = fields.String(validate=validate.OneOf(STORAGE), metadata={
        "description": "how the lots are kept"})
    citation = fields.Nested(CitationSchema, required=True, metadata={
        "description": "the proof that the ship is in the peer's log"})


def apply_peer_entry(ctx: AppendContext, event: EventView, seq: int) -> None:
    """docs/contract.md "Peers and entries from another ledger", rules 1-6."""
    none(event.inputs, "inputs")
    need(event.outputs, "outputs", at_least=1)
    data = event.data
    origin = data["peer"]
    cite = data["citation"]
    peer = ctx.peers.peer(origin)
    if peer is None:  # rule 1: only a registered peer
        raise ValidationError(f"unknown peer {origin!r}: the operator registers it first "
                              "(`tracelib peer add`)", field="data.peer")
    # Rule 2: the checkpoint is signed by the peer's registered key.
    checkpoint = accept_peer_note(cite["checkpoint"], origin, peer.vkey, policy=peer.policy,
                                  field="data.citation.checkpoint")
    # Rule 6, first: each ship enters once (before its lots would clash with those it made).
    cited = ctx.peers.citation(origin, data["ship_event"])
    if cited is not None:
        raise ValidationError(f"ship {data['ship_event']!r} of {origin!r} already entered at "
                              f"seq {cited.seq}", field="data.ship_event")
    # Rule 3: the ship record is leaf ship_seq of that checkpoint's tree.
    ship_raw = decode_record(cite["ship_record"], field="data.citation.ship_record")
    check_included(ship_raw, data["ship_seq"], hashes_of(cite["ship_proof"],
                                                         field="data.citation.ship_proof"),
                   checkpoint, field="data.citation.ship_proof")
    key_raw = decode_record(cite["key_record"], field="data.citation.key_record")
    key_doc = open_cited_record(key_raw, None, field="data.citation.key_record")
    check_included(key_raw, key_doc.seq, hashes_of(cite["key_proof"],
                                                   field="data.citation.key_proof"),
                   checkpoint, field="data.citation.key_proof")
    # Rule 4: the ship is signed by a key of its actor, registered in the peer's log before it.
    ship = open_cited_record(ship_raw, None, field="data.citation.ship_record")
    public_key = _registered_key(key_doc.event, key_doc.kind, ship.key_id,
                                 str(ship.event.get("actor")))
    if key_doc.seq >= data["ship_seq"]:
        raise ValidationError(f"the key record (seq {key_doc.seq}) is not before the ship "
                              f"(seq {data['ship_seq']})", field="data.citation.key_record")
    ship = open_cited_record(ship_raw, public_key, field="data.citation.ship_record")
    # Rule 5: a ship of these lots and quantities to this receiving point.
    _same_shipment(event, ship.event, ship.seq, data)
    # Rule 6: the checkpoint is the one cited last or extends it (witnessing the peer).
    last = ctx.peers.checkpoint(origin)
    if last is not None:
        check_extends(last.size, last.root, checkpoint,
                      hashes_of(cite.get("consistency", []), field="data.citation.consistency"),
                      field="data.citation.consistency")
    if last is None or checkpoint.size > last.size:
        ctx.peers.put_checkpoint(PeerCheckpoint(origin, checkpoint.size, checkpoint.root, seq))
    ctx.peers.add_citation(PeerCitation(origin, data["ship_event"], data["ship_seq"], seq))
    for i, item in enumerate(event.outputs):
        make(ctx, event, i, item, product=data["product"], storage=data.get("storage"))


def _registered_key(register: Mapping[str, Any], kind: str, key_id: str, actor: str) -> bytes:
    """The public key ``key_id`` of ``actor`` as the peer's ``register`` event registers it."""
    if kind != "register":
        raise ValidationError(f"the key record is a {kind!r} event, not a register",
                              field="data.citation.key_record")
    keys = register.get("data", {}).get("keys", [])
    for item in keys if isinstance(keys, list) else []:
        if isinstance(item, Mapping) and item.get("key_id") == key_id:
            if item.get("party") != actor:
                raise ValidationError(f"key {key_id} is registered for {item.get('party')!r}, "
                                      f"not the ship's actor {actor!r}",
                                      field="data.citation.key_record")
            return base64.b64decode(str(item.get("public_key")))
    raise ValidationError(f"the key record does not register key {key_id}",
                          field="data.citation.key_record")


def _same_shipment(event: EventView, ship: Mapping[str, Any], seq: int,
                   data: Mapping[str, Any]) -> None:
    where = "data.citation.ship_record"
    if seq != data["ship_seq"]:  # the field that disagrees with the evidence is named
        raise ValidationError(f"the cited record is seq {seq}, not {data['ship_seq']}",
                              field="data.ship_seq")
    if ship.get("kind") != "ship":
        raise ValidationError(f"the cited record is a {ship.get('kind')!r} event, not a ship",
                              field=where)
    if ship.get("id") != data["ship_event"]:
        raise ValidationError(f"the cited record is event {ship.get('id')!r}, not "
                              f"{data['ship_event']!r}", field="data.ship_event")
    to = ship.get("data", {}).get("to")
    if to != event.location:
        raise ValidationError(f"the ship went to {to!r}, not to this receiving point "
                              f"{event.location!r}", field="location")
    shipped = {}
    try:
        for item in ship.get("inputs", []):
            shipped[str(item["lot"])] = (to_micro(Decimal(str(item["qty"]))), str(item["unit"]))
    except (KeyError, TypeError, ArithmeticError, ValueError) as e:
        raise ValidationError(f"the ship's inputs do not parse: {e}", field=where) from e
    entering = {item.lot: (to_micro(item.qty), item.unit) for item in event.outputs}
    if entering != shipped:
        want = ", ".join(f"{lot} {q[0] / 1_000_000:g} {q[1]}" for lot, q in sorted(shipped.items()))
        raise ValidationError(f"the outputs must be the lots and quantities shipped: {want}",
                              field="outputs")


RULES = """\
Lots shipped in a peer ledger enter this one (docs/contract.md "Peers and entries from another
ledger"). No `inputs`; `outputs`: exactly the lots, quantities and units of the peer's `ship`,
made here (their codes stay the same). At append, with no network:

1. `data.peer` is a peer the operator registered (`register` `peers`);
2. `citation.checkpoint` is a C2SP checkpoint of that origin signed by the peer's registered
   verifier key;
3. `citation.ship_record` is the record at `ship_seq` of that checkpoint's tree (its inclusion
   proof, RFC 9162 §2.1.3), and `citation.key_record` is in the same tree;
4. the ship's event is signed by a key of its actor that the key record (an earlier `register`
   of the peer) registers;
5. it is a `ship` with id `ship_event` to this event's `location`;
6. the ship has not entered before, and the checkpoint is the one cited last for the peer or
   extends it (`citation.consistency`, RFC 9162 §2.1.4): this ledger witnesses the peer and
   refuses a peer that rolled back or forked."""


EXAMPLE = {
    "id": "pentry-b-mkt-20261122-01", "kind": "peer_entry",
    "time": "2026-11-22T09:10:00+08:00", "actor": "market-b", "location": "market-b",
    "outputs": [{"lot": "IMP-20261120-01-B", "qty": "400", "unit": "kg"}],
    "data": {"peer": "tracelib/city-a", "ship_event": "ship-a-to-b-01", "ship_seq": 12,
             "product": "冻牛肉", "storage": "frozen",
             "citation": {"checkpoint": "tracelib/city-a\n14\n" + "A" * 43 + "=\n\n"
                                        "— tracelib/city-a " + "B" * 96 + "\n",
                          "ship_record": "eyJldmVudCI6e319", "ship_proof": ["ab" * 32],
                          "key_record": "eyJldmVudCI6e319", "key_proof": ["cd" * 32]}},
}


def epcis_peer_entry(doc: Mapping[str, Any], names: EpcisNames) -> dict[str, Any]:
    """Lots received from another ledger's shipment: received, made here as class-level lots."""
    data = doc["data"]
    event = object_event(doc, names, action="ADD", step="receiving", disp="in_progress",
                         items=doc.get("outputs", []))
    event["destinationList"] = source_dest("destination", names.places(doc["location"]))
    event["tracelib:peer"] = data["peer"]
    event["tracelib:peerShipEvent"] = data["ship_event"]
    event["tracelib:product"] = data["product"]
    return event


EPCIS_WORDS = """\
`ObjectEvent`, action `ADD` (the lots made here), bizStep `receiving`, disposition
`in_progress`: the `outputs` in `quantityList`, this location in `destinationList`; the peer's
origin and ship event as `tracelib:peer` and `tracelib:peerShipEvent`. Not read back by
EPCIS capture: a citation is built from the peer's API (`tracelib peer receive`)."""


SPEC = KindSpec(
    epcis=epcis_peer_entry, epcis_words=EPCIS_WORDS,
    name="peer_entry", order=16, data_schema=PeerEntryData(), apply=apply_peer_entry,
    label_zh="跨账本进货", label_en="Entry from a peer ledger",
    summary="lots shipped in another ledger enter this one, citing the shipment",
    bizstep="receiving", epcis_type="ObjectEvent", cte="receiving",
    cte_facts=lambda doc: CteFacts(doc["data"]["peer"], doc["location"],
                                   "peer ship event", doc["data"]["ship_event"]),
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(parent=True, location_types=RECEIVING_TYPES, relation_words=(
        "The holder of the receiving point the peer's ship went to, or of its parent.")),
)
