"""tracelib: a food traceability ledger.

Every hop of a food lot — origin certificate, slaughter, cold chain, market stall,
sale, test — is a signed event in a hash-chained, RFC 9162 Merkle-proven ledger.

>>> from tracelib import Ledger, SigningKey, sign_event, trace
"""

from __future__ import annotations

from .drill import DrillResult, RecallResult, drill, recall
from .errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    ProofError,
    SignatureError,
    TracelibError,
    ValidationError,
)
from .events import Event, sign_event
from .keys import Keystore, SigningKey, VerifyKey
from .ledger import ConsistencyProof, InclusionProof, Ledger, Receipt, SignedCheckpoint
from .merkle import verify_consistency, verify_inclusion
from .note import Checkpoint
from .trace import Trace, trace
from .verify import VerifyReport

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "ConflictError",
    "ConsistencyProof",
    "DrillResult",
    "Event",
    "InclusionProof",
    "IntegrityError",
    "Keystore",
    "Ledger",
    "NotFoundError",
    "ProofError",
    "RecallResult",
    "Receipt",
    "SignatureError",
    "SignedCheckpoint",
    "SigningKey",
    "Trace",
    "TracelibError",
    "ValidationError",
    "VerifyKey",
    "VerifyReport",
    "__version__",
    "drill",
    "recall",
    "sign_event",
    "trace",
    "verify_consistency",
    "verify_inclusion",
]
