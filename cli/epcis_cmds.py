"""GS1 EPCIS 2.0: ``tracelib epcis export`` and ``tracelib epcis hash`` (docs/contract.md "EPCIS")."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from tracelib.epcis import export_document
from tracelib.errors import ValidationError
from tracelib.eventhash import (
    document_context,
    document_events,
    document_ignore_fields,
    event_hash_id,
    prehash_string,
)
from tracelib.timeutil import parse_rfc3339

from .context import Env
from .ledger_cmds import pass_env
from .main import CheckFailed


@click.group()
def epcis() -> None:
    """GS1 EPCIS 2.0 documents (JSON-LD): the ledger's events as EPCIS events, and the GS1
    event hash ID of any EPCIS event."""


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


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_rfc3339(value, field=name)
    except ValidationError as e:
        raise click.BadParameter(str(e), param_hint=f"--{name}") from e


@epcis.command("export")
@click.option("--lot", help="Only the events of this lot's trace: the lot, the lots it came "
                            "from and the lots made from it.")
@click.option("--since", help="Only events at or after this time (RFC 3339 with offset).")
@click.option("--until", help="Only events before this time (RFC 3339 with offset).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the document to this file [default: standard output].")
@click.option("--base-url", envvar="TRACELIB_PUBLIC_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The service's public URL, naming lots without a GTIN "
                                      "and locations without a GLN [env TRACELIB_PUBLIC_URL].")
@pass_env
def epcis_export(env: Env, lot: str | None, since: str | None, until: str | None,
                 out_file: Path | None, base_url: str) -> None:
    """Write the ledger's events (or one lot's trace, or a time range) as one EPCIS 2.0
    EPCISDocument (JSON-LD), streamed. Kinds with no EPCIS event are left out; the counts
    go to standard error."""
    start, end = _time(since, "since"), _time(until, "until")
    with env.open() as ledger:
        if out_file is None:
            summary = export_document(ledger, sys.stdout.buffer, base=base_url, lot=lot,
                                      since=start, until=end)
            sys.stdout.buffer.flush()
        else:  # written beside FILE and renamed: a failed export leaves no half document
            partial = out_file.with_name(out_file.name + ".partial")
            try:
                with partial.open("wb") as f:
                    summary = export_document(ledger, f, base=base_url, lot=lot, since=start,
                                              until=end)
                partial.replace(out_file)
            finally:
                partial.unlink(missing_ok=True)
    click.echo(json.dumps(summary.to_dict(), ensure_ascii=False), err=True)


# -- the EPCIS query and the event hash ID index -------------------------------------------

_BASE_URL = click.option(
    "--base-url", envvar="TRACELIB_PUBLIC_URL", default="http://127.0.0.1:8000",
    show_default=True, help="The service's public URL, naming lots without a GTIN and "
                            "locations without a GLN [env TRACELIB_PUBLIC_URL].")


@epcis.command("query")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="An EPCIS 2.0 query parameter (repeatable): eventType, GE_eventTime, "
                   "LT_eventTime, GE_recordTime, LT_recordTime, EQ_bizStep, EQ_disposition, "
                   "EQ_bizLocation, EQ_readPoint, MATCH_anyEPCClass, MATCH_epcClass, "
                   "MATCH_inputEPCClass, MATCH_outputEPCClass, EQ_action, perPage, "
                   "nextPageToken.")
@click.option("--all", "every_page", is_flag=True, help="Follow every page, not only the first.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the EPCISQueryDocument (its nextPageToken under "
                   "`tracelib:nextPageToken`) instead of one line per event.")
@_BASE_URL
@pass_env
def epcis_query(env: Env, params: tuple[str, ...], every_page: bool, as_json: bool,
                base_url: str) -> None:
    """Run an EPCIS 2.0 query (SimpleEventQuery) on the ledger, as ``GET /epcis/events``
    does with every event in reach: one line per event (seq, eventID, type, bizStep,
    eventTime), then the next page's token on standard error."""
    from tracelib.epcis.query import EventQuery, QueryError, run_query

    given: dict[str, list[str]] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        given.setdefault(name, []).append(value)
    try:
        query = EventQuery.from_params(given)
    except QueryError as e:
        raise click.BadParameter(e.message, param_hint=e.param) from e
    events: list[dict[str, object]] = []
    with env.open() as ledger:
        while True:
            page = run_query(ledger, query, base=base_url)
            events.extend(page.events)
            if not every_page or page.next_token is None:
                break
            query = query.resume(page.next_token)
    if as_json:
        doc = {"type": "EPCISQueryDocument", "schemaVersion": "2.0",
               "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                              "resultsBody": {"eventList": events}}},
               "tracelib:nextPageToken": page.next_token}
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        for event in events:
            click.echo("\t".join(str(event.get(k, "")) for k in (
                "tracelib:seq", "eventID", "type", "bizStep", "eventTime")))
    if page.next_token is not None:
        click.echo(f"nextPageToken={page.next_token}", err=True)


@epcis.command("index")
@click.option("--rebuild", is_flag=True, help="Start the index again from the first record "
                                              "(after master data changed).")
@_BASE_URL
@pass_env
def epcis_index(env: Env, rebuild: bool, base_url: str) -> None:
    """Bring the EPCIS event hash ID index (``GET /epcis/events/{eventID}``) up to date: map
    and hash every record not yet indexed. Not ledger state: safe to run at any time."""
    from tracelib.epcis.eventids import catch_up

    with env.open() as ledger:
        indexed, size = catch_up(ledger, base_url, restart=rebuild)
    click.echo(json.dumps({"indexed": indexed, "size": size}))


COMMANDS = [epcis]
