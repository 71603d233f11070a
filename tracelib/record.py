"""A ledger record: one event as stored, chained to its predecessor.

The record's bytes — the Merkle leaf — are RFC 8785 canonical JSON of
``{"event", "key", "prev", "recorded_at", "seq", "sig"}`` with the event's own
canonical bytes embedded. The record hash is the RFC 9162 leaf hash
``SHA-256(0x00 || record bytes)``; ``prev`` is the previous record's hash
(32 zero bytes for seq 0), so deleting, inserting or reordering a record breaks
the chain at a known seq (QLDB / immudb style).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import canonical
from .merkle import leaf_hash

if TYPE_CHECKING:
    from .events import Event

__all__ = ["GENESIS_PREV", "Record", "record_bytes"]

GENESIS_PREV = bytes(32)


def record_bytes(seq: int, prev_hash: bytes, body: bytes, key_id: str, signature: bytes,
                 recorded_at: str) -> bytes:
    """The canonical record bytes (keys in RFC 8785 order; every value but ``event`` is ASCII)."""
    return b"".join((
        b'{"event":', body,
        b',"key":"', key_id.encode("ascii"),
        b'","prev":"', prev_hash.hex().encode("ascii"),
        b'","recorded_at":"', recorded_at.encode("ascii"),
        b'","seq":', str(seq).encode("ascii"),
        b',"sig":"', base64.b64encode(signature),
        b'"}',
    ))


@dataclass(frozen=True)
class Record:
    seq: int
    event_id: str
    kind: str
    actor: str
    location: str
    event_time: str
    prev_hash: bytes
    hash: bytes
    body: bytes
    key_id: str
    signature: bytes
    recorded_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Record:
        return cls(int(row["seq"]), row["event_id"], row["kind"], row["actor"], row["location"],
                   row["event_time"], bytes(row["prev_hash"]), bytes(row["hash"]),
                   bytes(row["body"]), row["key_id"], bytes(row["signature"]),
                   row["recorded_at"])

    def to_row(self) -> dict[str, Any]:
        return {"seq": self.seq, "event_id": self.event_id, "kind": self.kind,
                "actor": self.actor, "location": self.location, "event_time": self.event_time,
                "prev_hash": self.prev_hash, "hash": self.hash, "body": self.body,
                "key_id": self.key_id, "signature": self.signature,
                "recorded_at": self.recorded_at}

    def leaf_bytes(self) -> bytes:
        return record_bytes(self.seq, self.prev_hash, self.body, self.key_id, self.signature,
                            self.recorded_at)

    def computed_hash(self) -> bytes:
        return leaf_hash(self.leaf_bytes())

    def event(self) -> Event:
        from .events import Event  # marshmallow: not for verify's workers, which never call it

        return Event.from_stored(self.body, self.key_id, self.signature)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for `tracelib show` and the API."""
        return {"seq": self.seq, "hash": self.hash.hex(), "prev": self.prev_hash.hex(),
                "recorded_at": self.recorded_at, "key": self.key_id,
                "event": {**canonical.loads(self.body),
                          "sig": {"key": self.key_id,
                                  "value": base64.b64encode(self.signature).decode("ascii")}}}
