"""The ledger on SQLite and PostgreSQL: appends and receipts, idempotency, RFC 9162 proofs
against an in-memory reference, checkpoints, key rotation and revocation, and rejected
events that leave nothing behind."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from tests.conftest import NOW
from tests.helpers import (
    Network,
    certificate,
    leaves_from_bytes,
    origin_event,
    record_rows,
    stored_event_ids,
)
from tracelib import canonical, merkle
from tracelib.append import CHUNK
from tracelib.errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    ProofError,
    SignatureError,
    TracelibError,
    ValidationError,
)
from tracelib.events import Event, sign_event
from tracelib.keys import SigningKey
from tracelib.ledger import Ledger, Receipt
from tracelib.note import NoteVerifier, open_note, sign_note
from tracelib.record import GENESIS_PREV
from tracelib.store.schema import checkpoints, nodes, records
from tracelib.timeutil import format_utc

SETUP = 2  # genesis + the network's register event


# --- append and receipts -------------------------------------------------------------------

def test_create_writes_genesis(ledger: Ledger, operator_key: SigningKey) -> None:
    assert ledger.size == 1
    genesis = ledger.record(0)
    assert (genesis.seq, genesis.kind, genesis.actor) == (0, "register", "operator")
    assert genesis.prev_hash == GENESIS_PREV
    assert genesis.key_id == operator_key.key_id
    assert genesis.hash == genesis.computed_hash()
    assert [k.key_id for k in ledger.keys_of("operator")] == [operator_key.key_id]
    with pytest.raises(ValidationError):
        Ledger.create(ledger.store.url, operator_key=operator_key, now=NOW)
    assert ledger.size == 1


def test_append_one(network: Network) -> None:
    ledger = network.ledger
    doc = origin_event(network, "LOT-1")
    later = NOW + timedelta(minutes=5)
    [receipt] = ledger.append([doc], now=later)
    record = ledger.record(SETUP)
    assert receipt == Receipt(SETUP, doc["id"], record.hash, format_utc(later))
    assert receipt.to_dict() == {"seq": SETUP, "id": doc["id"], "hash": record.hash.hex(),
                                 "recorded_at": "2026-11-22T06:05:00.000000Z",
                                 "duplicate": False}
    assert record.body == canonical.dumps({k: v for k, v in doc.items() if k != "sig"})
    assert record.prev_hash == ledger.record(SETUP - 1).hash
    assert record.hash == record.computed_hash()
    assert record.event() == Event.from_dict(doc)
    assert ledger.record_for_event(doc["id"]) == record
    assert ledger.size == SETUP + 1
    assert ledger.verify().ok


@pytest.mark.parametrize("count", [2, 37, CHUNK + 3])
def test_append_many(network: Network, count: int) -> None:
    ledger = network.ledger
    docs = [origin_event(network, f"LOT-M{count}-{i}") for i in range(count)]
    receipts = ledger.append(docs, now=NOW)
    assert [r.seq for r in receipts] == list(range(SETUP, SETUP + count))
    assert [r.event_id for r in receipts] == [d["id"] for d in docs]
    assert not any(r.duplicate for r in receipts)
    rows = record_rows(ledger)
    assert [r["seq"] for r in rows] == list(range(SETUP + count))
    prev = GENESIS_PREV
    for row in rows:  # the chain, link by link
        assert bytes(row["prev_hash"]) == prev
        prev = bytes(row["hash"])
    assert [bytes(r["hash"]) for r in rows[SETUP:]] == [r.hash for r in receipts]
    assert ledger.size == SETUP + count
    assert ledger.verify().ok


def test_empty_append_is_a_no_op(network: Network) -> None:
    assert network.ledger.append([]) == []
    assert network.ledger.size == SETUP


# --- idempotency ---------------------------------------------------------------------------

def test_same_id_same_bytes_returns_original_receipt(network: Network) -> None:
    ledger = network.ledger
    docs = [origin_event(network, f"LOT-I{i}") for i in range(3)]
    first = ledger.append(docs, now=NOW)
    # Same event again, later, its keys in another order: the canonical bytes are the same.
    again = ledger.append([dict(reversed(list(docs[1].items())))],
                          now=NOW + timedelta(hours=1))
    assert again == [Receipt(first[1].seq, first[1].event_id, first[1].hash,
                             first[1].recorded_at, duplicate=True)]
    assert ledger.size == SETUP + 3
    # A batch mixing old and new events: the old get their receipts, the new are appended.
    new = origin_event(network, "LOT-I3")
    mixed = ledger.append([docs[2], new, docs[0]], now=NOW)
    assert [(r.seq, r.duplicate) for r in mixed] == [
        (first[2].seq, True), (SETUP + 3, False), (first[0].seq, True)]
    assert ledger.size == SETUP + 4
    assert ledger.verify().ok


def test_same_id_other_bytes_is_a_conflict_and_stores_nothing(network: Network) -> None:
    ledger = network.ledger
    original = origin_event(network, "LOT-C")
    ledger.append([original], now=NOW)
    changed = sign_event({**original, "outputs": [{"lot": "LOT-C", "qty": "101", "unit": "kg"}]},
                         network.keys["farm-1"])
    fresh = origin_event(network, "LOT-C2")
    with pytest.raises(ConflictError, match=original["id"]):
        ledger.append([fresh, changed], now=NOW)
    assert ledger.size == SETUP + 1
    assert stored_event_ids(ledger, [fresh["id"]]) == set()
    assert ledger.record_for_event(original["id"]).body == Event.from_dict(original).body
    assert ledger.verify().ok


def test_duplicates_inside_one_batch(network: Network) -> None:
    ledger = network.ledger
    a, b = origin_event(network, "LOT-DA"), origin_event(network, "LOT-DB")
    receipts = ledger.append([a, b, a, a], now=NOW)
    assert [(r.seq, r.event_id, r.duplicate) for r in receipts] == [
        (SETUP, a["id"], False), (SETUP + 1, b["id"], False),
        (SETUP, a["id"], True), (SETUP, a["id"], True)]
    assert receipts[2].hash == receipts[0].hash
    assert ledger.size == SETUP + 2
    # Different bytes under one id inside a batch: conflict, and the batch leaves nothing.
    c = origin_event(network, "LOT-DC")
    c2 = sign_event({**c, "outputs": [{"lot": "LOT-DC", "qty": "5", "unit": "kg"}]},
                    network.keys["farm-1"])
    with pytest.raises(ConflictError):
        ledger.append([c, origin_event(network, "LOT-DD"), c2], now=NOW)
    assert ledger.size == SETUP + 2
    assert stored_event_ids(ledger, [c["id"]]) == set()
    assert ledger.verify().ok


def test_duplicate_across_chunks_of_one_batch(network: Network) -> None:
    ledger = network.ledger
    docs = [origin_event(network, f"LOT-X{i}") for i in range(CHUNK + 1)]
    receipts = ledger.append([*docs, docs[0]], now=NOW)
    assert receipts[-1] == Receipt(SETUP, docs[0]["id"], receipts[0].hash,
                                   receipts[0].recorded_at, duplicate=True)
    assert ledger.size == SETUP + CHUNK + 1


# --- Merkle tree: proofs against an in-memory reference ----------------------------------------

PROOF_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 70]


@pytest.fixture
def grown(network: Network) -> Network:
    """A 70-record ledger (sizes around the powers of two up to 64 are all present)."""
    network.ledger.append([origin_event(network, f"LOT-P{i}") for i in range(70 - SETUP)],
                          now=NOW)
    return network


def test_root_at_every_size(grown: Network) -> None:
    ledger = grown.ledger
    leaves = leaves_from_bytes(ledger)
    assert len(leaves) == 70
    assert [bytes(r["hash"]) for r in record_rows(ledger)] == leaves
    for size in range(71):
        assert ledger.root(size) == merkle.root(leaves[:size]), size
    assert ledger.root() == merkle.root(leaves)
    assert ledger.root(0) == merkle.EMPTY_ROOT
    with pytest.raises(NotFoundError):
        ledger.root(71)


def test_every_inclusion_proof(grown: Network) -> None:
    ledger = grown.ledger
    leaves = leaves_from_bytes(ledger)
    for size in PROOF_SIZES:
        root = merkle.root(leaves[:size])
        for seq in range(size):
            proof = ledger.inclusion_proof(seq, size)
            assert (proof.seq, proof.size, proof.leaf_hash, proof.root) == (
                seq, size, leaves[seq], root), (seq, size)
            assert list(proof.proof) == merkle.inclusion_proof(seq, size, leaves), (seq, size)
            merkle.verify_inclusion(leaves[seq], seq, size, proof.proof, root)
            proof.verify()
            assert proof.checkpoint is None


def test_inclusion_proofs_fail_when_wrong(grown: Network) -> None:
    ledger = grown.ledger
    proof = ledger.inclusion_proof(21, 70)
    other = ledger.inclusion_proof(22, 70)
    with pytest.raises(ProofError):  # another leaf's path
        merkle.verify_inclusion(proof.leaf_hash, 21, 70, other.proof, proof.root)
    with pytest.raises(ProofError):  # the root of a smaller tree
        merkle.verify_inclusion(proof.leaf_hash, 21, 70, proof.proof, ledger.root(69))
    with pytest.raises(ProofError):  # a claimed index that is not the leaf's
        merkle.verify_inclusion(proof.leaf_hash, 20, 70, proof.proof, proof.root)
    for seq, size in [(70, 70), (5, 71), (-1, 10), (0, 0)]:
        with pytest.raises(NotFoundError):
            ledger.inclusion_proof(seq, size)


@pytest.mark.postgres
def test_proofs_survive_a_dropped_connection(pg_url: str, operator_key: SigningKey) -> None:
    """Proofs on PostgreSQL skip the pool's ping; a connection the server has dropped since
    (a restart, an idle timeout) is replaced and the proof read again."""
    with Ledger.create(pg_url, operator_key=operator_key, operator="operator", now=NOW) as led:
        led.sign_checkpoint(operator_key, now=NOW)
        first = led.inclusion_proof(0)
        settled = led.store._settled_engine
        assert settled is not None
        with settled.connect() as conn:  # the pooled connection the proof used
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with led.store.engine.connect() as admin:
            assert admin.exec_driver_sql("SELECT pg_terminate_backend(%s)", (backend,)).scalar()
        assert led.inclusion_proof(0) == first
        assert led.consistency_proof(1, 1).root1 == first.root
        with settled.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != backend


def test_every_consistency_proof(grown: Network) -> None:
    ledger = grown.ledger
    leaves = leaves_from_bytes(ledger)
    pairs = [(a, b) for a in PROOF_SIZES for b in PROOF_SIZES if a <= b]
    pairs += [(a, 70) for a in range(1, 71)]
    for size1, size2 in pairs:
        proof = ledger.consistency_proof(size1, size2)
        root1, root2 = merkle.root(leaves[:size1]), merkle.root(leaves[:size2])
        assert (proof.root1, proof.root2) == (root1, root2), (size1, size2)
        assert list(proof.proof) == merkle.consistency_proof(size1, size2, leaves), (size1, size2)
        merkle.verify_consistency(size1, size2, proof.proof, root1, root2)
        proof.verify()
    assert ledger.consistency_proof(33).size2 == 70
    bad = ledger.consistency_proof(33, 64)
    with pytest.raises(ProofError):
        merkle.verify_consistency(33, 64, bad.proof, ledger.root(32), bad.root2)
    with pytest.raises(ValidationError):
        ledger.consistency_proof(0, 5)
    with pytest.raises(ValidationError):
        ledger.consistency_proof(9, 8)
    with pytest.raises(NotFoundError):
        ledger.consistency_proof(5, 71)


# --- checkpoints ---------------------------------------------------------------------------

def test_checkpoint_is_a_signed_note(grown: Network, operator_key: SigningKey) -> None:
    ledger = grown.ledger
    cp = ledger.sign_checkpoint(operator_key, now=NOW)
    assert (cp.size, cp.root) == (70, ledger.root())
    assert cp.checkpoint.origin == ledger.origin == "tracelib/operator"
    assert cp.note.startswith(f"tracelib/operator\n70\n{base64.b64encode(cp.root).decode()}\n\n— ")
    text, names = open_note(cp.note, [NoteVerifier.for_key(ledger.origin, operator_key.public)])
    assert (text, names) == (cp.checkpoint.to_text(), [ledger.origin])
    assert ledger.open_checkpoint(cp.note) == cp.checkpoint
    stranger = NoteVerifier.for_key(ledger.origin, SigningKey.generate().public)
    with pytest.raises(SignatureError):
        open_note(cp.note, [stranger])
    with pytest.raises(SignatureError):  # a note signed by someone else does not open
        ledger.open_checkpoint(sign_note(cp.checkpoint.to_text(), ledger.origin,
                                         SigningKey.generate()))
    # Inclusion proofs default to the newest checkpoint that covers the record.
    proof = ledger.inclusion_proof(3)
    assert (proof.size, proof.checkpoint, proof.root) == (70, cp.note, cp.root)
    assert ledger.latest_checkpoint() == cp
    report = ledger.verify()
    assert report.ok and report.checkpoints_checked == 1


def test_proofs_at_a_signed_size_answer_to_its_root(grown: Network,
                                                    operator_key: SigningKey) -> None:
    """At a checkpoint's size a proof's root is the signed one, not one folded from the stored
    subtree hashes: a proof built from an altered subtree hash fails against it."""
    ledger = grown.ledger
    cp = ledger.sign_checkpoint(operator_key, now=NOW)
    for seq in range(70):
        proof = ledger.inclusion_proof(seq)
        assert (proof.size, proof.root, proof.checkpoint) == (70, cp.root, cp.note)
        proof.verify()
    assert ledger.inclusion_proof(5, 70).root == cp.root
    uses = [n for n in merkle.plan_nodes(merkle.inclusion_proof_plan(5, 70)) if n[0] > 0]
    level, idx = uses[0]
    with ledger.store.writer() as conn:
        conn.execute(update(nodes).where(nodes.c.level == level, nodes.c.idx == idx)
                     .values(hash=b"\x00" * 32))
    altered = ledger.inclusion_proof(5)
    assert altered.root == cp.root
    with pytest.raises(ProofError):
        altered.verify()


def test_proofs_follow_new_checkpoints(grown: Network, operator_key: SigningKey) -> None:
    """A proof asks for its nodes with the head, guessing the newest checkpoint seen by the
    last proof; a checkpoint signed since (by this process or another) is still followed."""
    ledger = grown.ledger
    other = Ledger.open(ledger.store.url)  # another process's view, with its own guess
    try:
        assert ledger.inclusion_proof(3).size == 70  # no checkpoint yet: the current size
        first = ledger.sign_checkpoint(operator_key, now=NOW)
        assert other.inclusion_proof(3).root == first.root
        ledger.append([origin_event(grown, f"LOT-Q{i}") for i in range(5)], now=NOW)
        leaves = leaves_from_bytes(ledger)
        for led in (ledger, other):
            proof = led.inclusion_proof(72)  # beyond the newest checkpoint: the current size
            assert (proof.size, proof.root, proof.checkpoint) == (75, merkle.root(leaves), None)
            proof.verify()
        second = other.sign_checkpoint(operator_key, now=NOW)
        for led in (ledger, other):
            for seq in (3, 69, 74):
                proof = led.inclusion_proof(seq)
                assert (proof.size, proof.root, proof.checkpoint) == (75, second.root,
                                                                      second.note)
                assert list(proof.proof) == merkle.inclusion_proof(seq, 75, leaves)
                proof.verify()
            old = led.inclusion_proof(3, 70)  # an older signed size, asked for by name
            assert (old.root, old.checkpoint) == (first.root, first.note)
            assert led.inclusion_proof(3, 71).root == merkle.root(leaves[:71])
    finally:
        other.close()


def test_proofs_without_pipelines(grown: Network, operator_key: SigningKey,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Where libpq cannot pipeline, the head and the nodes go one after the other."""
    import tracelib.store

    ledger = grown.ledger
    ledger.sign_checkpoint(operator_key, now=NOW)
    pipelined = [ledger.inclusion_proof(seq) for seq in (0, 33, 69)]
    monkeypatch.setattr(tracelib.store, "_pipelines", lambda conn: False)
    assert [ledger.inclusion_proof(seq) for seq in (0, 33, 69)] == pipelined


def test_checkpoint_without_growth_is_the_same(grown: Network, operator_key: SigningKey) -> None:
    ledger = grown.ledger
    first = ledger.sign_checkpoint(operator_key, now=NOW)
    again = ledger.sign_checkpoint(operator_key, now=NOW + timedelta(hours=3))
    assert again == first
    with ledger.store.engine.connect() as conn:
        assert conn.execute(select(checkpoints.c.size)).scalars().all() == [70]
    ledger.append([origin_event(grown, "LOT-G")], now=NOW)
    grown_cp = ledger.sign_checkpoint(operator_key, now=NOW + timedelta(hours=4))
    assert (grown_cp.size, grown_cp.root) == (71, ledger.root())
    ledger.consistency_proof(first.size, grown_cp.size).verify()
    assert ledger.latest_checkpoint() == grown_cp
    assert ledger.inclusion_proof(3, 70).checkpoint == first.note
    assert ledger.verify().checkpoints_checked == 2


def test_checkpoint_only_by_a_live_operator_key(grown: Network) -> None:
    for key in (grown.keys["farm-1"], SigningKey.generate()):
        with pytest.raises(SignatureError) as raised:
            grown.ledger.sign_checkpoint(key, now=NOW)
        assert raised.value.field == "key"
    assert grown.ledger.latest_checkpoint() is None


def _set_node(ledger: Ledger, level: int, idx: int, digest: bytes) -> None:
    with ledger.store.engine.begin() as conn:
        done = conn.execute(update(nodes).where(nodes.c.level == level, nodes.c.idx == idx)
                            .values(hash=digest))
        assert done.rowcount == 1


TamperFn = Callable[[Ledger], None]

REFUSALS: list[tuple[str, int, TamperFn]] = [
    # After a checkpoint at 8 and growth to 12, the stored hash of leaves 0..7 (the node
    # both the old root and the new proof rest on) is changed: the new head is inconsistent.
    ("node-under-old-root", 12, lambda led: _set_node(led, 3, 0, b"\x01" * 32)),
    # Same size, but the root the nodes give is no longer the signed one.
    ("node-at-same-size", 8, lambda led: _set_node(led, 3, 0, b"\x02" * 32)),
    # The stored checkpoint's root itself is altered.
    ("checkpoint-root", 12, lambda led: _exec(led, update(checkpoints).values(root=b"\x04" * 32))),
    # Records removed from the end below the signed size.
    ("records-truncated", 12, lambda led: _exec(led, delete(records).where(records.c.seq >= 6))),
]


def _exec(ledger: Ledger, statement: Any) -> None:
    with ledger.store.engine.begin() as conn:
        conn.execute(statement)


@pytest.mark.parametrize(("size", "tamper"), [pytest.param(s, t, id=i) for i, s, t in REFUSALS])
def test_refuses_to_sign_an_inconsistent_checkpoint(network: Network, operator_key: SigningKey,
                                                    size: int, tamper: TamperFn) -> None:
    ledger = network.ledger
    ledger.append([origin_event(network, f"LOT-R{i}") for i in range(8 - SETUP)], now=NOW)
    first = ledger.sign_checkpoint(operator_key, now=NOW)
    assert first.size == 8
    ledger.append([origin_event(network, f"LOT-R{i}") for i in range(8, size)], now=NOW)
    tamper(ledger)
    with pytest.raises(TracelibError, match="refusing"):
        ledger.sign_checkpoint(operator_key, now=NOW)
    with ledger.store.engine.connect() as conn:
        assert conn.execute(select(checkpoints.c.size)).scalars().all() == [8]
    assert not ledger.verify().ok


# --- keys: rotation and revocation ---------------------------------------------------------

def _key_entry(party: str, key: SigningKey, valid_from: str) -> dict[str, str]:
    return {"party": party, "key_id": key.key_id, "public_key": key.public.base64(),
            "valid_from": valid_from}


def _register(net: Network, data: dict[str, Any], *, key: SigningKey | None = None,
              actor: str = "operator") -> dict[str, Any]:
    return net.event(actor, {"kind": "register", "location": "operator.office", "data": data},
                     key=key)


def _signed_by(net: Network, lot: str, key: SigningKey, **extra: Any) -> dict[str, Any]:
    doc = origin_event(net, lot, sign=False, **extra)
    return sign_event(doc, key)


def iso(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


def test_key_rotation(network: Network) -> None:
    ledger = network.ledger
    old, new = network.keys["farm-1"], SigningKey.generate()
    # The new key is registered; later the old one is revoked as of one hour from now.
    ledger.append([_register(network, {"keys": [_key_entry("farm-1", new, iso(timedelta()))]})],
                  now=NOW)
    [revocation] = ledger.append([_register(network, {"revoke": [
        {"key_id": old.key_id, "revoked_at": iso(timedelta(hours=1)), "reason": "rotated"}]})],
        now=NOW)
    half = NOW + timedelta(minutes=30)
    before = ledger.append([_signed_by(network, "LOT-K1", old), _signed_by(network, "LOT-K2", new)],
                           now=half)
    assert [r.duplicate for r in before] == [False, False]
    for moment in (NOW + timedelta(hours=1), NOW + timedelta(hours=2)):
        size = ledger.size
        for doc in (_signed_by(network, f"LOT-K3-{moment:%H}", old),
                    # a backdated event time does not revive the revoked key
                    _signed_by(network, f"LOT-K4-{moment:%H}", old,
                               time="2026-11-22T06:00:00+08:00")):
            with pytest.raises(SignatureError) as raised:
                ledger.append([_signed_by(network, f"LOT-OK-{doc['id']}", new), doc], now=moment)
            assert (raised.value.field, raised.value.line) == ("sig.key", 2)
            assert "revoked" in raised.value.message
            assert ledger.size == size
        ledger.append([_signed_by(network, f"LOT-K5-{moment:%H}", new)], now=moment)
    keys = {k.key_id: k for k in ledger.keys_of("farm-1")}
    assert keys[old.key_id].revoked_seq == revocation.seq
    assert keys[new.key_id].revoked_seq is None
    # Records signed by the old key before the revocation stay valid.
    assert ledger.record(before[0].seq).key_id == old.key_id
    assert ledger.verify().ok


def test_revoked_key_cannot_be_revived_by_an_earlier_record_time(network: Network) -> None:
    """Record time never goes backwards, so a caller's earlier ``now`` cannot place a record
    before a revocation that is already in the ledger."""
    ledger = network.ledger
    old = network.keys["farm-1"]
    ledger.append([_register(network, {"revoke": [
        {"key_id": old.key_id, "revoked_at": iso(timedelta())}]})], now=NOW)
    size = ledger.size
    with pytest.raises(SignatureError) as raised:
        ledger.append([_signed_by(network, "LOT-REVIVED", old)],
                      now=NOW - timedelta(hours=1))
    assert raised.value.field == "sig.key"
    assert ledger.size == size


def test_revocation_applies_from_its_seq_inside_a_batch(network: Network) -> None:
    ledger = network.ledger
    old, new = network.keys["farm-1"], SigningKey.generate()
    rotate = _register(network, {"keys": [_key_entry("farm-1", new, iso(timedelta()))],
                                 "revoke": [{"key_id": old.key_id, "revoked_at": iso(timedelta())}]})
    size = ledger.size
    with pytest.raises(SignatureError) as raised:
        ledger.append([_signed_by(network, "LOT-B1", old), rotate,
                       _signed_by(network, "LOT-B2", old)], now=NOW)
    assert (raised.value.field, raised.value.line) == ("sig.key", 3)
    assert ledger.size == size
    receipts = ledger.append([_signed_by(network, "LOT-B1", old), rotate,
                              _signed_by(network, "LOT-B2", new)], now=NOW)
    assert [r.seq for r in receipts] == [size, size + 1, size + 2]
    assert ledger.verify().ok


def test_key_not_valid_before_its_valid_from(network: Network) -> None:
    ledger = network.ledger
    future = SigningKey.generate()
    ledger.append([_register(network, {"keys": [
        _key_entry("carrier-1", future, iso(timedelta(days=1)))]})], now=NOW)
    doc = network.event("carrier-1", {"kind": "hold", "location": "coldstore-1",
                                      "data": {"reason": "check"}}, key=future)
    with pytest.raises(SignatureError) as raised:
        ledger.append([doc], now=NOW + timedelta(hours=23))
    assert raised.value.field == "sig.key"
    assert ledger.verify().ok


def test_operator_cannot_revoke_its_only_key(network: Network, operator_key: SigningKey) -> None:
    ledger = network.ledger
    size = ledger.size
    revoke_only = _register(network, {"revoke": [{"key_id": operator_key.key_id,
                                                  "revoked_at": iso(timedelta())}]})
    with pytest.raises(ValidationError) as raised:
        ledger.append([revoke_only], now=NOW)
    assert raised.value.field == "data.revoke[0].key_id"
    assert ledger.size == size
    # With a successor registered in the same event, the old key can go.
    successor = SigningKey.generate()
    ledger.append([_register(network, {
        "keys": [_key_entry("operator", successor, iso(timedelta()))],
        "revoke": [{"key_id": operator_key.key_id, "revoked_at": iso(timedelta())}]})], now=NOW)
    # The old key signs nothing more: neither register events nor checkpoints.
    party = _register(network, {"parties": [{"id": "lab-1", "name": "Lab", "role": "lab"}]})
    with pytest.raises(SignatureError) as raised:
        ledger.append([party], now=NOW + timedelta(seconds=1))
    assert raised.value.field == "sig.key"
    with pytest.raises(SignatureError):
        ledger.sign_checkpoint(operator_key, now=NOW)
    ledger.append([_register(network, {"parties": [{"id": "lab-1", "name": "Lab", "role": "lab"}]},
                             key=successor)], now=NOW + timedelta(seconds=1))
    cp = ledger.sign_checkpoint(successor, now=NOW)
    assert ledger.open_checkpoint(cp.note) == cp.checkpoint
    # And the successor, now the only live key, cannot be revoked either.
    size = ledger.size
    with pytest.raises(ValidationError) as raised:
        ledger.append([_register(network, {"revoke": [
            {"key_id": successor.key_id, "revoked_at": iso(timedelta())}]}, key=successor)],
            now=NOW + timedelta(seconds=2))
    assert raised.value.field == "data.revoke[0].key_id"
    assert ledger.size == size
    assert ledger.verify().ok


# --- rejected events: the error names the field, and nothing is stored ------------------------

def _body(location: str = "farm-1.field", lot: str = "LOT-REJ") -> dict[str, Any]:
    return {"kind": "origin", "location": location,
            "outputs": [{"lot": lot, "qty": "1", "unit": "kg"}],
            "data": {"certificate": certificate(lot)}}


Builder = Callable[[Network], dict[str, Any]]


def _party(pid: str = "lab-9", role: str = "lab") -> dict[str, str]:
    return {"id": pid, "name": pid, "role": role}


REJECTIONS: list[tuple[str, Builder, type[Exception], str]] = [
    ("unregistered-actor", lambda n: n.event("ghost", _body(), key=SigningKey.generate()),
     ValidationError, "actor"),
    ("unknown-key", lambda n: n.event("farm-1", _body(), key=SigningKey.generate()),
     SignatureError, "sig.key"),
    ("key-of-another-party", lambda n: n.event("farm-1", _body(), key=n.keys["carrier-1"]),
     SignatureError, "sig.key"),
    ("operator-key-for-a-party", lambda n: n.event("farm-1", _body(), key=n.operator_key),
     SignatureError, "sig.key"),
    ("party-signs-as-operator", lambda n: n.event("operator", _body("operator.office"),
                                                  key=n.keys["farm-1"]),
     SignatureError, "sig.key"),
    ("register-by-a-party", lambda n: _register(n, {"parties": [_party()]}, actor="farm-1"),
     ValidationError, "actor"),
    ("register-as-party-with-operator-key",
     lambda n: _register(n, {"parties": [_party()]}, actor="farm-1", key=n.operator_key),
     SignatureError, "sig.key"),
    ("signature-over-other-bytes",
     lambda n: {**n.event("farm-1", _body()), "location": "coldstore-1"},
     SignatureError, "sig.value"),
    ("unsigned", lambda n: n.event("farm-1", _body(), sign=False), SignatureError, "sig"),
    ("unknown-location", lambda n: n.event("farm-1", _body("farm-9.field")),
     ValidationError, "location"),
    ("register-key-of-unknown-party", lambda n: _register(n, {"keys": [
        _key_entry("ghost", SigningKey.generate(), iso(timedelta()))]}),
     ValidationError, "data.keys[0].party"),
    ("register-key-id-mismatch", lambda n: _register(n, {"keys": [
        {**_key_entry("farm-1", SigningKey.generate(), iso(timedelta())),
         "key_id": "0123456789abcdef"}]}),
     ValidationError, "data.keys[0].key_id"),
    ("register-key-twice", lambda n: _register(n, {"keys": [
        _key_entry("carrier-1", n.keys["farm-1"], iso(timedelta()))]}),
     ValidationError, "data.keys[0].key_id"),
    ("revoke-unknown-key", lambda n: _register(n, {"revoke": [
        {"key_id": "0123456789abcdef", "revoked_at": iso(timedelta())}]}),
     ValidationError, "data.revoke[0].key_id"),
    ("operator-role-change", lambda n: _register(n, {"parties": [_party("operator", "farm")]}),
     ValidationError, "data.parties[0].role"),
    ("location-with-unknown-holder", lambda n: _register(n, {"locations": [
        {"id": "x", "name": "x", "type": "farm", "holder": "ghost"}]}),
     ValidationError, "data.locations[0].holder"),
]


def test_rejections_name_the_field_and_store_nothing(network: Network) -> None:
    """One ledger for the whole table: after every rejected batch the size is unchanged,
    the good event before the bad one is not stored, and the ledger still verifies."""
    ledger = network.ledger
    size = ledger.size
    for case, build, error, field in REJECTIONS:
        good = origin_event(network, f"LOT-GOOD-{case}")
        bad = build(network)
        with pytest.raises(ValidationError) as raised:
            ledger.append([good, bad], now=NOW)
        where = f"{case}: {raised.value!r}"
        assert type(raised.value) is error, where
        assert (raised.value.field, raised.value.line) == (field, 2), where
        assert raised.value.event_id == bad["id"], where
        assert ledger.size == size, where
        assert stored_event_ids(ledger, [good["id"], bad["id"]]) == set(), where
    assert [k.key_id for k in ledger.keys_of("ghost")] == []
    assert ledger.party("lab-9") is None
    report = ledger.verify()
    assert report.ok and report.size == size


def test_rejected_register_changes_no_directory_row(network: Network) -> None:
    """A register batch that fails after its first event leaves parties and keys as they were."""
    ledger = network.ledger
    key = SigningKey.generate()
    ok = _register(network, {"parties": [_party("lab-1")],
                             "keys": [_key_entry("lab-1", key, iso(timedelta()))]})
    bad = _register(network, {"parties": [_party("operator", "farm")]})
    with pytest.raises(ValidationError):
        ledger.append([ok, bad], now=NOW)
    assert ledger.party("lab-1") is None
    assert ledger.keys_of("lab-1") == []
    doc = network.event("lab-1", {"kind": "hold", "location": "farm-1.field",
                                  "data": {"reason": "x"}}, key=key)
    with pytest.raises(ValidationError) as raised:
        ledger.append([doc], now=NOW)
    assert raised.value.field == "actor"


def test_record_rows_match_receipts_on_reopen(network: Network) -> None:
    ledger = network.ledger
    receipts = ledger.append([origin_event(network, f"LOT-O{i}") for i in range(5)], now=NOW)
    with Ledger.open(ledger.store.url) as again:
        assert again.size == ledger.size
        assert [again.record(r.seq).hash for r in receipts] == [r.hash for r in receipts]
        assert again.root() == ledger.root()
        assert again.verify().ok


@pytest.mark.parametrize("what", ["leaf-hash", "subtree-node"])
def test_sign_checkpoint_recomputes_what_is_new_since_the_last(
        network: Network, operator_key: SigningKey, what: str) -> None:
    """Stored hashes of records added since the last signed head are not trusted: the
    new segment is rehashed from the records' bytes before a checkpoint is signed."""
    ledger = network.ledger
    first = ledger.sign_checkpoint(operator_key)
    ledger.append([origin_event(network, f"LOT-N-{i}") for i in range(8)], now=NOW)
    size = ledger.size
    with ledger.store.engine.begin() as conn:
        if what == "leaf-hash":
            conn.execute(update(records).where(records.c.seq == size - 1)
                         .values(hash=b"\x42" * 32))
        else:  # the newest level-1 node, consistently wrong for its children
            index = (size - 2) // 2
            conn.execute(update(nodes).where(nodes.c.level == 1, nodes.c.idx == index)
                         .values(hash=b"\x43" * 32))
    with pytest.raises(IntegrityError):
        ledger.sign_checkpoint(operator_key)
    assert ledger.latest_checkpoint() == first


def test_a_party_acts_only_where_it_may(network: Network) -> None:
    """A farm cannot sell at another party's stall or lift a hold there; the stall's market
    (its parent's holder) may test there; a carrier may pick up at a farm."""
    ledger = network.ledger
    ledger.append([origin_event(network, "LOT-W-1")], now=NOW)
    picked_up = network.event("carrier-1", {
        "kind": "ship", "location": "farm-1.field", "inputs": [
            {"lot": "LOT-W-1", "qty": "10", "unit": "kg"}], "data": {"to": "stall-a01"}})
    ledger.append([picked_up], now=NOW)
    ledger.append([network.event("stall-a01", {
        "kind": "receive", "location": "stall-a01",
        "inputs": [{"lot": "LOT-W-1", "qty": "10", "unit": "kg"}],
        "data": {"from": "farm-1.field", "ship_event": picked_up["id"]}})], now=NOW)
    test = network.event("market-1", {"kind": "rapid_test", "location": "stall-a01", "data": {
        "sample": "S1", "item": "有机磷和氨基甲酸酯类农药", "method": "GB/T 5009.199-2003",
        "tester": "王芳", "readings": {"delta_a0": "0.800", "delta_at": "0.300"},
        "lot": "LOT-W-1"}})
    ledger.append([test], now=NOW)  # positive: the lot is held at the stall
    size = ledger.size
    for actor, body in (
            ("farm-1", {"kind": "sale", "location": "stall-a01", "data": {"receipt": "R1"},
                        "inputs": [{"lot": "LOT-W-1", "qty": "1", "unit": "kg"}]}),
            ("farm-1", {"kind": "release", "location": "stall-a01", "data": {"reason": "x"},
                        "inputs": [{"lot": "LOT-W-1", "qty": "10", "unit": "kg"}]}),
            ("carrier-1", {"kind": "hold", "location": "stall-a01", "data": {"reason": "x"},
                           "inputs": [{"lot": "LOT-W-1", "qty": "10", "unit": "kg"}]})):
        with pytest.raises(ValidationError, match="does not hold") as raised:
            ledger.append([network.event(actor, body)], now=NOW)
        assert raised.value.field == "actor"
        assert ledger.size == size
    assert ledger.verify().ok


# -- the directory kept between appends ---------------------------------------------------

def _new_party(party: str, key: SigningKey) -> dict[str, Any]:
    return {"parties": [{"id": party, "name": party, "role": "farm"}],
            "locations": [{"id": f"{party}.field", "name": party, "type": "farm",
                           "holder": party}],
            "keys": [_key_entry(party, key, "2026-01-01T00:00:00+08:00")]}


def _origin_by(net: Network, party: str, key: SigningKey, lot: str) -> dict[str, Any]:
    return net.event(party, {"kind": "origin", "location": f"{party}.field",
                             "outputs": [{"lot": lot, "qty": "1", "unit": "kg"}],
                             "data": {"certificate": certificate(lot)}}, key=key)


def test_another_writers_register_events_reach_a_ledger_that_cached_the_directory(
        network: Network, db_url: str) -> None:
    mine = network.ledger
    mine.append([origin_event(network, "LOT-D-1")], now=NOW)  # this ledger now holds a directory
    stamp = mine._directory[0] if mine._directory else None
    assert stamp is not None
    key = SigningKey.generate()
    with Ledger.open(db_url) as other:  # another process's writer, say
        other.append([_register(network, _new_party("farm-new", key))], now=NOW)
    # The party did not exist when the directory was read; the stamp tells it changed.
    [receipt] = mine.append([_origin_by(network, "farm-new", key, "LOT-D-2")], now=NOW)
    assert not receipt.duplicate and mine._directory is not None
    assert mine._directory[0] > stamp
    with Ledger.open(db_url) as other:
        other.append([_register(network, {"revoke": [
            {"key_id": key.key_id, "revoked_at": NOW.isoformat(), "reason": "lost"}]})],
            now=NOW)
    with pytest.raises(SignatureError, match="revoked"):
        mine.append([_origin_by(network, "farm-new", key, "LOT-D-3")], now=NOW)
    assert mine.verify().ok


def test_a_rejected_batch_leaves_nothing_of_its_registrations_in_the_cache(
        network: Network) -> None:
    ledger = network.ledger
    key = SigningKey.generate()
    size = ledger.size
    with pytest.raises(ValidationError):
        ledger.append([_register(network, _new_party("farm-gone", key)),
                       _origin_by(network, "farm-gone", key, "LOT-G-1"),
                       {"id": "broken", "kind": "origin"}], now=NOW)
    assert ledger.size == size
    with pytest.raises(ValidationError, match="unregistered actor"):
        ledger.append([_origin_by(network, "farm-gone", key, "LOT-G-2")], now=NOW)
    ledger.append([origin_event(network, "LOT-G-3")], now=NOW)  # the cache still serves the rest
    assert ledger.verify().ok
