"""Write docs/events.md from the event schemas (`make docs` runs it).

What is derived from the code, so it cannot fall behind it:

* the envelope table: every field of ``tracelib.events.EnvelopeSchema`` with its type,
  whether it is required, its constraints (read from the field's validators) and its
  ``metadata["description"]``; the ``{lot, qty, unit}`` items from the patterns
  ``tracelib.events`` checks them with;
* one section per kind of ``tracelib.kinds.KINDS``, all from the kind's ``KindSpec``: its
  labels, CBV bizStep, EPCIS event type and FSMA 204 CTE, who may sign it (its ``signers``),
  its rules in words, a table of
  its ``data`` schema (nested objects and lists of objects flattened into ``a.b`` and
  ``a[].b`` rows) and its example, validated as the ledger validates it.

Rendering fails (:class:`DocsError`) rather than leave a gap: a field without a description,
a kind without rules or a valid example, or a validator or field type this script cannot put
into words.
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
from tracelib.cbv import EpcisNames
from tracelib.errors import TracelibError
from tracelib.events import ID_PATTERN, EnvelopeSchema, Event
from tracelib.kinds import KINDS, KindSpec

ROOT = Path(__file__).resolve().parents[1]


class DocsError(Exception):
    """The reference cannot be generated without a gap; the message says what to add."""


INTRO = """\
# Events

Generated from the event schemas by `scripts/gen_event_docs.py`: the envelope from
`tracelib/events.py`, each kind's section from its module in `tracelib/kinds/`. Do not edit by
hand: run `make docs`.

An event is one JSON object, one hop of a lot, signed by the party that did it; a file of them
is JSON Lines. This page is data contract v1 ([contract.md](contract.md)): fields may be added, never
renamed or dropped. Floats, `NaN`, `Infinity` and duplicate keys are rejected, so quantities,
temperatures and readings are decimal strings. The signed and stored bytes are the RFC 8785
canonical form of the event as sent, without `sig` (defaults such as `inputs: []` are not
inserted), so a partner's signature over its own bytes verifies here.

Every rule on this page is enforced at append, in the same transaction: a rejected event
rejects its whole batch with an error naming the line, the event and the field, and nothing is
stored.
"""

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
    # -- descriptions -----------------------------------------------------------------

    def describe(self, owner: str, path: str, field: fields.Field[Any]) -> str:
        """The field's description, from its schema's metadata."""
        text = field.metadata.get("description")
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
                                           for k in sorted(KINDS, key=lambda k: (KINDS[k].order, k))))
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
    return f"{kind} — {KINDS[kind].summary}"


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


def _example_text(doc: Mapping[str, Any]) -> str:
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


def _example(spec: KindSpec) -> Mapping[str, Any]:
    """The kind's example, validated as the ledger validates it."""
    try:
        Event.from_dict(spec.example)
    except TracelibError as e:
        raise DocsError(f"the example of kind {spec.name!r} is not valid: {e}") from e
    if spec.example.get("kind") != spec.name:
        raise DocsError(f"the example of kind {spec.name!r} is of kind {spec.example.get('kind')!r}")
    return spec.example


def _kind_section(renderer: _Renderer, spec: KindSpec) -> str:
    if not spec.rules.strip() or not spec.summary.strip():
        raise DocsError(f"kind {spec.name!r} has no rules or summary in its KindSpec")
    prose = re.sub(r"\(#kind:(\w+)\)", lambda m: f"(#{_slug(_heading(m[1]))})", spec.rules)
    schema = spec.data_schema
    step = f"`{spec.bizstep}`" if spec.bizstep else "none"
    facts = [f"{spec.label_zh} · {spec.label_en}.", f"CBV bizStep: {step}."]
    if spec.epcis_type:
        facts.append(f"EPCIS event type: `{spec.epcis_type}`.")
    if spec.cte:
        facts.append(f"FSMA 204 critical tracking event: {spec.cte}.")
    who = spec.signers.describe()
    lines = [f"## {_heading(spec.name)}", "", " ".join(facts), "",
             f"**Who may sign** ([authority](contract.md#authority)): {who}", "", prose, ""]
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
    lines += ["", "```json", _example_text(_example(spec)), "```", ""]
    lines += _epcis_section(spec)
    return "\n".join(lines)


def _epcis_section(spec: KindSpec) -> list[str]:
    """The kind's EPCIS 2.0 mapping in words and, when it maps, its example as exported
    (``tracelib epcis export``; lots and places named under an example public URL)."""
    words = spec.epcis_words.strip() or ("None: the kind declares no EPCIS mapping."
                                         if spec.epcis is None else "its example below.")
    lines = [f"**EPCIS 2.0** ([export](cli.md#tracelib-epcis-export)): {words}", ""]
    if spec.epcis is not None:
        event = spec.epcis(spec.example, EpcisNames("https://trace.example.cn"))
        lines += ["The example as an EPCIS event (without the record's `recordTime`, "
                  "`tracelib:seq` and `tracelib:recordHash`):", "", "```jsonld",
                  json.dumps(event, ensure_ascii=False, indent=1), "```", ""]
    if spec.from_epcis is not None:
        doc = " ".join((spec.from_epcis.__doc__ or "").split())
        lines += ["**EPCIS 2.0 import** ([import](cli.md#tracelib-epcis-import), "
                  "[capture](api.md#post-epciscapture)): " + (doc or "its reverse mapping.")
                  + " An event tracelib exported comes back as it was (`tracelib:data`).", ""]
    elif spec.epcis is None:
        lines += ["**EPCIS 2.0 import**: none; an EPCIS event never becomes this kind.", ""]
    return lines


def render() -> str:
    """The whole page; raises DocsError when anything would be missing from it."""
    kinds = sorted(KINDS.values(), key=lambda spec: (spec.order, spec.name))
    renderer = _Renderer()
    envelope_schema = EnvelopeSchema()
    parts = [INTRO]
    index = ["| kind | what | CBV bizStep |", "|---|---|---|"]
    for spec in kinds:
        step = spec.bizstep
        index.append(f"| [`{spec.name}`](#{_slug(_heading(spec.name))}) | {spec.summary} | "
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
    for spec in kinds:
        parts.append(_kind_section(renderer, spec))
    return "\n".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "events.md"
    try:
        text = render()
    except DocsError as e:
        sys.exit(f"gen_event_docs: {e}")
    target.write_text(text, encoding="utf-8")
