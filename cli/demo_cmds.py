"""`tracelib demo generate`: a generated county market to try everything on."""

from __future__ import annotations

import logging
import os
import sys

import click

from tracelib_demo.market import build_demo_market

from .context import Env
from .extras import require
from .ledger_cmds import pass_env, progress_bar


@click.group()
def demo() -> None:
    """The demo county market."""


@demo.command("generate")
@click.option("--events", default=20_000, show_default=True, type=click.IntRange(min=1000))
@click.option("--seed", default=7, show_default=True)
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where `tracelib serve` will listen, for the printed links.")
@pass_env
def demo_generate(env: Env, events: int, seed: int, base_url: str) -> None:
    """Generate a week of a county's food chain ending today — farms with origin certificates,
    a designated abattoir, an import cold store, a wholesale market, two farmers' markets of
    50 stalls — with this morning's rapid tests, into --db, with every party's key in
    --keystore."""
    require("`tracelib demo generate`", "service", "qrcode")
    try:
        with progress_bar() as bar:
            task = bar.add_task("appending", total=events)
            market = build_demo_market(env.db, env.keystore_path, events=events, seed=seed,
                                       progress=lambda n: bar.advance(task, n))
    except ValueError as e:  # the world's floor (demonet NetworkSpec): too few events
        if "too few" not in str(e):
            raise
        raise click.BadParameter(str(e), param_hint="'--events'") from e
    base = base_url.rstrip("/")
    tests = market.tests
    click.echo(f"ledger: {market.size} records, {len(market.stalls)} stalls in "
               f"{len(market.markets)} markets; today's rapid tests: {tests['negative']} "
               f"negative, {tests['suspect']} suspect, {tests['positive']} positive (held)")
    click.echo("\nopen:")
    click.echo(f"  start page       {base}/")
    click.echo(f"  stall page       {base}/s/{market.example_stall}")
    click.echo(f"  stall, English   {base}/s/{market.example_stall}?lang=en")
    click.echo(f"  lot page         {base}/l/{market.drill_lot}")
    click.echo(f"  market board     {base}/m/{market.markets[0]}/board")
    click.echo(f"  API (OpenAPI)    {base}/api/v1/openapi.json")
    click.echo(f"  checkpoint       {base}/api/v1/checkpoint")
    receipt = _scale_sale(env, base, market.example_stall)
    if receipt is not None:
        click.echo(f"  a receipt        {receipt}   (a sale weighed just now at "
                   f"{market.example_stall})")
    from .terminal_qr import terminal_qr

    text = terminal_qr(f"{base}/s/{market.example_stall}",
                       colour=sys.stdout.isatty()
                       and "NO_COLOR" not in os.environ)
    click.echo(f"\nscan to open {market.example_stall} (扫码付款 · 查溯源):\n{text}")
    where = f"--db {env.db} --keystore {env.keystore_path}"
    click.echo(f"try a recall drill: tracelib {where} drill {market.drill_lot}   (it reached "
               f"{market.drill_stalls} stalls; {market.drill_stalls_with_stock} still have "
               "stock of it)")
    click.echo(f"  then the recall itself: tracelib {where} recall {market.drill_lot} "
               "--reason '演练: 抽检不合格'")
    if market.school_lot:
        click.echo(f"  or one that reached a school's canteen: tracelib {where} drill "
                   f"{market.school_lot}")
    if market.kpi_year is not None and market.kpi is not None:
        click.echo(f"the year's official sampling: tracelib report kpi --year {market.kpi_year}"
                   f"   (pass rate of evaluation sampling {market.kpi['evaluation_pass_rate']} %, "
                   f"plan {market.kpi.get('plan_completion')} % done)")


def _scale_sale(env: Env, base: str, stall: str) -> str | None:
    """A sale weighed at ``stall``'s scale through the service's own route (a device token,
    ``POST /api/v1/stalls/<stall>/sales``), for the demo to print its receipt's address; None
    when the stall has nothing on sale."""
    from tracelib_service import create_app
    from tracelib_service.tokens import issue_device_token

    app = create_app({"DB": str(env.db), "KEYSTORE": str(env.keystore_path),
                      "PUBLIC_URL": base})
    access = logging.getLogger("tracelib_service.access")  # no request log in the output
    was, access.disabled = access.disabled, True
    try:
        client = app.test_client()
        token = issue_device_token(app, stall, "demo-scale", label="make demo")
        stock = client.get(f"/api/v1/stalls/{stall}").get_json() or {}
        for item in stock.get("on_hand", []):
            if item.get("held") or item.get("unit") != "kg":
                continue
            sold = client.post(f"/api/v1/stalls/{stall}/sales", json={
                "receipt_no": "DEMO-0001", "items": [{
                    "lot": item["lot"], "qty": "0.5", "unit": "kg", "unit_price": "12.80"}]},
                headers={"Authorization": f"Bearer {token}"})
            if sold.status_code in (200, 201):
                return str(sold.get_json()["receipt_url"])
        return None
    finally:
        access.disabled = was
        app.extensions["tracelib"].close()


COMMANDS = [demo]
