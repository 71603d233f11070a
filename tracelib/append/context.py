"""The append engine's view of the ledger inside one write transaction: the directory
(parties, locations, keys) and the supply, test and inspection caches, as the kinds see them through
:class:`tracelib.kinds.context.AppendContext`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from ..directory import KeyRecord, Location, Party
from ..events import Event
from ..kinds import DEFAULT_TEMPERATURE_LIMITS, KINDS, Needs
from ..store import Store
from ..store.attachments import AttachmentRow, AttachmentsSql
from ..store.witnesses import WitnessesSql, WitnessRow
from .commitments import CommitmentState
from .inspections import InspectionState
from .peers import PeerState
from .results import TestResults
from .supply import SupplyState

__all__ = ["BatchContext", "Directory"]


@dataclass(frozen=True)
class Directory:
    """Parties, locations and keys as of one directory stamp (Store.directory_stamp)."""

    parties: dict[str, Party | None]
    locations: dict[str, Location | None]
    keys: dict[str, KeyRecord | None]

    def __len__(self) -> int:
        return len(self.parties) + len(self.locations) + len(self.keys)


class BatchContext:
    """The ledger's state as seen by the event being appended (it implements
    :class:`tracelib.kinds.context.AppendContext`): the store inside the write transaction,
    overlaid with what earlier events of the same batch did."""

    def __init__(self, store: Store, conn: Connection, operator: str) -> None:
        self.store = store
        self.conn = conn
        self.operator = operator
        self._parties: dict[str, Party | None] = {}
        self._locations: dict[str, Location | None] = {}
        self._keys: dict[str, KeyRecord | None] = {}
        self._dirty: list[Party | Location | KeyRecord] = []
        self.seq = -1  # the seq of the event being applied
        self.supply = SupplyState(conn)
        self.tests = TestResults(conn)
        self.inspections = InspectionState(conn)
        self.commitments = CommitmentState(conn)
        self.peers = PeerState(conn)
        #: the attachments cited so far in this batch, written at flush
        self.cited: list[AttachmentRow] = []
        #: the witnesses registered so far in this batch, written at flush
        self.witnesses: list[WitnessRow] = []
        self.temperature_limits = dict(DEFAULT_TEMPERATURE_LIMITS)

    def directory(self) -> Directory:
        """The parties, locations and keys read or written so far (None: absent); for when
        this context is done (an adopting context copies them)."""
        return Directory(self._parties, self._locations, self._keys)

    def adopt(self, directory: Directory) -> None:
        """Start from a directory read by an earlier append at the same directory stamp."""
        self._parties = dict(directory.parties)
        self._locations = dict(directory.locations)
        self._keys = dict(directory.keys)

    def prefetch(self, events: Sequence[Event]) -> None:
        """Load in a few queries the parties, locations (with their parents), keys, lots,
        stock and shipments a chunk of events will touch."""
        want_parties = {e.actor for e in events} - self._parties.keys()
        found_parties = self.store.parties_by_id(self.conn, want_parties)
        for party_id in want_parties:
            self._parties[party_id] = found_parties.get(party_id)
        want_places = {e.location for e in events} - self._locations.keys()
        for _level in range(2):  # the events' locations, then their parents
            found_places = self.store.locations(self.conn, want_places)
            for location_id in want_places:
                self._locations[location_id] = found_places.get(location_id)
            want_places = {p.parent for p in found_places.values()
                           if p.parent is not None} - self._locations.keys()
        self.prefetch_keys(e.sig.key for e in events if e.sig is not None)
        needs = Needs()
        for event in events:
            for item in (*event.inputs, *event.outputs):
                needs.lots.add(item.lot)
                needs.places.add((item.lot, event.location))
            spec = KINDS.get(event.kind)
            if spec is not None and spec.prefetch is not None:
                spec.prefetch(event, needs)
        self.supply.prefetch(needs)
        self.tests.prefetch(needs.follow_ups)

    def prefetch_keys(self, key_ids: Iterable[str]) -> None:
        want = set(key_ids) - self._keys.keys()
        found = self.store.keys_by_id(self.conn, want)
        for key_id in want:
            self._keys[key_id] = found.get(key_id)

    def party(self, party_id: str) -> Party | None:
        if party_id not in self._parties:
            self._parties[party_id] = self.store.party(self.conn, party_id)
        return self._parties[party_id]

    def location(self, location_id: str) -> Location | None:
        if location_id not in self._locations:
            self._locations[location_id] = self.store.location(self.conn, location_id)
        return self._locations[location_id]

    def key(self, key_id: str) -> KeyRecord | None:
        if key_id not in self._keys:
            self._keys[key_id] = self.store.key(self.conn, key_id)
        return self._keys[key_id]

    def put_party(self, party: Party) -> None:
        self._parties[party.id] = party
        self._dirty.append(party)

    def put_location(self, location: Location) -> None:
        self._locations[location.id] = location
        self._dirty.append(location)

    def put_key(self, key: KeyRecord) -> None:
        self._keys[key.key_id] = key
        self._dirty.append(key)

    def revoke_key(self, key_id: str, revoked_at_us: int, seq: int) -> None:
        old = self.key(key_id)
        assert old is not None
        self.put_key(KeyRecord(old.key_id, old.party, old.public_key, old.valid_from_us,
                               old.registered_seq, revoked_at_us, seq))

    def put_witness(self, name: str, vkey: str, url: str, seq: int) -> None:
        """Register (or replace) the witness ``name`` (docs/contract.md "Witnesses")."""
        self.witnesses.append(WitnessRow(name, vkey, url, seq))

    def has_live_key(self, party_id: str, seq: int) -> bool:
        """Whether ``party_id`` has a key not revoked before ``seq``."""
        for stored in self.store.keys_of(self.conn, party_id):
            self.key(stored.key_id)  # prime the cache without overriding newer state
        return any(k is not None and k.party == party_id
                   and (k.revoked_seq is None or k.revoked_seq >= seq)
                   for k in self._keys.values())

    def cite(self, event: Event, seq: int, names: Iterable[str]) -> None:
        """Record that ``event`` (record ``seq``) cites the blobs ``names``
        (docs/contract.md "Attachments"); a name cited twice by one event counts once."""
        for name in dict.fromkeys(names):
            self.cited.append(AttachmentRow(name, seq, event.actor, event.location))

    def flush(self) -> None:
        """Write the directory and index rows changed so far (last write of a row wins)."""
        self.supply.flush()
        self.tests.flush()
        self.inspections.flush()
        self.commitments.flush()
        self.peers.flush()
        AttachmentsSql.write(self.conn, self.cited)
        self.cited.clear()
        for witness in self.witnesses:
            WitnessesSql.save_witness(self.conn, witness)
        self.witnesses.clear()
        for row in self._dirty:
            if isinstance(row, Party):
                self.store.save_party(self.conn, row)
            elif isinstance(row, Location):
                self.store.save_location(self.conn, row)
            else:
                self.store.save_key(self.conn, row)
        self._dirty.clear()
