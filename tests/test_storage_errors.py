"""Errors users can act on: a full disk, a terminated PostgreSQL backend, a missing database or
a server that does not listen, and text that is not UTF-8 in a stored column each give one
line saying what happened and that nothing was stored (exit 1), never a traceback; `doctor`
says exactly what is wrong; and afterwards the ledger still verifies (nothing half-stored)."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, text

from tests.conftest import NOW
from tests.helpers import Network, origin_event
from tracelib.doctor import diagnose
from tracelib.errors import IntegrityError, StorageError
from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger
from tracelib.store import Store
from tracelib_cli.main import cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output and lines[0].startswith("error: "), output
    return lines[0]


@pytest.fixture
def keyed(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Path, Network]]:
    """A ledger with its operator key (and the parties' keys) in a keystore, the way the CLI
    finds them."""
    key = SigningKey.generate()
    keystore = Keystore(tmp_path / "keys")
    keystore.save("operator", key)
    with Ledger.create(db_url, operator_key=key, now=NOW) as ledger:
        net = Network.build(ledger, key, now=NOW)
        for party, party_key in net.keys.items():
            keystore.save(party, party_key)
        ledger.sign_checkpoint(key, now=NOW, memory=ledger.signer_memory(keystore))
        yield db_url, keystore.path, net


def _events_file(net: Network, path: Path, count: int, prefix: str) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps(origin_event(net, f"LOT-{prefix}{i:05d}"),
                                 ensure_ascii=False) + "\n")
    return path


def _verifies(db: str) -> int:
    with Ledger.open(db) as ledger:
        report = ledger.verify(workers=1)
        assert report.ok, report
        return ledger.size


# --- a full disk -----------------------------------------------------------------------------

@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_disk_full_during_append_is_one_line_and_stores_nothing(
        keyed: tuple[str, Path, Network], tmp_path: Path) -> None:
    db, keys, net = keyed
    size = _verifies(db)
    events = _events_file(net, tmp_path / "big.jsonl", 2000, "FULL")
    with sqlite3.connect(db.removeprefix("sqlite:///")) as probe:
        pages = probe.execute("PRAGMA page_count").fetchone()[0]

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        # The database may not grow past its size now: SQLITE_FULL, as on a full disk.
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(Engine, "connect", no_room)
    try:
        result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(keys), "append",
                                          str(events)])
    finally:
        event.remove(Engine, "connect", no_room)
    assert result.exit_code == 1, result.output
    line = _one_line_error(result.output)
    assert "is full" in line and "nothing was stored" in line
    assert _verifies(db) == size


# --- a terminated PostgreSQL backend ---------------------------------------------------------

@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_terminated_backend_during_a_cli_append_is_one_line(
        keyed: tuple[str, Path, Network], tmp_path: Path, pg_server: str) -> None:
    db, keys, net = keyed
    size = _verifies(db)
    events = _events_file(net, tmp_path / "some.jsonl", 50, "LOST")
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    terminated: list[int] = []

    def after_lock(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "pg_advisory_xact_lock" in statement and not terminated:
            pid = conn.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:
                assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                     {"pid": pid}).scalar()
            terminated.append(pid)

    event.listen(Engine, "after_cursor_execute", after_lock)
    try:
        result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(keys), "append",
                                          str(events)])
    finally:
        event.remove(Engine, "after_cursor_execute", after_lock)
        admin.dispose()
    assert terminated, "the writer never took its lock"
    assert result.exit_code == 1, result.output
    line = _one_line_error(result.output)
    assert "connection to the database" in line and "was lost" in line
    assert "nothing was stored" in line
    assert _verifies(db) == size


# --- a database that is missing, or a server that does not listen ----------------------------

def _missing_pg(pg_server: str) -> str:
    return pg_server.rsplit("/", 1)[0] + "/tracelib_no_such_database"


@pytest.mark.postgres
def test_init_and_verify_against_a_missing_postgres_database_are_one_line(
        pg_server: str, tmp_path: Path) -> None:
    db = _missing_pg(pg_server)
    runner = CliRunner()
    for args in (["init"], ["verify"], ["show", "0"]):
        result = runner.invoke(cli, ["--db", db, "--keystore", str(tmp_path / "k"), *args])
        assert result.exit_code == 1, result.output
        line = _one_line_error(result.output)
        assert "does not exist" in line and "nothing was stored" in line, line
    assert not list((tmp_path / "k").glob("*.json"))  # no key left for a ledger never made


def test_a_server_that_does_not_listen_is_one_line(tmp_path: Path) -> None:
    db = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/test?connect_timeout=5"
    result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(tmp_path / "k"), "verify"])
    assert result.exit_code == 1, result.output
    line = _one_line_error(result.output)
    assert "no database server answers" in line and "nothing was stored" in line, line
    with pytest.raises(StorageError) as caught:
        Ledger.open(db)
    assert caught.value.reason == "unreachable"


# --- tracelib doctor -------------------------------------------------------------------------

def _doctor(db: str, keys: Path) -> tuple[int, str]:
    """The command's exit code, and its checks in words (the table wraps them)."""
    result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(keys), "doctor"])
    assert "Traceback" not in result.output
    checks = diagnose(db, keys)
    return result.exit_code, " | ".join(
        f"{c.name} {'ok' if c.ok else 'FAIL'} {c.detail} {c.fix}" for c in checks)


def test_doctor_names_a_server_that_does_not_listen(tmp_path: Path) -> None:
    db = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/test?connect_timeout=5"
    code, output = _doctor(db, tmp_path / "k")
    assert code == 1
    assert "no database server is listening" in output and "reachable" not in output
    assert "tracelib init" not in output


@pytest.mark.postgres
def test_doctor_names_a_missing_database(pg_server: str, tmp_path: Path) -> None:
    code, output = _doctor(_missing_pg(pg_server), tmp_path / "k")
    assert code == 1
    assert "does not exist on its server" in output and "createdb" in output
    assert "reachable" not in output


def test_doctor_names_a_missing_sqlite_file(tmp_path: Path) -> None:
    code, output = _doctor(str(tmp_path / "nothing.db"), tmp_path / "k")
    assert code == 1 and "no database file at" in output and "tracelib init" in output
    assert not (tmp_path / "nothing.db").exists()  # doctor created nothing


@pytest.mark.postgres
def test_doctor_names_a_missing_schema(pg_url: str, tmp_path: Path) -> None:
    code, output = _doctor(pg_url, tmp_path / "k")
    assert code == 1
    assert "database ok reachable" in output and "no tracelib schema" in output
    assert "run `tracelib init`" in output


def test_doctor_names_a_migration_behind(keyed: tuple[str, Path, Network]) -> None:
    db, keys, _net = keyed
    store = Store(db)
    try:
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0008_earlier'"))
    finally:
        store.close()
    code, output = _doctor(db, keys)
    assert code == 1
    assert "revision 0008_earlier" in output and "tracelib upgrade" in output


# --- text that is not UTF-8 in a stored column -----------------------------------------------

@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("column", ["signature", "key_id"])
def test_verify_reports_non_utf8_text_in_a_column_as_a_failure_at_its_seq(
        keyed: tuple[str, Path, Network], column: str) -> None:
    db, keys, net = keyed
    net.ledger.append([origin_event(net, f"LOT-U{i}") for i in range(5)], now=NOW)
    bad = net.ledger.size - 3
    with sqlite3.connect(db.removeprefix("sqlite:///")) as raw:
        raw.execute(f"UPDATE records SET {column} = CAST(x'ffc3' AS TEXT) "
                    "WHERE seq = ?", (bad,))
    with pytest.raises(IntegrityError) as caught:
        net.ledger.verify(workers=1)
    assert caught.value.seq == bad and column in str(caught.value)
    result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(keys), "verify"])
    assert result.exit_code == 1
    line = _one_line_error(result.output)
    assert line.startswith(f"error: verification FAILED at seq {bad}:") and column in line
    result = CliRunner().invoke(cli, ["--db", db, "--keystore", str(keys), "show", str(bad)])
    assert result.exit_code == 1
    assert "edited outside tracelib" in _one_line_error(result.output)
