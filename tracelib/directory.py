"""Who may sign, and where: parties, locations and keys as registered in the ledger.

These rows are derived from ``register`` events (signed by the operator key, the
root of trust, as in TUF) and kept as indexes; ``verify()`` re-derives key
history from the events themselves rather than trusting the index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["LOCATION_TYPES", "ROLES", "KeyRecord", "Location", "Party"]

# docs/contract.md "Roles and location types". "office" is an additive location type
# for the operator's and regulators' own seats (the genesis event's location).
ROLES = ("operator", "farm", "abattoir", "carrier", "importer", "wholesaler", "market",
         "stall", "lab", "regulator")
LOCATION_TYPES = ("farm", "abattoir", "coldstore", "port", "warehouse", "wholesale_market",
                  "market", "stall", "supermarket", "canteen", "restaurant", "lab", "office")


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    role: str
    seq: int


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str
    type: str
    parent: str | None
    holder: str | None
    seq: int
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An Ed25519 public key of a party, valid from ``valid_from_us`` until revoked."""

    key_id: str
    party: str
    public_key: bytes
    valid_from_us: int
    registered_seq: int
    revoked_at_us: int | None = None
    revoked_seq: int | None = None

    def problem_at(self, *, actor: str, seq: int, time_us: int) -> str | None:
        """Why this key may not sign the record ``seq`` of ``actor`` recorded at
        ``time_us``, or None when it may: the key valid when the record was made.

        The key must belong to the actor, be registered at an earlier seq, be valid
        from before the record time, and not be revoked (by an earlier record) as of
        that time. The record time, not the event's claimed time, is what counts, so
        hops can be recorded after the fact and a backdated event cannot revive a
        revoked key."""
        if self.party != actor:
            return f"key {self.key_id} belongs to {self.party!r}, not to the actor {actor!r}"
        if self.registered_seq >= seq:
            return f"key {self.key_id} is registered at seq {self.registered_seq}, after this record"
        if time_us < self.valid_from_us:
            return f"key {self.key_id} is not valid until after this record's time"
        if (self.revoked_at_us is not None and self.revoked_seq is not None
                and self.revoked_seq < seq and time_us >= self.revoked_at_us):
            return f"key {self.key_id} was revoked (at seq {self.revoked_seq}) as of this record's time"
        return None
