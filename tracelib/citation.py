"""A citation of another ledger's record: the proof, checkable offline, that a record is in
a peer ledger (docs/contract.md "Peers and entries from another ledger").

A citation carries a record's bytes exactly as the peer stores them (docs/contract.md
"Record"), the peer's checkpoint — a C2SP signed note (c2sp.org/signed-note,
c2sp.org/tlog-checkpoint) — and the RFC 9162 §2.1.3 inclusion proof of the record's leaf in
that checkpoint's tree. Checking it needs no network and no database: the peer's registered
verifier key (C2SP signed-note "Verifier keys"), and, to act as the peer's witness, the
checkpoint this ledger cited last (:func:`check_extends`, RFC 9162 §2.1.4).

Invariants
----------
* :func:`accept_peer_note` never returns a checkpoint that the peer's registered key did not
  sign, or whose origin is not the peer's.
* :func:`open_cited_record` never returns a record whose bytes are not the RFC 8785
  canonical form of themselves, or whose event was not signed by the key it names.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import canonical, merkle
from .errors import ProofError, SignatureError, TracelibError, ValidationError
from .keys import VerifyKey
from .note import Checkpoint, NoteVerifier, open_cosigned_note, open_note
from .policy import parse_policy

__all__ = ["CitedRecord", "accept_peer_note", "check_extends", "check_included", "hashes_of",
           "open_cited_record"]


def accept_peer_note(note: str, origin: str, vkey: str, *, policy: str | None = None,
                     field: str) -> Checkpoint:
    """The checkpoint in ``note`` when the peer ``origin`` signed it with its registered
    verifier key ``vkey`` (C2SP signed-note "Verifying") and, when the peer was registered
    with a witness ``policy`` (C2SP tlog-policy text), its witnesses' ``cosignature/v1``
    lines meet the policy's quorum; else :class:`ValidationError` naming ``field``.

    This is the one place where a peer's checkpoint is accepted, at append, in verify's
    replay and in a drill that follows the lot into the peer."""
    wanted = None if policy is None else parse_policy(policy)
    try:
        verifier = NoteVerifier.parse(vkey)
        if wanted is None:
            text, _signers = open_note(note, [verifier])
            cosigners: set[str] = set()
        else:
            opened = open_cosigned_note(note, [verifier], wanted.cosigner_keys())
            text = opened.text
            cosigners = wanted.names_of((c.name, c.key_id) for c in opened.cosignatures)
        checkpoint = Checkpoint.parse(text)
    except SignatureError as e:
        raise SignatureError(f"the checkpoint is not signed by the registered key of peer "
                             f"{origin!r}: {e}", field=field) from e
    except ValidationError as e:
        raise ValidationError(f"the checkpoint of peer {origin!r} does not parse: {e}",
                              field=field) from e
    if checkpoint.origin != origin:
        raise ValidationError(f"the checkpoint's origin is {checkpoint.origin!r}, not the "
                              f"peer's {origin!r}", field=field)
    if wanted is not None and not wanted.satisfied(cosigners):
        raise ValidationError(f"the checkpoint of peer {origin!r} is not witnessed as its "
                              f"registration asks ({wanted.describe()}); cosigned by "
                              f"{', '.join(sorted(cosigners)) or 'none of its witnesses'}",
                              field=field)
    return checkpoint


def hashes_of(values: Sequence[str], *, field: str) -> list[bytes]:
    """Hex strings of 32-byte hashes (the API's proof form) as bytes."""
    out = []
    for i, value in enumerate(values):
        try:
            raw = bytes.fromhex(value)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"hash {i} is not hex", field=field) from e
        if len(raw) != merkle.HASH_SIZE:
            raise ValidationError(f"hash {i} has {len(raw)} bytes, expected "
                                  f"{merkle.HASH_SIZE}", field=field)
        out.append(raw)
    return out


def check_included(record: bytes, seq: int, proof: Sequence[bytes], checkpoint: Checkpoint,
                   *, field: str) -> None:
    """The record's leaf (RFC 9162 §2.1.1: ``SHA-256(0x00 || record bytes)``) is leaf
    ``seq`` of the checkpoint's tree (RFC 9162 §2.1.3.2); else :class:`ValidationError`."""
    try:
        merkle.verify_inclusion(merkle.leaf_hash(record), seq, checkpoint.size, proof,
                                checkpoint.root)
    except ProofError as e:
        raise ValidationError(f"the inclusion proof of seq {seq} in {checkpoint.origin!r} "
                              f"size {checkpoint.size} does not verify: {e}",
                              field=field) from e


def check_extends(size: int, root: bytes, checkpoint: Checkpoint, proof: Sequence[bytes], *,
                  field: str) -> None:
    """``checkpoint`` extends the tree of ``size`` and ``root`` that this ledger remembers of
    the peer (RFC 9162 §2.1.4.2): the same tree when the sizes are equal, else a verified
    consistency proof. A smaller or forked checkpoint is refused: the peer rolled back or
    showed two histories (C2SP tlog-witness: a witness never cosigns such a checkpoint)."""
    who = repr(checkpoint.origin)
    if checkpoint.size < size:
        raise ValidationError(f"the checkpoint of {who} has size {checkpoint.size}, older than "
                              f"size {size} already cited: the peer rolled back", field=field)
    if checkpoint.size == size:
        if checkpoint.root != root:
            raise ValidationError(f"the checkpoint of {who} at size {size} has another root "
                                  "than the one already cited: the peer forked", field=field)
        return
    try:
        merkle.verify_consistency(size, checkpoint.size, proof, root, checkpoint.root)
    except ProofError as e:
        raise ValidationError(f"the checkpoint of {who} (size {checkpoint.size}) is not "
                              f"consistent with size {size} already cited: {e}",
                              field=field) from e


@dataclass(frozen=True)
class CitedRecord:
    """A peer's record as its bytes say (docs/contract.md "Record")."""

    seq: int
    event: Mapping[str, Any]
    key_id: str
    signature: bytes
    #: the record's bytes, as cited
    raw: bytes

    @property
    def event_id(self) -> str:
        return str(self.event.get("id"))

    @property
    def kind(self) -> str:
        return str(self.event.get("kind"))


def decode_record(text: str, *, field: str) -> bytes:
    """A record's bytes from their base64 wire form (RFC 4648 §4)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValidationError("the record is not valid base64", field=field) from e


def open_cited_record(raw: bytes, public_key: bytes | None, *, field: str) -> CitedRecord:
    """Parse a peer's record bytes: RFC 8785 canonical JSON of ``{event, key, prev,
    recorded_at, seq, sig}``. With ``public_key``, the event's signature (Ed25519 over the
    event's canonical bytes, docs/contract.md "Signatures") must verify with it."""
    try:
        doc = canonical.loads(raw)
        if not isinstance(doc, dict) or canonical.dumps(doc) != raw:
            raise ValidationError("the record's bytes are not in their canonical form")
        event, key_id, seq, sig = doc["event"], doc["key"], doc["seq"], doc["sig"]
        if not isinstance(event, dict) or not isinstance(key_id, str) or type(seq) is not int:
            raise ValidationError("the record's event, key or seq has the wrong type")
        signature = base64.b64decode(str(sig), validate=True)
        body = canonical.dumps(event)
    except KeyError as e:
        raise ValidationError(f"the record has no {e.args[0]!r}", field=field) from e
    except (TracelibError, binascii.Error, ValueError) as e:
        raise ValidationError(f"the record does not parse: {e}", field=field) from e
    if public_key is not None:
        try:
            VerifyKey.from_bytes(public_key).verify(body, signature)
        except (TracelibError, ValueError) as e:
            raise SignatureError(f"the signature of record {seq} does not verify with key "
                                 f"{key_id}", field=field) from e
    return CitedRecord(seq, event, key_id, signature, raw)
