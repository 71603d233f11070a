"""The operator's signer remembers the newest checkpoint it signed, outside the database, and
refuses to sign a ledger that does not extend it: a rolled-back database (its newest records
and their checkpoint deleted, other events appended) never gets a second, contradicting
checkpoint, and `tracelib verify` says so (C2SP tlog-checkpoint; RFC 9162 §2.1.4)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, text

from tests.conftest import NOW
from tests.helpers import Network, child_env, origin_event, write_script
from tracelib.doctor import diagnose
from tracelib.errors import RollbackError, ValidationError
from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.note import open_note
from tracelib.signer import SignerMemory
from tracelib.store import Store
from tracelib.store.schema import checkpoints, records
from tracelib_cli.main import cli


def roll_back(ledger: Ledger, size: int) -> None:
    """What an attacker with write access to the database does: delete the records from
    ``size`` on, the subtree hashes over them and every checkpoint past ``size``."""
    with ledger.store.engine.begin() as conn:
        conn.execute(delete(records).where(records.c.seq >= size))
        conn.execute(text("DELETE FROM nodes WHERE (idx + 1) * (1 << level) > :size"),
                     {"size": size})
        conn.execute(delete(checkpoints).where(checkpoints.c.size > size))


def stored_checkpoints(ledger: Ledger) -> list[int]:
    with ledger.store.engine.connect() as conn:
        return [int(s) for s in conn.execute(select(checkpoints.c.size)
                                             .order_by(checkpoints.c.size)).scalars()]


@pytest.fixture
def memory(network: Network, tmp_path: Path) -> SignerMemory:
    return network.ledger.signer_memory(tmp_path / "keys")


def grow(net: Network, prefix: str, count: int) -> None:
    net.ledger.append([origin_event(net, f"LOT-{prefix}{i}") for i in range(count)], now=NOW)


# --- the library ------------------------------------------------------------------------------

@pytest.mark.parametrize("regrow", [5, 3, 8], ids=["same-size", "smaller", "larger"])
def test_a_rolled_back_ledger_is_refused_a_second_checkpoint(
        network: Network, memory: SignerMemory, regrow: int) -> None:
    """Found 3: the newest records and their checkpoint deleted, other events appended: the
    signer refuses, naming the remembered checkpoint and what it found, and signs nothing."""
    ledger = network.ledger
    grow(network, "A", 10)
    signed = ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    before = memory.path.read_bytes()
    roll_back(ledger, signed.size - 5)
    grow(network, "FORGED", regrow)
    size, root = ledger.size, ledger.root()
    assert size == signed.size - 5 + regrow
    with pytest.raises(RollbackError) as caught:
        ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    message = str(caught.value)
    assert f"size {signed.size} root {signed.root.hex()}" in message
    assert (f"{size} records" in message or f"size {size}" in message)
    assert root.hex() in message or regrow > 5
    assert "restore" in message.lower()
    assert stored_checkpoints(ledger) == []  # nothing signed
    assert memory.path.read_bytes() == before
    with pytest.raises(RollbackError, match=f"size {signed.size}"):
        ledger.check_remembered(memory)


def test_without_the_signers_memory_the_rollback_would_be_signed(network: Network) -> None:
    """The reproduction itself: the database alone cannot tell (why the memory is kept
    outside it)."""
    ledger = network.ledger
    grow(network, "A", 10)
    first = ledger.sign_checkpoint(network.operator_key, now=NOW)
    roll_back(ledger, first.size - 5)
    grow(network, "FORGED", 5)
    second = ledger.sign_checkpoint(network.operator_key, now=NOW)
    assert (second.size, second.root != first.root) == (first.size, True)


def test_the_normal_path_remembers_each_new_checkpoint(network: Network,
                                                       memory: SignerMemory) -> None:
    ledger = network.ledger
    assert not memory.exists()
    first = ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    remembered = memory.load()
    assert remembered is not None and remembered.note == first.note
    assert stat.S_IMODE(memory.path.stat().st_mode) == 0o600
    assert [p.name for p in memory.folder.iterdir()] == [memory.path.name]  # no temp file left
    open_note(remembered.note, ledger.checkpoint_verifiers())  # the operator key signed it
    assert ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory) == first
    grow(network, "B", 7)
    second = ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    assert second.size == first.size + 7
    assert memory.load() == remembered.__class__(second.checkpoint, second.note, memory.path)
    assert ledger.check_remembered(memory) is not None


def test_a_ledger_signed_before_signers_remembered_starts_remembering(
        network: Network, memory: SignerMemory) -> None:
    ledger = network.ledger
    old = ledger.sign_checkpoint(network.operator_key, now=NOW)  # no memory: an older install
    assert ledger.check_remembered(memory) is None
    assert ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory) == old
    assert memory.load() is not None and memory.load().note == old.note  # type: ignore[union-attr]


def test_the_memory_is_kept_before_the_checkpoint_is_stored(
        network: Network, memory: SignerMemory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between signing and storing leaves the note remembered (remember first), so a
    rollback afterwards is still refused; the next signing stores the same note."""
    ledger = network.ledger
    grow(network, "A", 4)

    def crash(*_args: object) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Store, "insert_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    monkeypatch.undo()
    assert stored_checkpoints(ledger) == []
    remembered = memory.load()
    assert remembered is not None and remembered.size == ledger.size
    again = ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    assert again.note == remembered.note
    roll_back(ledger, remembered.size - 2)
    grow(network, "FORGED", 2)
    with pytest.raises(RollbackError):
        ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)


CRASH_SCRIPT = """
    import os
    import sys

    from tracelib.keys import Keystore
    from tracelib.ledger import Ledger
    from tracelib.store import Store


    def die(*_args):  # the power fails as the signed note is being stored
        os._exit(9)


    url, keys = sys.argv[1], sys.argv[2]
    Store.insert_checkpoint = die
    ledger = Ledger.open(url)
    ledger.sign_checkpoint(Keystore(keys).for_party(ledger.operator),
                           memory=ledger.signer_memory(keys))
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_process_that_dies_between_signing_and_storing_has_remembered(
        network: Network, tmp_path: Path) -> None:
    """A real crash (the process exits while storing the note): the note it signed is in the
    memory, so the rollback that follows is refused."""
    ledger = network.ledger
    keys = tmp_path / "keys"
    Keystore(keys).save("operator", network.operator_key)
    grow(network, "A", 6)
    script = write_script(tmp_path / "crash.py", CRASH_SCRIPT)
    done = subprocess.run([sys.executable, script, ledger.store.url, str(keys)],
                          env=child_env(), capture_output=True, timeout=120, check=False)
    assert done.returncode == 9, done.stderr.decode()
    assert stored_checkpoints(ledger) == []
    memory = ledger.signer_memory(keys)
    remembered = memory.load()
    assert remembered is not None and remembered.size == ledger.size
    roll_back(ledger, ledger.size - 2)
    grow(network, "FORGED", 2)
    with pytest.raises(RollbackError, match=f"size {remembered.size}"):
        ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)


def test_a_signer_that_cannot_remember_signs_nothing(
        network: Network, memory: SignerMemory, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = network.ledger

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(SignerMemory, "remember", full)
    with pytest.raises(OSError):
        ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    assert stored_checkpoints(ledger) == []
    assert not memory.exists()


def test_a_memory_of_another_origin_is_refused(network: Network, tmp_path: Path) -> None:
    ledger = network.ledger
    memory = ledger.signer_memory(tmp_path / "keys")
    cp = ledger.sign_checkpoint(network.operator_key, now=NOW, memory=memory)
    other = SignerMemory(memory.folder, "tracelib/someone-else")
    other.path.write_bytes(memory.path.read_bytes())
    with pytest.raises(ValidationError, match="origin"):
        other.load()
    assert cp.size == ledger.size


# --- the command line -------------------------------------------------------------------------

def _run(runner: CliRunner, db: str, *args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(cli, ["--db", db, *args], input=input)
    return result.exit_code, result.output


def test_cli_refuses_to_checkpoint_a_rolled_back_ledger_and_verify_says_so(
        tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "ledger.db")
    code, output = _run(runner, db, "init")
    assert code == 0, output
    assert "remembers" in output  # said once, when the memory starts
    code, output = _run(runner, db, "keys", "new", "farm-9", "--role", "farm")
    assert code == 0 and "remembers no earlier" not in output, output
    with Ledger.open(db) as ledger:
        net = Network.build(ledger, Keystore(tmp_path / "ledger-keys").for_party("operator"),
                            now=NOW)
        grow(net, "A", 6)
        code, output = _run(runner, db, "checkpoint", "--json")
        assert code == 0, output
        signed_size = ledger.size
        code, output = _run(runner, db, "verify")
        assert code == 0, output
        assert f"remembers (size {signed_size}" in output
        memory_check = {c.name: c for c in diagnose(db, tmp_path / "ledger-keys")}
        assert memory_check["signer memory"].ok
        roll_back(ledger, signed_size - 3)
        grow(net, "FORGED", 3)
        assert ledger.size == signed_size
    code, output = _run(runner, db, "checkpoint")
    assert code == 1
    assert output.count("\n") == 1 and "Traceback" not in output, output
    assert f"remembers the checkpoint size {signed_size} root" in output
    assert "refusing to sign" in output
    with Ledger.open(db) as ledger:
        assert max(stored_checkpoints(ledger)) < signed_size
    code, output = _run(runner, db, "verify")
    assert code == 1, output
    assert f"remembers the checkpoint size {signed_size}" in output
    memory_check = {c.name: c for c in diagnose(db, tmp_path / "ledger-keys")}["signer memory"]
    assert not memory_check.ok and f"size {signed_size}" in memory_check.detail
    assert "restore the database" in memory_check.fix


def test_cli_verify_without_a_key_folder_says_the_memory_was_not_checked(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "ledger.db")
    assert _run(runner, db, "init")[0] == 0
    code, output = _run(runner, db, "--keystore", str(tmp_path / "elsewhere"), "verify")
    assert code == 0, output
    assert "was not checked" in output
    with Ledger.open(db) as ledger, ledger.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(checkpoints)).scalar() == 1
