"""``limits``: a GB 2763 limits table is loaded and becomes the one that judges lab results.

The table's CSV text is the event's data, so the table every later lab result was judged
with is in the signed, hash-chained records: ``tracelib verify`` and ``tracelib reindex``
rebuild it like any other derived row. Everything about the kind is here: its ``data``
schema, its rules at append and its :data:`SPEC`."""

from __future__ import annotations

import hashlib
import io

from marshmallow import fields, validate

from ..errors import ValidationError
from ..standards.limits import LimitsTable
from ._fields import OpenData
from ._stock import none
from .context import AppendContext, EventView
from .spec import KindSpec, Signers

#: The largest table text accepted (characters). The GB 2763-2021 tables run to about
#: 10,000 limits; at roughly 80 characters a row that is 800,000 characters. Through the
#: API the body limit (1 MiB) applies first; `tracelib limits load` has no body limit.
MAX_TABLE_CHARS = 2_000_000


class LimitsData(OpenData):
    version = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "description": "the name of this table version, loaded once (e.g. "
                       "`GB2763-2026-official`); every lab result records it"})
    csv = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TABLE_CHARS),
                        metadata={"description": "the table as CSV text, header first (columns "
                                                 "pesticide_zh, commodity_zh, mrl_mg_kg, …; "
                                                 "docs/howto-limits.md)"})


def apply_limits(ctx: AppendContext, event: EventView, seq: int) -> None:
    """Check the whole table and make it the active one."""
    none(event.inputs, "inputs")
    none(event.outputs, "outputs")
    version, text = event.data["version"], event.data["csv"]
    if ctx.tests.limits_loaded(version):
        raise ValidationError(f"limits table version {version!r} is already loaded; load a "
                              "corrected table under a new version name", field="data.version")
    try:
        table = LimitsTable.from_csv(io.StringIO(text), version)
    except ValidationError as e:
        raise ValidationError(f"{e.message} (column {e.field})" if e.field else e.message,
                              field="data.csv") from None
    ctx.tests.load_limits(table, csv=text, sha256=hashlib.sha256(text.encode()).hexdigest(),
                          seq=seq, loaded_at=event.time_text)


RULES = """\
No `inputs` or `outputs`.
The whole table is checked first (an empty name, a limit that is not a number, an unknown
commodity, a second row for one pesticide and commodity reject the event, naming the row). A
version name is loaded once. The table becomes the active one from this record on: lab results
recorded later are judged with it and record its version; earlier results keep their verdict.
`tracelib limits load FILE --version V` writes this event (docs/howto-limits.md)."""


EXAMPLE = {'id': 'limits-GB2763-2026-example',
 'kind': 'limits',
 'time': '2026-11-22T09:00:00+08:00',
 'actor': 'yunyang-amr',
 'location': 'yunyang-amr.office',
 'data': {'version': 'GB2763-2026-example',
          'csv': 'pesticide_zh,pesticide_en,commodity_zh,commodity_en,mrl_mg_kg,edition,source\n'
                 '毒死蜱,chlorpyrifos,芹菜,celery,0.05,GB 2763-2026,EXAMPLE ROW\n'}}


SPEC = KindSpec(
    epcis_words=('None: a table of maximum residue limits is reference data, not a business event.'),
    name="limits", order=150, data_schema=LimitsData(), apply=apply_limits,
    label_zh="限量标准表", label_en="Limits table",
    summary="a GB 2763 limits table loaded to judge lab results",
    bizstep=None, epcis_type=None, cte=None,
    rules=RULES,
    example=EXAMPLE,
    # The operator, or the regulator whose lab results the table judges, at its own office.
    signers=Signers(roles=("operator", "regulator")),
)
