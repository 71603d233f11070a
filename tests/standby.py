"""A throw-away PostgreSQL streaming standby of the test server, for the read-replica test.

:func:`start_standby` copies the running server with ``pg_basebackup -R`` (PostgreSQL
manual §27.2 "Log-Shipping Standby Servers", §26.3 "pg_basebackup") into a temporary
directory and starts it on a free loopback port as a hot standby (§27.4) that streams and
replays the primary's WAL. PostgreSQL refuses to run as root, so as root every command runs
as the ``postgres`` user (``runuser``) in a directory it owns. :meth:`Standby.stop` stops it
(immediate shutdown; the postmaster is killed by its pid if that fails) and deletes the
directory.

The standby logs every data-modifying statement it is sent (``log_statement = 'mod'``), so
a test can show that a client never tried to write.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["Standby", "postgres_bin", "replication_problem", "start_standby"]

# A hot standby's values of these must be at least the primary's (§27.4.5).
_AT_LEAST_PRIMARY = ("max_connections", "max_worker_processes", "max_wal_senders",
                     "max_prepared_transactions", "max_locks_per_transaction")


def postgres_bin(major: int) -> Path | None:
    """The directory of PostgreSQL ``major``'s programs (Debian: /usr/lib/postgresql/N/bin,
    else beside ``pg_basebackup`` on the PATH), or None when they are not installed."""
    debian = Path(f"/usr/lib/postgresql/{major}/bin")
    if (debian / "pg_basebackup").exists() and (debian / "pg_ctl").exists():
        return debian
    found = shutil.which("pg_basebackup")
    if found and Path(found).with_name("pg_ctl").exists():
        return Path(found).parent
    return None


def replication_problem(primary: Engine) -> str | None:
    """Why the primary would refuse a standby from 127.0.0.1, or None when it accepts one."""
    with primary.connect() as conn:
        level = conn.execute(text("SHOW wal_level")).scalar()
        senders = int(conn.execute(text("SHOW max_wal_senders")).scalar() or 0)
        hba = conn.execute(text(  # `all` does not match replication connections (§21.1)
            "SELECT count(*) FROM pg_hba_file_rules WHERE type LIKE 'host%' "
            "AND 'replication' = ANY(database) AND auth_method = 'trust'")).scalar()
    if level == "minimal" or senders < 1:
        return f"wal_level={level}, max_wal_senders={senders}: the primary cannot stream WAL"
    if not hba:
        return ("pg_hba.conf has no `host replication … trust` entry (run "
                "scripts/ensure-postgres.sh)")
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Standby:
    port: int
    directory: Path
    bin: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.data.exists():
            done = subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data),
                                                "-m", "immediate", "-w", "-t", "30", "stop"]),
                                  capture_output=True, check=False)
            pid_file = self.data / "postmaster.pid"
            if done.returncode != 0 and pid_file.exists():  # not stopped: end it by its pid
                pid = int(pid_file.read_text().split()[0])
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.directory, ignore_errors=True)


def start_standby(primary_url: str, bin_dir: Path) -> Standby:
    """A hot standby of the server at ``primary_url``, streaming from it, accepting
    connections when this returns. Stop it with :meth:`Standby.stop`."""
    primary = make_url(primary_url)
    admin = create_engine(primary_url)
    try:
        with admin.connect() as conn:
            limits = {name: str(conn.execute(text(f"SHOW {name}")).scalar())
                      for name in _AT_LEAST_PRIMARY}
    finally:
        admin.dispose()
    directory = Path(tempfile.mkdtemp(prefix="tracelib-standby-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    standby = Standby(_free_port(), directory, bin_dir)
    try:
        subprocess.run(_as_postgres([
            str(bin_dir / "pg_basebackup"), "-h", str(primary.host or "127.0.0.1"),
            "-p", str(primary.port or 5432), "-U", str(primary.username or "postgres"),
            "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"]),
            check=True, capture_output=True, timeout=120)
        settings = {"port": str(standby.port), "listen_addresses": "'127.0.0.1'",
                    "unix_socket_directories": f"'{directory}'", "hot_standby": "on",
                    "fsync": "off", "shared_buffers": "'32MB'", "log_statement": "'mod'",
                    "logging_collector": "off", "ssl": "off", **limits}
        config = "".join(f"{name} = {value}\n" for name, value in settings.items())
        _write_as_postgres(standby.data / "postgresql.conf", config)
        _write_as_postgres(standby.data / "pg_hba.conf",
                           "local all all trust\nhost all all 127.0.0.1/32 trust\n")
        _write_as_postgres(standby.data / "pg_ident.conf", "")
        started = subprocess.run(_as_postgres([
            str(bin_dir / "pg_ctl"), "-D", str(standby.data), "-l", str(standby.log),
            "-w", "-t", "60", "start"]), capture_output=True, check=False, timeout=90)
        if started.returncode != 0:
            raise RuntimeError(f"the standby did not start: {started.stdout!r} "
                               f"{started.stderr!r}\n{standby.log_text()}")
    except BaseException:
        standby.stop()
        raise
    _wait_for_connections(standby)
    return standby


def _write_as_postgres(path: Path, content: str) -> None:
    path.write_text(content)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def _wait_for_connections(standby: Standby, timeout: float = 30.0) -> None:
    engine = create_engine(standby.url("postgres"))
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    standby.stop()
                    raise
                time.sleep(0.1)
    finally:
        engine.dispose()
