"""GS1 EPCIS 2.0: ``tracelib epcis export``, ``import``, ``masterdata`` and ``hash``
(docs/contract.md "EPCIS")."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from tracelib.epcis import BEHAVIOURS, DocumentRefused, capture, export_document, load_document
from tracelib.epcis.masterdata import register_masterdata
from tracelib.errors import NotFoundError, TracelibError, ValidationError
from tracelib.eventhash import (
    document_context,
    document_events,
    document_ignore_fields,
    event_hash_id,
    prehash_string,
)
from tracelib.keys import SigningKey
from tracelib.timeutil import parse_rfc3339

from .context import Env
from .ledger_cmds import err, pass_env, progress_bar
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


def _read(file: click.utils.LazyFile) -> tuple[str, bytes]:
    name = getattr(file, "name", "<stdin>")
    return (name if isinstance(name, str) and name != "-" else "<stdin>"), file.read()


#: Refused events listed before the command says how many more there are.
_SHOWN = 20


@epcis.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--behaviour", type=click.Choice(BEHAVIOURS), default="rollback", show_default=True,
              help="rollback: store every event or none; proceed: store the events the ledger "
                   "accepts and list the others.")
@click.option("--base-url", envvar="TRACELIB_PUBLIC_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The service's public URL, under which this ledger's own "
                                      "lots, locations and parties are named "
                                      "[env TRACELIB_PUBLIC_URL].")
@pass_env
def epcis_import(env: Env, file: click.utils.LazyFile, behaviour: str, base_url: str) -> None:
    """Import the events of FILE, an EPCIS 2.0 EPCISDocument (JSON-LD; '-' reads standard
    input): each becomes the tracelib event its kind maps it to, signed with the acting
    party's key from the local keystore, under every rule of the ledger. An event already
    imported answers with its original record. Exits 1 when any event is refused."""
    name, raw = _read(file)
    try:
        doc = load_document(raw)
    except DocumentRefused as e:
        raise CheckFailed(f"{name}: {e.message}; nothing was stored") from e
    keystore = env.keystore
    with env.open() as ledger:
        local: dict[str, SigningKey | None] = {}

        def keys(party: str) -> SigningKey | None:
            if party not in local:
                try:
                    local[party] = ledger.signing_key(keystore, party)
                except NotFoundError:
                    local[party] = None
            return local[party]

        events = doc.get("epcisBody", {}).get("eventList") if isinstance(
            doc.get("epcisBody"), dict) else None
        total = len(events) if isinstance(events, list) else 0
        try:
            with progress_bar() as bar:
                task = bar.add_task("importing", total=total)
                # the command owns its process: it may pause the cyclic collector
                result = capture(ledger, doc, keys=keys, base=base_url, behaviour=behaviour,
                                 progress=lambda n: bar.advance(task, n), pause_gc=True)
        except DocumentRefused as e:
            where = f" at {e.path}" if e.path else ""
            raise CheckFailed(f"{name}{where}: {e.message}; nothing was stored") from e
        except TracelibError as e:
            raise CheckFailed(f"{name}: {e}; nothing was stored") from e
        for problem in result.errors[:_SHOWN]:
            err.print(f"[red]refused:[/] {problem.path}: {problem.detail}", markup=True,
                      highlight=False, soft_wrap=True)
        if result.refused > _SHOWN:
            err.print(f"… and {result.refused - _SHOWN} more refused", highlight=False)
        stored = 0 if (behaviour == "rollback" and result.refused) else result.stored
        click.echo(f"stored {stored} event(s), {result.duplicates} already present, "
                   f"{result.refused} refused; ledger size {ledger.size}")
        if result.refused:
            raise CheckFailed(f"{name}: {result.refused} event(s) refused"
                              + ("; nothing was stored" if behaviour == "rollback" else ""))
        if stored and env.keystore.has_party(ledger.operator):
            cp = env.sign_checkpoint(ledger)
            click.echo(f"checkpoint size {cp.size} root {cp.root.hex()}")


@epcis.command("masterdata")
@click.argument("file", type=click.File("rb"))
@pass_env
def epcis_masterdata(env: Env, file: click.utils.LazyFile) -> None:
    """Register the GLNs of FILE for the ledger's locations, in one register event signed
    with the operator key: tracelib's JSON {"locations": [{"id", "gln", "gln_extension"}]}
    or EPCIS master data (BusinessLocation / ReadPoint vocabularies whose elements carry
    the attribute urn:tracelib:epcis:location)."""
    name, raw = _read(file)
    try:
        doc = load_document(raw)
    except DocumentRefused as e:
        raise CheckFailed(f"{name}: {e.message}") from e
    with env.open() as ledger:
        try:
            key = ledger.signing_key(env.keystore, ledger.operator)
            count = register_masterdata(ledger, doc, key)
        except ValidationError as e:
            raise CheckFailed(f"{name}: {e}; nothing was stored") from e
        click.echo(f"registered the GLNs of {count} location(s); ledger size {ledger.size}")
        env.sign_checkpoint(ledger, key)

# -- webhook subscriptions (docs/contract.md "EPCIS subscriptions") ----------------------

@epcis.command("deliver")
@click.option("--once", is_flag=True, help="One pass: deliver what is due now, then exit.")
@click.option("--ca", "ca_file", type=click.Path(exists=True, dir_okay=False),
              envvar="TRACELIB_EPCIS_CA", help="Trust the certificate authorities in this PEM "
              "file instead of the system's [env TRACELIB_EPCIS_CA].")
@click.option("--base-url", envvar="TRACELIB_PUBLIC_URL", default="http://127.0.0.1:8000",
              show_default=True, help="The service's public URL, naming lots without a GTIN "
                                      "and locations without a GLN [env TRACELIB_PUBLIC_URL].")
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="At most this many events in one POST.")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds to connect to a webhook, and to wait for each read.")
@click.option("--poll", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
              help="Seconds between passes.")
@click.option("--allow-loopback-http", is_flag=True,
              envvar="TRACELIB_EPCIS_ALLOW_LOOPBACK_HTTP",
              help="Also deliver to http:// webhooks on 127.0.0.1 or localhost (tests and "
                   "development only).")
@pass_env
def epcis_deliver(env: Env, once: bool, ca_file: str | None, base_url: str, batch: int,
                  timeout: float, poll: float, allow_loopback_http: bool) -> None:
    """Deliver EPCIS subscriptions: POST each subscription's new matching events to its
    webhook as signed EPCISQueryDocuments, each event once, retrying with backoff. Runs
    until stopped (SIGTERM, Ctrl-C); one process delivers at a time (a lease in the
    database), so a second one waits."""
    import signal
    import threading

    from tracelib.epcis.subscriptions import Deliverer, DeliveryReport, DeliverySettings

    settings = DeliverySettings(base=base_url, batch=batch, timeout=timeout, ca_file=ca_file,
                                allow_loopback_http=allow_loopback_http)

    def said(report: DeliveryReport) -> None:
        if report.batches or report.failed or report.errors:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False), err=True)

    with env.open() as ledger:
        deliverer = Deliverer(ledger, settings)
        if once:
            try:
                report = deliverer.run_once()
            finally:
                deliverer.release()
            if report.leased_elsewhere:
                raise CheckFailed("another deliverer holds the lease; nothing was sent")
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        click.echo(f"delivering EPCIS subscriptions as {deliverer.holder}", err=True)
        deliverer.run_forever(stop, poll=poll, on_pass=said)


@epcis.command("subscriptions")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@pass_env
def epcis_subscriptions(env: Env, as_json: bool) -> None:
    """List the EPCIS webhook subscriptions: query, webhook, owner, what was delivered and
    where retries stand (never the signature token)."""
    from tracelib.epcis.subscriptions import list_subscriptions, subscription_doc

    with env.open() as ledger:
        rows = list_subscriptions(ledger)
    docs = [{**subscription_doc(r), "owner": r.owner, "reach": r.reach} for r in rows]
    if as_json:
        click.echo(json.dumps(docs, ensure_ascii=False, indent=2))
        return
    if not docs:
        click.echo("no subscriptions")
    for d in docs:
        state = f"failing ({d['failures']}): {d['lastError']}" if d["failures"] else "ok"
        click.echo(f"{d['subscriptionID']}  {d['queryName']}  {d['dest']}  owner "
                   f"{d['owner']} ({d['reach']})  delivered {d['delivered']}  {state}  next "
                   f"{d['nextAttemptAt']}")
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
