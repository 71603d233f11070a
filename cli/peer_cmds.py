"""Peer ledgers (docs/contract.md "Peers and entries from another ledger"): this ledger's
verifier key for others to register, registering a peer, listing them, and bringing a
peer's shipment in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from tracelib.errors import ValidationError
from tracelib.events import sign_event
from tracelib.federation import (
    HttpPeer,
    peer_entry_event,
    peer_notices,
    peers_of,
    recall_notice,
    send_notice,
)
from tracelib.keys import VerifyKey
from tracelib.note import NoteVerifier
from tracelib.timeutil import utcnow

from .context import Env
from .ledger_cmds import operator_append, pass_env, print_json

#: Where the CLI reads bearer tokens for peers' APIs: ``ORIGIN=TOKEN`` words.
PEER_TOKENS_ENV = "TRACELIB_PEER_TOKENS"


def peer_tokens(words: Sequence[str]) -> dict[str, str]:
    """``ORIGIN=TOKEN`` words as a mapping (the last ``=`` splits: origins may hold one)."""
    out = {}
    for word in words:
        origin, sep, token = word.rpartition("=")
        if not sep or not origin or not token:
            raise ValidationError(f"a peer token is ORIGIN=TOKEN, not {word!r}",
                                  field="--peer-token")
        out[origin] = token
    return out


@click.group()
def peer() -> None:
    """Peer ledgers: lots shipped from one ledger into another."""


@peer.command("vkey")
@pass_env
def vkey(env: Env) -> None:
    """Print this ledger's checkpoint verifier key (C2SP signed-note), for peers to register."""
    with env.open() as ledger:
        keys = [k for k in ledger.keys_of(ledger.operator) if k.revoked_seq is None]
        newest = keys[-1]
        click.echo(NoteVerifier.for_key(ledger.origin, VerifyKey.from_bytes(newest.public_key))
                   .to_string())


@peer.command("add")
@click.argument("origin")
@click.argument("vkey")
@click.argument("url")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False),
              help="A witness policy (C2SP tlog-policy) the peer's checkpoints must meet: "
                   "its witnesses' cosignatures are then required on every checkpoint cited.")
@pass_env
def add(env: Env, origin: str, vkey: str, url: str, policy_file: str | None) -> None:
    """Register the peer ledger ORIGIN (its checkpoint origin line), whose checkpoints VKEY
    verifies and whose service answers at URL, in an operator-signed register event."""
    now = utcnow()
    peer_entry: dict[str, str] = {"origin": origin, "vkey": vkey, "url": url}
    if policy_file is not None:
        try:
            peer_entry["policy"] = Path(policy_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise click.ClickException(f"cannot read the policy {policy_file}: {e}") from e
    with env.open() as ledger:
        receipt = operator_append(env, ledger, f"peer-{now.strftime('%Y%m%dT%H%M%S%f')}",
                                  {"peers": [peer_entry]})
    click.echo(f"peer {origin} registered at seq {receipt.seq}")


@peer.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_env
def list_peers(env: Env, as_json: bool) -> None:
    """The peer ledgers this ledger's operator registered."""
    with env.open() as ledger:
        found = peers_of(ledger)
    if as_json:
        print_json([{"origin": p.origin, "vkey": p.vkey, "url": p.url, "seq": p.seq,
                     "policy": p.policy} for p in found])
        return
    for p in found:
        witnessed = "" if p.policy is None else ", witness policy"
        click.echo(f"{p.origin}\t{p.url}\t(registered at seq {p.seq}{witnessed})")


@peer.command("receive")
@click.option("--peer", "origin", required=True, help="The peer's origin line.")
@click.option("--ship", "ship_event", required=True, help="The id of the peer's ship event.")
@click.option("--at", "location", required=True,
              help="This ledger's receiving point the ship went to.")
@click.option("--product", required=True, help="The product, as the lots are named here.")
@click.option("--storage", type=click.Choice(["ambient", "chilled", "frozen"]))
@click.option("--actor", help="The signing party [default: the receiving point's holder].")
@click.option("--peer-token", "tokens", multiple=True, envvar=PEER_TOKENS_ENV,
              help="ORIGIN=TOKEN: a bearer token for that peer's API (repeatable).")
@pass_env
def receive(env: Env, origin: str, ship_event: str, location: str, product: str,
            storage: str | None, actor: str | None, tokens: tuple[str, ...]) -> None:
    """Bring the peer's shipment SHIP in at LOCATION: fetch the citation from the peer's API
    and append a peer_entry, which this ledger checks at append."""
    now = utcnow()
    with env.open() as ledger:
        found = {p.origin: p for p in peers_of(ledger)}
        if origin not in found:
            raise ValidationError(f"unknown peer {origin!r}: register it with `tracelib peer "
                                  "add`", field="--peer")
        place = ledger.location(location)
        if place is None:
            raise ValidationError(f"unknown location {location!r}", field="--at")
        signer = actor or place.holder
        if signer is None:
            raise ValidationError(f"{location!r} has no holder; name the signer with --actor",
                                  field="--actor")
        source = HttpPeer(found[origin].url, origin, peer_tokens(tokens).get(origin))
        doc = peer_entry_event(ledger, source, ship_event=ship_event, location=location,
                               actor=signer, product=product, storage=storage,
                               event_id=f"pentry-{now.strftime('%Y%m%dT%H%M%S%f')}", now=now)
        receipt = ledger.append([sign_event(doc, ledger.signing_key(env.keystore, signer))],
                                now=now)[0]
        if env.keystore.has_party(ledger.operator):
            env.sign_checkpoint(ledger)
    lots = ", ".join(f"{i['lot']} {i['qty']} {i['unit']}" for i in doc["outputs"])
    click.echo(f"{ship_event} of {origin} entered at {location}, seq {receipt.seq}: {lots}")


@peer.command("notify")
@click.option("--peer", "origin", required=True, help="The peer ledger to notify.")
@click.option("--recall", "recall_event", required=True,
              help="The id of this ledger's recall event.")
@click.option("--peer-token", "tokens", multiple=True, envvar=PEER_TOKENS_ENV,
              help="ORIGIN=TOKEN: a write token the peer's operator gave for its API.")
@pass_env
def notify(env: Env, origin: str, recall_event: str, tokens: tuple[str, ...]) -> None:
    """Send the peer a notice of this ledger's recall: the recall record with its inclusion
    proof in this ledger's newest checkpoint, which the peer checks and shows its regulator."""
    with env.open() as ledger:
        found = {p.origin: p for p in peers_of(ledger)}
        if origin not in found:
            raise ValidationError(f"unknown peer {origin!r}: register it with `tracelib peer "
                                  "add`", field="--peer")
        notice = recall_notice(ledger, recall_event)
    answer = send_notice(found[origin].url, peer_tokens(tokens).get(origin), notice)
    click.echo(f"recall {recall_event} (seq {notice['recall_seq']}) notified to {origin}: "
               f"received at {answer.get('received_at')}")


@peer.command("notices")
@click.option("--json", "as_json", is_flag=True)
@pass_env
def notices(env: Env, as_json: bool) -> None:
    """The recall notices this ledger received from its peers, newest first."""
    with env.open() as ledger:
        found = peer_notices(ledger)
    if as_json:
        print_json([{"peer": n.origin, "recall_event": n.recall_event,
                     "recall_seq": n.recall_seq, "lots": json.loads(n.lots),
                     "reason": n.reason, "time": n.recall_time, "received_at": n.received_at}
                    for n in found])
        return
    for n in found:
        lots = ", ".join(str(i.get("lot")) for i in json.loads(n.lots))
        click.echo(f"{n.received_at}\t{n.origin}\t{n.recall_event}\t{lots}\t{n.reason}")


COMMANDS = [peer]
