"""The ``register`` kind: parties, locations and keys enter the ledger, signed by the operator.

Key rotation is a ``register`` adding the new key (and, when the old one must stop,
a ``revoke`` entry); revocation names the moment from which the key is no longer
trusted. Both are operator-signed events, so who-may-sign is itself in the chain.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow
from marshmallow import RAISE, Schema, fields, validate, validates_schema

from ..bounds import MAX_ID, MAX_POLICY, MAX_TEXT
from ..cbv import gs1_check_digit_ok
from ..directory import LOCATION_TYPES, ROLES, KeyRecord, Location, Party
from ..errors import ValidationError
from ..ids import ID_PATTERN
from ..keys import key_id as compute_key_id
from ..note import CosignatureVerifier, NoteVerifier
from ..policy import parse_policy
from ..store.peers import PeerRow
from ..timeutil import parse_rfc3339, to_micros
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

_id = validate.Regexp(ID_PATTERN, error=f"must be 1-{MAX_ID} characters without control characters")
_text = validate.Length(min=1, max=MAX_TEXT)
#: a payment link template: https, no spaces or quotes, braces only around the placeholders
PAYMENT_URL = r"\A(?=.{1,500}\Z)https://[^\s\"'<>{}]+(?:\{(?:amount|order|stall)\}[^\s\"'<>{}]*)*\Z"


class PartySchema(Schema):
    """A party: someone who acts and signs (a farm, a carrier, a stall, the operator, …)."""

    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=_id, metadata={
        "description": "the party's id: the `actor` of its events"})
    name = fields.String(required=True, validate=_text, metadata={
        "description": "its name, as shown on pages and reports"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES), metadata={
        "description": "what it is in the chain; the operator's role cannot change"})


class LocationSchema(Schema):
    """A location: where events happen and stock is counted. A `gln` ends in its GS1 mod-10
    check digit, and a `gln_extension` needs a `gln`."""

    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=_id, metadata={
        "description": "the location's id: the `location` of events there"})
    name = fields.String(required=True, validate=_text, metadata={
        "description": "its name, as shown on pages and reports"})
    type = fields.String(required=True, validate=validate.OneOf(LOCATION_TYPES), metadata={
        "description": "what kind of place it is; sales happen only at a `stall`, a "
                       "`supermarket`, a `canteen` or a `restaurant`, tests at a `stall` or a "
                       "`lab`"})
    parent = fields.String(validate=_id, metadata={
        "description": "the location it is part of (a stall's market); must already be "
                       "registered, or be earlier in this event's `locations`"})
    holder = fields.String(validate=_id, metadata={
        "description": "the party that holds it (a stall's keeper); must already be "
                       "registered, or be in this event's `parties`"})
    # 亮证亮照: business licence 营业执照 and food business licence 食品经营许可证 numbers.
    licences = fields.Dict(
        keys=fields.String(validate=validate.Length(max=50)),
        values=fields.String(validate=_text),
        metadata={"description": "licence numbers shown on the stall page (亮证亮照): "
                                 "`business` (营业执照), `food` (食品经营许可证)"})
    address = fields.String(validate=_text, metadata={"description": "its postal address"})
    # FSMA 204 "location description" (21 CFR 1.1310): business name, phone, physical address.
    phone = fields.String(validate=validate.Length(min=1, max=50), metadata={
        "description": "its business telephone number, shown in the FSMA 204 sheet's "
                       "location descriptions (`tracelib report fsma`)"})
    gln = fields.String(validate=validate.Regexp(r"\A\d{13}\Z", error="must be 13 digits"), metadata={
        "description": "its GS1 Global Location Number (13 digits, GS1 General Specifications "
                       "§3.4.10): exported EPCIS events name it `https://id.gs1.org/414/{gln}`"})
    gln_extension = fields.String(validate=validate.Regexp(
        r"\A[!%-?A-Z_a-z\x22]{1,20}\Z", error="must be 1-20 characters of GS1 AI encodable "
                                               "character set 82"), metadata={
        "description": "with `gln`: its GLN extension component (AI 254), naming a place "
                       "within the GLN's location (`…/414/{gln}/254/{extension}`)"})
    number = fields.String(validate=validate.Length(min=1, max=50), metadata={
        "description": "the stall number in its market, e.g. `A01`"})
    # docs/contract.md "The market board": the board is published on time when the day's first
    # rapid test is recorded before the market opens (07:00 when not given).
    opening_time = fields.String(validate=validate.Regexp(
        r"\A([01][0-9]|2[0-3]):[0-5][0-9]\Z", error="must be a local time HH:MM, e.g. 06:30"),
        metadata={"description": "on a `market` or `wholesale_market` only: when it opens, "
                                 "`HH:MM` local time (default `07:00`); its board is on time "
                                 "when the day's first rapid test is recorded before then"})
    # 学校食堂: a school's canteen, named apart in drills and recalls (docs/contract.md
    # "Roles and location types"). Only a JSON true or false, only on a canteen.
    # docs/contract.md "Peers and entries from another ledger": a place of this ledger that
    # stands for a receiving point of a peer ledger; a ship to it leaves this ledger.
    peer = fields.String(validate=_text, metadata={
        "description": "the checkpoint origin line of the peer ledger this location stands "
                       "for: a receiving point there with the same id; shipments to it enter "
                       "that ledger by a `peer_entry`, and drills follow them there"})
    # docs/contract.md "Payments": the market's aggregated-payment cashier, shopper-facing.
    payment_url = fields.String(validate=validate.Regexp(
        PAYMENT_URL, error="must be an https:// URL of at most 500 characters whose only "
                           "placeholders are {{amount}}, {{order}} and {{stall}}"), metadata={
        "description": "on a stall or a market: the payment link the stall page's 付款 and "
                       "the receipt page's 付款 ¥{total} open, an `https://` URL template with "
                       "`{amount}` (yuan), `{order}` (the receipt id) and `{stall}` "
                       "placeholders; a stall without one uses its market's"})
    school = fields.Boolean(truthy={True}, falsy={False}, metadata={
        "description": "on a `canteen` only: `true` for a school's canteen (学校食堂), which "
                       "drills and recalls name among the schools reached"})

    @validates_schema
    def _gln_rules(self, data: dict[str, Any], **_: Any) -> None:
        # GS1 General Specifications §7.9: the last digit of a GLN is its mod-10 check digit
        if "gln" in data and not gs1_check_digit_ok(data["gln"]):
            raise marshmallow.ValidationError("its check digit is wrong (GS1 mod-10)", "gln")
        if "gln_extension" in data and "gln" not in data:
            raise marshmallow.ValidationError("a GLN extension needs a gln", "gln_extension")

    @validates_schema(pass_original=True)
    def _school_on_canteen(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        given = original.get("school") if isinstance(original, dict) else None
        if "school" in data and type(given) is not bool:  # 1 and 0 equal True and False
            raise marshmallow.ValidationError("must be true or false", "school")
        if "opening_time" in data and data.get("type") not in ("market", "wholesale_market"):
            raise marshmallow.ValidationError(
                f"only a market has an opening time, not a {data.get('type')}", "opening_time")
        if "payment_url" in data and data.get("type") not in ("stall", "market",
                                                               "wholesale_market"):
            raise marshmallow.ValidationError(
                f"only a stall or a market has a payment link, not a {data.get('type')}",
                "payment_url")
        if "school" in data and data.get("type") != "canteen":
            raise marshmallow.ValidationError(
                f"only a canteen is a school's canteen, not a {data.get('type')}", "school")


class KeySchema(Schema):
    """A party's Ed25519 public key; rotation registers the successor."""

    class Meta:
        unknown = RAISE

    party = fields.String(required=True, validate=_id, metadata={
        "description": "the party the key signs for; must already be registered, or be in "
                       "this event's `parties`"})
    key_id = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{16}\Z"), metadata={
        "description": "the first 8 bytes of SHA-256 of the raw public key, in hex; must "
                       "match `public_key` and be new to the ledger"})
    public_key = fields.String(required=True, metadata={
        "description": "the raw 32-byte Ed25519 public key, base64"})
    valid_from = fields.String(required=True, metadata={
        "description": "RFC 3339 time from which the key may sign"})


class RevokeSchema(Schema):
    """A key revocation."""

    class Meta:
        unknown = RAISE

    key_id = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{16}\Z"), metadata={
        "description": "the key to revoke: registered and not yet revoked"})
    revoked_at = fields.String(required=True, metadata={
        "description": "RFC 3339 time from which the key is no longer trusted"})
    reason = fields.String(validate=_text, metadata={
        "description": "why, e.g. `lost device` or `rotation`"})


class WitnessSchema(Schema):
    """A witness that cosigns this ledger's checkpoints (C2SP tlog-witness): registering a
    name again replaces its key and URL (docs/contract.md "Witnesses")."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=_id, metadata={
        "description": "the witness's name in this ledger, as witness policies and `tracelib "
                       "witness list` name it"})
    vkey = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT), metadata={
        "description": "its C2SP verifier key: `<key name>+<hex key id>+<base64(0x04 || "
                       "32-byte Ed25519 key)>` (C2SP tlog-cosignature, cosignature/v1)"})
    url = fields.String(required=True, validate=validate.Regexp(
        r"\Ahttps?://[^\s/]+[^\s]*\Z", error="must be an http:// or https:// URL"), metadata={
        "description": "its C2SP tlog-witness submission prefix: checkpoints are sent to "
                       "`<url>/add-checkpoint`"})


class PeerSchema(Schema):
    """Another ledger whose lots may enter this one (docs/contract.md "Peers and entries from
    another ledger"): its checkpoints' origin line, the C2SP verifier key they are signed with
    and its API's base URL."""

    class Meta:
        unknown = RAISE

    origin = fields.String(required=True, validate=_text, metadata={
        "description": "the peer's checkpoint origin line (C2SP tlog-checkpoint), e.g. "
                       "`tracelib/city-a`"})
    vkey = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT), metadata={
        "description": "the C2SP signed-note verifier key of its checkpoints, "
                       "`<origin>+<hex id>+<base64 key>` (`tracelib checkpoint vkey` in the peer)"})
    url = fields.String(required=True, validate=validate.Regexp(
        r"\Ahttps?://[^\s]{1,490}\Z", error="must be an http:// or https:// URL"), metadata={
        "description": "the base URL of the peer's service, where its API answers under "
                       "`/api/v1`"})
    policy = fields.String(validate=validate.Length(min=1, max=MAX_POLICY), metadata={
        "description": "a witness policy in C2SP tlog-policy form (`witness`, `group` and "
                       "`quorum` lines): a checkpoint of the peer is accepted only with "
                       "cosignatures that meet its quorum; without it, the peer's own "
                       "signature suffices"})


#: What a register event may name, at least one of them.
_PARTS = ("parties", "locations", "keys", "revoke", "witnesses", "peers")


class RegisterData(Schema):
    """At least one of ``parties``, ``locations``, ``keys``, ``revoke``, ``witnesses`` and
    ``peers`` is not empty; they are applied in that order, each list in its own order."""

    class Meta:
        unknown = RAISE

    parties = fields.List(fields.Nested(PartySchema), validate=validate.Length(max=10_000),
                          metadata={"description": "parties to register"})
    locations = fields.List(fields.Nested(LocationSchema), validate=validate.Length(max=10_000),
                            metadata={"description": "locations to register"})
    keys = fields.List(fields.Nested(KeySchema), validate=validate.Length(max=10_000),
                       metadata={"description": "public keys to register"})
    revoke = fields.List(fields.Nested(RevokeSchema), validate=validate.Length(max=10_000),
                         metadata={"description": "keys to revoke; the operator's last valid "
                                                  "key cannot be revoked"})
    witnesses = fields.List(fields.Nested(WitnessSchema), validate=validate.Length(max=100),
                            metadata={"description": "witnesses that cosign the ledger's "
                                                     "checkpoints (C2SP tlog-witness)"})
    peers = fields.List(fields.Nested(PeerSchema), validate=validate.Length(max=1_000),
                        metadata={"description": "peer ledgers whose shipments may enter this "
                                                 "one by a `peer_entry`; registering a peer "
                                                 "again replaces its key and URL"})

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data.get(k) for k in _PARTS):
            raise marshmallow.ValidationError(
                "a register event must name parties, locations, keys, revoke, witnesses or "
                "peers")


def decode_public_key(value: str, *, field: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValidationError("public key is not valid base64", field=field) from e
    if len(raw) != 32:
        raise ValidationError(f"Ed25519 public key must be 32 bytes, got {len(raw)}", field=field)
    return raw


def apply_register(ctx: AppendContext, event: EventView, seq: int) -> None:
    """Apply a register event in order: parties, then locations, keys, revocations."""
    data = event.data
    for i, item in enumerate(data.get("parties", [])):
        known = ctx.party(item["id"])
        ctx.put_party(Party(item["id"], item["name"], item["role"], seq))
        if item["id"] == ctx.operator and item["role"] != "operator":
            raise ValidationError("the operator's role cannot change", field=f"data.parties[{i}].role")
        if item["id"] != ctx.operator and item["role"] == "operator":
            # The operator's authority (docs/contract.md "Authority") is the ledger's own.
            raise ValidationError(f"only the ledger's operator {ctx.operator!r} has the role "
                                  f"operator, not {item['id']!r}", field=f"data.parties[{i}].role")
        if known is not None and known.role != item["role"]:
            # Authority follows the role (docs/contract.md "Authority"): a party keeps the
            # role it was registered with; another role is another party.
            raise ValidationError(f"party {item['id']!r} is registered as {known.role}; its role "
                                  f"cannot change to {item['role']}",
                                  field=f"data.parties[{i}].role")
    for i, item in enumerate(data.get("locations", [])):
        where = f"data.locations[{i}]"
        if "parent" in item and ctx.location(item["parent"]) is None:
            raise ValidationError(f"unknown parent location {item['parent']!r}", field=f"{where}.parent")
        if "holder" in item and ctx.party(item["holder"]) is None:
            raise ValidationError(f"unknown holder party {item['holder']!r}", field=f"{where}.holder")
        details = {k: v for k, v in item.items()
                   if k not in ("id", "name", "type", "parent", "holder")}
        ctx.put_location(Location(item["id"], item["name"], item["type"], item.get("parent"),
                                  item.get("holder"), seq, details))
    for i, item in enumerate(data.get("keys", [])):
        where = f"data.keys[{i}]"
        if ctx.party(item["party"]) is None:
            raise ValidationError(f"unknown party {item['party']!r}", field=f"{where}.party")
        raw = decode_public_key(item["public_key"], field=f"{where}.public_key")
        expected = compute_key_id(raw)
        if item["key_id"] != expected:
            raise ValidationError(f"key id does not match the public key: expected {expected}, "
                                  f"got {item['key_id']}", field=f"{where}.key_id")
        if ctx.key(expected) is not None:
            raise ValidationError(f"key {expected} is already registered", field=f"{where}.key_id")
        valid_from = to_micros(parse_rfc3339(item["valid_from"], field=f"{where}.valid_from"))
        ctx.put_key(KeyRecord(expected, item["party"], raw, valid_from, seq))
    for i, item in enumerate(data.get("revoke", [])):
        where = f"data.revoke[{i}]"
        record = ctx.key(item["key_id"])
        if record is None:
            raise ValidationError(f"unknown key {item['key_id']!r}", field=f"{where}.key_id")
        if record.revoked_seq is not None:
            raise ValidationError(f"key {item['key_id']} is already revoked", field=f"{where}.key_id")
        at = to_micros(parse_rfc3339(item["revoked_at"], field=f"{where}.revoked_at"))
        ctx.revoke_key(item["key_id"], at, seq)
        if record.party == ctx.operator and not ctx.has_live_key(ctx.operator, seq + 1):
            raise ValidationError("this would revoke the operator's last valid key; register its "
                                  "successor first", field=f"{where}.key_id")
    for i, item in enumerate(data.get("witnesses", [])):
        # docs/contract.md "Witnesses": the key must be an Ed25519 cosignature/v1 vkey (C2SP
        # tlog-cosignature, type 0x04); the operator alone signs register events.
        try:
            CosignatureVerifier.parse(item["vkey"])
        except ValidationError as e:
            raise ValidationError(str(e), field=f"data.witnesses[{i}].vkey") from e
        ctx.put_witness(item["name"], item["vkey"], item["url"].rstrip("/"), seq)
    for i, item in enumerate(data.get("peers", [])):
        where = f"data.peers[{i}]"
        try:
            verifier = NoteVerifier.parse(item["vkey"])
        except ValidationError as e:
            raise ValidationError(f"not a C2SP verifier key: {e}", field=f"{where}.vkey") from e
        if verifier.name != item["origin"]:
            # C2SP tlog-checkpoint: a log's checkpoints are signed under its origin line.
            raise ValidationError(f"the verifier key is named {verifier.name!r}, not the "
                                  f"peer's origin {item['origin']!r}", field=f"{where}.origin")
        policy = item.get("policy")
        if policy is not None:
            try:
                parse_policy(policy)
            except ValidationError as e:
                raise ValidationError(f"not a C2SP tlog-policy: {e}",
                                      field=f"{where}.policy") from e
        ctx.peers.put_peer(PeerRow(item["origin"], item["vkey"], item["url"], seq, policy))
    if ctx.location(event.location) is None:
        raise ValidationError(f"unknown location {event.location!r}", field="location")


RULES = """\
Signed by the operator, the party named at `tracelib init --operator` (who-may-sign is itself
in the chain). A party keeps the role it was registered with, and only the operator has the
role `operator`. A `register` event may name as its `location` a location it registers itself,
and may register parties, the locations they hold and their keys in one event. A location's
`parent` and `holder` must exist; only a `canteen` may say `school` (`true` for a school's
canteen, 学校食堂). A key's party must exist and its `key_id` must match its public key. Key
rotation registers the successor key, then revokes the old one; the operator's last valid key
cannot be revoked. A witness's `vkey` must be a C2SP Ed25519 cosignature/v1 verifier key
(type 0x04); registering a witness name again replaces its key and URL. A peer (`peers`) is
another ledger: its checkpoint origin line, a C2SP verifier key named by that origin, and its
service's URL, and optionally the witness policy (C2SP tlog-policy) its checkpoints must meet;
registering it again replaces them."""

EXAMPLE = {'id': 'reg-demo-sites',
 'kind': 'register',
 'time': '2026-11-22T05:00:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'yunyang-amr.office',
 'data': {'locations': [{'id': 'stall-a01',
                         'name': '张记蔬菜',
                         'type': 'stall',
                         'parent': 'market-yy01',
                         'holder': 'stall-a01',
                         'number': 'A01',
                         'licences': {'business': '92500235MA61XK0A01',
                                      'food': 'JY15002350012345'}}]}}

SPEC = KindSpec(
    epcis_words=('None: master data (parties, locations, keys), not a business event. Its '
                 "locations' `gln` names them in exported events."),
    name="register", order=0, data_schema=RegisterData(), apply=apply_register,
    label_zh="登记", label_en="Registration",
    summary="parties, locations, keys, witnesses and peers (operator only)",
    bizstep=None, epcis_type=None, cte=None, rules=RULES, example=EXAMPLE,
    signers=Signers(roles=("operator",), anywhere=("operator",)),
)
