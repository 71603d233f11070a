"""Health checks an operator runs before trusting a deployment (`tracelib doctor`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .blobs import default_blobs
from .errors import RollbackError, StorageError, TracelibError, ValidationError
from .keys import Keystore
from .ledger import Ledger
from .store import Store
from .store.engine import display_url, normalize_url
from .timeutil import parse_rfc3339, utcnow

__all__ = ["Check", "diagnose"]

STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def diagnose(db: str, keystore: str | Path, *, now: datetime | None = None,
             postgres: str | None = None, blobs: str | Path | None = None) -> list[Check]:
    """Check the database, schema, keystore, key permissions, operator key, checkpoint
    freshness, the attachments' blob store (``blobs``, default beside the database) and
    (when given or in use) PostgreSQL connectivity."""
    now = now or utcnow()
    checks: list[Check] = []
    database = _database_check(db)
    checks.append(database)
    if not database.ok:
        return checks
    store = Store(db)
    try:
        revision = store.schema_revision()
    finally:
        store.close()
    head = Store.head_revision()
    if revision is None:
        checks.append(Check("schema", False, "no tracelib schema", "run `tracelib init`"))
        return checks
    checks.append(Check("schema", revision == head, f"revision {revision} (newest {head})",
                        "" if revision == head else "back up, then run `tracelib upgrade`"))
    ledger = Ledger.open(db)
    try:
        store_keys = Keystore(keystore)
        problems = store_keys.permission_problems()
        checks.append(Check("keystore permissions", not problems,
                            "; ".join(problems) or f"{store_keys.path}: folder 0700, keys 0600",
                            "chmod 700 the folder and 600 each key file" if problems else ""))
        has_operator = store_keys.has_party(ledger.operator) if not problems else False
        checks.append(Check("operator key", has_operator,
                            f"key for {ledger.operator!r} " + ("present" if has_operator
                                                                else "missing"),
                            "" if has_operator else "restore the operator key into the keystore "
                                                    "(checkpoints need it)"))
        checks.append(_memory_check(ledger, store_keys))
        size = ledger.size
        latest = ledger.latest_checkpoint()
        if latest is None:
            checks.append(Check("checkpoint", False, "no checkpoint signed",
                                "run `tracelib checkpoint`"))
        else:
            age = now - parse_rfc3339(latest.created_at)
            fresh = latest.size == size or age < STALE_AFTER
            checks.append(Check("checkpoint", fresh,
                                f"newest covers {latest.size} of {size} records, signed "
                                f"{int(age.total_seconds() // 60)} min ago",
                                "" if fresh else "run `tracelib checkpoint` (and publish it)"))
    finally:
        ledger.close()
    checks.append(_blobs_check(db, blobs))
    target = postgres or (db if str(db).startswith("postgresql") else None)
    if target is not None:
        probe = Store(target)
        try:
            with probe.engine.connect() as conn:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
            checks.append(Check("postgresql", True, f"server {version} reachable"))
        except Exception as e:  # any failure is the finding
            checks.append(Check("postgresql", False, str(e).splitlines()[0],
                                "start it: pg_ctlcluster <version> main start"))
        finally:
            probe.close()
    return checks


def _memory_check(ledger: Ledger, keystore: Keystore) -> Check:
    """Whether the ledger still holds the checkpoint the operator's signer remembers."""
    memory = ledger.signer_memory(keystore)
    try:
        remembered = ledger.check_remembered(memory)
    except RollbackError as e:
        return Check("signer memory", False, str(e),
                     "restore the database from a backup that holds the remembered "
                     "checkpoint, then run `tracelib verify`")
    except ValidationError as e:
        return Check("signer memory", False, str(e), f"restore {memory.path} from the "
                                                     "keystore's backup")
    if remembered is None:
        return Check("signer memory", True, f"nothing remembered yet in {keystore.path}: the "
                                            "next checkpoint signed here starts it")
    return Check("signer memory", True, f"the ledger holds the remembered checkpoint of size "
                                        f"{remembered.size}")


def _blobs_check(db: str, blobs: str | Path | None) -> Check:
    """The blob store's folder can be written (docs/operations.md "Attachments blob store"):
    it exists and is writable, or the nearest folder above it that exists is."""
    folder = Path(blobs) if blobs is not None else default_blobs(db)
    where = "" if blobs is not None or "://" not in db or db.startswith("sqlite") else (
        " (the default for a server database: set TRACELIB_BLOBS or --blobs)")
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    writable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    state = "writable" if existing == folder else f"not created yet; {existing} is writable"
    if not writable:
        return Check("blob store", False, f"{folder}{where}: {existing} cannot be written",
                     f"let the service's user write {existing} (chmod/chown), or set "
                     "TRACELIB_BLOBS")
    return Check("blob store", True, f"{folder}{where}: {state}")


def _database_check(db: str) -> Check:
    """Connect to the database and say exactly what is wrong: no file, no server listening,
    no such database, or another failure of the server's."""
    url = normalize_url(db)
    shown = display_url(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            return Check("database", False, f"no database file at {path}",
                         "run `tracelib init` to create it, or correct --db / TRACELIB_DB")
    store = Store(url)
    try:
        with store.reader() as conn:
            conn.exec_driver_sql("SELECT 1")
    except StorageError as e:
        detail, fix = {
            "unreachable": (f"no database server is listening at {shown}",
                            "start the server (e.g. pg_ctlcluster <version> main start) or "
                            "correct --db / TRACELIB_DB"),
            "missing": (f"the database {shown} does not exist on its server",
                        "create it (PostgreSQL: createdb <name>), then run `tracelib init`"),
        }.get(e.reason, (str(e), "check --db / TRACELIB_DB and the server's log"))
        return Check("database", False, detail, fix)
    except TracelibError as e:
        return Check("database", False, str(e), "check --db / TRACELIB_DB")
    finally:
        store.close()
    return Check("database", True, f"reachable at {shown}")

