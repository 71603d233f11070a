"""A generated county food network (farms to stalls) with signed events and its ground truth."""

from __future__ import annotations

from .generator import (
    Balance,
    GeneratedNetwork,
    HoldRecord,
    NetworkSpec,
    Party,
    Site,
    Truth,
    derive_key,
    generate,
    sign_all,
)

__all__ = ["Balance", "GeneratedNetwork", "HoldRecord", "NetworkSpec", "Party", "Site", "Truth",
           "derive_key", "generate", "sign_all"]
