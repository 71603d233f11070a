"""The README's quick start works from a fresh clone: `make demo` sets itself up, builds the
demo market, serves it, and every URL it prints answers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_make_demo_from_a_fresh_clone_serves_the_printed_urls(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = _free_port()
    env = {**os.environ, "TRACELIB_DEMO_PORT": str(port), "TRACELIB_DEMO_EVENTS": "3000"}
    env.pop("TRACELIB_DB", None)
    env.pop("TRACELIB_KEYSTORE", None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "demo"], cwd=clone, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 900
        text = ""
        while time.monotonic() < deadline:
            text = log.read_text(encoding="utf-8", errors="replace")
            if "Listening at" in text or proc.poll() is not None:
                break
            time.sleep(1)
        assert "Listening at" in text, text[-3000:]
        urls = re.findall(rf"(http://127\.0\.0\.1:{port}/\S+)", text)
        assert len(urls) >= 5, text
        assert "OK:" in text and "verified" in text  # the demo ledger verified
        assert "drill" in text  # it names a drill to try
        for url in urls:
            try:
                response = urllib.request.urlopen(url, timeout=30)  # loopback only
            except OSError as e:  # say what the server printed (it may have stopped)
                log_tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise AssertionError(f"{url}: {e}; make demo exit code {proc.poll()}; "
                                     f"its output ends:\n{log_tail}") from e
            with response:
                assert response.status == 200, url
                assert response.read(), url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
