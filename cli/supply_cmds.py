"""Supply-chain commands: trace, drill, recall."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from tracelib.federation import follow_drill, notify_peers, write_federation_report
from tracelib.recalls import drill as run_drill
from tracelib.recalls import recall as run_recall
from tracelib.timeutil import parse_rfc3339, utcnow
from tracelib.views.tracing import trace as run_trace

from .context import Env
from .extras import require
from .ledger_cmds import out, pass_env, print_json
from .peer_cmds import PEER_TOKENS_ENV, peer_tokens
from .tables import folding_table, whole


def _when(value: str | None, name: str) -> datetime | None:
    return None if value is None else parse_rfc3339(value, field=name)


@click.command()
@click.argument("lot")
@click.option("--back", "direction", flag_value="back", help="Only upstream (to the origins).")
@click.option("--forward", "direction", flag_value="forward", help="Only downstream.")
@click.option("--since", help="Only hops at or after this RFC 3339 time.")
@click.option("--until", help="Only hops before this RFC 3339 time.")
@click.option("--json", "as_json", is_flag=True, help="Trace JSON (data contract v1) instead of tables.")
@pass_env
def trace(env: Env, lot: str, direction: str | None, since: str | None, until: str | None,
          as_json: bool) -> None:
    """Trace LOT back to every origin and forward to every location and sale."""
    with env.open() as ledger:
        answer = run_trace(ledger, lot, back=direction != "forward",
                           forward=direction != "back", since=_when(since, "since"),
                           until=_when(until, "until"))
    if as_json:
        print_json(answer.to_dict())
        return
    if answer.back:
        table = folding_table(whole("origin lot"), whole("certificate"), "product",
                              "producer", "origin place", title=f"{lot}: where it came from")
        for o in answer.origins:
            c = o.certificate
            table.add_row(o.lot, c.get("no", ""), c.get("product", ""), c.get("producer", ""),
                          c.get("origin_place", ""))
        out.print(table)
        # two lines a cell, so the lot code, the time and the places stay whole at 80 columns
        hops = folding_table(whole("lot, time"), whole("from, to"), "qty, received",
                             "excursions", title="cold-chain hops")
        for h in answer.path:
            d = h.to_dict()
            received = f"received {d['received']}" if d["received"] else "in transit"
            hops.add_row(f"{h.lot}\n{h.time}", f"{h.from_location}\n→ {h.to_location}",
                         f"{d['qty']} {h.unit}\n{received}",
                         ", ".join(f"{e['celsius']} °C" for e in h.excursions))
        out.print(hops)
    if answer.forward:
        table = folding_table("location", "type", "unit", "received", "sold", "on hand",
                              "held", title=f"{lot}: where it went "
                                            f"({len(answer.downstream_lots)} lots made from it)")
        for loc in answer.locations:
            d = loc.to_dict()
            table.add_row(f"{loc.name} ({loc.location})", loc.type, loc.unit, d["received"],
                          d["sold"], d["on_hand"], "HELD" if loc.held else "")
        out.print(table)


@click.command()
@click.argument("lot")
@click.option("--question", help="The drill's question, as the regulator put it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Report folder [default: ./drill-<lot>-<time>].")
@click.option("--no-record", is_flag=True, help="Do not record a drill event in the ledger.")
@click.option("--follow", is_flag=True,
              help="Follow the lot into peer ledgers through their APIs, checking every answer "
                   "against their checkpoints; adds federation.json and federation.svg.")
@click.option("--peer-token", "tokens", multiple=True, envvar=PEER_TOKENS_ENV,
              help="With --follow, ORIGIN=TOKEN: a bearer token for that peer's API.")
@pass_env
def drill(env: Env, lot: str, question: str | None, out_dir: str | None,
          no_record: bool, follow: bool, tokens: tuple[str, ...]) -> None:
    """Run a recall drill on LOT: trace both ways, record the evidence, write a report."""
    require("`tracelib drill` (ctes.xlsx, path.png)", "reports", "openpyxl", "PIL")
    now = utcnow()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in lot)[:80]
    folder = Path(out_dir or f"drill-{safe}-{now.strftime('%Y%m%dT%H%M%S')}")
    with env.open() as ledger:
        followed = None
        if follow:
            if env.keystore.has_party(ledger.operator):
                env.sign_checkpoint(ledger)  # the answer rests on a checkpoint: the newest
            followed = follow_drill(ledger, lot, tokens=peer_tokens(tokens))
        key = None if no_record else ledger.signing_key(env.keystore, ledger.operator)
        result = run_drill(ledger, lot, question=question, key=key, report_dir=folder, now=now)
        if key is not None:
            env.sign_checkpoint(ledger, key)
    if followed is not None:
        write_federation_report(folder, followed)
    summary = result.summary()
    counts = summary["counts"]
    click.echo(f"drill on {lot}: answered in {result.elapsed_ms:.1f} ms "
               f"(Walmart/IBM mango trace-back: 2.2 s)")
    click.echo(f"  origins {counts['origins']}, lots made from it {counts['downstream_lots']}, "
               f"stalls reached {counts['stalls']}, still holding stock {counts['stalls_with_stock']}")
    click.echo(f"  canteens reached {counts['canteens']}, of them schools {counts['schools']}")
    for school in summary["schools_reached"]:
        click.echo(f"  school reached: {school['name']} ({school['location']})")
    if result.receipt is not None:
        click.echo(f"  recorded as drill event at seq {result.receipt.seq}, "
                   f"answer digest {result.answer_digest}")
    click.echo(f"  report: {folder}/ (summary.json, ctes.csv, ctes.xlsx, path.svg, path.png)")
    if followed is not None:
        parts = ", ".join(f"{p.origin} ({len(p.lots)} lots, {len(p.records)} records verified)"
                          for _, p in sorted(followed.parts.items()))
        click.echo(f"  followed across {len(followed.parts)} ledgers in "
                   f"{followed.elapsed_ms:.1f} ms: {parts}")
        for c in followed.crossings:
            click.echo(f"  crossing: {c.ship_event} {c.source} {c.from_location} -> "
                       f"{c.target} {c.location} ({', '.join(c.lots)})")
        for ledger_origin, ship, to, peer in followed.unfollowed:
            click.echo(f"  not followed: {ship} of {ledger_origin} to {to} "
                       f"({peer or 'no peer'}: no entry there yet)")
        click.echo(f"  federation report: {folder}/federation.json, federation.svg")


@click.command()
@click.argument("lot")
@click.option("--reason", required=True, help="Why, e.g. 抽检不合格: 豇豆 灭蝇胺超标.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--notify-peers", "notify", is_flag=True,
              help="Send a notice of the recall to each peer ledger a shipment of the lots "
                   "went to.")
@click.option("--peer-token", "tokens", multiple=True, envvar=PEER_TOKENS_ENV,
              help="With --notify-peers, ORIGIN=TOKEN: a write token of that peer's API.")
@pass_env
def recall(env: Env, lot: str, reason: str, as_json: bool, notify: bool,
           tokens: tuple[str, ...]) -> None:
    """Hold LOT and every lot made from it wherever stock remains; list the places to visit.
    With --notify-peers, send each peer ledger a shipment of them went to a notice of the
    recall (docs/contract.md "Peers and entries from another ledger")."""
    with env.open() as ledger:
        key = ledger.signing_key(env.keystore, ledger.operator)
        result = run_recall(ledger, lot, key=key, reason=reason)
        env.sign_checkpoint(ledger, key)
        notified = {}
        if notify:
            notified = notify_peers(ledger, result, tokens=peer_tokens(tokens))
    if as_json:
        print_json({**result.to_dict(), "notified_peers": notified} if notify
                   else result.to_dict())
        return
    table = folding_table("visit", "type", "lots on hold (qty on hand)",
                          title=f"recall of {lot}: {len(result.holds)} place(s) to visit")
    for hold in result.holds:
        table.add_row(f"{hold.name} ({hold.location})", hold.type,
                      "; ".join(f"{lot_} {q} {u}" for lot_, q, u in hold.lots))
    out.print(table)
    for canteen in result.canteens:
        kind = "school canteen" if canteen.school else "canteen"
        click.echo(f"{kind} reached: {canteen.name} ({canteen.location})")
    for event, lot_, to, qty in result.in_transit:
        click.echo(f"in transit: {lot_} {qty} to {to} ({event}) — recalled, cannot be sold "
                   "on arrival")
    click.echo(f"recalled {len(result.recalled_lots)} lot(s): shipping and sale stopped "
               "everywhere until released")
    for origin, ships in sorted(notified.items()):
        click.echo(f"peer ledger notified: {origin} (shipments {', '.join(ships)}); its "
                   "regulator recalls there")


COMMANDS = [trace, drill, recall]
