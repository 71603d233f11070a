"""``/healthz`` and ``/readyz``: whether the process is up, and whether it can serve.

``/healthz`` answers 200 while the worker runs and touches nothing else (a liveness probe
restarts a process that stops answering, not one whose database is away).

``/readyz`` answers 200 when every check passes and 503 otherwise (a load balancer or a
readiness probe sends traffic elsewhere), with each check in the body:

* ``database``: a read transaction on the ledger's database opens;
* ``schema``: the database's Alembic revision is the newest this code ships (a schema
  behind means `tracelib upgrade` was not run: docs/operations.md "Schema upgrades");
* ``checkpoint``: the newest signed checkpoint covers every record, or is younger than
  ``READY_MAX_CHECKPOINT_AGE`` seconds (default 3,600; ``0`` turns the check off). Every
  accepted write is followed by a signed checkpoint, so records left uncovered for longer
  mean the service has stopped signing (a missing operator key, a signer that cannot write
  its memory). A ledger with no checkpoint yet passes — a new ledger has promised nothing —
  and says so. This is `tracelib doctor`'s rule with the configured age instead of 24 h.

Both answer JSON with ``Cache-Control: no-store``; neither is rate limited.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flask import Blueprint, Response, current_app

from tracelib.store import Store
from tracelib.timeutil import parse_rfc3339

from ..extension import service
from ..httputil import json_response

__all__ = ["Check", "bp", "readiness"]

bp = Blueprint("ops_health", __name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(json_response({"status": "ok"}))


def _max_age() -> float:
    value = current_app.config.get("READY_MAX_CHECKPOINT_AGE")
    return float(value) if value else 0.0


def readiness() -> list[Check]:
    """The checks of ``/readyz``, in order; the later ones are skipped when the database
    cannot be read."""
    ext = service()
    assert ext.ledger is not None
    store = ext.ledger.store
    try:
        revision = store.schema_revision()
    except Exception as e:  # any failure to read is the finding (StorageError, a driver's)
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return [Check("database", False, first)]
    checks = [Check("database", True, "reachable")]
    head = Store.head_revision()
    checks.append(Check("schema", revision == head, f"revision {revision} (newest {head})"))
    try:
        checks.append(_checkpoint_check(_max_age()))
    except Exception as e:  # the database went away between the two reads
        checks.append(Check("checkpoint", False, str(e).splitlines()[0] if str(e)
                            else type(e).__name__))
    return checks


def _checkpoint_check(max_age: float) -> Check:
    ext = service()
    assert ext.ledger is not None
    size = ext.ledger.size
    latest = ext.ledger.latest_checkpoint()
    if latest is None:
        return Check("checkpoint", True, f"no checkpoint signed yet ({size} "
                                         f"record{'' if size == 1 else 's'})")
    age = (ext.now() - parse_rfc3339(latest.created_at)).total_seconds()
    covered = latest.size >= size
    ok = covered or not max_age or age <= max_age
    limit = f"limit {int(max_age)} s" if max_age else "no age limit"
    return Check("checkpoint", ok, f"newest covers {latest.size} of {size} records, signed "
                                   f"{int(age)} s ago ({limit})")


@bp.get("/readyz")
def readyz() -> Response:
    checks = readiness()
    ready = all(c.ok for c in checks)
    body: dict[str, Any] = {"status": "ready" if ready else "not ready",
                            "checks": [asdict(c) for c in checks]}
    return _no_store(json_response(body, status=200 if ready else 503))
