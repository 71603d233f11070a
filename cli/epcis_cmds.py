"""GS1 EPCIS 2.0: ``tracelib epcis hash`` (docs/contract.md "EPCIS")."""

from __future__ import annotations

import json
import sys

import click

from tracelib.errors import ValidationError
from tracelib.eventhash import (
    document_context,
    document_events,
    document_ignore_fields,
    event_hash_id,
    prehash_string,
)

from .main import CheckFailed


@click.group()
def epcis() -> None:
    """GS1 EPCIS 2.0 documents (JSON-LD)."""


@epcis.command("hash")
@click.argument("file", type=click.File("rb"))
@click.option("--prehash", is_flag=True, help="Print each event's canonical pre-hash string "
              "instead of its hash ID.")
def epcis_hash(file: click.utils.LazyFile, prehash: bool) -> None:
    """Print the GS1 EPCIS event hash ID (ni:///sha-256;…?ver=CBV2.0) of every event in FILE,
    an EPCISDocument or EPCISQueryDocument in JSON-LD ('-' reads standard input): one line per
    event, in document order."""
    name = getattr(file, "name", "<stdin>")
    if not isinstance(name, str) or name == "-":
        name = "<stdin>"
    try:
        doc = json.loads(file.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckFailed(f"{name}: not JSON: {e}") from e
    except RecursionError as e:
        raise CheckFailed(f"{name}: JSON nested too deeply to read") from e
    if not isinstance(doc, dict):
        raise CheckFailed(f"{name}: an EPCIS document must be a JSON object")
    context = document_context(doc)
    ignore = document_ignore_fields(doc)
    lines: list[str] = []
    try:
        for i, event in enumerate(document_events(doc)):
            try:
                lines.append(prehash_string(event, context, ignore=ignore) if prehash
                             else event_hash_id(event, context, ignore=ignore))
            except ValidationError as e:
                raise CheckFailed(f"{name}: event {i + 1}: {e}") from e
    except ValidationError as e:
        raise CheckFailed(f"{name}: {e}") from e
    if not lines:
        raise CheckFailed(f"{name}: the document has no events")
    sys.stdout.write("".join(line + "\n" for line in lines))


COMMANDS = [epcis]
