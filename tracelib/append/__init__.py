"""The append engine: validated, signature-checked events become records of the chain
and the Merkle tree, and each kind's rules update the ledger's derived state, all in one
write transaction, or for a bulk import in pieces with other writers let in between
(:func:`append_events`). Kinds see the engine only through the
protocols of :mod:`tracelib.kinds.context`."""

from __future__ import annotations

from .pipeline import CHUNK, DirectoryCache, Progress, Receipt, append_events

__all__ = ["CHUNK", "DirectoryCache", "Progress", "Receipt", "append_events"]
