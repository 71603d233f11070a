"""The regulator's work list: ``tracelib alerts``."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.text import Text

from tracelib.timeutil import local_zone, parse_rfc3339, utcnow
from tracelib.views.alerts import alerts as list_alerts

from .context import Env
from .ledger_cmds import out, pass_env, print_json
from .tables import folding_table, whole

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow"}


@click.command()
@click.option("--at", "at", help="The clock the alerts are measured against, RFC 3339 "
              "[default: now].")
@click.option("--tz", "tz", envvar="TRACELIB_TIMEZONE", default="Asia/Shanghai",
              show_default=True, help="Local time zone (IANA name or +HH:MM): what 'today' "
              "and 09:00 mean.")
@click.option("--json", "as_json", is_flag=True, help="Alerts JSON (data contract v1) instead "
              "of a table.")
@pass_env
def alerts(env: Env, at: str | None, tz: str, as_json: bool) -> None:
    """The day's work list for a regulator: overdue follow-ups, held stock, shipments not
    received, cold-chain excursions, tests not published by 09:00, meat without slaughter."""
    zone = local_zone(tz)
    now = (parse_rfc3339(at, field="at") if at else utcnow()).astimezone(zone)
    with env.open() as ledger:
        found = list_alerts(ledger, now=now)
    doc = found.to_dict()
    if as_json:
        print_json(doc)
        return
    counts = doc["counts"]
    # three columns, two to four lines a cell: at 80 columns the lot codes, event ids and
    # times stay whole while the alert's text wraps
    table = folding_table(whole("severity, since"), "alert", "place, lot, evidence",
                          title=f"alerts at {now.isoformat(timespec='minutes')}: "
                                f"{counts['total']} ({counts['critical']} critical, "
                                f"{counts['warning']} warning)")
    for a in doc["alerts"]:
        where = [a["location_name"] or "", f"({a['location']})" if a["location"] else "",
                 a["lot"] or "", *a["evidence"]["events"]]
        style = _SEVERITY_STYLE.get(a["severity"], "")
        since = a["since"][5:16].replace("T", " ")  # 11-22 07:30, in the event's own offset
        table.add_row(Text(f"{a['severity']}\n{since}", style=style), escape(a["title"]["en"]),
                      escape("\n".join(line for line in where if line)))
    out.print(table)
    for item in doc["not_checked"]:
        click.echo(f"not checked: {item['kind']}: {item['reason_en']}")


COMMANDS = [alerts]
