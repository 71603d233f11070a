"""The one error hierarchy of tracelib.

Every error the library raises on purpose is a :class:`TracelibError`. Low-level
errors (``binascii.Error``, ``sqlalchemy`` errors, ``cryptography``'s
``InvalidSignature``) are wrapped at the boundary with ``raise ... from e``.
Messages say what was expected and what was found.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "IntegrityError",
    "NotFoundError",
    "PeerError",
    "ProofError",
    "RollbackError",
    "SignatureError",
    "StorageError",
    "TracelibError",
    "ValidationError",
]


class TracelibError(Exception):
    """Root of every error tracelib raises on purpose."""


class ValidationError(TracelibError):
    """Input is malformed or breaks a rule; nothing was stored.

    ``field`` names the offending field (dotted path) and ``line`` the 1-based
    input line, where known.
    """

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None,
                 event_id: str | None = None) -> None:
        self.message = message
        self.field = field
        self.line = line
        self.event_id = event_id
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.event_id is not None:
            where.append(f"event {self.event_id!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def at(self, *, line: int | None = None, event_id: str | None = None) -> ValidationError:
        """Return a copy of this error located at an input line or event."""
        err = type(self)(self.message, field=self.field,
                         line=line if line is not None else self.line,
                         event_id=event_id if event_id is not None else self.event_id)
        return err


class SignatureError(ValidationError):
    """A signature is missing, malformed, by the wrong party or does not verify."""


class ConflictError(TracelibError):
    """An event id already in the ledger arrived with different bytes."""


class NotFoundError(TracelibError):
    """A record, event, lot, party or checkpoint does not exist."""


class IntegrityError(TracelibError):
    """The stored ledger does not re-derive: a chain link, leaf, subtree hash,
    checkpoint or signature is wrong. ``seq`` names the first bad record."""

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(f"seq {seq}: {message}" if seq is not None else message)


class ProofError(TracelibError):
    """A Merkle inclusion or consistency proof, or a checkpoint, does not verify."""


class PeerError(IntegrityError):
    """A peer ledger's answer that does not verify, or a peer that does not answer
    (docs/contract.md "Peers and entries from another ledger"): the message names the peer's
    origin and what failed."""


class RollbackError(IntegrityError):
    """The ledger does not extend the newest checkpoint the operator's signer remembers
    (it was rolled back or replaced); the signer refuses to sign it."""


class StorageError(TracelibError):
    """The database could not do what was asked, for a reason of the server's state, not of
    the input: its disk is full, the connection was lost, the server does not answer, the
    database does not exist, or it holds bytes no tracelib ever wrote. The transaction was
    rolled back: nothing was stored.

    ``reason`` is one of :data:`STORAGE_REASONS`.
    """

    def __init__(self, message: str, *, reason: str = "unknown") -> None:
        # A default, so that pickling (verify's worker processes) rebuilds it from its
        # message and then restores ``reason`` from the instance's dict.
        self.reason = reason
        super().__init__(message)


#: Why the database failed (:attr:`StorageError.reason`).
STORAGE_REASONS = ("full", "lost", "unreachable", "missing", "read_only", "corrupt")
