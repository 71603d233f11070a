"""Where the CLI finds the ledger and the keystore (CONTRACT.md "CLI environment")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.store.engine import normalize_url

DEFAULT_DB = "tracelib.db"


def default_keystore(db: str) -> Path:
    """Beside the database: ``./data/x.db`` → ``./data/x-keys``; for a server URL, ``./tracelib-keys``."""
    url = normalize_url(db)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        return path.with_name(f"{path.stem}-keys")
    return Path("tracelib-keys").resolve()


@dataclass
class Env:
    db: str
    keystore_path: Path

    @property
    def keystore(self) -> Keystore:
        return Keystore(self.keystore_path)

    def open(self) -> Ledger:
        return Ledger.open(self.db)
