"""Witness cosigning, both ways of C2SP tlog-witness: tracelib as the log's client against
`tracelib witness serve` and against a minimal witness written here from the spec, with the
409 and 422 paths; a witness that restarts keeps its state; the rollback-and-resign attack
is refused by every witness and shows in `verify --policy` as a split view (docs/contract.md
"Witnesses"); C2SP tlog-policy parsing."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, text
from werkzeug.serving import make_server

from tests.conftest import NOW
from tests.helpers import Network, origin_event
from tracelib import merkle
from tracelib.errors import ProofError, ValidationError
from tracelib.keys import SigningKey, VerifyKey
from tracelib.ledger import Ledger
from tracelib.note import CosignatureVerifier, cosignature_key_id, open_cosigned_note, signer_string
from tracelib.policy import parse_log_list
from tracelib.store.schema import checkpoints, records
from tracelib.store.witnesses import WitnessesSql
from tracelib.witness import (
    Witness,
    WitnessState,
    WitnessTarget,
    check_policy,
    collect_cosignatures,
    cosigned_note,
    parse_policy,
    registered_witnesses,
    witness_status,
)
from tracelib.witness.client import AHEAD, COSIGNED, INCONSISTENT, UNREACHABLE
from tracelib.witness.server import origin_hash
from tracelib_cli.main import cli

# --- servers ------------------------------------------------------------------------------


@dataclass
class Running:
    """A witness served over real HTTP on 127.0.0.1, with the statuses it answered."""

    url: str
    target: WitnessTarget
    statuses: list[int] = field(default_factory=list)
    stop: Callable[[], None] = lambda: None


def serve(app: Callable[..., Any], name: str, key: SigningKey) -> Running:
    running = Running("", WitnessTarget(name, CosignatureVerifier.for_key(name, key.public),
                                        ""))

    def recording(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: Any) -> Any:
            running.statuses.append(int(status.split()[0]))
            return start_response(status, headers)
        return app(environ, start)

    server = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    running.url = f"http://127.0.0.1:{server.server_port}"
    running.target = WitnessTarget(name, running.target.verifier, running.url)

    def stop() -> None:
        server.shutdown()
        server.server_close()
    running.stop = stop
    return running


@pytest.fixture
def witnesses(network: Network, tmp_path: Path) -> Iterator[list[Running]]:
    """Three `witness serve` witnesses following the ledger, registered by the operator."""
    ledger = network.ledger
    started = []
    for i in (1, 2, 3):
        key = SigningKey.generate()
        app = Witness(f"witness.county{i}.example/w", key, ledger.checkpoint_verifiers(),
                      WitnessState(tmp_path / f"w{i}"), clock=lambda: 1_765_000_000.0)
        started.append(serve(app.wsgi, f"witness.county{i}.example/w", key))
    network.append_as("operator", {"kind": "register", "location": "operator.office", "data": {
        "witnesses": [{"name": f"county{i}", "vkey": w.target.verifier.to_string(),
                       "url": w.url} for i, w in enumerate(started, 1)]}})
    yield started
    for w in started:
        w.stop()


def grow(net: Network, prefix: str, count: int) -> None:
    net.ledger.append([origin_event(net, f"LOT-{prefix}{i}") for i in range(count)], now=NOW)


def policy_text(runs: list[Running], ledger: Ledger, quorum: str = "2") -> str:
    lines = [f"log {v.to_string()}" for v in ledger.checkpoint_verifiers()]
    lines += [f"witness county{i} {w.target.verifier.to_string()} {w.url}"
              for i, w in enumerate(runs, 1)]
    lines += [f"group counties {quorum} county1 county2 county3", "quorum counties"]
    return "\n".join(lines) + "\n"


# --- a minimal witness written from the spec ------------------------------------------------


class SpecWitness:
    """C2SP tlog-witness add-checkpoint, written from the spec alone (one log, Ed25519
    cosignature/v1 by `cryptography` directly): 404 unknown origin, 403 no trusted signature,
    400 old > size, 409 + text/x.tlog.size, 422 bad proof / same size other root, 200."""

    def __init__(self, origin: str, log_key: VerifyKey, name: str) -> None:
        self.origin, self.log_key, self.name = origin, log_key, name
        self.private = Ed25519PrivateKey.generate()
        self.public = SigningKey.from_bytes(self.private.private_bytes_raw()).public
        self.size, self.root = 0, hashlib.sha256(b"").digest()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        status, ctype, out = self.add(body)
        start_response(f"{status} X", [("Content-Type", ctype)])
        return [out.encode()]

    def add(self, body: str) -> tuple[int, str, str]:
        head, _, note = body.partition("\n\n")
        old = int(head.split("\n")[0].removeprefix("old "))
        proof = [base64.b64decode(x) for x in head.split("\n")[1:]]
        text, _, sigs = note.rpartition("\n\n")
        text += "\n"
        origin, size_s, root_b64 = text.split("\n")[:3]
        if origin != self.origin:
            return 404, "text/plain", "unknown log\n"
        kid = hashlib.sha256(origin.encode() + b"\n\x01" + self.log_key.raw).digest()[:4]
        ok = False
        for line in sigs.rstrip("\n").split("\n"):
            name, b64 = line.removeprefix("— ").split(" ")
            raw = base64.b64decode(b64)
            if name == origin and raw[:4] == kid:
                self.log_key.verify(text.encode(), raw[4:])  # raises: refused below as 500
                ok = True
        if not ok:
            return 403, "text/plain", "no trusted signature\n"
        size, root = int(size_s), base64.b64decode(root_b64)
        if old > size:
            return 400, "text/plain", "old > size\n"
        if old != self.size:
            return 409, "text/x.tlog.size", f"{self.size}\n"
        try:
            if old == 0 and proof:
                raise ProofError("proof with old size 0")
            if old == size and root != self.root:
                raise ProofError("same size, other root")
            if 0 < old < size:
                merkle.verify_consistency(old, size, proof, self.root, root)
        except ProofError:
            return 422, "text/plain", "inconsistent\n"
        self.size, self.root = size, root
        stamp = 1_765_000_000
        message = f"cosignature/v1\ntime {stamp}\n".encode() + text.encode()
        key_id = hashlib.sha256(self.name.encode() + b"\n\x04" + self.public.raw).digest()[:4]
        sig = key_id + stamp.to_bytes(8, "big") + self.private.sign(message)
        return 200, "text/plain", f"— {self.name} {base64.b64encode(sig).decode()}\n"


# --- tracelib against `witness serve` ------------------------------------------------------


def test_checkpoints_are_cosigned_by_every_witness_and_served_with_the_lines(
        network: Network, witnesses: list[Running]) -> None:
    ledger = network.ledger
    grow(network, "A", 6)
    first = ledger.sign_checkpoint(network.operator_key, now=NOW)
    answers = collect_cosignatures(ledger)
    assert [a.outcome for a in answers] == [COSIGNED] * 3
    assert [w.statuses for w in witnesses] == [[200]] * 3  # old 0, no proof: first contact
    note = cosigned_note(ledger)
    assert note is not None and note.startswith(first.note)
    opened = open_cosigned_note(note, ledger.checkpoint_verifiers(),
                                [w.target.verifier for w in witnesses])
    assert {c.name for c in opened.cosignatures} == {w.target.name for w in witnesses}
    assert {c.timestamp for c in opened.cosignatures} == {1_765_000_000}
    # The next checkpoint goes with a consistency proof from the size each one cosigned.
    grow(network, "B", 9)
    second = ledger.sign_checkpoint(network.operator_key, now=NOW)
    assert [a.outcome for a in collect_cosignatures(ledger)] == [COSIGNED] * 3
    assert [w.statuses for w in witnesses] == [[200, 200]] * 3
    with ledger.store.reader() as conn:
        assert {r.size for r in WitnessesSql.cosignatures(conn)} == {first.size, second.size}
    policy = parse_policy(policy_text(witnesses, ledger))
    status = witness_status(ledger, policy)
    assert (status.size, status.newest_count, status.total) == (second.size, 3, 3)


def test_a_witness_that_knows_a_larger_size_answers_409_and_the_client_retries(
        network: Network, witnesses: list[Running]) -> None:
    ledger = network.ledger
    grow(network, "A", 5)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    collect_cosignatures(ledger)
    with WitnessesSql.writing(ledger.store.engine) as conn:  # the log forgot what it stored
        conn.execute(text("DELETE FROM checkpoint_cosignatures"))
    grow(network, "B", 4)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    answers = collect_cosignatures(ledger)
    assert [a.outcome for a in answers] == [COSIGNED] * 3
    assert [w.statuses for w in witnesses] == [[200, 409, 200]] * 3


def test_a_witness_restarted_on_its_state_folder_keeps_its_checkpoint(
        network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    key = SigningKey.generate()
    first = Witness("w.example/1", key, ledger.checkpoint_verifiers(), WitnessState(tmp_path / "s"))
    run = serve(first.wsgi, "w.example/1", key)
    try:
        grow(network, "A", 5)
        signed = ledger.sign_checkpoint(network.operator_key, now=NOW)
        assert collect_cosignatures(ledger, targets=[run.target])[0].cosigned
    finally:
        run.stop()
    state_files = list((tmp_path / "s").glob("*.checkpoint"))
    assert [stat.S_IMODE(p.stat().st_mode) for p in state_files] == [0o600]
    again = Witness("w.example/1", key, ledger.checkpoint_verifiers(), WitnessState(tmp_path / "s"))
    run = serve(again.wsgi, "w.example/1", key)
    try:
        grow(network, "B", 3)
        ledger.sign_checkpoint(network.operator_key, now=NOW)
        # The client starts from 0 (no stored line for this target name): 409 with the size
        # the restarted witness still holds, then a proof from it.
        with WitnessesSql.writing(ledger.store.engine) as conn:
            conn.execute(text("DELETE FROM checkpoint_cosignatures"))
        assert collect_cosignatures(ledger, targets=[run.target])[0].cosigned
        assert run.statuses == [409, 200]
        answer = again.checkpoint(origin_hash(ledger.origin))
        assert answer.status == 200 and b"\n" + str(signed.size + 3).encode() in answer.body
    finally:
        run.stop()


def test_a_down_witness_is_reported_and_costs_the_others_nothing(
        network: Network, witnesses: list[Running]) -> None:
    ledger = network.ledger
    witnesses[1].stop()
    grow(network, "A", 3)
    ledger.sign_checkpoint(network.operator_key, now=NOW)
    answers = collect_cosignatures(ledger, timeout=2.0)
    assert [a.outcome for a in answers] == [COSIGNED, UNREACHABLE, COSIGNED]


# --- the rollback-and-resign attack --------------------------------------------------------


def roll_back_and_resign(network: Network, keep: int, regrow: int, signer_folder: Path) -> None:
    """Delete the newest records and their checkpoint in the database, delete the signer's
    memory file, append other events and sign a new checkpoint."""
    ledger = network.ledger
    with ledger.store.engine.begin() as conn:
        conn.execute(delete(records).where(records.c.seq >= keep))
        conn.execute(text("DELETE FROM nodes WHERE (idx + 1) * (1 << level) > :size"),
                     {"size": keep})
        conn.execute(delete(checkpoints).where(checkpoints.c.size > keep))
    for memory_file in signer_folder.glob("*"):
        memory_file.unlink()
    grow(network, "FORGED", regrow)
    ledger.sign_checkpoint(network.operator_key, now=NOW,
                           memory=ledger.signer_memory(signer_folder))


@pytest.mark.parametrize("regrow", [5, 8], ids=["same-size", "larger"])
def test_the_rollback_and_resign_attack_is_refused_by_every_witness_and_shown_as_a_split_view(
        network: Network, witnesses: list[Running], tmp_path: Path, regrow: int) -> None:
    ledger = network.ledger
    signer_folder = tmp_path / "keys"
    grow(network, "A", 10)
    honest = ledger.sign_checkpoint(network.operator_key, now=NOW,
                                    memory=ledger.signer_memory(signer_folder))
    assert all(a.cosigned for a in collect_cosignatures(ledger))
    roll_back_and_resign(network, honest.size - 5, regrow, signer_folder)
    forged = ledger.latest_checkpoint()
    assert forged is not None and forged.size == honest.size - 5 + regrow
    answers = collect_cosignatures(ledger)
    assert [a.outcome for a in answers] == [INCONSISTENT] * 3
    assert all(w.statuses[-1] == 422 for w in witnesses)
    policy = parse_policy(policy_text(witnesses, ledger))
    report = check_policy(ledger, policy)
    assert not report.witnessed and len(report.split_views) == 3
    assert {s.witness_note.split("\n\n")[0] + "\n" for s in report.split_views} == {
        honest.checkpoint.to_text()}
    # The CLI names it and prints both notes.
    policy_file = tmp_path / "policy.txt"
    policy_file.write_text(policy_text(witnesses, ledger))
    result = CliRunner().invoke(cli, ["--db", ledger.store.url, "--keystore", str(signer_folder),
                                      "verify", "--workers", "1", "--policy", str(policy_file)])
    assert result.exit_code == 1, result.output
    assert "SPLIT VIEW" in result.output and "split view" in result.output
    assert honest.note.split("\n\n")[0] in result.output
    assert forged.note.split("\n\n")[0] in result.output or regrow != 5


def test_a_truncated_ledger_is_behind_its_witnesses_and_collect_fails(
        network: Network, witnesses: list[Running], tmp_path: Path) -> None:
    """Deleting the newest records and re-signing a smaller checkpoint: every witness holds
    a larger one (409 with its size), reported as `ahead`; `witness collect` exits 1."""
    from tracelib.keys import Keystore

    ledger = network.ledger
    keystore = tmp_path / "keys"
    Keystore(keystore).save("operator", network.operator_key)
    grow(network, "A", 10)
    honest = ledger.sign_checkpoint(network.operator_key, now=NOW,
                                    memory=ledger.signer_memory(keystore))
    assert all(a.cosigned for a in collect_cosignatures(ledger))
    roll_back_and_resign(network, honest.size - 4, 0, keystore)
    answers = collect_cosignatures(ledger)
    assert [(a.outcome, a.witness_size) for a in answers] == [(AHEAD, honest.size)] * 3
    result = CliRunner().invoke(cli, ["--db", ledger.store.url, "--keystore", str(keystore),
                                      "witness", "collect"])
    assert result.exit_code == 1 and "larger than this one" in result.output


# --- tracelib against a witness written from the spec --------------------------------------


def test_the_client_against_a_minimal_witness_written_from_the_spec(network: Network) -> None:
    ledger = network.ledger
    spec = SpecWitness(ledger.origin, network.operator_key.public, "spec.example/w")
    run = serve(spec, "spec.example/w", SigningKey.from_bytes(spec.private.private_bytes_raw()))
    try:
        grow(network, "A", 7)
        ledger.sign_checkpoint(network.operator_key, now=NOW)
        assert collect_cosignatures(ledger, targets=[run.target])[0].cosigned
        grow(network, "B", 5)
        second = ledger.sign_checkpoint(network.operator_key, now=NOW)
        assert collect_cosignatures(ledger, targets=[run.target])[0].cosigned
        assert run.statuses == [200, 200]
        # Its cosignature, made without tracelib.note, verifies with tracelib.note.
        note = cosigned_note(ledger, second.size)
        assert note is not None
        opened = open_cosigned_note(note, ledger.checkpoint_verifiers(), [run.target.verifier])
        assert [(c.name, c.timestamp) for c in opened.cosignatures] == [
            ("spec.example/w", 1_765_000_000)]
        spec.size += 1  # the witness claims another size: 409, retry, then 422 (its root)
        grow(network, "C", 2)
        ledger.sign_checkpoint(network.operator_key, now=NOW)
        answer = collect_cosignatures(ledger, targets=[run.target])[0]
        assert answer.outcome == INCONSISTENT and run.statuses[-2:] == [409, 422]
    finally:
        run.stop()


def test_witness_serve_answers_each_protocol_error(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    key = SigningKey.generate()
    w = Witness("w.example/1", key, ledger.checkpoint_verifiers(), WitnessState(tmp_path / "s"))
    grow(network, "A", 4)
    signed = ledger.sign_checkpoint(network.operator_key, now=NOW)
    note = signed.note

    def body(old: int, proof: list[bytes], n: str = note) -> bytes:
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{n}".encode()

    assert w.add_checkpoint(b"garbage").status == 400
    assert w.add_checkpoint(body(0, [], note.replace(ledger.origin, "other.example/log"))
                            ).status == 404
    other = Witness("w.example/1", key, [], WitnessState(tmp_path / "t"))
    assert other.add_checkpoint(body(0, [])).status == 404
    head, sig = note.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1  # the operator's key name and id, a signature that does not verify
    forged = f"{head} {base64.b64encode(bytes(raw)).decode()}\n"
    assert w.add_checkpoint(body(0, [], forged)).status == 403
    unsigned = note.split("\n\n")[0] + "\n\n— someone.example AAAAAAAA\n"
    assert w.add_checkpoint(body(0, [], unsigned)).status == 403
    assert w.add_checkpoint(body(signed.size + 1, [])).status == 400
    assert w.add_checkpoint(body(0, [b"\x00" * 32])).status == 422
    assert w.add_checkpoint(body(0, [])).status == 200
    answer = w.add_checkpoint(body(0, []))
    assert (answer.status, answer.content_type, answer.body) == (
        409, "text/x.tlog.size", f"{signed.size}\n".encode())
    assert w.add_checkpoint(body(signed.size, [])).status == 200  # same size, same root
    grow(network, "B", 3)
    bigger = ledger.sign_checkpoint(network.operator_key, now=NOW)
    bad_proof = [b"\x01" * 32] * len(ledger.consistency_proof(signed.size).proof)
    assert w.add_checkpoint(body(signed.size, bad_proof, bigger.note)).status == 422
    good = list(ledger.consistency_proof(signed.size).proof)
    assert w.add_checkpoint(body(signed.size, good, bigger.note)).status == 200
    assert w.add_checkpoint(body(signed.size, good, bigger.note)).status == 409
    for state_file in (tmp_path / "s").glob("*.checkpoint"):  # a damaged state: fail closed
        state_file.write_text("not a checkpoint\n")
    assert w.add_checkpoint(body(bigger.size, [], bigger.note)).status == 500


def test_the_add_checkpoint_request_example_of_the_spec_parses() -> None:
    """C2SP tlog-witness, add-checkpoint: the example request body."""
    from tracelib.witness.server import parse_add_checkpoint

    example = (
        "old 20852014\n"
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
        "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
        "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
        "\n"
        "example.com/behind-the-sofa\n"
        "20852163\n"
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        "\n"
        "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
        "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
        "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks"
        "+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n")
    parsed = parse_add_checkpoint(example.encode())
    assert parsed.old_size == 20852014 and len(parsed.proof) == 4
    assert parsed.note.startswith("example.com/behind-the-sofa\n20852163\n")
    for bad in ("old 01\n\nx", "old -1\n\nx", "new 1\n\nx", "old 1\nnot base64!\n\nx",
                "old 1\n" + "AAAA\n" * 64 + "\nx"):
        with pytest.raises(ValidationError):
            parse_add_checkpoint(bad.encode())


# --- the operator registers witnesses -------------------------------------------------------


def test_witnesses_are_operator_signed_ledger_state_rebuilt_by_replay(
        network: Network, witnesses: list[Running]) -> None:
    ledger = network.ledger
    assert [w.name for w in registered_witnesses(ledger)] == ["county1", "county2", "county3"]
    report = ledger.verify(workers=1)
    assert report.ok, report.problem
    ledger.reindex()  # rebuilt from the register event
    assert [w.name for w in registered_witnesses(ledger)] == ["county1", "county2", "county3"]
    with ledger.store.engine.begin() as conn:  # a forged row is found by verify
        conn.execute(text("UPDATE witnesses SET url = 'http://evil.example' WHERE name = "
                          "'county1'"))
    report = ledger.verify(workers=1)
    assert not report.ok and "witnesses" in (report.problem or "")


@pytest.mark.parametrize("item, why", [
    ({"name": "w", "vkey": "not a key", "url": "http://w.example"}, "vkey"),
    ({"name": "w", "vkey": None, "url": "ftp://w.example"}, "url"),
])
def test_a_bad_witness_registration_is_refused(network: Network, item: dict[str, Any],
                                               why: str) -> None:
    if item["vkey"] is None:
        item["vkey"] = CosignatureVerifier.for_key("w", SigningKey.generate().public).to_string()
    with pytest.raises(ValidationError) as caught:
        network.append_as("operator", {"kind": "register", "location": "operator.office",
                                       "data": {"witnesses": [item]}})
    assert why in str(caught.value) or why in (caught.value.field or "")
    ed25519_log_key = f"w+{'0' * 8}+" + base64.b64encode(b"\x01" + b"\x00" * 32).decode()
    with pytest.raises(ValidationError):
        CosignatureVerifier.parse(ed25519_log_key)


def test_only_the_operator_may_register_witnesses(network: Network) -> None:
    vkey = CosignatureVerifier.for_key("w", SigningKey.generate().public).to_string()
    with pytest.raises(ValidationError):
        network.append_as("farm-1", {"kind": "register", "location": "farm-1.field", "data": {
            "witnesses": [{"name": "w", "vkey": vkey, "url": "http://w.example"}]}})


# --- policy -----------------------------------------------------------------------------------


def _vkeys(n: int) -> list[str]:
    return [CosignatureVerifier.for_key(f"w{i}.example", SigningKey.generate().public).to_string()
            for i in range(n)]


def test_the_spec_example_policy_parses_and_its_quorum_is_two_levels() -> None:
    """C2SP tlog-policy, "Example policy", with generated keys in place of the elided ones."""
    log_vkey = ledger_vkey()
    k = _vkeys(6)
    policy = parse_policy(f"""# comment
log {log_vkey}

witness X1 {k[0]}
witness X2 {k[1]}
\twitness X3 {k[2]}   https://x3.example/
group X-witnesses 2 X1 X2 X3

witness Y1 {k[3]}
witness Y2 {k[4]}
witness Y3 {k[5]}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
""")
    assert len(policy.logs) == 1 and policy.witnesses["X3"].url == "https://x3.example"
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y1", "Y2", "Y3"})
    assert not policy.satisfied({"X1", "X2"})
    assert policy.describe() == "2 of 2 (X-witnesses, Y-witnesses)"
    assert parse_policy("quorum none\n").satisfied(set())
    assert parse_log_list(f"log {log_vkey}\nquorum none\n")[0].to_string() == log_vkey


def ledger_vkey() -> str:
    from tracelib.note import NoteVerifier

    return NoteVerifier.for_key("county.example/log", SigningKey.generate().public).to_string()


@pytest.mark.parametrize("policy, error", [
    ("", "no quorum"),
    ("quorum none\nquorum none\n", "exactly one quorum"),
    ("quorum W\n", "not defined"),
    ("witness A {0}\ngroup G 2 A\nquorum G\n", "threshold 2"),
    ("witness A {0}\ngroup G 1 A A\nquorum G\n", "more than once"),
    ("witness A {0}\nwitness B {0}\nquorum A\n", "duplicate witness key"),
    ("group G any A\nwitness A {0}\nquorum G\n", "earlier line"),
    ("witness none {0}\nquorum none\n", "reserved"),
    ("witness A {1}\nquorum A\n", "not an Ed25519 cosignature/v1 key"),
    ("frobnicate\nquorum none\n", "unknown keyword"),
    ("witness A {0}\x01\nquorum A\n", "control character"),
])
def test_a_policy_breaking_a_rule_is_refused_naming_the_line(policy: str, error: str) -> None:
    k = _vkeys(1)[0]
    with pytest.raises(ValidationError, match=error):
        parse_policy(policy.format(k, ledger_vkey()))


# --- the CLI ----------------------------------------------------------------------------------


def test_the_witness_commands(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    keystore = tmp_path / "keys"
    from tracelib.keys import Keystore

    Keystore(keystore).save("operator", network.operator_key)
    runner = CliRunner()
    base = ["--db", ledger.store.url, "--keystore", str(keystore)]
    key_file = tmp_path / "witness.key"
    made = runner.invoke(cli, ["witness", "keygen", "witness.cli.example/w", "--out",
                               str(key_file)])
    assert made.exit_code == 0, made.output
    vkey = made.output.strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert CosignatureVerifier.parse(vkey).name == "witness.cli.example/w"
    assert runner.invoke(cli, ["witness", "keygen", "x", "--out", str(key_file)]).exit_code == 1
    from tracelib_cli.witness_cmds import load_witness_key

    name, key = load_witness_key(str(key_file))
    app = Witness(name, key, ledger.checkpoint_verifiers(), WitnessState(tmp_path / "state"))
    run = serve(app.wsgi, name, key)
    try:
        added = runner.invoke(cli, [*base, "witness", "add", "county9", vkey, run.url])
        assert added.exit_code == 0, added.output
        bad = runner.invoke(cli, [*base, "witness", "add", "county8", "nonsense", run.url])
        assert bad.exit_code == 1 and bad.output.count("\n") == 1
        listed = runner.invoke(cli, [*base, "witness", "list"])
        assert "county9" in listed.output and run.url in listed.output
        grow(network, "A", 2)
        signed = runner.invoke(cli, [*base, "checkpoint"])
        assert signed.exit_code == 0, signed.output
        assert "witness county9: cosigned" in signed.output
        assert f"— {name} " in signed.output  # the printed note carries the cosignature
        collected = runner.invoke(cli, [*base, "witness", "collect"])
        assert collected.exit_code == 0 and "county9: cosigned" in collected.output
        policy_file = tmp_path / "policy"
        policy_file.write_text(f"witness county9 {vkey}\nquorum county9\n")
        verified = runner.invoke(cli, [*base, "verify", "--workers", "1", "--policy",
                                       str(policy_file)])
        assert verified.exit_code == 0, verified.output
        assert "newest witnessed checkpoint" in verified.output
        assert "consistent with the ledger" in verified.output
        grow(network, "B", 2)
        unwitnessed = runner.invoke(cli, [*base, "checkpoint", "--no-witnesses"])
        assert unwitnessed.exit_code == 0
        failed = runner.invoke(cli, [*base, "verify", "--workers", "1", "--policy",
                                     str(policy_file)])
        assert failed.exit_code == 1 and "is not witnessed" in failed.output
    finally:
        run.stop()


def test_cosignature_key_ids_differ_from_log_key_ids() -> None:
    key = SigningKey.generate()
    from tracelib.note import note_key_id

    assert cosignature_key_id("n", key.public.raw) != note_key_id("n", key.public.raw)
    assert signer_string("n", key).startswith("PRIVATE+KEY+n+")


def test_witness_serve_runs_as_a_command(network: Network, tmp_path: Path) -> None:
    """`tracelib witness serve` in its own process: key file, logs file, state folder."""
    import re
    import subprocess
    import sys

    from tests.helpers import child_env

    ledger = network.ledger
    key_file, logs = tmp_path / "w.key", tmp_path / "logs"
    made = CliRunner().invoke(cli, ["witness", "keygen", "w.cmd.example", "--out", str(key_file)])
    logs.write_text("# the county's ledger\n"
                    + "".join(f"log {v.to_string()}\n" for v in ledger.checkpoint_verifiers()))
    proc = subprocess.Popen([sys.executable, "-m", "tracelib_cli.main", "witness", "serve",
                             "--key", str(key_file), "--logs", str(logs), "--state",
                             str(tmp_path / "state"), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert proc.stderr is not None
        url = None
        for _ in range(5):
            found = re.search(r"listening on (http://\S+)", proc.stderr.readline())
            if found:
                url = found.group(1)
                break
        assert url is not None
        target = WitnessTarget("cmd", CosignatureVerifier.parse(made.output.strip()), url)
        grow(network, "A", 3)
        ledger.sign_checkpoint(network.operator_key, now=NOW)
        assert collect_cosignatures(ledger, targets=[target])[0].cosigned
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
