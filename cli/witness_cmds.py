"""Witness commands: register witnesses, ask them to cosign, and run a witness
(C2SP tlog-witness; docs/contract.md "Witnesses")."""

from __future__ import annotations

from pathlib import Path

import click

from tracelib.errors import TracelibError, ValidationError
from tracelib.keys import SigningKey, write_private_file
from tracelib.note import CosignatureVerifier, parse_signer_string, signer_string
from tracelib.timeutil import utcnow
from tracelib.witness import registered_witnesses
from tracelib.witness.client import AHEAD, INCONSISTENT

from .context import Env
from .ledger_cmds import operator_append, pass_env, print_json
from .main import CheckFailed
from .witnessing import answer_dict, ask_witnesses

__all__ = ["COMMANDS", "load_witness_key", "witness"]


@click.group()
def witness() -> None:
    """Witnesses that cosign the ledger's checkpoints, and a witness to run for others."""


@witness.command("add")
@click.argument("name")
@click.argument("vkey")
@click.argument("url")
@pass_env
def witness_add(env: Env, name: str, vkey: str, url: str) -> None:
    """Register witness NAME with its C2SP cosigner key VKEY and its tlog-witness URL
    (submission prefix), in an operator-signed register event. Registering NAME again
    replaces its key and URL."""
    CosignatureVerifier.parse(vkey)  # a clear error before anything is signed
    if not url.startswith(("http://", "https://")):
        raise ValidationError(f"witness URL {url!r} is not http:// or https://", field="url")
    with env.open() as ledger:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        operator_append(env, ledger, f"witness-{name}-{stamp}",
                         {"witnesses": [{"name": name, "vkey": vkey, "url": url}]})
    click.echo(f"registered witness {name!r} ({vkey.split('+')[0]}) at {url.rstrip('/')}")


@witness.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_env
def witness_list(env: Env, as_json: bool) -> None:
    """The registered witnesses."""
    with env.open() as ledger:
        rows = registered_witnesses(ledger)
    if as_json:
        print_json([{"name": r.name, "vkey": r.vkey, "url": r.url, "seq": r.seq} for r in rows])
        return
    if not rows:
        click.echo("no witness registered (tracelib witness add NAME VKEY URL)")
    for r in rows:
        click.echo(f"{r.name}\t{r.url}\t{r.vkey}")


@witness.command("keygen")
@click.argument("name")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Where to write the private key (0600); refused if it exists.")
def witness_keygen(name: str, out_file: str) -> None:
    """Make a witness key named NAME (its C2SP key name, e.g. witness.county.example/w1),
    write it to --out and print its verifier key (cosignature/v1, type 0x04)."""
    target = Path(out_file)
    if target.exists():
        raise ValidationError(f"{target} exists; refusing to overwrite a key")
    key = SigningKey.generate()
    write_private_file(target, (signer_string(name, key) + "\n").encode("ascii"))
    click.echo(CosignatureVerifier.for_key(name, key.public).to_string())


def load_witness_key(path: str) -> tuple[str, SigningKey]:
    """The (name, key) in a key file written by ``tracelib witness keygen``."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"cannot read the witness key {path}: {e}") from e
    return parse_signer_string(text)


@witness.command("serve")
@click.option("--key", "key_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The witness's key file (tracelib witness keygen).")
@click.option("--logs", "logs_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="The logs it follows: `log <vkey>` lines, or a tlog-policy file.")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of its newest cosigned checkpoint per log (kept durably).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8380, show_default=True, type=click.IntRange(0, 65535))
def witness_serve(key_file: str, logs_file: str, state_dir: str, host: str, port: int) -> None:
    """Run a C2SP tlog-witness: POST /add-checkpoint and GET /<origin hash>/checkpoint."""
    from werkzeug.serving import make_server

    from tracelib.policy import parse_log_list
    from tracelib.witness import Witness, WitnessState

    name, key = load_witness_key(key_file)
    logs = parse_log_list(Path(logs_file).read_text(encoding="utf-8"))
    witness_app = Witness(name, key, logs, WitnessState(state_dir))
    try:
        server = make_server(host, port, witness_app.wsgi, threaded=True)
    except OSError as e:
        raise TracelibError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    click.echo(f"witness {witness_app.verifier.to_string()}", err=True)
    click.echo(f"following {', '.join(sorted(witness_app.logs))}; listening on "
               f"http://{host}:{server.server_port}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:  # pragma: no cover - interactive stop
        pass
    finally:
        server.server_close()


@witness.command("collect")
@click.option("--json", "as_json", is_flag=True)
@pass_env
def witness_collect(env: Env, as_json: bool) -> None:
    """Send the newest checkpoint to every registered witness again (e.g. from cron) and
    store the cosignatures they return. Exit 1 when a witness refuses it as inconsistent
    or holds a larger checkpoint than the ledger."""
    with env.open() as ledger:
        if ledger.latest_checkpoint() is None:
            raise ValidationError("no checkpoint signed yet (tracelib checkpoint)")
        answers = ask_witnesses(ledger, as_json)
    if as_json:
        print_json([answer_dict(a) for a in answers])
    alarming = [a for a in answers if a.outcome in (INCONSISTENT, AHEAD)]
    if alarming:
        raise CheckFailed(f"{len(alarming)} witness(es) refuse the ledger's newest checkpoint: "
                          + "; ".join(a.describe() for a in alarming))


COMMANDS = [witness]
