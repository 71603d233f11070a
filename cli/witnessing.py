"""What the CLI says of witnesses' answers (shared by `tracelib checkpoint` and `tracelib
witness collect`)."""

from __future__ import annotations

import click

from tracelib.ledger import Ledger
from tracelib.witness import collect_cosignatures
from tracelib.witness.client import WitnessAnswer

__all__ = ["answer_dict", "ask_witnesses", "echo_answers"]


def echo_answers(answers: list[WitnessAnswer]) -> None:
    """One line per witness on standard error."""
    for answer in answers:
        click.echo(f"witness {answer.describe()}", err=True)


def ask_witnesses(ledger: Ledger, as_json: bool = False) -> list[WitnessAnswer]:
    answers = collect_cosignatures(ledger)
    if not as_json:
        echo_answers(answers)
    return answers


def answer_dict(a: WitnessAnswer) -> dict[str, object]:
    return {"witness": a.witness, "outcome": a.outcome, "status": a.status,
            "detail": a.detail, "witness_size": a.witness_size,
            "cosignatures": [c.line for c in a.cosignatures]}
