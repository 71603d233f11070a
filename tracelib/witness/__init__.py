"""Witness cosigning (C2SP tlog-witness, tlog-cosignature, tlog-policy): the policy
(:mod:`tracelib.policy`, in the core: a peer's registration carries one), the log's client
(:mod:`.client`), the witness server's logic (:mod:`.server`), a ledger's witnesses and
cosignatures (:mod:`.cosigning`) and ``verify --policy`` (:mod:`.audit`). No web framework:
the CLI and the service serve it.
"""

from __future__ import annotations

from ..policy import Policy, parse_policy
from .audit import PolicyReport, SplitView, check_policy
from .client import WitnessAnswer, WitnessTarget, request_cosignature
from .cosigning import (
    WitnessStatus,
    collect_cosignatures,
    cosigned_note,
    registered_witnesses,
    witness_status,
    witness_targets,
)
from .server import Witness, WitnessState

__all__ = ["Policy", "PolicyReport", "SplitView", "Witness", "WitnessAnswer", "WitnessState",
           "WitnessStatus", "WitnessTarget", "check_policy", "collect_cosignatures",
           "cosigned_note", "parse_policy", "registered_witnesses", "request_cosignature",
           "witness_status", "witness_targets"]
