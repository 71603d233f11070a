"""GS1 EPCIS 2.0 (docs/contract.md "EPCIS 2.0 export"): the ledger's events out as an
``EPCISDocument`` (``export``) and in
(``capture``: an ``EPCISDocument`` into the ledger, each kind reading its own events back with
``KindSpec.from_epcis``), each kind mapping its own events (``KindSpec.epcis``) with the
shared vocabulary of :mod:`tracelib.cbv` and the event hash ID of :mod:`tracelib.eventhash`."""

from .capture import (
    BEHAVIOURS,
    MAX_EVENTS,
    CaptureProblem,
    CaptureResult,
    DocumentRefused,
    EventOutcome,
    capture,
    check_document,
    choose_kind,
    load_document,
    sources_for,
)
from .export import ExportSummary, document_head, epcis_events, export_document, names_for, write_document

__all__ = [
    "BEHAVIOURS",
    "MAX_EVENTS",
    "CaptureProblem",
    "CaptureResult",
    "DocumentRefused",
    "EventOutcome",
    "ExportSummary",
    "capture",
    "check_document",
    "choose_kind",
    "document_head",
    "epcis_events",
    "export_document",
    "load_document",
    "names_for",
    "sources_for",
    "write_document",
]
