"""The ledger: append signed events to a hash chain and an RFC 9162 Merkle tree.

Invariants (checked again by :func:`tracelib.verify.verify_ledger`):

* records are numbered 0, 1, 2, … (``seq`` is the Merkle leaf index);
* each record carries the previous record's hash; record 0 carries 32 zero bytes;
* every record's event is signed by a key of its actor, registered at an earlier
  seq by the operator and valid at the event's time (record 0, the genesis
  ``register``, is signed by the operator key it registers);
* every perfect subtree of level >= 1 is stored once, when its last leaf is appended;
* checkpoints are signed C2SP tlog-checkpoints, each consistent with the one before.

Appends are serialized (one writer), run in one transaction (a large import may commit
in pieces, see :meth:`Ledger.append`), and are idempotent by event id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from . import merkle
from .append import DirectoryCache, Progress, Receipt, append_events
from .blobs import BlobStore, default_blobs
from .directory import KeyRecord, Location, Party
from .errors import (
    IntegrityError,
    NotFoundError,
    ProofError,
    RollbackError,
    SignatureError,
    StorageError,
    TracelibError,
    ValidationError,
)
from .events import Event, sign_event
from .keys import Keystore, SigningKey, VerifyKey
from .note import Checkpoint, NoteVerifier, open_note, sign_note
from .record import GENESIS_PREV, Record
from .signer import RememberedCheckpoint, SignerMemory
from .store import Store
from .store.attachments import AttachmentRow, AttachmentsSql
from .store.engine import display_url, sqlite_file
from .timeutil import format_utc, utcnow

if TYPE_CHECKING:
    from .replay import ReindexReport
    from .verify import VerifyReport

__all__ = ["ConsistencyProof", "InclusionProof", "Ledger", "Receipt", "SignedCheckpoint"]


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str
    created_at: str

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.checkpoint.origin, "size": self.size, "root": self.root.hex(),
                "note": self.note, "created_at": self.created_at}


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3 inclusion proof of record ``seq`` in the tree of ``size`` records."""

    seq: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes
    checkpoint: str | None = None

    def verify(self) -> None:
        merkle.verify_inclusion(self.leaf_hash, self.seq, self.size, self.proof, self.root)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "size": self.size, "leaf_hash": self.leaf_hash.hex(),
                "proof": [h.hex() for h in self.proof], "root": self.root.hex(),
                "checkpoint": self.checkpoint}


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 consistency proof that tree ``size2`` extends tree ``size1``."""

    size1: int
    size2: int
    proof: tuple[bytes, ...]
    root1: bytes
    root2: bytes

    def verify(self) -> None:
        merkle.verify_consistency(self.size1, self.size2, self.proof, self.root1, self.root2)

    def to_dict(self) -> dict[str, Any]:
        return {"size1": self.size1, "size2": self.size2, "proof": [h.hex() for h in self.proof],
                "root1": self.root1.hex(), "root2": self.root2.hex()}


class Ledger:
    """A tracelib ledger in a database. Open with :meth:`open`, create with :meth:`create`."""

    def __init__(self, store: Store, *, operator: str, origin: str,
                 blobs: BlobStore | None = None) -> None:
        self.store = store
        #: the attachments' blob store (docs/contract.md "Attachments")
        self.blobs = blobs if blobs is not None else BlobStore(default_blobs(store.url))
        self.operator = operator
        self.origin = origin
        # The newest checkpoint's size as the last proof read it: the guess that lets the
        # next proof ask for its nodes with the head (Ledger.inclusion_proof).
        self._signed_size_seen: int | None = None
        # The directory the last append read, with the stamp it is valid for: the next
        # append starts from it instead of reading ~3 rows per party again (a market's
        # thousand parties on every 10,000-event append) when no register event came since.
        self._directory: DirectoryCache | None = None

    # -- life cycle -----------------------------------------------------------
    @classmethod
    def create(cls, db: str | os.PathLike[str], *, operator_key: SigningKey,
               operator: str = "operator", operator_name: str | None = None,
               origin: str | None = None, now: datetime | None = None,
               blobs: str | os.PathLike[str] | None = None) -> Ledger:
        """Create the schema and the genesis record: the operator, its office and its key,
        in a ``register`` event signed by that key (the ledger's root of trust). ``blobs``
        is the attachments' folder (default: beside the database, :func:`default_blobs`)."""
        store = Store(db)
        try:
            store.migrate()
            origin = origin or f"tracelib/{operator}"
            Checkpoint(origin, 0, merkle.EMPTY_ROOT)  # validates the origin line
            with store.writer() as conn:
                if store.get_meta(conn, "operator") is not None:
                    raise ValidationError("this database already holds a tracelib ledger",
                                          field="db")
                store.put_meta(conn, "operator", operator)
                store.put_meta(conn, "origin", origin)
                store.put_meta(conn, "operator_key", operator_key.public.base64())
        except BaseException:
            store.close()  # do not leak the engine's connections
            raise
        ledger = cls(store, operator=operator, origin=origin,
                     blobs=None if blobs is None else BlobStore(blobs))
        moment = now or utcnow()
        when = moment.isoformat()
        office = ledger.office
        genesis = {
            "id": f"genesis-{operator}", "kind": "register", "time": when,
            "actor": operator, "location": office,
            "data": {
                "parties": [{"id": operator, "name": operator_name or operator,
                             "role": "operator"}],
                "locations": [{"id": office, "name": operator_name or operator,
                               "type": "office", "holder": operator}],
                "keys": [{"party": operator, "key_id": operator_key.key_id,
                          "public_key": operator_key.public.base64(), "valid_from": when}],
            },
        }
        ledger.append([sign_event(genesis, operator_key)], now=moment)
        return ledger

    @classmethod
    def open(cls, db: str | os.PathLike[str], *,
             blobs: str | os.PathLike[str] | None = None) -> Ledger:
        """Open the ledger in ``db``; ``blobs`` is the attachments' folder (default: beside
        the database, :func:`tracelib.blobs.default_blobs`). A SQLite file that does not
        exist is not created: opening is not creating (``Ledger.create``)."""
        missing = sqlite_file(db)
        if missing is not None and not missing.exists():
            raise NotFoundError(f"no tracelib ledger at {display_url(db)}; run `tracelib "
                                "init` first")
        store = Store(db)
        try:
            revision = store.schema_revision()
            if revision is None:
                raise NotFoundError(f"no tracelib ledger at {store.url}; run `tracelib init` "
                                    "first")
            with store.reader() as conn:
                operator = store.get_meta(conn, "operator")
                origin = store.get_meta(conn, "origin")
        except BaseException:
            store.close()  # do not leak the engine's connections
            raise
        if operator is None or origin is None:
            store.close()
            raise NotFoundError(f"the ledger at {store.url} was never initialised")
        return cls(store, operator=operator, origin=origin,
                   blobs=None if blobs is None else BlobStore(blobs))

    @property
    def office(self) -> str:
        """The operator's own location, where its register events happen."""
        return f"{self.operator}.office"

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- append ---------------------------------------------------------------
    def append(self, events: Iterable[Event | Mapping[str, Any]], *,
               now: datetime | None = None, lines: Sequence[int] | None = None,
               progress: Progress | None = None, pause_gc: bool = False,
               hold_seconds: float | None = None,
               committed: Progress | None = None,
               require_attachments: bool = False,
               signed_here: Mapping[str, SigningKey] | None = None) -> list[Receipt]:
        """Append signed events in one transaction and return one receipt per event.

        The same id with the same bytes returns the original receipt; with other
        bytes it raises ConflictError. Any rejected event rejects the whole batch
        (nothing is stored) with an error naming the event, its position (or
        ``lines[i]``) and the field. ``pause_gc`` pauses Python's cyclic garbage
        collector for the append (process-wide: for bulk imports that own their process,
        such as ``tracelib append``).

        A large import passes ``hold_seconds``: it then commits whenever its transaction
        has held the write lock that long, and lets other writers in before it goes on, so
        API writes keep working. A rejected event then rejects the events since the last
        commit and all after it; what was committed stays, and appending the same events
        again continues where it stopped. ``committed(n)`` is told after each commit how
        many events are settled (see :func:`tracelib.append.append_events`).

        With ``require_attachments``, an event citing a blob that :attr:`blobs` does not
        hold is refused (docs/integrity.md "Attachments": a check outside the ledger's
        rules, which the API and ``tracelib append`` make).

        ``signed_here`` holds the keys (key id → signing key) the caller signed events with
        itself: such a signature by the registered key is checked by making it again, at a
        third of the cost of verifying it (see :func:`tracelib.append.append_events`).
        """
        receipts, self._directory = append_events(
            self.store, self.operator, events, now=now, lines=lines, progress=progress,
            cached=self._directory, pause_gc=pause_gc, hold_seconds=hold_seconds,
            committed=committed,
            blobs_present=self.blobs.has if require_attachments else None,
            signed_here=signed_here)
        return receipts

    # -- reads ----------------------------------------------------------------
    @property
    def size(self) -> int:
        with self.store.reader() as conn:
            return self.store.size(conn)

    def record(self, seq: int) -> Record:
        if seq < 0:
            raise NotFoundError(f"no record at seq {seq}")
        with self.store.reader() as conn:
            return Record.from_row(self.store.record_row(conn, seq))

    def record_for_event(self, event_id: str) -> Record:
        with self.store.reader() as conn:
            return Record.from_row(self.store.record_row_by_event(conn, event_id))

    def party(self, party_id: str) -> Party | None:
        with self.store.reader() as conn:
            return self.store.party(conn, party_id)

    def location(self, location_id: str) -> Location | None:
        with self.store.reader() as conn:
            return self.store.location(conn, location_id)

    def store_children(self, location_id: str) -> list[Location]:
        """The locations whose parent is ``location_id`` (a market's stalls)."""
        with self.store.reader() as conn:
            return self.store.child_locations(conn, location_id)

    def signing_key(self, keystore: Keystore, party_id: str) -> SigningKey:
        """The newest key of ``party_id`` in ``keystore`` that this ledger has registered
        and not revoked (a key saved but not yet registered is never chosen)."""
        live = {k.key_id for k in self.keys_of(party_id) if k.revoked_seq is None}
        entries = sorted((e for e in keystore.entries() if e.party == party_id),
                         key=lambda e: (e.created_at, e.key_id), reverse=True)
        for entry in entries:
            if entry.key_id in live:
                return keystore.load(entry.key_id)[1]
        raise NotFoundError(f"the keystore {keystore.path} has no registered, unrevoked key "
                            f"for {party_id!r}")

    def citations(self, blob: str) -> list[AttachmentRow]:
        """The records citing blob ``blob`` (docs/contract.md "Attachments"), oldest first."""
        with self.store.reader() as conn:
            return AttachmentsSql.citing(conn, blob)

    def cited_blobs(self) -> Iterator[tuple[str, int]]:
        """Every blob the ledger cites once, with the first record citing it, by name."""
        with self.store.reader() as conn:
            yield from AttachmentsSql.names(conn)

    def keys_of(self, party_id: str) -> list[KeyRecord]:
        with self.store.reader() as conn:
            return self.store.keys_of(conn, party_id)

    # -- Merkle tree ----------------------------------------------------------
    def _root(self, conn: Connection, size: int) -> bytes:
        plan = merkle.root_plan(size)
        return _fold_root(plan, self.store.get_nodes(conn, plan), size)

    def _build(self, conn: Connection, plan: Sequence[Sequence[merkle.NodeId]]) -> list[bytes]:
        return _assemble(plan, self.store.get_nodes(conn, merkle.plan_nodes(plan)))

    def root(self, size: int | None = None) -> bytes:
        with self.store.reader() as conn:
            current = self.store.size(conn)
            size = current if size is None else size
            _check_size(size, current)
            return self._root(conn, size)

    def inclusion_proof(self, seq: int, size: int | None = None) -> InclusionProof:
        """Prove record ``seq`` is in the tree of ``size`` records (default: the latest
        checkpoint that covers it, else the current size), in O(log n) reads."""
        # The head (size, checkpoints) and every node the proof needs. What they read is never
        # changed by a later append, so they need no common snapshot, and the nodes are asked
        # for with the head when the tree size can be guessed (the size asked for, else the
        # newest checkpoint's seen last time): one round trip unless a checkpoint was signed
        # since. At a signed size the root is the checkpoint's (a proof built from altered
        # subtree hashes then fails against it); at any other size it is folded from the
        # stored subtree hashes.
        def wanted(tree_size: int,
                   signed: bool) -> tuple[list[list[merkle.NodeId]], set[merkle.NodeId]]:
            """The proof's plan at ``tree_size`` and every node it reads (with the root's
            subtree hashes unless the root is a signed one)."""
            plan = merkle.inclusion_proof_plan(seq, tree_size)
            roots = [] if signed else merkle.root_plan(tree_size)
            return plan, {*merkle.plan_nodes(plan), *roots, (0, seq)}

        def read(conn: Connection) -> InclusionProof:
            guess = size if size is not None else self._signed_size_seen
            if guess is not None and 0 <= seq < guess:
                head, found = self.store.head_and_nodes(conn, size,
                                                        wanted(guess, size is None)[1])
            else:
                head, found = self.store.head(conn, size), {}
            if size is None:
                self._signed_size_seen = head.latest_size
                if head.latest_size is not None and seq < head.latest_size:
                    tree_size, note, signed = head.latest_size, head.latest_note, head.latest_root
                else:
                    tree_size, note, signed = head.size, None, None
            else:
                _check_size(size, head.size)
                tree_size, note, signed = size, head.note_at_size, head.root_at_size
            if not 0 <= seq < tree_size:
                raise NotFoundError(f"seq {seq} is not in a tree of size {tree_size}")
            plan, need = wanted(tree_size, signed is not None)
            if tree_size != guess or not need <= found.keys():
                found = self.store.get_nodes(conn, need)
            root = signed if signed is not None else _fold_root(
                merkle.root_plan(tree_size), found, tree_size)
            return InclusionProof(seq, tree_size, found[(0, seq)], tuple(_assemble(plan, found)),
                                  root, note)

        return self.store.settled_read(read)

    def consistency_proof(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        def read(conn: Connection) -> ConsistencyProof:
            current = self.store.head(conn).size
            to_size = current if size2 is None else size2
            _check_size(to_size, current)
            if not 0 < size1 <= to_size:
                raise ValidationError(f"expected 0 < size1 <= size2, got {size1} and {to_size}",
                                      field="size1")
            plan = merkle.consistency_proof_plan(size1, to_size)
            roots1, roots2 = merkle.root_plan(size1), merkle.root_plan(to_size)
            found = self.store.get_nodes(conn, {*merkle.plan_nodes(plan), *roots1, *roots2})
            return ConsistencyProof(size1, to_size, tuple(_assemble(plan, found)),
                                    _fold_root(roots1, found, size1),
                                    _fold_root(roots2, found, to_size))

        return self.store.settled_read(read)

    # -- checkpoints ----------------------------------------------------------
    def checkpoint_verifiers(self) -> list[NoteVerifier]:
        """Note verifiers for the operator's keys that are not revoked (checkpoints are
        signed as ``origin``); a revoked key's notes are not accepted any more."""
        return [NoteVerifier.for_key(self.origin, VerifyKey.from_bytes(k.public_key))
                for k in self.keys_of(self.operator) if k.revoked_seq is None]

    def signer_memory(self, keystore: Keystore | str | os.PathLike[str]) -> SignerMemory:
        """Where the operator's signer, whose key lives in ``keystore`` (a keystore or its
        folder), remembers the newest checkpoint it signed for this ledger's origin."""
        folder = keystore.path if isinstance(keystore, Keystore) else keystore
        return SignerMemory(folder, self.origin)

    def sign_checkpoint(self, key: SigningKey, *, now: datetime | None = None,
                        memory: SignerMemory | None = None) -> SignedCheckpoint:
        """Sign a checkpoint at the current size with an operator key.

        Refuses to sign a head that is not consistent with the newest stored
        checkpoint (so two inconsistent checkpoints are never signed); returns
        the existing checkpoint when the ledger has not grown.

        ``memory`` is the operator signer's own record of the newest checkpoint it signed,
        kept outside the database (:meth:`signer_memory`; every program that holds the
        operator key passes it). A head that does not extend the remembered checkpoint —
        smaller, the same size with another root, or larger without containing it — is
        refused with :class:`RollbackError`: the database was rolled back or replaced. The
        note is remembered before it is stored or returned; a memory that is missing
        (first checkpoint, or a ledger signed before signers remembered) starts with it.
        """
        with self.store.writer() as conn:
            mine = {k.key_id: k for k in self.store.keys_of(conn, self.operator)}
            if key.key_id not in mine or mine[key.key_id].revoked_seq is not None:
                raise SignatureError(f"key {key.key_id} is not a valid key of the operator "
                                     f"{self.operator!r}", field="key")
            size = self.store.size(conn)
            root = self._root(conn, size)
            latest = self.store.latest_checkpoint(conn)
            remembered = memory.load() if memory is not None else None
            if remembered is not None and (
                    latest is None or (remembered.size, remembered.root)
                    != (int(latest["size"]), bytes(latest["root"]))):
                # The database's newest checkpoint is not the one the signer remembers (it
                # is checked below in any case): check the remembered one itself.
                self._check_remembered(conn, remembered, size, root)
            if latest is not None:
                old_size, old_root = int(latest["size"]), bytes(latest["root"])
                if old_size == size:
                    if old_root != root:
                        raise TracelibError(f"refusing to sign: the root at size {size} differs "
                                            "from the signed checkpoint; run `tracelib verify`")
                    if memory is not None and remembered is None:
                        memory.remember(latest["note"])
                    return _signed(latest)
                if old_size > size:
                    raise TracelibError(f"refusing to sign: a checkpoint at size {old_size} exists "
                                        f"but the ledger has {size} records; run `tracelib verify`")
                proof = self._build(conn, merkle.consistency_proof_plan(old_size, size))
                try:
                    merkle.verify_consistency(old_size, size, proof, old_root, root)
                except ProofError as e:
                    raise IntegrityError(f"refusing to sign an inconsistent checkpoint: {e}",
                                         seq=old_size) from e
                # Do not trust stored subtree hashes for what is new since the last signed
                # head: recompute the new records' hashes and chain from their bytes.
                recomputed = self._recompute_root(conn, old_size, old_root, size)
                if recomputed != root:
                    raise IntegrityError("refusing to sign: stored subtree hashes do not match "
                                         f"the records since size {old_size}; run "
                                         "`tracelib verify`", seq=old_size)
            body = Checkpoint(self.origin, size, root)
            note = sign_note(body.to_text(), self.origin, key)
            created = format_utc(now or utcnow())
            # Remember first, then store: if the signer cannot remember the note (a full
            # disk, a read-only folder) the transaction rolls back and the note is never
            # seen; a crash after remembering leaves the memory ahead of the database,
            # which the next signing accepts (same size, same root, same note).
            if memory is not None:
                memory.remember(note)
            self.store.insert_checkpoint(conn, size, root, note, created)
            return SignedCheckpoint(body, note, created)

    def _check_remembered(self, conn: Connection, remembered: RememberedCheckpoint,
                          size: int, root: bytes) -> None:
        """Refuse (RollbackError) unless the tree of ``size`` records with ``root`` extends
        the remembered checkpoint (RFC 9162 §2.1.4), rehashing the records after it."""
        def refuse(found: str) -> RollbackError:
            return RollbackError(
                f"refusing to sign: the operator's signer remembers the checkpoint "
                f"{remembered.describe()}, but {found}; the database was rolled back or "
                f"replaced since. Restore it from a backup that holds the remembered "
                f"checkpoint and run `tracelib verify`; never delete the remembered file to "
                f"sign anyway (it would let two contradicting checkpoints exist)",
                seq=min(size, remembered.size))

        if remembered.size > size:
            raise refuse(f"the ledger has only {size} records (root {root.hex()})")
        if remembered.size == size:
            if remembered.root != root:
                raise refuse(f"the ledger's root at size {size} is {root.hex()}")
            return
        try:
            recomputed = self._recompute_root(conn, remembered.size, remembered.root, size)
        except IntegrityError as e:
            raise refuse(f"the ledger of {size} records (root {root.hex()}) does not extend "
                         f"it: {e}") from e
        if recomputed != root:
            raise refuse(f"the ledger of {size} records has root {root.hex()} by its stored "
                         f"subtree hashes and {recomputed.hex()} by its records")

    def check_remembered(self, memory: SignerMemory) -> RememberedCheckpoint | None:
        """Check that this ledger still holds the checkpoint the operator's signer remembers:
        at the remembered size the tree has the remembered root. Returns it (None when
        nothing is remembered); raises :class:`RollbackError` when the ledger was rolled
        back or replaced."""
        remembered = memory.load()
        if remembered is None:
            return None
        size = self.size
        if size < remembered.size:
            raise RollbackError(f"the operator's signer remembers the checkpoint "
                                f"{remembered.describe()}, but the ledger has only {size} "
                                "records: it was rolled back; restore the database from a "
                                "backup that holds the remembered checkpoint",
                                seq=size)
        root = self.root(remembered.size)
        if root != remembered.root:
            raise RollbackError(f"the operator's signer remembers the checkpoint "
                                f"{remembered.describe()}, but the ledger's root at size "
                                f"{remembered.size} is {root.hex()}: it was rolled back and "
                                "rewritten; restore the database from a backup that holds "
                                "the remembered checkpoint", seq=remembered.size)
        return remembered

    def _recompute_root(self, conn: Connection, old_size: int, old_root: bytes,
                        size: int) -> bytes:
        """The root at ``size`` from the signed head at ``old_size`` and the records after
        it, rehashed from their bytes with every chain link checked."""
        plan = merkle.root_plan(old_size)
        found = self.store.get_nodes(conn, plan)
        if any(n not in found for n in plan):
            raise IntegrityError(f"the store lacks subtree hashes for size {old_size}",
                                 seq=old_size)
        tree = merkle.CompactRange(0, old_size, [found[n] for n in plan])
        if tree.root() != old_root:
            raise IntegrityError(f"stored subtree hashes do not give the signed root at size "
                                 f"{old_size}", seq=old_size)
        prev = self.store.last_hash(conn, old_size) or GENESIS_PREV
        for row in self.store.iter_record_rows(conn, old_size, size):
            record = Record.from_row(row)
            if record.prev_hash != prev:
                raise IntegrityError("chain broken", seq=record.seq)
            digest = record.computed_hash()
            if digest != record.hash:
                raise IntegrityError("record hash does not match its bytes", seq=record.seq)
            tree.append(digest)
            prev = digest
        if tree.end != size:
            raise IntegrityError(f"records missing before size {size}", seq=tree.end)
        return tree.root()

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self.store.reader() as conn:
            row = self.store.latest_checkpoint(conn)
        return _signed(row) if row else None

    def open_checkpoint(self, note: str) -> Checkpoint:
        """Verify a checkpoint note against the operator's keys and parse it."""
        text, _names = open_note(note, self.checkpoint_verifiers())
        return Checkpoint.parse(text)

    # -- audit ----------------------------------------------------------------
    def verify(self, *, workers: int | None = None, progress: Progress | None = None,
               state: bool = True) -> VerifyReport:
        """Re-derive everything (:func:`tracelib.verify.verify_ledger`), then rehash the
        cited blobs the blob store holds (:func:`tracelib.verify.check_attachments`)."""
        # Imported here: verify brings multiprocessing and its worker set-up, which a
        # process that only appends or reads (the CLI's start-up, a page) never needs.
        from .verify import check_attachments, verify_ledger

        try:
            report = verify_ledger(self, workers=workers, progress=progress, state=state)
            # After the ledger's own checks: the cited blobs (docs/integrity.md "Attachments").
            return check_attachments(self.store, self.blobs, report) if report.ok else report
        except StorageError as e:
            if e.reason != "corrupt":
                raise
            with self.store.reader() as conn:
                found = self.store.first_undecodable(conn)
            if found is None:
                raise
            table, key, column = found
            what = "record" if table == "records" else "checkpoint of size"
            raise IntegrityError(f"column {column!r} of the {what} {key} holds text that is not "
                                 "UTF-8: the database was edited outside tracelib",
                                 seq=key if table == "records" else None) from e

    def reindex(self, *, progress: Progress | None = None) -> ReindexReport:
        """Rebuild every derived table from the records (a repair after a derived table was
        damaged or edited); see :func:`tracelib.replay.reindex_ledger`."""
        from .replay import reindex_ledger

        self._directory = None  # the directory cache was read from the old tables
        try:
            return reindex_ledger(self.store, self.operator, progress=progress)
        finally:
            self._directory = None


def _assemble(plan: Sequence[Sequence[merkle.NodeId]],
              found: Mapping[merkle.NodeId, bytes]) -> list[bytes]:
    try:
        return merkle.build_proof(plan, found)
    except (KeyError, ProofError) as e:
        raise ProofError(f"the store lacks a subtree hash the proof needs: {e}") from e


def _fold_root(plan: Sequence[merkle.NodeId], found: Mapping[merkle.NodeId, bytes],
               size: int) -> bytes:
    missing = [n for n in plan if n not in found]
    if missing:
        raise ProofError(f"the store lacks subtree hashes {missing} for size {size}")
    return merkle.fold([found[n] for n in plan]) if plan else merkle.EMPTY_ROOT


def _signed(row: Mapping[str, Any]) -> SignedCheckpoint:
    text = row["note"].split("\n\n", 1)[0] + "\n"
    return SignedCheckpoint(Checkpoint.parse(text), row["note"], row["created_at"])


def _check_size(size: int, current: int) -> None:
    if not 0 <= size <= current:
        raise NotFoundError(f"tree size {size} is out of range: the ledger has {current} records")
