"""A producer's standing: ``tracelib standing PARTY`` (docs/contract.md "Producers'
standing")."""

from __future__ import annotations

from datetime import date

import click
from rich.markup import escape
from rich.text import Text

from tracelib.timeutil import local_zone, utcnow
from tracelib.views.disclosure import EVERYTHING, PUBLIC, disclose_standing
from tracelib.views.standing import standing_view

from .context import Env
from .ledger_cmds import out, pass_env, print_json
from .tables import folding_table, whole

_STANDING_STYLE = {"black": "bold red", "red": "bold green", "none": ""}
_STANDING_WORDS = {"black": "black list (黑榜)", "red": "red list (红榜)", "none": "not listed"}


@click.command()
@click.argument("party")
@click.option("--today", "today", help="The day the window ends, YYYY-MM-DD [default: today].")
@click.option("--tz", "tz", envvar="TRACELIB_TIMEZONE", default="Asia/Shanghai",
              show_default=True, help="Local time zone (IANA name or +HH:MM): what 'today' "
              "means.")
@click.option("--full", is_flag=True, help="Everything a regulator reads (the certificates' "
              "producer names and contacts, entries' suppliers) [default: what a shopper "
              "reads on the producer page].")
@click.option("--json", "as_json", is_flag=True, help="The producer page's JSON instead of "
              "tables.")
@pass_env
def standing(env: Env, party: str, today: str | None, tz: str, full: bool,
             as_json: bool) -> None:
    """A producer's standing (红黑榜): certificates issued, lots tested downstream, and
    laboratory failures traced back to its certificates."""
    day = date.fromisoformat(today) if today else utcnow().astimezone(local_zone(tz)).date()
    with env.open() as ledger:
        view = disclose_standing(standing_view(ledger, party, today=day),
                                 EVERYTHING if full else PUBLIC)
    if as_json:
        print_json(view)
        return
    p, down, rules = view["party"], view["downstream"], view["rules"]
    out.print(Text(f"standing: {_STANDING_WORDS[view['standing']]}",
                   style=_STANDING_STYLE[view["standing"]]))
    summary = folding_table("certificates", "lots made", "lots tested downstream",
                            "tests downstream", f"tests, last {rules['window_days']} days",
                            "failures traced back",
                    title=f"{p['name']} ({p['id']}, {p['role']}) on {view['today']}")
    failures = str(view["failures_total"])
    if view["failures_window"]:
        failures += f" ({view['failures_window']} in the last {rules['window_days']} days)"
    summary.add_row(str(view["certificates"]["count"]), str(view["lots_made"]),
                    str(down["lots_tested"]), str(down["tests"]), str(down["tests_window"]),
                    failures)
    out.print(summary)
    if down["truncated"]:
        click.echo(f"downstream counted over the newest {rules['max_lots']} lots and at most "
                   f"{rules['max_descendants']} lots made from them")
    if view["failures"]:
        table = folding_table(whole("day"), "product", "analyte", "value mg/kg",
                              "limit mg/kg", whole("certificate"), "found at",
                              title="failures traced back")
        for f in view["failures"]:
            stall = f["stall"]
            where = (f"{stall['name']} ({stall['id']})" if stall else "")
            cert = f["certificate_no"] or ""
            if f["source_kind"] == "entry":
                cert += " (entry)"
            table.add_row(f["day"], escape(f["product"] or f["commodity"] or ""),
                          escape(f["analyte"]), f["value_mg_kg"] or "", f["limit_mg_kg"] or "",
                          escape(cert), escape(where))
        out.print(table)
    certs = folding_table(whole("day"), whole("certificate"), "product",
                          *(("producer",) if full else ()),
                          title=f"newest certificates ({view['certificates']['count']} in all)")
    for c in view["certificates"]["newest"]:
        certs.add_row(c.get("day") or "", escape(c.get("no", "")), escape(c.get("product", "")),
                      *((escape(c.get("producer", "")),) if full else ()))
    out.print(certs)


COMMANDS = [standing]
