"""A ledger's witnesses: ask them to cosign its checkpoints, store what they return, serve
checkpoints with their cosignatures, and say which checkpoint a policy counts as witnessed
(docs/contract.md "Witnesses").

Who may sign what: the operator registers witnesses (``register`` events'
``data.witnesses``); a witness signs only its cosignature lines, which are stored only after
they verify by the key the operator registered for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import TracelibError, ValidationError
from ..ledger import Ledger, SignedCheckpoint
from ..note import Checkpoint, CosignatureVerifier, open_cosigned_note
from ..policy import Policy
from ..store.witnesses import CosignatureRow, WitnessesSql, WitnessRow
from .client import DEFAULT_TIMEOUT, WitnessAnswer, WitnessTarget, request_cosignature

__all__ = ["WitnessStatus", "collect_cosignatures", "cosigned_note", "registered_witnesses",
           "witness_status", "witness_targets"]


def registered_witnesses(ledger: Ledger) -> list[WitnessRow]:
    """The witnesses the operator registered, by name."""
    with ledger.store.reader() as conn:
        return WitnessesSql.witnesses(conn)


def witness_targets(ledger: Ledger) -> list[WitnessTarget]:
    """The registered witnesses as targets to ask."""
    return [WitnessTarget(row.name, CosignatureVerifier.parse(row.vkey), row.url)
            for row in registered_witnesses(ledger)]


def _proof_from(ledger: Ledger, size: int) -> Callable[[int], Sequence[bytes]]:
    def proof_from(old: int) -> Sequence[bytes]:
        if old > size:
            raise ValidationError(f"size {old} is beyond this checkpoint's {size}")
        return ledger.consistency_proof(old, size).proof
    return proof_from


def collect_cosignatures(ledger: Ledger, checkpoint: SignedCheckpoint | None = None, *,
                         targets: Sequence[WitnessTarget] | None = None,
                         timeout: float = DEFAULT_TIMEOUT) -> list[WitnessAnswer]:
    """Send ``checkpoint`` (default: the newest) to every witness (default: the registered
    ones) in parallel, with a proof from the size each last cosigned as stored (0 when none;
    the witness's 409 corrects it), and store the cosignatures that verify. One answer per
    witness, in the targets' order; nothing raises for a witness being down."""
    if checkpoint is None:
        checkpoint = ledger.latest_checkpoint()
    if checkpoint is None:
        return []
    chosen = list(targets) if targets is not None else witness_targets(ledger)
    if not chosen:
        return []
    size = checkpoint.size
    with ledger.store.reader() as conn:
        start = {t.name: WitnessesSql.newest_cosigned_size(conn, t.name) or 0 for t in chosen}
    proof_from = _proof_from(ledger, size)

    def ask(target: WitnessTarget) -> WitnessAnswer:
        old = start[target.name] if start[target.name] <= size else 0
        return request_cosignature(target, checkpoint.note, size, old,
                                   proof_from, timeout=timeout)

    with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        answers = list(pool.map(ask, chosen))
    rows = [CosignatureRow(size, answer.witness, co.key_id.hex(), co.timestamp, co.line)
            for answer in answers if answer.cosigned for co in answer.cosignatures[:1]]
    if rows:
        with WitnessesSql.writing(ledger.store.engine) as conn:
            WitnessesSql.add_cosignatures(conn, rows)
    return answers


def cosigned_note(ledger: Ledger, size: int | None = None) -> str | None:
    """The signed checkpoint note of ``size`` records (default: the newest) followed by the
    stored witness cosignature lines for it (C2SP tlog-cosignature: a cosignature is one more
    note signature line); None when there is no such checkpoint."""
    with ledger.store.reader() as conn:
        row = (ledger.store.latest_checkpoint(conn) if size is None
               else ledger.store.checkpoint_at(conn, size))
        if row is None:
            return None
        lines = WitnessesSql.cosignatures(conn, int(row["size"]))
    note = str(row["note"])
    present = set(note.split("\n"))
    return note + "".join(f"{r.line}\n" for r in lines if r.line not in present)


@dataclass(frozen=True)
class WitnessStatus:
    """Which checkpoint a policy counts as witnessed: the newest whose cosigners meet the
    quorum (``size``; None when none does), the policy names of its cosigners, and how many
    of the policy's witnesses cosigned the newest checkpoint (``newest_count`` of
    ``total``)."""

    size: int | None
    cosigners: tuple[str, ...]
    newest_size: int | None
    newest_count: int
    total: int

    def to_dict(self) -> dict[str, object]:
        return {"witnessed_size": self.size, "cosigners": list(self.cosigners),
                "newest_size": self.newest_size, "newest_cosigned": self.newest_count,
                "witnesses": self.total}


def _verified_cosigners(policy: Policy, checkpoint: Checkpoint,
                        rows: Sequence[CosignatureRow]) -> set[str]:
    """The policy names of the witnesses whose stored line verifies over ``checkpoint``; a
    line that does not verify is not counted (``verify --policy`` reports it)."""
    text = checkpoint.to_text()
    keys = policy.cosigner_keys()
    verified: list[tuple[str, bytes]] = []
    for row in rows:
        try:
            opened = open_cosigned_note(f"{text}\n{row.line}\n", [], keys,
                                        require_signer=False)
        except TracelibError:
            continue
        verified.extend((c.name, c.key_id) for c in opened.cosignatures)
    return policy.names_of(verified)


def witness_status(ledger: Ledger, policy: Policy) -> WitnessStatus:
    """The newest checkpoint whose stored cosignatures meet ``policy``'s quorum, each line
    verified again by the policy's witness keys (checkpoints are tried newest first, only
    those with stored cosignatures; with ``quorum none`` the newest checkpoint counts)."""
    total = len(policy.witnesses)
    with ledger.store.reader() as conn:
        newest = ledger.store.latest_checkpoint(conn)
        if newest is None:
            return WitnessStatus(None, (), None, 0, total)
        newest_size = int(newest["size"])
        counted: dict[int, set[str]] = {}
        found: tuple[int, set[str]] | None = None
        if policy.satisfied(set()):
            found = (newest_size, set())
        for size in WitnessesSql.cosigned_sizes(conn):
            if size > newest_size:  # a line for a checkpoint the ledger no longer has
                continue
            if found is not None and size < newest_size:
                break
            row = ledger.store.checkpoint_at(conn, size)
            if row is None:
                continue
            cp = Checkpoint(ledger.origin, size, bytes(row["root"]))
            names = _verified_cosigners(policy, cp, WitnessesSql.cosignatures(conn, size))
            counted[size] = names
            if found is None and policy.satisfied(names):
                found = (size, names)
                if size < newest_size:
                    break
    newest_count = len(counted.get(newest_size, set()))
    if found is None:
        return WitnessStatus(None, (), newest_size, newest_count, total)
    return WitnessStatus(found[0], tuple(sorted(found[1] or counted.get(found[0], set()))),
                         newest_size, newest_count, total)
