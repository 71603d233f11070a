"""``verify --policy``: check a ledger's witness cosignatures against a C2SP tlog-policy and
ask the witnesses what they hold, to find a split view (docs/contract.md "Witnesses").

A split view is a checkpoint signed by the ledger's operator key that the ledger does not
contain: a witness holds a signed checkpoint of size N with a root the ledger does not have
at N, or of a size larger than the ledger. It is what the rollback-and-resign attack leaves
behind (delete the newest records and their checkpoint, append others, sign again): the
witnesses keep the first note, the ledger shows the second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import TracelibError
from ..ledger import Ledger
from ..note import Checkpoint, CosignatureVerifier, open_cosigned_note
from ..policy import Policy
from ..store.witnesses import WitnessesSql
from .client import DEFAULT_TIMEOUT, fetch_checkpoint
from .cosigning import WitnessStatus, witness_status
from .server import origin_hash

__all__ = ["PolicyReport", "SplitView", "check_policy"]


@dataclass(frozen=True)
class SplitView:
    """A witness's signed checkpoint that contradicts the ledger, with both notes."""

    witness: str
    witness_note: str
    ledger_note: str | None
    why: str


@dataclass
class PolicyReport:
    """What ``verify --policy`` found."""

    status: WitnessStatus
    policy: str
    cosignatures_checked: int = 0
    problems: list[str] = field(default_factory=list)
    split_views: list[SplitView] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    @property
    def witnessed(self) -> bool:
        return self.status.newest_size is not None and self.status.size == self.status.newest_size

    @property
    def ok(self) -> bool:
        return self.witnessed and not self.problems and not self.split_views


def _check_stored_lines(ledger: Ledger, policy: Policy, report: PolicyReport) -> None:
    """Every stored cosignature line verifies over its checkpoint, by the key registered for
    its witness (or a policy key with its name and key id)."""
    with ledger.store.reader() as conn:
        rows = WitnessesSql.cosignatures(conn)
        registered = {w.name: w for w in WitnessesSql.witnesses(conn)}
        checkpoints = {int(r["size"]): bytes(r["root"]) for r in ledger.store.all_checkpoints(conn)}
    for row in rows:
        keys: list[CosignatureVerifier] = list(policy.cosigner_keys())
        if row.witness in registered:
            keys.append(CosignatureVerifier.parse(registered[row.witness].vkey))
        root = checkpoints.get(row.size)
        if root is None:
            report.problems.append(f"a cosignature by {row.witness} is stored for size "
                                   f"{row.size}, which has no checkpoint")
            continue
        text = Checkpoint(ledger.origin, row.size, root).to_text()
        try:
            opened = open_cosigned_note(f"{text}\n{row.line}\n", [], _unique(keys),
                                        require_signer=False)
        except TracelibError as e:
            report.problems.append(f"the cosignature by {row.witness} of size {row.size} "
                                   f"does not verify: {e}")
            continue
        if not opened.cosignatures:
            report.problems.append(f"the cosignature by {row.witness} of size {row.size} is "
                                   "by no registered or policy key")
            continue
        report.cosignatures_checked += 1


def _unique(keys: list[CosignatureVerifier]) -> list[CosignatureVerifier]:
    seen: dict[tuple[str, bytes], CosignatureVerifier] = {}
    for k in keys:
        seen.setdefault((k.name, k.key_id), k)
    return list(seen.values())


def _ask_witnesses(ledger: Ledger, policy: Policy, report: PolicyReport,
                   timeout: float) -> None:
    """Fetch each witness's checkpoint of this origin and compare it with the ledger."""
    urls: dict[str, str] = {w.name: w.url for w in policy.witnesses.values() if w.url}
    with ledger.store.reader() as conn:
        for row in WitnessesSql.witnesses(conn):
            urls.setdefault(row.name, row.url)
    size = ledger.size
    for name, url in urls.items():
        try:
            status, note = fetch_checkpoint(url, origin_hash(ledger.origin), timeout=timeout)
        except OSError as e:
            report.asked.append(f"{name}: unreachable ({e})")
            continue
        if status == 404:
            report.asked.append(f"{name}: holds no checkpoint of {ledger.origin!r}")
            continue
        if status != 200:
            report.asked.append(f"{name}: answered HTTP {status}")
            continue
        try:
            opened = open_cosigned_note(note, ledger.checkpoint_verifiers(), [])
            held = Checkpoint.parse(opened.text)
        except TracelibError as e:
            report.asked.append(f"{name}: its checkpoint is not signed by the operator's "
                                f"keys ({e})")
            continue
        mine = _ledger_note(ledger, held.size)
        if held.size > size:
            report.split_views.append(SplitView(
                name, note, mine, f"the witness holds a checkpoint of {held.size} records "
                                  f"signed by the operator, but the ledger has only {size}"))
        elif ledger.root(held.size) != held.root:
            report.split_views.append(SplitView(
                name, note, mine, f"the witness holds a checkpoint of {held.size} records "
                                  f"with root {held.root.hex()}, but the ledger's root at "
                                  f"{held.size} is {ledger.root(held.size).hex()}"))
        else:
            report.asked.append(f"{name}: holds size {held.size}, consistent with the ledger")


def _ledger_note(ledger: Ledger, size: int) -> str | None:
    """The ledger's own note at ``size``, else its newest."""
    with ledger.store.reader() as conn:
        row = ledger.store.checkpoint_at(conn, size) or ledger.store.latest_checkpoint(conn)
    return None if row is None else str(row["note"])


def check_policy(ledger: Ledger, policy: Policy, *, ask: bool = True,
                 timeout: float = DEFAULT_TIMEOUT) -> PolicyReport:
    """Check every stored cosignature, whether the newest checkpoint meets ``policy``'s
    quorum, and (``ask``) what each witness with a URL holds."""
    report = PolicyReport(witness_status(ledger, policy), policy.describe())
    mine = {(v.name, v.key_id) for v in ledger.checkpoint_verifiers()}
    if policy.logs and not any((v.name, v.key_id) in mine for v, _url in policy.logs):
        # C2SP tlog-policy: "the policy says that a checkpoint is considered valid if it is
        # signed by any one of the listed logs"
        report.problems.append(f"the policy lists no log key of this ledger "
                               f"({ledger.origin!r}); `tracelib checkpoint --verifier` "
                               "prints it")
    _check_stored_lines(ledger, policy, report)
    if ask:
        _ask_witnesses(ledger, policy, report, timeout)
    return report
