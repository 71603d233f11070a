"""Write docs/events.md from the event schemas (`make docs` runs it).

What is derived from the code, so it cannot fall behind it:

* the envelope table: every field of ``tracelib.events.EnvelopeSchema`` with its type,
  whether it is required, its constraints (read from the field's validators) and its
  ``metadata["description"]``; the ``{lot, qty, unit}`` items from the patterns
  ``tracelib.events`` checks them with;
* one section per kind of ``tracelib.kinds.KINDS``: its CBV bizStep and a table of its
  ``data`` schema, nested objects and lists of objects flattened into ``a.b`` and ``a[].b``
  rows.

What is written by hand, here: the rules of each kind in words (``KINDS_PROSE``), and the
descriptions of fields whose schema module is not annotated yet (``DESCRIPTIONS``). The
examples, one per kind, are events in ``docs/_events/examples.jsonl``; each is validated as the
ledger validates it before it is rendered.

Rendering fails (:class:`DocsError`) rather than leave a gap: a field without a description,
a kind without prose or an example, a validator or field type this script cannot put into
words, or a hand-written entry that no longer matches the code.
"""

# ruff: noqa: E501  (Markdown prose and table rows cannot wrap)

from __future__ import annotations

import inspect
import json
import re
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, missing, validate

from tracelib import events as envelope
from tracelib.errors import TracelibError
from tracelib.events import ID_PATTERN, EnvelopeSchema, Event
from tracelib.kinds import KINDS, KindSpec
from tracelib.kinds.supply import DEFAULT_TEMPERATURE_LIMITS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "_events" / "examples.jsonl"


class DocsError(Exception):
    """The reference cannot be generated without a gap; the message says what to add."""


INTRO = """\
# Events

Generated from the event schemas by `scripts/gen_event_docs.py`: the envelope from
`tracelib/events.py`, each kind's `data` from its schema in `tracelib/kinds/`, the examples from
`docs/_events/examples.jsonl`. Do not edit by hand: run `make docs`.

An event is one JSON object, one hop of a lot, signed by the party that did it; a file of them
is JSON Lines. This page is data contract v1 (`CONTRACT.md`): fields may be added, never
renamed or dropped. Floats, `NaN`, `Infinity` and duplicate keys are rejected, so quantities,
temperatures and readings are decimal strings. The signed and stored bytes are the RFC 8785
canonical form of the event as sent, without `sig` (defaults such as `inputs: []` are not
inserted), so a partner's signature over its own bytes verifies here.

Every rule on this page is enforced at append, in the same transaction: a rejected event
rejects its whole batch with an error naming the line, the event and the field, and nothing is
stored.
"""

# Each kind's title and its rules in words: what its inputs and outputs are, who may act where,
# what it does to stock. The fields are in the generated table below the prose. The order here
# is the page's order; every kind in KINDS must be here.
KINDS_PROSE: dict[str, tuple[str, str]] = {
    "register": ("parties, locations and keys (operator only)", """\
Signed by the operator, the party named at `tracelib init --operator` (who-may-sign is itself
in the chain). A `register` event may name as its `location` a location it registers itself,
and may register parties, the locations they hold and their keys in one event. A location's
`parent` and `holder` must exist; a key's party must exist and its `key_id` must match its
public key. Key rotation registers the successor key, then revokes the old one; the
operator's last valid key cannot be revoked."""),
    "origin": ("a farm's origin certificate makes new lots", """\
No `inputs`; `outputs`: the new lots, at least one. A lot code is made once: an output that
already exists is rejected. The lots start on hand at `location`."""),
    "slaughter": ("designated slaughter", """\
`inputs`: the animal lot(s) on hand at the abattoir (e.g. in `head`), taken off its stock (mass
balance); `outputs`: the new meat lots, which inherit storage and import status from their
inputs."""),
    "ship": ("a cold-chain hop leaves", """\
`inputs`: lots on hand at `location`, taken off its stock — mass balance (精准追溯): no more than
is on hand there; no `outputs`. A held or recalled lot cannot be shipped, and a lot appears at
most once in a shipment. The stock arrives at `data.to` only when a `receive` closes the
shipment. An excursion is recorded on the hop and shown in traces, and the hop is still
accepted, for {excursions}."""),
    "receive": ("the hop arrives", """\
`inputs`: the lots received at `location`. Each must be in the shipment `data.ship_event`,
addressed to this location, received at most once and no more than was shipped; less is
recorded as a discrepancy on the hop. A market or stall cannot receive an imported lot unless
all three import documents are on record for it."""),
    "transform": ("split, merge, repack, cut, process", """\
`inputs` are consumed at `location` (mass balance; not held, not recalled), `outputs` are new
lots there. When all units agree, the outputs may not total more than the inputs. Made lots
inherit product, storage and import status from their inputs (an import document only when
every imported input has it)."""),
    "sale": ("at a stall", """\
`inputs`: lots on hand at `location`, which must be a `stall`; no `outputs`. A held or recalled
lot cannot be sold."""),
    "hold": ("a lot off sale at one location", """\
`inputs`: lots that have been at `location`; no `outputs`. The lot cannot be shipped,
transformed or sold there until a `release` there; a lot already on hold there cannot be held
again. A positive rapid test or a failed lab result holds its lot by itself (see
[rapid_test](#kind:rapid_test) and [lab_test](#kind:lab_test))."""),
    "release": ("a hold or a recall ends", """\
`inputs`: lots on hold at `location`, or recalled; no `outputs`. Releasing a held lot lifts the
hold there and closes its open test follow-ups as `released`. A recall is lifted only by name:
with `"scope": "recall"` in `data`, the release also ends the lot's recall everywhere."""),
    "recall": ("a lot stopped everywhere", """\
`inputs`: the lots recalled; no `outputs`. A recalled lot cannot be shipped, transformed or
sold anywhere until a `release` with `"scope": "recall"`. `tracelib recall LOT` writes these,
signed by the operator, in one transaction: a `hold` at every location with stock of the lot or
of a lot made from it, and one `recall` of every such lot on hand or in transit (with
`recall_of` naming the lot asked about)."""),
    "dispose": ("destroying stock", """\
`inputs`: lots on hand at `location`, even when held; no `outputs`. The stock leaves the
ledger's count, the hold there ends when nothing is left, and open test follow-ups of the lot
at that stall close as `disposed` (a `release` closes them as `released`)."""),
    "drill": ("a recall drill's evidence", """\
No `inputs` or `outputs`. Written by `tracelib drill`: anyone can re-run the trace of `lot` and
compare the digest of its answer."""),
    "rapid_test": ("the market's rapid-test room (快检室)", """\
At a stall, or at a lab naming the stall in `data.stall`. Sampling does not move stock: the lot
tested is `data.lot`, not an input. Give either `readings` (enzyme inhibition: tracelib
computes the inhibition rate (ΔA₀ − ΔAₜ) / ΔA₀ × 100 and the result, ≥ 50 % positive, 40–50 %
suspect, GB/T 5009.199-2003) or `result` (strips — clenbuterol, ractopamine, salbutamol,
malachite green, formaldehyde, sulfur dioxide, 吊白块, nitrite — and test cards). A claimed
result that contradicts the readings is rejected. A positive result holds the tested lot at
that stall in the same transaction and opens a follow-up; a negative retest releases it."""),
    "lab_test": ("a laboratory's residue result", """\
At a lab or a stall; the stall concerned is the event's location when it is a stall, else
`data.stall`. tracelib looks up the GB 2763 limit (with the food-category cascade) and records
it with the table's version; a banned substance fails on any detection from its ban date. A
fail holds the lot at the stall and confirms an open rapid-test follow-up (`lab_confirmed`); a
pass clears it and releases the hold (`cleared`)."""),
}

# Descriptions of fields whose schema module this script may not annotate: keyed by (kind,
# field path). A description in both places is an error — once the schema has it, drop it here.
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("rapid_test", "sample"): "the sample's label, e.g. `A01-豇豆-1`",
    ("rapid_test", "item"): "what is tested for, e.g. `有机磷和氨基甲酸酯类农药`; an item tracelib knows, by its code or name",
    ("rapid_test", "method"): "the method, e.g. `GB/T 5009.199-2003`; one valid for the item",
    ("rapid_test", "tester"): "who ran the test",
    ("rapid_test", "readings"): "enzyme inhibition absorbance changes, from which tracelib computes the rate and the result",
    ("rapid_test", "readings.delta_a0"): "ΔA₀, the control's absorbance change, a decimal string",
    ("rapid_test", "readings.delta_at"): "ΔAₜ, the sample's absorbance change, a decimal string",
    ("rapid_test", "result"): "the result read from a strip or test card (`negative` or `positive`); with `readings`, it must agree with the computed result",
    ("rapid_test", "lot"): "the lot the sample was taken from: held on a positive result",
    ("rapid_test", "stall"): "the stall tested, when the event's location is a lab",
    ("rapid_test", "commodity"): "the food sampled, e.g. `豇豆`; commodities prone to false positives are flagged",
    ("rapid_test", "reviewer"): "who reviewed the result",
    ("rapid_test", "instrument"): "the instrument used",
    ("rapid_test", "instrument.model"): "its model",
    ("rapid_test", "instrument.serial"): "its serial number",
    ("rapid_test", "retest"): "`true` for a retest: a negative retest releases the lot's test hold",
    ("rapid_test", "test_no"): "the test room's own number for the test",
    ("lab_test", "analyte"): "the substance measured, e.g. `毒死蜱`; one of the limits table",
    ("lab_test", "commodity"): "the food tested, e.g. `芹菜`; a commodity of the GB 2763 classification",
    ("lab_test", "value"): "the measured value, a decimal string; `ND` / `未检出` for not detected",
    ("lab_test", "unit"): "`mg/kg` or `μg/kg`, converted exactly",
    ("lab_test", "lab"): "the laboratory",
    ("lab_test", "report_no"): "the laboratory's report number",
    ("lab_test", "lot"): "the lot sampled: held on a fail, released on a pass",
    ("lab_test", "stall"): "the stall sampled, when the event's location is a lab",
    ("lab_test", "sample"): "the sample's label",
    ("lab_test", "method"): "the analytical method, e.g. `GB 23200.113-2018`",
}

# The items of `inputs` and `outputs` are checked by tracelib.events.LotQuantities by hand (no
# nested schema: it is faster), against the module's patterns; these are their descriptions.
LOT_QUANTITY: dict[str, str] = {
    "lot": "the lot's code",
    "qty": "the quantity, a decimal string greater than 0 with at most 12 digits before the point and 6 after (an exact number of micro-units)",
    "unit": "the lot's unit, e.g. `kg`, `head`, `box`; a lot is counted in one unit from its making",
}

IDENTIFIERS = "identifier"
WIDTH = 100  # examples wrap at this display width


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    required: bool
    values: str
    description: str


class _Renderer:
    def __init__(self) -> None:
        self.used: set[tuple[str, str]] = set()

    # -- descriptions -----------------------------------------------------------------

    def describe(self, owner: str, path: str, field: fields.Field[Any]) -> str:
        """The field's description: its metadata, else DESCRIPTIONS; never neither, never both."""
        own = field.metadata.get("description")
        key = (owner, path)
        extra = DESCRIPTIONS.get(key)
        if extra is not None:
            self.used.add(key)
        if own and extra:
            raise DocsError(f"{owner}: field {path!r} is described in its schema and in "
                            f"DESCRIPTIONS of scripts/gen_event_docs.py; drop the latter")
        text = own or extra
        if not text:
            raise DocsError(f"{owner}: field {path!r} has no description: give it "
                            f"metadata={{\"description\": ...}} in its schema")
        return str(text)

    # -- rows -------------------------------------------------------------------------

    def rows(self, schema: Schema, owner: str, prefix: str = "") -> Iterator[Row]:
        for name, field in schema.fields.items():
            if field.dump_only:
                continue
            path = prefix + (field.data_key or name)
            yield Row(path, _type(field, owner, path), field.required,
                      _values(field, owner, path), self.describe(owner, path, field))
            if isinstance(field, envelope.LotQuantities):
                yield from _lot_quantity_rows(path)
            nested = _nested_schema(field)
            if nested is not None:
                inner = f"{path}[]." if isinstance(field, fields.List) else f"{path}."
                yield from self.rows(nested, owner, inner)


def _nested_schema(field: fields.Field[Any]) -> Schema | None:
    if isinstance(field, fields.List):
        field = field.inner
    if isinstance(field, fields.Nested):
        schema = field.schema
        assert isinstance(schema, Schema)
        return schema
    return None


def _lot_quantity_rows(prefix: str) -> Iterator[Row]:
    patterns = {"lot": envelope._ID.pattern, "qty": envelope._QTY.pattern,
                "unit": envelope._UNIT.pattern}
    if set(LOT_QUANTITY) != set(envelope._LOT_FIELDS) or set(patterns) != set(LOT_QUANTITY):
        raise DocsError(f"tracelib.events checks lot quantities with fields "
                        f"{sorted(envelope._LOT_FIELDS)}, but LOT_QUANTITY in "
                        f"scripts/gen_event_docs.py describes {sorted(LOT_QUANTITY)}")
    for name in ("lot", "qty", "unit"):
        values = _pattern_words(patterns[name], None)
        if name == "qty":
            values = f"greater than 0; {values}"
        yield Row(f"{prefix}[].{name}", "string", True, values, LOT_QUANTITY[name])


# -- types and constraints in words ---------------------------------------------------

def _type(field: fields.Field[Any], owner: str, path: str) -> str:
    if isinstance(field, envelope.LotQuantities):
        return "array of object"
    if isinstance(field, fields.List):
        return f"array of {_type(field.inner, owner, path + '[]')}"
    if isinstance(field, fields.Nested):
        return "object"
    if isinstance(field, fields.Dict):
        if field.value_field is not None:
            return f"object of {_type(field.value_field, owner, path)}"
        return "object"
    if isinstance(field, fields.Boolean):
        return "boolean"
    if isinstance(field, fields.Integer):
        return "integer"
    if isinstance(field, fields.String):
        return "string"
    raise DocsError(f"{owner}: field {path!r} is a {type(field).__name__}, a type "
                    f"scripts/gen_event_docs.py cannot name yet")


def _pattern_words(pattern: str, error: str | None) -> str:
    if pattern == ID_PATTERN:
        return f"an [{IDENTIFIERS}](#identifiers)"
    shown = f"pattern `{pattern}`"
    return f"{error} ({shown})" if error else shown


def _validator_words(v: Any, *, items: bool, owner: str, path: str) -> str:
    if isinstance(v, validate.Regexp):
        error = v.error if v.error and v.error != validate.Regexp.default_message else None
        return _pattern_words(v.regex.pattern, error)
    if isinstance(v, validate.Length):
        unit = "items" if items else "characters"
        if v.equal is not None:
            return f"exactly {v.equal} {unit}"
        if v.min is not None and v.max is not None:
            return f"{v.min}–{v.max} {unit}"
        if v.max is not None:
            return f"at most {v.max} {unit}"
        if v.min is not None:
            return f"at least {v.min} {unit}"
    if isinstance(v, validate.OneOf):
        return "one of " + ", ".join(f"`{c}`" for c in v.choices)
    if isinstance(v, validate.Range):
        low = "" if v.min is None else f"{'≥' if v.min_inclusive else '>'} {v.min}"
        high = "" if v.max is None else f"{'≤' if v.max_inclusive else '<'} {v.max}"
        return " and ".join(x for x in (low, high) if x)
    raise DocsError(f"{owner}: field {path!r} has a validator {v!r} that "
                    f"scripts/gen_event_docs.py cannot put into words yet")


_POLICY = {RAISE: "no other fields", INCLUDE: "other fields kept as sent",
           EXCLUDE: "other fields dropped"}


def _values(field: fields.Field[Any], owner: str, path: str) -> str:
    """Allowed values, ranges and formats of a field, in words."""
    is_list = isinstance(field, fields.List | envelope.LotQuantities)
    parts = [_validator_words(v, items=is_list, owner=owner, path=path) for v in field.validators]
    if isinstance(field, fields.List):
        each = [_validator_words(v, items=False, owner=owner, path=path)
                for v in field.inner.validators]
        nested = _nested_schema(field)
        if nested is not None:
            each.append(_POLICY[nested.unknown])
        if each:
            parts.append("each: " + ", ".join(each))
    elif isinstance(field, fields.Nested):
        nested = _nested_schema(field)
        assert nested is not None
        parts.append(_POLICY[nested.unknown])
    elif isinstance(field, fields.Dict):
        for what, sub in (("keys", field.key_field), ("values", field.value_field)):
            if sub is not None and sub.validators:
                parts.append(f"{what}: " + ", ".join(
                    _validator_words(v, items=False, owner=owner, path=path)
                    for v in sub.validators))
    elif isinstance(field, envelope.LotQuantities):
        parts.append("each: an object `{lot, qty, unit}`, no other fields")
    if owner == "envelope" and path == "kind":
        # Checked by tracelib.kinds.kind_spec against the registry, not by a validator.
        parts.append("one of " + ", ".join(f"[`{k}`](#{_slug(_heading(k))})"
                                           for k in KINDS_PROSE if k in KINDS))
    if field.load_default is not missing:
        default = field.load_default() if callable(field.load_default) else field.load_default
        parts.append(f"default `{json.dumps(default)}`")
    if field.allow_none:
        parts.append("may be `null`")
    return "; ".join(parts)


# -- Markdown --------------------------------------------------------------------------

def _cell(text: str) -> str:
    """Table cell text: a literal ``|`` would end the cell (GFM)."""
    return text.replace("|", "\\|")


def _table(rows: list[Row]) -> list[str]:
    lines = ["| field | type | required | allowed values | description |",
             "|---|---|---|---|---|"]
    lines += [f"| `{_cell(r.path)}` | {_cell(r.type)} | {'yes' if r.required else 'no'} | "
              f"{_cell(r.values)} | {_cell(r.description)} |" for r in rows]
    return lines


def _heading(kind: str) -> str:
    return f"{kind} — {KINDS_PROSE[kind][0]}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _own_doc(schema: Schema) -> str | None:
    """The schema class's own docstring (not one inherited from marshmallow), as Markdown."""
    doc = type(schema).__dict__.get("__doc__")
    return inspect.cleandoc(doc).replace("``", "`") if doc else None


def _hooked(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Schemas (with their paths) that check more than their fields: schema-level or
    field-level validator methods, whose rules only the class docstring can put in words."""
    hooks = getattr(schema, "_hooks", {})
    if hooks.get("validates_schema") or hooks.get("validates"):
        yield path, schema
    for name, field in schema.fields.items():
        nested = _nested_schema(field)
        if nested is not None:
            yield from _hooked(nested, f"{path}{field.data_key or name}"
                                       f"{'[]' if isinstance(field, fields.List) else ''}.")


def _json_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _fill(value: Any, col: int) -> str:
    """JSON for ``value`` starting at display column ``col``: a container too wide for the
    rest of the line is packed item by item onto lines aligned one past its bracket."""
    text = _compact(value)
    if col + _json_width(text) <= WIDTH or not isinstance(value, dict | list) or not value:
        return text
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    items = ([(_compact(k) + ": ", v) for k, v in value.items()] if isinstance(value, dict)
             else [("", v) for v in value])
    inner = col + 1
    lines: list[str] = []
    line, open_line = "", True
    for n, (key, item) in enumerate(items):
        piece = key + _compact(item)
        room = _json_width(piece) + (1 if n == len(items) - 1 else 2)  # the "," or bracket
        if line and open_line and inner + _json_width(line) + 2 + room <= WIDTH:
            line += ", " + piece
            continue
        if line:
            lines.append(line + ",")
        line = key + _fill(item, inner + _json_width(key))
        open_line = "\n" not in line and inner + _json_width(line) + 2 <= WIDTH
    lines.append(line)
    return opening + ("\n" + " " * inner).join(lines) + closing


def _example(doc: Mapping[str, Any]) -> str:
    """An event as the page shows it: the scalar fields on the first line, then each list or
    object on a line of its own."""
    scalars = [f"{_compact(k)}: {_compact(v)}" for k, v in doc.items()
               if not isinstance(v, dict | list)]
    rest = [(k, v) for k, v in doc.items() if isinstance(v, dict | list)]
    lines = ["{" + ", ".join(scalars)]
    for key, value in rest:
        head = f" {_compact(key)}: "
        lines.append(head + _fill(value, _json_width(head)))
    return ",\n".join(lines) + "}"


def _examples() -> dict[str, Mapping[str, Any]]:
    """The examples file's events by kind, each validated as the ledger validates it."""
    found: dict[str, Mapping[str, Any]] = {}
    for number, line in enumerate(EXAMPLES.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = Event.from_json(line)
        except TracelibError as e:
            raise DocsError(f"{EXAMPLES.name} line {number}: {e}") from e
        if event.kind in found:
            raise DocsError(f"{EXAMPLES.name} line {number}: a second example of {event.kind!r}")
        found[event.kind] = json.loads(line)  # as written: canonical bytes sort the keys
    return found


def _excursions() -> str:
    limits = " or ".join(f"above {limit} °C for {storage} goods"
                         for storage, limit in DEFAULT_TEMPERATURE_LIMITS.items())
    return f"a reading {limits} (the default limits)"


def _kind_section(renderer: _Renderer, spec: KindSpec, example: Mapping[str, Any]) -> str:
    prose = KINDS_PROSE[spec.name][1]
    prose = re.sub(r"\(#kind:(\w+)\)", lambda m: f"(#{_slug(_heading(m[1]))})",
                   prose.replace("{excursions}", _excursions()))
    schema = spec.data_schema
    step = f"`{spec.bizstep}`" if spec.bizstep else "none"
    lines = [f"## {_heading(spec.name)}", "", f"CBV bizStep: {step}.", "", prose, ""]
    doc = _own_doc(schema)
    for path, hooked in _hooked(schema):
        text = _own_doc(hooked)
        if text is None:
            raise DocsError(f"{spec.name}: the {type(hooked).__name__} schema of data.{path} checks "
                            f"more than its fields; state the rule in its class docstring")
        if hooked is not schema:
            lines += [f"`data.{path.rstrip('.')}`: {text}", ""]
    if doc:
        lines += [doc, ""]
    rows = list(renderer.rows(schema, spec.name))
    if rows:
        lines += ["`data`:", "", *_table(rows), ""]
        lines.append("No other `data` fields are accepted." if schema.unknown == RAISE else
                     "More `data` fields are welcome: they are stored and signed as sent.")
    else:
        lines += ["`data`: any object."]
    lines += ["", "```json", _example(example), "```", ""]
    return "\n".join(lines)


def render() -> str:
    """The whole page; raises DocsError when anything would be missing from it."""
    missing_prose = sorted(set(KINDS) - set(KINDS_PROSE))
    if missing_prose:
        raise DocsError(f"kind(s) {', '.join(missing_prose)} have no prose: add them to "
                        f"KINDS_PROSE in scripts/gen_event_docs.py")
    unknown = sorted(set(KINDS_PROSE) - set(KINDS))
    if unknown:
        raise DocsError(f"KINDS_PROSE describes kind(s) {', '.join(unknown)} that are not "
                        f"registered; drop them")
    examples = _examples()
    no_example = sorted(set(KINDS) - set(examples))
    if no_example:
        raise DocsError(f"kind(s) {', '.join(no_example)} have no example in "
                        f"docs/_events/examples.jsonl")
    renderer = _Renderer()
    envelope_schema = EnvelopeSchema()
    parts = [INTRO]
    index = ["| kind | what | CBV bizStep |", "|---|---|---|"]
    for kind in KINDS_PROSE:
        step = KINDS[kind].bizstep
        index.append(f"| [`{kind}`](#{_slug(_heading(kind))}) | {KINDS_PROSE[kind][0]} | "
                     f"{f'`{step}`' if step else '—'} |")
    parts.append("\n".join(index) + "\n")
    envelope_lines = ["## The envelope", ""]
    doc = _own_doc(envelope_schema)
    if doc:
        envelope_lines += [doc, ""]
    envelope_lines += _table(list(renderer.rows(envelope_schema, "envelope")))
    if envelope_schema.unknown == RAISE:
        envelope_lines += ["", "No other top-level fields are accepted."]
    id_error = envelope._id.error
    envelope_lines += ["", "### Identifiers", "",
                       f"An *{IDENTIFIERS}* (the id of an event, party, location or lot) "
                       f"{id_error}: pattern `{ID_PATTERN}`.", ""]
    parts.append("\n".join(envelope_lines))
    for kind in KINDS_PROSE:
        parts.append(_kind_section(renderer, KINDS[kind], examples[kind]))
    stale = sorted(set(DESCRIPTIONS) - renderer.used)
    if stale:
        raise DocsError("DESCRIPTIONS in scripts/gen_event_docs.py names fields that no kind "
                        "has: " + ", ".join(f"{k}.data.{p}" for k, p in stale))
    return "\n".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "events.md"
    try:
        text = render()
    except DocsError as e:
        sys.exit(f"gen_event_docs: {e}")
    target.write_text(text, encoding="utf-8")
