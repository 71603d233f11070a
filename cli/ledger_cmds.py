"""Ledger commands: init, keys, append, verify, reindex, checkpoint, prove, consistency, show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tracelib.append import Receipt
from tracelib.errors import (
    IntegrityError,
    NotFoundError,
    RollbackError,
    StorageError,
    TracelibError,
    ValidationError,
)
from tracelib.events import Event
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib.store.engine import display_url
from tracelib.timeutil import utcnow

from .context import Env
from .main import CheckFailed
from .tables import folding_table, whole

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
pass_env = click.make_pass_decorator(Env)
MAX_REPORTED_ERRORS = 20


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=err, transient=True,
                    disable=not err.is_terminal)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.command()
@click.option("--operator", default="operator", show_default=True,
              help="Party id of the ledger's operator (signs register events and checkpoints).")
@click.option("--name", help="The operator's display name, e.g. 云阳县市场监督管理局.")
@click.option("--origin", help="Checkpoint origin line [default: tracelib/<operator>].")
@pass_env
def init(env: Env, operator: str, name: str | None, origin: str | None) -> None:
    """Create a ledger and its operator key (the root of trust)."""
    keystore = env.keystore
    key = SigningKey.generate()
    entry = keystore.save(operator, key)
    try:
        ledger = Ledger.create(env.db, operator_key=key, operator=operator, operator_name=name,
                               origin=origin)
    except StorageError as e:
        if e.reason in ("unreachable", "missing"):  # nothing reached the database: no key
            entry.path.unlink(missing_ok=True)     # for a ledger that does not exist
        raise
    with ledger:
        cp = env.sign_checkpoint(ledger, key)
    click.echo(f"created ledger at {display_url(ledger.store.url)}")
    click.echo(f"operator {operator!r}, key {key.key_id} in {keystore.path}")
    click.echo(f"checkpoint origin {cp.checkpoint.origin!r}, size {cp.size}")


@click.group()
def keys() -> None:
    """Register, list and revoke signing keys."""


@keys.command("new")
@click.argument("party")
@click.option("--role", help="Register the party too, with this role (farm, stall, lab, …).")
@click.option("--name", help="The party's display name (with --role).")
@pass_env
def keys_new(env: Env, party: str, role: str | None, name: str | None) -> None:
    """Generate a key for PARTY, store it locally (0600) and register it, signed by the operator.

    A second key for the same party is a rotation: both are valid until the old one is revoked.
    """
    with env.open() as ledger:
        known = ledger.party(party)
        if known is None and role is None:
            raise click.UsageError(f"party {party!r} is not registered; pass --role (and --name) "
                                   "to register it with its key")
        key = SigningKey.generate()
        now = utcnow().isoformat()
        data: dict[str, Any] = {"keys": [{"party": party, "key_id": key.key_id,
                                          "public_key": key.public.base64(), "valid_from": now}]}
        if known is None:
            data["parties"] = [{"id": party, "name": name or party, "role": role}]
        env.keystore.save(party, key)
        operator_append(env, ledger, f"key-{party}-{key.key_id}", data)
    click.echo(f"registered key {key.key_id} for {party!r}; private key in {env.keystore.path}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--at", "revoked_at", help="RFC 3339 time from which the key is not trusted "
                                         "[default: now].")
@click.option("--reason", default="revoked", show_default=True)
@pass_env
def keys_revoke(env: Env, key_id: str, revoked_at: str | None, reason: str) -> None:
    """Revoke KEY_ID: records made after it with that key are rejected."""
    with env.open() as ledger:
        entry = {"key_id": key_id, "revoked_at": revoked_at or utcnow().isoformat(),
                 "reason": reason}
        operator_append(env, ledger, f"revoke-{key_id}", {"revoke": [entry]})
    click.echo(f"revoked key {key_id}")


@keys.command("list")
@click.argument("party", required=False)
@pass_env
def keys_list(env: Env, party: str | None) -> None:
    """List the local keystore's keys (and their registration in the ledger)."""
    table = folding_table(whole("party"), whole("key id"), whole("created"),
                          "registered at seq", "revoked at seq")
    with env.open() as ledger:
        for entry in env.keystore.entries():
            if party and entry.party != party:
                continue
            registered = {k.key_id: k for k in ledger.keys_of(entry.party)}.get(entry.key_id)
            table.add_row(entry.party, entry.key_id, entry.created_at,
                          str(registered.registered_seq) if registered else "not registered",
                          str(registered.revoked_seq) if registered and
                          registered.revoked_seq is not None else "")
    out.print(table)


def operator_append(env: Env, ledger: Ledger, event_id: str, data: dict[str, Any]) -> Receipt:
    """Append a ``register`` event of ``data``, signed with the operator's local key, and sign
    a checkpoint over it: the commands that register keys, witnesses and peers."""
    from tracelib.events import sign_event

    operator_key = ledger.signing_key(env.keystore, ledger.operator)
    event = {"id": event_id, "kind": "register", "time": utcnow().isoformat(),
             "actor": ledger.operator, "location": ledger.office, "data": data}
    receipt = ledger.append([sign_event(event, operator_key)])[0]
    env.sign_checkpoint(ledger, operator_key)
    return receipt


class _Signer:
    """Signs unsigned events with the actor's local key (docs/contract.md "Signature")."""

    def __init__(self, keystore: Keystore, ledger: Ledger) -> None:
        self.keystore = keystore
        self.ledger = ledger
        self._keys: dict[str, SigningKey | None] = {}

    def __call__(self, event: Event) -> Event:
        if event.sig is not None:
            return event
        if event.actor not in self._keys:
            try:  # the newest registered key; else the newest local one (registered by an
                # earlier line of the same file)
                self._keys[event.actor] = self.ledger.signing_key(self.keystore, event.actor)
            except NotFoundError:
                try:
                    self._keys[event.actor] = self.keystore.for_party(event.actor)
                except NotFoundError:
                    self._keys[event.actor] = None
        key = self._keys[event.actor]
        if key is None:
            raise ValidationError(f"event is not signed and the keystore {self.keystore.path} has "
                                  f"no key for actor {event.actor!r}", field="sig",
                                  event_id=event.id)
        return event.signed(key)


def _read_events(lines: list[bytes], signer: _Signer) -> Iterator[tuple[int, Event]]:
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                yield number, signer(Event.from_json(raw))
            except ValidationError as e:
                raise e.at(line=number) from e


#: Seconds a `tracelib append` holds the write lock before it commits what it has and lets
#: other writers (API requests, scan counts) in; see Ledger.append's ``hold_seconds``.
HOLD_SECONDS = 0.5


@click.command()
@click.argument("file", type=click.File("rb"))
@click.option("--checkpoint/--no-checkpoint", default=True, show_default=True,
              help="Sign a new checkpoint afterwards (needs the operator key).")
@click.option("--atomic", is_flag=True,
              help="Store the whole file in one transaction, all or nothing; other writers "
                   "(the API) wait until it is done.")
@click.option("--allow-missing-attachments", is_flag=True,
              help="Accept events citing attachments the blob store does not hold (history "
                   "whose scans are kept elsewhere); verify reports them as missing.")
@pass_env
def append(env: Env, file: Any, checkpoint: bool, atomic: bool,
           allow_missing_attachments: bool) -> None:
    """Append the events of FILE (JSON Lines; - for stdin).

    Every line is validated first; a line that is not a valid event rejects the whole file
    and nothing is stored. Unsigned events are signed with the actor's key from the local
    keystore. The events are then committed in pieces of about half a second each, so that
    the service keeps answering writes and scans during a large import: an event the
    ledger's rules refuse rejects its piece and everything after it, and what was
    committed before stays. Running the same command again continues where it stopped
    (events already stored are reported as already present). --atomic stores the file in
    one transaction instead.

    An event citing an attachment (a scan's sha256: name) that the blob store does not hold
    is refused: add the file first with `tracelib blob add FILE`.
    """
    lines = file.read().splitlines()
    with env.open() as ledger:
        _append_lines(env, ledger, file.name, lines, checkpoint, atomic=atomic,
                      require_attachments=not allow_missing_attachments)


def _append_lines(env: Env, ledger: Ledger, name: str, lines: list[bytes],
                  checkpoint: bool, *, atomic: bool = False,
                  require_attachments: bool = True) -> None:
    signer = _Signer(env.keystore, ledger)
    errors: list[str] = []
    total = 0
    with progress_bar() as bar:
        task = bar.add_task("checking", total=len(lines))
        numbered = iter(enumerate(lines, start=1))
        for number, raw in numbered:
            bar.advance(task)
            if not raw.strip():
                continue
            try:
                signer(Event.from_json(raw))
                total += 1
            except ValidationError as e:
                errors.append(str(e.at(line=number)))
                if len(errors) >= MAX_REPORTED_ERRORS:
                    errors.append("… stopped after 20 errors")
                    break
    if errors:
        for message in errors:
            err.print(f"[red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
        raise CheckFailed(f"{name}: {len(errors)} bad line(s); nothing was stored")
    settled = [0]
    with progress_bar() as bar:
        task = bar.add_task("appending", total=total)
        numbers: list[int] = []

        def stream() -> Iterator[Event]:  # streamed: a million lines never sit in memory twice
            for number, event in _read_events(lines, signer):
                numbers.append(number)
                yield event

        def note_commit(n: int) -> None:
            settled[0] = n

        # The command owns its process: pausing the cyclic garbage collector for the bulk
        # append is its choice to make (a quarter of the writer's CPU on large files).
        try:
            receipts = ledger.append(stream(), lines=_LazyLines(numbers),
                                     progress=lambda n: bar.advance(task, n), pause_gc=True,
                                     hold_seconds=None if atomic else HOLD_SECONDS,
                                     committed=note_commit,
                                     require_attachments=require_attachments)
        except TracelibError as e:
            if not settled[0]:
                raise CheckFailed(f"{e}; nothing was stored") from e
            raise CheckFailed(
                f"{e}; the first {settled[0]} event(s), up to line {numbers[settled[0] - 1]}, "
                f"are in the ledger and the rest was not stored: correct the file and run "
                f"the same command again to continue") from e
        size = ledger.size
        new = sum(1 for r in receipts if not r.duplicate)
        click.echo(f"appended {new} event(s), {len(receipts) - new} already present; "
                   f"ledger size {size}")
        if checkpoint and env.keystore.has_party(ledger.operator):
            cp = env.sign_checkpoint(ledger)
            click.echo(f"checkpoint size {cp.size} root {cp.root.hex()}")


class _LazyLines:
    """Line numbers filled in as the stream is read: ``Ledger.append`` asks for the
    line of item i only after it has drawn item i from the stream."""

    def __init__(self, numbers: list[int]) -> None:
        self._numbers = numbers

    def __getitem__(self, index: int) -> int:
        return self._numbers[index]

    def __len__(self) -> int:
        return len(self._numbers)


@click.command()
@click.option("--workers", type=click.IntRange(min=1), help="Processes [default: all cores].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False),
              help="A C2SP tlog-policy file: check every stored witness cosignature, that the "
                   "newest checkpoint meets its quorum, and ask each witness with a URL which "
                   "checkpoint it holds (a contradicting one is a split view: exit 1).")
@pass_env
def verify(env: Env, workers: int | None, as_json: bool, policy_file: str | None) -> None:
    """Re-derive the whole ledger: chain, leaves, subtree hashes, checkpoints, signatures,
    and every derived table (parties, locations, keys, lots, stock, shipments, tests,
    holds, recalls, limits tables) replayed from the records through the append rules.

    A derived row that differs is named by its table, row and column, with the record that
    should have produced it; `tracelib reindex` rebuilds the derived tables. The checkpoint
    the operator's signer remembers is checked when its key folder is here.

    Then every attachment the ledger cites that the blob store holds is rehashed (a blob
    whose bytes changed fails verify, naming it and the record citing it); cited blobs not
    in the store are counted and the first few named, without failing."""
    with env.open() as ledger:
        with progress_bar() as bar:
            task = bar.add_task("verifying", total=ledger.size)
            try:
                report = ledger.verify(workers=workers, progress=lambda n: bar.advance(task, n))
            except IntegrityError as e:  # rows verify cannot even read
                raise CheckFailed(f"verification FAILED at {e}") from e
        # Checked whatever the report says: a rolled-back ledger is the failure to name
        # first, and its other differences (derived rows of the deleted records) follow.
        memory_ok, memory_text = _check_signer_memory(env, ledger)
        witnessing = _check_policy(ledger, policy_file) if policy_file else None
    if as_json:
        extra = {} if witnessing is None else {"witnesses": _policy_dict(witnessing)}
        print_json({**report.to_dict(), "signer_memory": memory_text, **extra})
    if witnessing is not None and not as_json:
        _echo_policy(witnessing)
    if witnessing is not None and witnessing.split_views:
        raise CheckFailed(f"verification FAILED: split view: {len(witnessing.split_views)} "
                          "witness(es) hold a checkpoint signed by the operator that this "
                          "ledger contradicts (both notes above)")
    if not memory_ok:
        raise CheckFailed(f"verification FAILED: {memory_text}")
    if witnessing is not None and witnessing.problems:
        raise CheckFailed(f"verification FAILED: {witnessing.problems[0]}")
    if not report.ok:
        at = f" at seq {report.bad_seq}" if report.bad_seq is not None else ""
        raise CheckFailed(f"verification FAILED{at}: {report.problem}")
    if not as_json:
        click.echo(f"OK: {report.records_checked} records, {report.checkpoints_checked} "
                   f"checkpoints and every derived table verified in {report.seconds:.2f} s")
        click.echo(f"attachments: {report.blobs_checked} cited blob(s) present and rehashed")
        if report.blobs_missing:
            shown = ", ".join(report.missing_blobs)
            more = " …" if report.blobs_missing > len(report.missing_blobs) else ""
            click.echo(f"attachments: {report.blobs_missing} cited blob(s) not in the blob "
                       f"store {ledger.blobs.root} (not a failure: blob presence is not "
                       f"ledger state): {shown}{more}")
        click.echo(memory_text)
    if witnessing is not None and witnessing.status.newest_size is None:
        raise CheckFailed("verification FAILED: no checkpoint is signed yet, so none is "
                          "witnessed (tracelib checkpoint)")
    if witnessing is not None and not witnessing.witnessed:
        raise CheckFailed(f"verification FAILED: the newest checkpoint (size "
                          f"{witnessing.status.newest_size}) is not witnessed: "
                          f"{witnessing.status.newest_count} of {witnessing.status.total} "
                          f"policy witnesses cosigned it; the policy needs "
                          f"{witnessing.policy}")


def _check_policy(ledger: Ledger, policy_file: str) -> Any:
    from pathlib import Path

    from tracelib.witness import check_policy, parse_policy

    policy = parse_policy(Path(policy_file).read_text(encoding="utf-8"))
    return check_policy(ledger, policy)


def _policy_dict(report: Any) -> dict[str, Any]:
    return {**report.status.to_dict(), "policy": report.policy, "witnessed": report.witnessed,
            "cosignatures_checked": report.cosignatures_checked, "problems": report.problems,
            "asked": report.asked,
            "split_views": [{"witness": s.witness, "why": s.why, "witness_note": s.witness_note,
                             "ledger_note": s.ledger_note} for s in report.split_views]}


def _echo_policy(report: Any) -> None:
    status = report.status
    click.echo(f"witnesses: {report.cosignatures_checked} stored cosignature(s) verified; "
               f"policy: {report.policy}")
    if status.size is None:
        click.echo("witnesses: no checkpoint meets the policy yet")
    else:
        click.echo(f"witnesses: newest witnessed checkpoint: size {status.size} "
                   f"(cosigned by {', '.join(status.cosigners) or 'nobody needed'}); newest "
                   f"checkpoint size {status.newest_size}: {status.newest_count}/"
                   f"{status.total} cosigned")
    for line in report.asked:
        click.echo(f"witness {line}")
    for problem in report.problems:
        click.echo(f"witnesses: PROBLEM: {problem}")
    for split in report.split_views:
        click.echo(f"SPLIT VIEW reported by witness {split.witness}: {split.why}")
        click.echo("--- the note the witness holds ---")
        click.echo(split.witness_note, nl=False)
        click.echo("--- the ledger's note ---")
        click.echo(split.ledger_note or "(none)\n", nl=False)


def _check_signer_memory(env: Env, ledger: Ledger) -> tuple[bool, str]:
    """Whether the ledger still holds the checkpoint the operator's signer remembers, and
    what was checked (in words)."""
    if not env.keystore_path.is_dir():
        return True, (f"the operator's key folder {env.keystore_path} is not here: the "
                      "checkpoint its signer remembers was not checked")
    memory = ledger.signer_memory(env.keystore)
    try:
        remembered = ledger.check_remembered(memory)
    except RollbackError as e:
        return False, str(e)
    except IntegrityError as e:  # the tree itself is damaged: the report names where
        return True, f"the checkpoint the operator's signer remembers was not checked: {e}"
    if remembered is None:
        return True, (f"the operator's signer in {env.keystore_path} remembers no checkpoint "
                      f"of {ledger.origin!r} yet: it starts at the next signing")
    return True, (f"the checkpoint the operator's signer remembers (size {remembered.size}, "
                  f"{remembered.path}) is in the ledger")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_env
def reindex(env: Env, as_json: bool) -> None:
    """Rebuild every derived table from the records (a repair after corruption).

    The records, their Merkle tree and the checkpoints are kept; parties, locations, keys,
    lots, edges, stock, shipments, excursions, test results, inspections and limits tables are
    written again as the append rules make them, in one transaction (a record the rules refuse
    leaves everything as it was). Run `tracelib verify` afterwards."""
    with env.open() as ledger, progress_bar() as bar:
        task = bar.add_task("reindexing", total=ledger.size)
        report = ledger.reindex(progress=lambda n: bar.advance(task, n))
    if as_json:
        print_json(report.to_dict())
    else:
        click.echo(f"OK: derived tables rebuilt from {report.size} records in "
                   f"{report.seconds:.2f} s")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--verifier", is_flag=True,
              help="Print the C2SP verifier key(s) auditors and witnesses check notes with.")
@click.option("--witnesses/--no-witnesses", default=True, show_default=True,
              help="Send the checkpoint to every registered witness (C2SP tlog-witness) and "
                   "print per witness what happened.")
@pass_env
def checkpoint(env: Env, as_json: bool, verifier: bool, witnesses: bool) -> None:
    """Sign a checkpoint (C2SP tlog-checkpoint as a signed note) at the current size, then
    ask the registered witnesses to cosign it; the printed note carries their cosignatures."""
    from tracelib.witness import cosigned_note

    from .witnessing import answer_dict, ask_witnesses

    with env.open() as ledger:
        if verifier:
            for note_verifier in ledger.checkpoint_verifiers():
                click.echo(note_verifier.to_string())
            return
        cp = env.sign_checkpoint(ledger)
        answers = ask_witnesses(ledger, as_json) if witnesses else []
        note = cosigned_note(ledger, cp.size) or cp.note
    if as_json:
        print_json({**cp.to_dict(), "note": note,
                    "witnesses": [answer_dict(a) for a in answers]})
    else:
        click.echo(note, nl=False)


@click.command()
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1),
              help="Tree size [default: the newest checkpoint covering SEQ].")
@pass_env
def prove(env: Env, seq: int, size: int | None) -> None:
    """Print an RFC 9162 inclusion proof of record SEQ as JSON."""
    with env.open() as ledger:
        proof = ledger.inclusion_proof(seq, size)
    proof.verify()
    print_json(proof.to_dict())


@click.command()
@click.argument("size1", type=click.IntRange(min=1))
@click.argument("size2", type=click.IntRange(min=1))
@pass_env
def consistency(env: Env, size1: int, size2: int) -> None:
    """Print an RFC 9162 consistency proof between tree sizes SIZE1 and SIZE2 as JSON."""
    with env.open() as ledger:
        proof = ledger.consistency_proof(size1, size2)
    proof.verify()
    print_json(proof.to_dict())


@click.command()
@click.argument("ref")
@pass_env
def show(env: Env, ref: str) -> None:
    """Print a record by seq number or event id, as JSON."""
    with env.open() as ledger:
        try:
            record = ledger.record(int(ref)) if ref.isdigit() else ledger.record_for_event(ref)
        except NotFoundError:
            if not ref.isdigit():
                raise
            record = ledger.record_for_event(ref)
    print_json(record.to_dict())


COMMANDS = [init, keys, append, verify, reindex, checkpoint, prove, consistency, show]


@click.command()
@click.option("--postgres", help="Also check this PostgreSQL URL is reachable.")
@pass_env
def doctor(env: Env, postgres: str | None) -> None:
    """Check the database, schema, keystore, key permissions, checkpoint freshness, the
    blob store's folder and PostgreSQL connectivity, and say what to fix."""
    from tracelib.doctor import diagnose

    checks = diagnose(env.db, env.keystore_path, postgres=postgres, blobs=env.blobs_path)
    table = folding_table("check", "", "detail", "fix")
    for check in checks:
        table.add_row(check.name, "ok" if check.ok else "[red]FAIL[/]", check.detail, check.fix)
    out.print(table)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        raise CheckFailed(f"{len(failed)} check(s) failed: {', '.join(failed)}")


@click.command()
@pass_env
def upgrade(env: Env) -> None:
    """Upgrade the database schema to this version of tracelib (back up first)."""
    from tracelib.store import Store

    store = Store(env.db)
    try:
        before = store.schema_revision()
        store.migrate()
        after = store.schema_revision()
    finally:
        store.close()
    click.echo(f"schema {before or 'none'} → {after}" if before != after
               else f"schema already at {after}")


COMMANDS.extend([doctor, upgrade])
