"""Where the CLI finds the ledger and the keystore (docs/contract.md "CLI environment")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from tracelib.keys import Keystore, SigningKey
from tracelib.ledger import Ledger, SignedCheckpoint
from tracelib.store.engine import default_keystore

__all__ = ["DEFAULT_DB", "Env", "default_keystore"]

DEFAULT_DB = "tracelib.db"


@dataclass
class Env:
    db: str
    keystore_path: Path
    #: the attachments' folder (``--blobs``, ``TRACELIB_BLOBS``); None: beside the database
    blobs_path: Path | None = None

    @property
    def keystore(self) -> Keystore:
        return Keystore(self.keystore_path)

    def open(self) -> Ledger:
        return Ledger.open(self.db, blobs=self.blobs_path)

    def sign_checkpoint(self, ledger: Ledger, key: SigningKey | None = None) -> SignedCheckpoint:
        """Sign a checkpoint with the operator key of the keystore, through the signer's
        memory beside that key (refusing a ledger that does not extend what it signed)."""
        if key is None:
            key = ledger.signing_key(self.keystore, ledger.operator)
        memory = ledger.signer_memory(self.keystore)
        starting = not memory.exists()
        cp = ledger.sign_checkpoint(key, memory=memory)
        if starting:
            click.echo(f"note: the operator's signer remembers no earlier checkpoint of "
                       f"{ledger.origin!r}; from now on it remembers the newest it signed "
                       f"(size {cp.size}) in {memory.path} and refuses to sign a ledger "
                       "that does not extend it", err=True)
        return cp
