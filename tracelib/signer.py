"""The operator's signer remembers the newest checkpoint it signed, outside the ledger.

A signed checkpoint promises that the ledger at that size has that root, for ever (C2SP
tlog-checkpoint; RFC 9162 §2.1.4: every later tree must be consistent with it). The
database cannot keep that promise on its own: whoever can edit it can delete the newest
records and their checkpoint, append other events, and ask the operator key for a second
checkpoint that contradicts the first. So the signer keeps the newest note it signed in a
file beside the operator key and refuses to sign anything that does not extend it
(:meth:`tracelib.ledger.Ledger.sign_checkpoint`). Witnesses, which remember for everyone,
are a later step; this memory protects the operator from its own database.

Invariants
----------
* One file per checkpoint origin, in the keystore folder:
  ``<first 8 bytes of SHA-256(origin), hex>.checkpoint``, mode 0600, holding the signed
  note itself (so it can be read, and verified, like any published checkpoint).
* The file is written atomically: a temporary file, ``fsync``, ``os.replace``, then an
  ``fsync`` of the folder. A reader sees the old note or the new one, never a torn one.
* The signer writes the file *before* the checkpoint is stored in the database or handed
  to anyone (remember first): a note that has left the signer is always remembered. A
  crash after remembering leaves the memory one checkpoint ahead of the database, which
  is harmless (the next signing finds the same size and root, and signs the same note).
* A file whose note is not a checkpoint of its origin is refused, never used.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from tracelib.errors import ValidationError
from tracelib.keys import write_private_file
from tracelib.note import Checkpoint

__all__ = ["RememberedCheckpoint", "SignerMemory"]

SUFFIX = ".checkpoint"


@dataclass(frozen=True)
class RememberedCheckpoint:
    """The newest checkpoint the operator's signer signed for one origin."""

    checkpoint: Checkpoint
    note: str
    path: Path

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root

    def describe(self) -> str:
        """``size N root <hex> (file)``, for messages."""
        return f"size {self.size} root {self.root.hex()} ({self.path})"


class SignerMemory:
    """The file in which the operator's signer remembers its newest checkpoint of ``origin``.

    ``folder`` is the folder of the operator key (the keystore). Nothing is read or written
    until :meth:`load` or :meth:`remember`.
    """

    def __init__(self, folder: str | os.PathLike[str], origin: str) -> None:
        self.folder = Path(folder)
        self.origin = origin
        digest = hashlib.sha256(origin.encode("utf-8")).digest()[:8].hex()
        self.path = self.folder / f"{digest}{SUFFIX}"

    def exists(self) -> bool:
        """Whether a checkpoint is remembered for this origin."""
        return self.path.is_file()

    def load(self) -> RememberedCheckpoint | None:
        """The remembered checkpoint, or None if this signer never signed one for the origin
        (a first checkpoint, or a ledger from before signers remembered)."""
        try:
            note = self.path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise ValidationError(f"cannot read the remembered checkpoint {self.path}: {e}",
                                  field="checkpoint") from e
        body = note.split("\n\n", 1)[0] + "\n"
        try:
            checkpoint = Checkpoint.parse(body)
        except ValidationError as e:
            raise ValidationError(f"the remembered checkpoint {self.path} is not a checkpoint "
                                  f"note: {e}", field="checkpoint") from e
        if checkpoint.origin != self.origin:
            raise ValidationError(f"the remembered checkpoint {self.path} is for origin "
                                  f"{checkpoint.origin!r}, expected {self.origin!r}",
                                  field="checkpoint")
        return RememberedCheckpoint(checkpoint, note, self.path)

    def remember(self, note: str) -> None:
        """Keep ``note`` (a signed checkpoint of this origin) as the newest, atomically."""
        body = note.split("\n\n", 1)[0] + "\n"
        if Checkpoint.parse(body).origin != self.origin:
            raise ValidationError(f"refusing to remember a checkpoint of another origin "
                                  f"than {self.origin!r}", field="checkpoint")
        write_private_file(self.path, note.encode("utf-8"))
