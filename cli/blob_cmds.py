"""Attachments: ``tracelib blob add``, ``get`` and ``check`` (docs/contract.md "Attachments")."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from tracelib.blobs import check_name

from .context import Env
from .ledger_cmds import pass_env, print_json
from .main import CheckFailed

#: How many missing or corrupt blobs `blob check` names (it counts them all).
SHOWN = 20


@click.group()
def blob() -> None:
    """The attachments' blob store: scans and PDFs that events cite by their SHA-256."""


@blob.command("add")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_env
def blob_add(env: Env, files: tuple[Path, ...]) -> None:
    """Store FILE… in the blob store and print each one's name (sha256:<hex>), the value an
    event's data cites. Adding a file already stored changes nothing."""
    with env.open() as ledger:
        for path in files:
            with path.open("rb") as f:
                name = ledger.blobs.put(f)
            click.echo(f"{name}  {path}")


@blob.command("get")
@click.argument("name")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the blob to this file [default: standard output].")
@pass_env
def blob_get(env: Env, name: str, out_file: Path | None) -> None:
    """Write blob NAME (sha256:<hex>) to standard output or --out."""
    check_name(name)
    with env.open() as ledger, ledger.blobs.open(name) as f:
        if out_file is None:
            shutil.copyfileobj(f, sys.stdout.buffer)
        else:
            with out_file.open("wb") as target:
                shutil.copyfileobj(f, target)


@blob.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the counts and names as JSON.")
@pass_env
def blob_check(env: Env, as_json: bool) -> None:
    """Rehash every blob the ledger cites: present and ok, missing, or corrupt (its bytes no
    longer hash to its name). Fails when one is corrupt; missing ones are reported."""
    counts = {"ok": 0, "missing": 0, "corrupt": 0}
    named: dict[str, list[tuple[str, int]]] = {"missing": [], "corrupt": []}
    with env.open() as ledger:
        root = ledger.blobs.root
        for name, seq in ledger.cited_blobs():
            health = ledger.blobs.check(name)
            counts[health] += 1
            if health != "ok" and len(named[health]) < SHOWN:
                named[health].append((name, seq))
    if as_json:
        print_json({"blobs": str(root), **counts,
                    **{k: [{"name": n, "seq": s} for n, s in v] for k, v in
                       (("missing_blobs", named["missing"]),
                        ("corrupt_blobs", named["corrupt"]))}})
    else:
        click.echo(f"{counts['ok']} cited blob(s) present and ok, {counts['missing']} missing, "
                  f"{counts['corrupt']} corrupt (blob store {root})")
        for health, listed in named.items():
            for name, seq in listed:
                click.echo(f"{health}: {name} (cited by seq {seq})")
    if counts["corrupt"]:
        raise CheckFailed(f"{counts['corrupt']} cited blob(s) do not hash to their name")


COMMANDS = [blob]
