"""Run ``Ledger.verify()`` in a process of its own and report time and peak RSS.

Usage: ``python -m bench._verify_child DB_URL [--chain-only]`` (``--chain-only``: the
records, tree and checkpoints without replaying the derived tables, ``verify(state=False)``).
Prints ``P <n>`` progress lines
(records checked since the last line) and a final ``R <json>`` line with the
report, the seconds spent in ``verify()``, and peak RSS figures:

* ``rss_main_kb``: this process's high-water RSS, ``VmHWM`` of ``/proc/self/status``.
  Linux carries ``ru_maxrss`` across ``execve`` from the image that exec'd (here the
  bench process, forked at its own size), so ``ru_maxrss`` of RUSAGE_SELF can report
  the *parent's* size; ``VmHWM`` belongs to the new address space only. Both are given.
* ``rss_children_kb``: ``ru_maxrss`` of RUSAGE_CHILDREN, the largest terminated and
  reaped child (the verification workers). It is an upper bound: a worker inherits
  this process's size at spawn time by the same rule.

CPU seconds (user + system) spent by ``verify()`` are given too: ``cpu_main_s`` in this
process, ``cpu_workers_s`` in the workers (RUSAGE_CHILDREN). Their sum per record, set
against CPU seconds per raw Ed25519 verify, says what ``verify()`` costs whatever else
the machine runs: with every core busy, rate / raw rate = cores × raw CPU / CPU per record.
"""

from __future__ import annotations

import json
import resource
import sys
import time


def vm_hwm_kb() -> int | None:
    """Peak RSS of this address space in KiB (Linux), None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> int:
    from tracelib.ledger import Ledger

    url = argv[0]
    state = "--chain-only" not in argv[1:]
    ledger = Ledger.open(url)
    cpu_before = _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = ledger.verify(progress=lambda n: print(f"P {n}", flush=True), state=state)
    seconds = time.perf_counter() - started
    cpu_main = _cpu(resource.RUSAGE_SELF) - cpu_before
    ledger.close()
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = vm_hwm_kb()
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print("R " + json.dumps({"report": report.to_dict(), "seconds": seconds,
                             "rss_main_kb": hwm if hwm is not None else self_kb,
                             "ru_maxrss_self_kb": self_kb, "vm_hwm_kb": hwm,
                             "rss_children_kb": children_kb, "cpu_main_s": cpu_main,
                             "cpu_workers_s": _cpu(resource.RUSAGE_CHILDREN)}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
