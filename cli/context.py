"""Where the CLI finds the ledger and the keystore (docs/contract.md "CLI environment")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracelib.keys import Keystore
from tracelib.ledger import Ledger
from tracelib.store.engine import default_keystore

__all__ = ["DEFAULT_DB", "Env", "default_keystore"]

DEFAULT_DB = "tracelib.db"


@dataclass
class Env:
    db: str
    keystore_path: Path

    @property
    def keystore(self) -> Keystore:
        return Keystore(self.keystore_path)

    def open(self) -> Ledger:
        return Ledger.open(self.db)
