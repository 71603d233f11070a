"""Signature-pool workers end when the process that started them dies.

A SIGKILLed ``tracelib append`` or service worker used to leave its pool workers running
(they wait on a queue they hold both ends of), holding the caller's stdout open. Only the
parent is killed here, never its process group: the workers must go on their own, within
5 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOW
from tests.helpers import Network, child_env, origin_event
from tracelib._lifeline import CHECK_SECONDS, die_with_parent

GRACE = 5.0  # seconds a pool worker may outlive its parent


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pool_workers(pid: int) -> list[int]:
    """The multiprocessing workers (spawned interpreters) among ``pid``'s children."""
    workers = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(child)
    return workers


def _wait_for_workers(pid: int, proc: subprocess.Popen[bytes], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = _pool_workers(pid)
        if workers:
            return workers
        if proc.poll() is not None:
            raise AssertionError(f"the process ended ({proc.returncode}) before its pool "
                                 "started")
        time.sleep(0.02)
    raise AssertionError(f"no pool workers under {pid} within {timeout} s")


def _assert_gone_within(pids: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return
        time.sleep(0.05)
    left = [p for p in pids if _alive(p)]
    for pid in left:  # do not leave them behind for the rest of the run
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    raise AssertionError(f"pool workers {left} still running {seconds} s after their parent "
                         "was killed")


@pytest.fixture
def sqlite_network(tmp_path: Path, operator_key: object) -> Iterator[Network]:
    from tracelib.keys import SigningKey
    from tracelib.ledger import Ledger

    assert isinstance(operator_key, SigningKey)
    led = Ledger.create(tmp_path / "ledger.db", operator_key=operator_key, now=NOW)
    try:
        yield Network.build(led, operator_key, now=NOW)
    finally:
        led.close()


def _write_batch(net: Network, path: Path, n: int, prefix: str) -> None:
    path.write_text("".join(json.dumps(origin_event(net, f"{prefix}-{i}"), ensure_ascii=False)
                            + "\n" for i in range(n)), encoding="utf-8")


def test_a_worker_ends_soon_after_its_parent() -> None:
    """die_with_parent in a grandchild: the child that started it is killed."""
    script = (
        "import os, subprocess, sys, time\n"
        "code = ('import os, sys, time\\n'\n"
        "        'from tracelib._lifeline import die_with_parent\\n'\n"
        "        'die_with_parent(int(sys.argv[1]))\\n'\n"
        "        'print(os.getpid(), flush=True)\\n'\n"
        "        'time.sleep(60)\\n')\n"
        "subprocess.Popen([sys.executable, '-c', code, str(os.getpid())])\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              env=child_env())
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        _assert_gone_within([worker], 4 * CHECK_SECONDS + 1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()


def test_a_worker_whose_parent_is_already_gone_ends_at_once() -> None:
    with _exits_with(1):
        die_with_parent(os.getppid() + 1)


def test_the_pools_start_their_workers_with_a_lifeline() -> None:
    """The signature pool's and verify's worker initialisers both end a worker whose
    parent is gone."""
    from tracelib import verify
    from tracelib.append import sigpool

    elsewhere = os.getppid() + 1
    with _exits_with(1):
        sigpool._init_worker(elsewhere)
    with _exits_with(1):
        verify._init_worker("sqlite://", {}, "operator", elsewhere)


class _exits_with:
    """``os._exit`` replaced for the block: it raises instead of ending the test run."""

    def __init__(self, code: int) -> None:
        self.code = code

    def __enter__(self) -> None:
        self._saved = os._exit

        def fake(code: int) -> None:
            raise _Exited(code)

        os._exit = fake  # type: ignore[assignment]

    def __exit__(self, kind: object, value: object, _tb: object) -> bool:
        os._exit = self._saved
        if not isinstance(value, _Exited):
            raise AssertionError("die_with_parent did not end the process")
        assert value.code == self.code
        return True


class _Exited(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@pytest.mark.slow
def test_sigkill_of_tracelib_append_takes_its_pool_workers(sqlite_network: Network,
                                                          tmp_path: Path) -> None:
    events = tmp_path / "batch.jsonl"
    _write_batch(sqlite_network, events, 12_000, "LOT-ORPHAN")
    command = [sys.executable, "-c", "from tracelib_cli.main import main; main()",
               "--db", sqlite_network.ledger.store.url, "append", "--no-checkpoint",
               str(events)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=child_env(), start_new_session=True)
    try:
        workers = _wait_for_workers(proc.pid, proc, 120)
        time.sleep(0.3)  # every worker of the pool started
        workers = _pool_workers(proc.pid) or workers
        os.kill(proc.pid, signal.SIGKILL)  # the command only, not its process group
        proc.wait(timeout=10)
        _assert_gone_within(workers, GRACE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.slow
def test_sigkill_of_a_service_worker_takes_its_pool_workers(sqlite_network: Network,
                                                           tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    from tracelib.keys import Keystore
    from tracelib_service import create_app
    from tracelib_service.tokens import issue_token

    url = sqlite_network.ledger.store.url
    keystore = Keystore(tmp_path / "keys")
    app = create_app({"DB": url, "KEYSTORE": str(keystore.path)})
    token = issue_token(app, "farm-1")
    app.extensions["tracelib"].close()
    batch = [origin_event(sqlite_network, f"LOT-API-{i}") for i in range(600)]
    with socket_port() as port:
        env = {**child_env(), "TRACELIB_DB": url, "TRACELIB_KEYSTORE": str(keystore.path)}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
             "tracelib_service:create_app()"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_until_serving(server, port)
            (worker,) = _children(server.pid)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/events", method="POST",
                data=json.dumps({"events": batch}).encode(),
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=120) as response:
                assert response.status == 201
            workers = _pool_workers(worker)
            assert workers, "the append did not use the signature pool"
            os.kill(worker, signal.SIGKILL)
            _assert_gone_within(workers, GRACE)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


class socket_port:
    """A free loopback port (bound and released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        return port

    def __exit__(self, *_: object) -> None:
        return None


def _wait_until_serving(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json",
                                        timeout=10):
                if len(_children(server.pid)) == 1:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not answer within 120 s")
