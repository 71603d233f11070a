"""GS1 EPCIS 2.0 (docs/contract.md "EPCIS 2.0 export"): the ledger's events out as an
``EPCISDocument`` (``export``), each kind mapping its own events (``KindSpec.epcis``) with the
shared vocabulary of :mod:`tracelib.cbv` and the event hash ID of :mod:`tracelib.eventhash`."""

from .export import ExportSummary, document_head, epcis_events, export_document, names_for, write_document

__all__ = ["ExportSummary", "document_head", "epcis_events", "export_document", "names_for",
           "write_document"]
