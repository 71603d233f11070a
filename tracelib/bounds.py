"""The event schema's size limits, declared once (docs/contract.md "Limits").

The envelope and every kind's ``data`` schema validate with these constants, the generated
references (docs/events.md, the OpenAPI document) show them, and the database's columns
(:mod:`tracelib.store.schema`) take their widths from them, so a value the schema accepts
fits in SQLite and in PostgreSQL alike."""

from __future__ import annotations

__all__ = ["MAX_BLOB_BYTES", "MAX_BLOB_NAME", "MAX_DECIMAL_TEXT", "MAX_ID", "MAX_KIND",
           "MAX_LABEL", "MAX_MICRO", "MAX_NUMBER", "MAX_POLICY", "MAX_TEXT", "MAX_TIME_TEXT", "MAX_UNIT"]

#: Identifiers of events, parties, locations and lots (docs/contract.md "Identifiers").
MAX_ID = 200
#: Free text: names, products, producers, places, addresses, reasons, questions.
MAX_TEXT = 500
#: Short labels of a test: item, analyte, method, sample, commodity, tester, laboratory.
MAX_LABEL = 200
#: A witness policy in C2SP tlog-policy form (a peer's ``policy``): some lines a witness.
MAX_POLICY = 10_000
#: A document's, certificate's or receipt's number.
MAX_NUMBER = 100
#: A quantity's unit (``kg``, ``head``, ``box``).
MAX_UNIT = 20
#: A time written as text inside ``data`` (a reading's time, a certificate's issue date).
MAX_TIME_TEXT = 40
#: A measured value written as a decimal string (a lab result in mg/kg).
MAX_DECIMAL_TEXT = 40
#: An attachment's size: a scan or PDF in the blob store (docs/contract.md "Attachments").
MAX_BLOB_BYTES = 20 * 1024 * 1024
#: An attachment's name, ``sha256:`` and 64 lowercase hex digits.
MAX_BLOB_NAME = 71
#: A kind's name.
MAX_KIND = 32
#: The largest amount the database's quantity columns hold: integer micro-units
#: (quantity × 10**6) in signed 64-bit integers (SQLite INTEGER, PostgreSQL bigint). One
#: event carries at most 999,999,999,999.999999 of a lot, which fits; a running total of a
#: lot at a location (received, shipped, …) that would pass this is refused at append.
MAX_MICRO = 2**63 - 1
