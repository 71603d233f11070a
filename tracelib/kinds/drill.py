"""``drill``: a recall drill's evidence (追溯演练).

Everything about the kind is here: its ``data`` schema, its rules at append and its
:data:`SPEC`."""

from __future__ import annotations

from marshmallow import fields, validate

from ._fields import OpenData, id_field, text
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers


class DrillData(OpenData):
    question = fields.String(required=True, validate=text(), metadata={
        "description": "the drill's question, in words"})
    lot = fields.String(required=True, validate=id_field(), metadata={
        "description": "the lot traced"})
    answer_digest = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{64}\Z"),
                                  metadata={"description": "SHA-256 of the canonical trace "
                                                           "answer, hex"})
    elapsed_ms = fields.String(validate=validate.Regexp(r"\A\d{1,9}(?:\.\d{1,3})?\Z"), metadata={
        "description": "how long the answer took, in milliseconds"})


def apply_drill(ctx: AppendContext, event: EventView, seq: int) -> None:
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")


RULES = """\
No `inputs` or `outputs`. Written by `tracelib drill`: anyone can re-run the trace of `lot` and
compare the digest of its answer."""


EXAMPLE = {'id': 'drill-LOT-CP-20261122-01-20261122T103000000000',
 'kind': 'drill',
 'time': '2026-11-22T10:30:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'yunyang-amr.office',
 'data': {'question': '追溯演练: 批次 LOT-CP-20261122-01 从哪里来、到哪里去、还有多少在售?',
          'lot': 'LOT-CP-20261122-01',
          'answer_digest': '76103ca6d3a5e7ce18aeeb8fd3cfce6e9fad7a3569aec1456623e02822e7ff30',
          'elapsed_ms': '13.9'}}


SPEC = KindSpec(
    epcis_words=('None: a drill is a query of the ledger, not a business event.'),
    name="drill", order=110, data_schema=DrillData(), apply=apply_drill,
    label_zh="追溯演练", label_en="Recall drill", summary="a recall drill's evidence",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    signers=Signers(roles=("operator", "regulator"), anywhere=("operator", "regulator")),
)
