"""tracelib: a food traceability ledger."""

from __future__ import annotations

__version__ = "0.1.0"
