"""Service commands: serve (gunicorn), stall QR placards, API tokens."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from tracelib.errors import NotFoundError
from tracelib.store.engine import display_url

from .context import Env
from .extras import require
from .ledger_cmds import pass_env
from .main import CheckFailed


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="gunicorn worker processes.")
@click.option("--public-url", envvar="TRACELIB_PUBLIC_URL",
              help="Public base URL of every QR code and link, e.g. https://trace.example.cn "
                   "behind a reverse proxy [default: http://HOST:PORT; required with a "
                   "HOST of 0.0.0.0 or ::]. Requests naming another host get 400.")
@click.option("--read-only", is_flag=True, envvar="TRACELIB_READ_ONLY",
              help="Never write the ledger's database (a read replica): writes get 503 naming "
                   "--primary-url. A PostgreSQL standby is served read-only without it.")
@click.option("--primary-url", envvar="TRACELIB_PRIMARY_URL",
              help="Public URL of the writable service, named to writers of a read-only "
                   "instance.")
@click.option("--state-url", envvar="TRACELIB_STATE_URL",
              help="A writable database (URL or SQLite path) of the scan counts' own; a "
                   "read-only instance counts scans only there [default: the ledger's].")
@pass_env
def serve(env: Env, host: str, port: int, workers: int, public_url: str | None,
          read_only: bool, primary_url: str | None, state_url: str | None) -> None:
    """Serve the scan pages, the market board and the API under gunicorn."""
    require("`tracelib serve`", "service", "flask", "gunicorn", "qrcode", "PIL")
    from tracelib_service.extension import primary_url_setting
    from tracelib_service.links import link_settings

    bind = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    try:
        links = link_settings(public_url, bind)
        primary = primary_url_setting(primary_url)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    environ = {**os.environ, "TRACELIB_DB": env.db,
               "TRACELIB_KEYSTORE": str(env.keystore_path), "TRACELIB_BIND": bind}
    if env.blobs_path is not None:  # --blobs (else TRACELIB_BLOBS, else beside the database)
        environ["TRACELIB_BLOBS"] = str(env.blobs_path)
    given = {"TRACELIB_PUBLIC_URL": public_url, "TRACELIB_PRIMARY_URL": primary,
             "TRACELIB_STATE_URL": state_url, "TRACELIB_READ_ONLY": "1" if read_only else None}
    for name, value in given.items():
        if value:
            environ[name] = value
        else:
            environ.pop(name, None)
    # Metrics of every worker, added up at /metrics (prometheus-client's multiprocess
    # mode): a folder of this run's own (removed when gunicorn exits) unless one is
    # configured; the gunicorn hooks empty it at start and mark exited workers
    # (tracelib_service.ops.gunicorn_config).
    if not environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own = tempfile.mkdtemp(prefix="tracelib-metrics-")
        environ["PROMETHEUS_MULTIPROC_DIR"] = environ["TRACELIB_OWN_METRICS_DIR"] = own
    env.open().close()  # fail here, clearly, when there is no ledger
    # No gunicorn access log: the service writes one JSON line a request, with its id.
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers),
               "--bind", bind, "--config", "python:tracelib_service.ops.gunicorn_config",
               "tracelib_service:create_app()"]
    click.echo(f"serving {display_url(env.db)} on http://{bind} with {workers} workers"
               + (f", read-only (writes go to {primary or 'the primary'})" if read_only else ""))
    click.echo(f"links and QR codes point to {links.base}; accepted Host names: "
               f"{', '.join(links.trusted)}")
    sys.stdout.flush()
    os.execve(sys.executable, command, environ)  # noqa: S606 - gunicorn takes this process


@click.group()
def qr() -> None:
    """QR codes: stall placards (payment and trace in one code)."""


@qr.command("stall")
@click.argument("stall")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="FILE.png or FILE.svg")
@click.option("--public-url", "--base-url", "public_url", envvar="TRACELIB_PUBLIC_URL",
              help="Where shoppers reach the service, e.g. https://trace.example.cn [env "
                   "TRACELIB_PUBLIC_URL, as `tracelib serve`]; required: a placard printed "
                   "with the wrong address cannot be fixed on the wall.")
@pass_env
def qr_stall(env: Env, stall: str, out_file: str, public_url: str | None) -> None:
    """Write a printable placard for STALL: its QR (stall URL), name, number, 扫码付款 · 查溯源."""
    require("`tracelib qr stall`", "service", "flask", "qrcode", "PIL")
    from tracelib_service.links import check_base_url
    from tracelib_service.qr import Placard, placard_png, placard_svg

    # The link comes from configuration only (docs/contract.md "CLI environment"), never a
    # default host: a placard naming 127.0.0.1 would send every shopper nowhere.
    if not public_url:
        raise CheckFailed("no public URL configured: set TRACELIB_PUBLIC_URL or pass "
                          "--public-url https://… (where shoppers reach the service)")
    try:
        base = check_base_url(public_url)
    except ValueError as e:
        raise CheckFailed(str(e)) from e
    with env.open() as ledger:
        place = ledger.location(stall)
    if place is None or place.type != "stall":
        raise NotFoundError(f"{stall!r} is not a registered stall")
    number = place.details.get("number")
    placard = Placard(f"{base}/s/{stall}", place.name,
                      number if isinstance(number, str) else stall)
    target = Path(out_file)
    if target.suffix.lower() == ".svg":
        target.write_text(placard_svg(placard), encoding="utf-8")
    else:
        target.write_bytes(placard_png(placard))
    click.echo(f"wrote {target} for {placard.url}")


@click.group()
def token() -> None:
    """API tokens: each acts for one party with its scopes; only its SHA-256 is stored."""


# The scopes of service/access.py (SCOPES), written out so `--help` works without Flask.
TOKEN_SCOPES = ("write", "read:own", "read:market", "read:all")


@token.command("issue")
@click.argument("party", metavar="PARTY_OR_STALL")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(TOKEN_SCOPES),
              help="What the token may do; repeat for several (default: write and "
                   "read:own). read:market needs a party holding a market, read:all a "
                   "regulator or the operator.")
@click.option("--label", help="What the token is for, e.g. the stall's till.")
@click.option("--device", help="Issue a device token for the stall PARTY_OR_STALL names: its "
                               "scale or till, which records that stall's sales "
                               "(POST /api/v1/stalls/STALL/sales) and nothing else.")
@pass_env
def token_issue(env: Env, party: str, scopes: tuple[str, ...], label: str | None,
                device: str | None) -> None:
    """Issue an API token for PARTY (or, with --device, for a device of STALL) and print it
    once."""
    require("`tracelib token issue`", "service", "flask")
    from tracelib_service import create_app
    from tracelib_service.access import DEFAULT_SCOPES
    from tracelib_service.tokens import issue_device_token, issue_token

    app = create_app({"DB": env.db, "KEYSTORE": str(env.keystore_path)})
    if device is not None:
        if scopes:
            raise click.UsageError("a device token carries write only: drop --scope")
        click.echo(issue_device_token(app, party, device, label=label))
        return
    click.echo(issue_token(app, party, scopes=scopes or DEFAULT_SCOPES, label=label))


@token.command("list")
@pass_env
def token_list(env: Env) -> None:
    """List the tokens issued: the start of each one's SHA-256, its party, scopes, label,
    when it was issued and whether it is revoked (never the token itself)."""
    require("`tracelib token list`", "service", "flask")
    from tracelib_service import create_app
    from tracelib_service.tokens import list_tokens

    app = create_app({"DB": env.db, "KEYSTORE": str(env.keystore_path)})
    for info in list_tokens(app):
        state = f"revoked {info.revoked_at}" if info.revoked_at else "live"
        bound = f"  device {info.device} of {info.stall}" if info.device else ""
        click.echo(f"{info.digest_prefix}  {info.party}  {','.join(sorted(info.scopes))}  "
                   f"{info.created_at}  {state}{bound}  {info.label or ''}".rstrip())


@token.command("revoke")
@click.argument("token_text", metavar="TOKEN")
@pass_env
def token_revoke(env: Env, token_text: str) -> None:
    """Revoke an API token (it stops working at once)."""
    require("`tracelib token revoke`", "service", "flask")
    from tracelib_service import create_app
    from tracelib_service.tokens import revoke_token

    app = create_app({"DB": env.db, "KEYSTORE": str(env.keystore_path)})
    if not revoke_token(app, token_text):
        raise NotFoundError("no live token like that")
    click.echo("token revoked")


COMMANDS = [serve, qr, token]
