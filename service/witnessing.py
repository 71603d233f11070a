"""The service's witnesses (docs/contract.md "Witnesses"): after the service signs a new
checkpoint, the registered witnesses are asked to cosign it in a background thread (the
request never waits, and a witness that is down costs it nothing); with a witness policy
(``TRACELIB_WITNESS_POLICY``, a C2SP tlog-policy file) the pages say how many witnesses
cosigned ("见证 k/n") and prove their records against the newest witnessed checkpoint.

The witnessed status is cached per process, keyed by the ledger's version and the newest
stored cosignatures, so a page scan pays two primary-key reads for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app

from tracelib.errors import ValidationError
from tracelib.ledger import Ledger, SignedCheckpoint
from tracelib.store.witnesses import WitnessesSql
from tracelib.witness import Policy, WitnessStatus, collect_cosignatures, parse_policy
from tracelib.witness import witness_status as compute_status

from .background import run_later, wait_for_background
from .extension import ledger, service

__all__ = ["ask_witnesses_later", "init_app", "page_witness", "policy", "witness_status"]

_STATUS_KEY = "tracelib_witness_status"


def init_app(app: Flask) -> None:
    """Read ``WITNESS_POLICY`` (a file path) once; a policy that does not parse stops the
    start with its error (a service must not run with a policy it cannot read)."""
    path = app.config.get("WITNESS_POLICY")
    found: Policy | None = None
    if path:
        try:
            text = Path(str(path)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ValidationError(f"TRACELIB_WITNESS_POLICY: cannot read {path}: {e}") from e
        try:
            found = parse_policy(text)
        except ValidationError as e:
            raise ValidationError(f"TRACELIB_WITNESS_POLICY {path}: {e}") from e
    app.extensions["tracelib_witness_policy"] = found
    app.extensions[_STATUS_KEY] = (None, None)


def policy() -> Policy | None:
    found = current_app.extensions.get("tracelib_witness_policy")
    return found if isinstance(found, Policy) else None


def witness_status() -> WitnessStatus | None:
    """The witnessed status under the configured policy (None without one)."""
    chosen = policy()
    if chosen is None:
        return None
    led = ledger()
    with led.store.reader() as conn:
        marker = WitnessesSql.marker(conn)
    key = (service().ledger_version(), marker)
    cached_key, cached = current_app.extensions[_STATUS_KEY]
    if cached_key == key and isinstance(cached, WitnessStatus):
        return cached
    status = compute_status(led, chosen)
    current_app.extensions[_STATUS_KEY] = (key, status)
    return status


def witnessed_size() -> int | None:
    """The size proofs on pages are against (None: the newest signed checkpoint)."""
    status = witness_status()
    return None if status is None else status.size


def page_witness(view_checkpoint: dict[str, Any]) -> dict[str, Any] | None:
    """What the page's verified line says of witnesses: ``{"witnessed": bool, "count": k,
    "total": n}`` for the checkpoint the page proves against (None without a policy)."""
    status = witness_status()
    if status is None:
        return None
    witnessed = status.size is not None and view_checkpoint.get("size") == status.size
    count = len(status.cosigners) if witnessed else (
        status.newest_count if view_checkpoint.get("size") == status.newest_size else 0)
    return {"witnessed": witnessed, "count": count, "total": status.total}


def ask_witnesses_later(led: Ledger, checkpoint: SignedCheckpoint) -> None:
    """Ask the registered witnesses to cosign ``checkpoint`` in a daemon thread, when there
    are any (one primary-key read here); what they answer is logged, never raised."""
    with led.store.reader() as conn:
        if not WitnessesSql.witnesses(conn):
            return
    logger = current_app.logger

    def ask() -> None:
        for answer in collect_cosignatures(led, checkpoint):
            if answer.cosigned:
                logger.info("witness %s", answer.describe())
            else:
                logger.warning("witness %s", answer.describe())

    run_later(f"witnesses-{checkpoint.size}", ask,
              f"asking the witnesses to cosign size {checkpoint.size} failed")


def wait_for_witnesses(app: Flask, timeout: float = 10.0) -> None:
    """Wait for the witness threads started so far (tests, and a clean shutdown)."""
    wait_for_background(app, timeout)
