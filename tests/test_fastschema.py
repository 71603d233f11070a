"""The compiled schema loaders (tracelib._fastschema) against marshmallow as the oracle.

The contract: for every input the fast loader returns ``None`` or exactly what
``schema.load`` returns (equal values of the same types, keys in the same order), and
``schema.load`` then accepts the input. For the schemas of the registry it is also
complete on JSON input: it declines only what marshmallow rejects, so a fast path that
silently declined everything would fail these tests.
"""

from __future__ import annotations

import gc
import re
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import marshmallow
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import (
    EXCLUDE,
    INCLUDE,
    RAISE,
    Schema,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from tracelib import _fastschema, canonical, events
from tracelib._fastschema import Unsupported, compile_schema, fallback_reason, loader_for
from tracelib.errors import ValidationError
from tracelib.events import _ENVELOPE, Event, LotQuantities, load_with
from tracelib.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [canonical.loads(canonical.dumps(spec.example)) for spec in KINDS.values()]

REGISTRY: list[tuple[str, Schema]] = [("envelope", _ENVELOPE)] + [
    (f"kind:{name}", spec.data_schema) for name, spec in sorted(KINDS.items())]

_REJECTED = object()


def _oracle(schema: Schema, value: Any) -> Any:
    try:
        return schema.load(value)
    except marshmallow.ValidationError:
        return _REJECTED


def _assert_same(fast: Any, slow: Any, path: str = "") -> None:
    """Equal, of the same types all the way down, dict keys in the same order."""
    assert type(fast) is type(slow), f"{path}: {type(fast).__name__} != {type(slow).__name__}"
    if isinstance(slow, dict):
        assert list(fast) == list(slow), f"{path}: keys {list(fast)} != {list(slow)}"
        for key in slow:
            _assert_same(fast[key], slow[key], f"{path}.{key}")
    elif isinstance(slow, list):
        assert len(fast) == len(slow), path
        for i, (a, b) in enumerate(zip(fast, slow, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    else:
        assert fast == slow, path


def _is_json(value: Any) -> bool:
    """A value canonical.loads can return (no floats, bytes, tuples, subclasses, ...)."""
    if type(value) is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    if type(value) is list:
        return all(_is_json(v) for v in value)
    return value is None or type(value) in (str, int, bool)


def check(schema: Schema, value: Any, *, complete: bool) -> Any:
    """The property: fast is None or the same as marshmallow's; with ``complete``, fast
    declines JSON input only when marshmallow rejects it. Returns the fast result."""
    fast = loader_for(schema)(value)
    slow = _oracle(schema, value)
    if fast is not None:
        assert slow is not _REJECTED, f"fast path accepted what marshmallow rejects: {value!r}"
        _assert_same(fast, slow)
    elif complete and _is_json(value):
        assert slow is _REJECTED, f"fast path declined valid JSON input: {value!r}"
    return fast


# -- strategies derived from a schema -----------------------------------------------------

_CHARS = st.one_of(st.characters(codec="utf-8"),
                   st.sampled_from(["\x00", "\n", "\t", "\x1f", "\x7f", "\x85", "\x9f", " ", "a",
                                    "0", "7", "中", "é", "\u2028"]))
_TEXT = st.text(_CHARS, max_size=8)


class _Str(str):
    """A str subclass: marshmallow copies it to str, the fast path declines it."""


class _Map(Mapping[str, Any]):
    """A Mapping that is not a dict: marshmallow accepts it, the fast path declines it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | _TEXT,
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(_TEXT, c, max_size=3),
                     max_leaves=6)
_WRONG = st.sampled_from([None, 0, 1, 2, -1, True, False, "", "x", [], {}, ["x"], {"a": "b"}])
_EXOTIC = st.one_of(
    st.sampled_from([b"abc", b"\xff", 1.0, 0.0, 2.5, Decimal(1), ("x",), (), frozenset()]),
    _TEXT.map(_Str), _TEXT.map(str.encode))


def _mutations(s: str) -> list[str]:
    return [s + "\n", "\n" + s, s + " ", " " + s, s + "x", s[:-1], s.upper(), s + "\x00"]


def _near(bounds: list[int], cap: int = 600) -> list[int]:
    return sorted({n for b in bounds for n in (b - 1, b, b + 1) if 0 <= n <= cap})


def _string(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    parts: list[st.SearchStrategy[Any]] = [_TEXT]
    for rule in field.validators:
        if isinstance(rule, validate.Length):
            sizes = _near([b for b in (rule.min, rule.max, rule.equal) if b is not None])
            parts.append(st.sampled_from(sizes).flatmap(
                lambda n: st.text(_CHARS, min_size=n, max_size=n)))
        elif isinstance(rule, validate.Regexp):
            good = st.from_regex(rule.regex, fullmatch=True)
            parts += [good, good.flatmap(lambda s: st.sampled_from(_mutations(s)))]
        elif isinstance(rule, validate.OneOf):
            good = st.sampled_from(list(rule.choices))
            parts += [good, good.flatmap(lambda s: st.sampled_from(_mutations(s)))]
    return st.one_of(parts)


_QTY = st.sampled_from(["1", "12.50", "0", "0.000001", "0.0000001", "-1", "1e3", "012", "1.",
                        "999999999999.999999", "1000000000000", " 1", "1\n", ""])
_LOT_ITEM = st.fixed_dictionaries(
    {"lot": st.one_of(st.from_regex(events.ID_PATTERN, fullmatch=True), _TEXT, _WRONG),
     "qty": st.one_of(_QTY, _WRONG), "unit": st.sampled_from(["kg", "head", "箱", "k g", "", 1])},
    optional={"extra": _TEXT})


def values(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    """Values for ``field``: mostly plausible, sometimes the wrong JSON type or not JSON."""
    kind = type(field)
    good: st.SearchStrategy[Any]
    if kind is fields.String:
        good = _string(field)
    elif kind is fields.Boolean:
        known = sorted(field.truthy | field.falsy, key=repr)  # type: ignore[attr-defined]
        good = st.sampled_from([*known, True, False, "maybe", 2, "TRUE ", "tRuE"])
    elif kind is fields.Integer:
        bounds = [b for r in field.validators if isinstance(r, validate.Range)
                  for b in (r.min, r.max) if b is not None]
        good = st.one_of(st.integers(-3, 3), st.sampled_from(_near(bounds) or [0]),
                         st.sampled_from(["12", " 3"]))
    elif kind is fields.Raw:
        good = _JSON
    elif kind is fields.List:
        bounds = [b for r in field.validators if isinstance(r, validate.Length)
                  for b in (r.min, r.max) if b is not None]
        sizes = [n for n in _near(bounds) if n <= 25] or [0]
        good = st.one_of(st.lists(values(field.inner), max_size=3),
                         st.sampled_from(sizes).flatmap(
                             lambda n: st.lists(values(field.inner), min_size=n, max_size=n)))
    elif kind is fields.Dict:
        keys = _TEXT if field.key_field is None else st.one_of(  # hashable keys only
            _string(field.key_field), st.sampled_from([1, None, True, b"k", ("k",)]))
        vals = _JSON if field.value_field is None else values(field.value_field)
        good = st.dictionaries(keys, vals, max_size=3)
    elif kind is fields.Nested:
        one = objects(field.schema)
        good = st.lists(one, max_size=3) if field.schema.many else one
    elif kind is LotQuantities:
        good = st.lists(st.one_of(_LOT_ITEM, _WRONG), max_size=3)
    else:
        raise AssertionError(f"no strategy for {kind}")
    return st.integers(0, 9).flatmap(
        lambda roll: good if roll < 7 else _WRONG if roll < 9 else _EXOTIC)


@st.composite
def objects(draw: st.DrawFn, schema: Schema) -> Any:
    """A dict for ``schema``: required keys usually present, optional ones half the time,
    sometimes an unknown key; rarely not a plain dict at all."""
    out: dict[str, Any] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if draw(st.integers(0, 9)) < (9 if field.required else 5):
            out[key] = draw(values(field))
    if draw(st.integers(0, 4)) == 0:
        out[draw(st.sampled_from(["extra", "x", "", "Id", *out]))] = draw(_JSON)
    roll = draw(st.integers(0, 29))
    return out if roll > 1 else _Map(out) if roll == 1 else draw(_WRONG)


@st.composite
def _envelopes(draw: st.DrawFn) -> Any:
    """Envelopes whose kind and data usually fit together."""
    doc = draw(objects(_ENVELOPE))
    if isinstance(doc, dict) and draw(st.integers(0, 4)) > 0:
        kind = draw(st.sampled_from(sorted(KINDS)))
        doc = {**doc, "kind": kind, "data": draw(objects(KINDS[kind].data_schema))}
    return doc


# -- the registry ----------------------------------------------------------------------------

def test_every_registered_schema_compiles() -> None:
    """The envelope and every kind's data schema have a compiled loader (none with a hook
    or construct the compiler declines wholesale)."""
    not_compiled = {name: fallback_reason(schema) for name, schema in REGISTRY
                    if fallback_reason(schema) is not None}
    assert not_compiled == {}
    assert len(REGISTRY) == len(KINDS) + 1


@pytest.mark.parametrize(("name", "schema"), REGISTRY, ids=[n for n, _ in REGISTRY])
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_registry_schema_matches_marshmallow(name: str, schema: Schema, data: st.DataObject) -> None:
    check(schema, data.draw(objects(schema)), complete=True)


@settings(max_examples=200, deadline=None)
@given(doc=_envelopes())
def test_envelope_and_kind_data_match_marshmallow(doc: Any) -> None:
    loaded = check(_ENVELOPE, doc, complete=True)
    if loaded is not None and loaded["kind"] in KINDS:
        check(KINDS[loaded["kind"]].data_schema, loaded["data"], complete=True)


@pytest.mark.parametrize("doc", EXAMPLES, ids=[d["id"] for d in EXAMPLES])
def test_every_documented_example_takes_the_fast_path(doc: dict[str, Any]) -> None:
    loaded = check(_ENVELOPE, doc, complete=True)
    assert loaded is not None
    data = check(KINDS[doc["kind"]].data_schema, doc["data"], complete=True)
    assert data is not None


@pytest.mark.parametrize("doc", EXAMPLES, ids=[d["id"] for d in EXAMPLES])
def test_event_from_dict_is_the_same_without_the_fast_path(
        doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = Event.from_dict(doc)
    monkeypatch.setattr(events, "loader_for", lambda schema: lambda value: None)
    assert Event.from_dict(doc) == fast


# -- boundaries, table-driven ----------------------------------------------------------------

_ORIGIN = KINDS["origin"].data_schema
_SALE = KINDS["sale"].data_schema
_CERT = {"no": "C1", "product": "豇豆", "producer": "合作社", "origin_place": "云阳",
         "issued_at": "2026-11-22T05:30:00+08:00", "commitments": ["不超标"], "basis": "self_test"}
_ENV = {"id": "e1", "kind": "sale", "time": "2026-11-22T05:30:00+08:00", "actor": "stall-a01",
        "location": "stall-a01", "data": {"receipt": "R1"}}


def _with(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``value`` at dotted ``path`` (``_DROP`` deletes)."""
    doc = canonical.loads(canonical.dumps(base))
    *parents, last = path.split(".")
    target = doc
    for part in parents:
        target = target[part]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return doc


_DROP = object()

# (case, schema, input, accepted by marshmallow)
BOUNDARIES: list[tuple[str, Schema, Any, bool]] = [
    # Length(min=1, max=100) on sale.receipt
    ("length-empty", _SALE, {"receipt": ""}, False),
    ("length-min", _SALE, {"receipt": "R"}, True),
    ("length-max", _SALE, {"receipt": "R" * 100}, True),
    ("length-max+1", _SALE, {"receipt": "R" * 101}, False),
    ("length-counts-code-points", _SALE, {"receipt": "票" * 100}, True),
    ("length-non-bmp", _SALE, {"receipt": "\U0001f600" * 100}, True),
    # List Length(min=1, max=20) on certificate.commitments, items Length(1, 500)
    ("list-empty", _ORIGIN, {"certificate": {**_CERT, "commitments": []}}, False),
    ("list-max", _ORIGIN, {"certificate": {**_CERT, "commitments": ["c"] * 20}}, True),
    ("list-max+1", _ORIGIN, {"certificate": {**_CERT, "commitments": ["c"] * 21}}, False),
    ("list-item-empty", _ORIGIN, {"certificate": {**_CERT, "commitments": [""]}}, False),
    ("list-item-max", _ORIGIN, {"certificate": {**_CERT, "commitments": ["c" * 500]}}, True),
    ("list-item-max+1", _ORIGIN, {"certificate": {**_CERT, "commitments": ["c" * 501]}}, False),
    ("list-item-not-str", _ORIGIN, {"certificate": {**_CERT, "commitments": [1]}}, False),
    ("list-tuple", _ORIGIN, {"certificate": {**_CERT, "commitments": ("c",)}}, True),
    # OneOf
    ("oneof-hit", _ORIGIN, {"certificate": _CERT, "storage": "frozen"}, True),
    ("oneof-case", _ORIGIN, {"certificate": _CERT, "storage": "Frozen"}, False),
    ("oneof-space", _ORIGIN, {"certificate": _CERT, "storage": "frozen "}, False),
    ("oneof-prefix", _ORIGIN, {"certificate": _CERT, "storage": "froze"}, False),
    ("oneof-not-str", _ORIGIN, {"certificate": _CERT, "storage": ["frozen"]}, False),
    # Regexp anchors: \A\d{14}\Z (\Z does not allow a final newline, unlike $)
    ("regexp-hit", _ORIGIN, {"certificate": _CERT, "gtin": "06901234567892"}, True),
    ("regexp-13", _ORIGIN, {"certificate": _CERT, "gtin": "0690123456789"}, False),
    ("regexp-15", _ORIGIN, {"certificate": _CERT, "gtin": "069012345678920"}, False),
    ("regexp-trailing-newline", _ORIGIN, {"certificate": _CERT, "gtin": "06901234567892\n"}, False),
    ("regexp-leading-char", _ORIGIN, {"certificate": _CERT, "gtin": "x06901234567892"}, False),
    ("regexp-unicode-digits", _ORIGIN, {"certificate": _CERT, "gtin": "٠" * 14}, True),
    ("id-control-char", _ENVELOPE, _with(_ENV, "id", "e\x00"), False),
    ("id-c1-char", _ENVELOPE, _with(_ENV, "id", "e\x85"), False),
    ("id-newline-end", _ENVELOPE, _with(_ENV, "id", "e\n"), False),
    ("id-200", _ENVELOPE, _with(_ENV, "id", "e" * 200), True),
    ("id-201", _ENVELOPE, _with(_ENV, "id", "e" * 201), False),
    # Boolean: marshmallow's truthy and falsy sets, nothing else
    *[(f"bool-{v!r}", _ORIGIN, {"certificate": _CERT, "imported": v}, True)
      for v in (True, False, 1, 0, "true", "True", "TRUE", "t", "yes", "Y", "on", "1",
                "false", "f", "no", "N", "off", "OFF", "0")],
    *[(f"bool-{v!r}", _ORIGIN, {"certificate": _CERT, "imported": v}, False)
      for v in ("maybe", "tRuE", " true", 2, -1, None, [], {}, "")],
    ("bool-float-1.0", _ORIGIN, {"certificate": _CERT, "imported": 1.0}, True),
    # unknown keys: RAISE (envelope, import_docs) vs INCLUDE (kind data, certificate)
    ("raise-unknown", _ENVELOPE, _with(_ENV, "extra", 1), False),
    ("raise-nested-unknown", _ENVELOPE, _with(_ENV, "sig", {"key": "0" * 16, "value": "v",
                                                           "alg": "x"}), False),
    ("raise-nested-import-docs", _ORIGIN, {"certificate": _CERT, "import_docs": {"x": "1"}}, False),
    ("include-unknown", _SALE, {"receipt": "R", "note": {"a": [1]}, "z": None}, True),
    ("include-nested-unknown", _ORIGIN, {"certificate": {**_CERT, "grade": "A"}}, True),
    # data_key "from" loads as from_; an unknown "from_" (INCLUDE) then overwrites it
    ("data-key", KINDS["receive"].data_schema, {"from": "a", "ship_event": "s"}, True),
    ("data-key-attr-not-a-key", KINDS["receive"].data_schema, {"from_": "a", "ship_event": "s"},
     False),
    ("include-overwrites-attribute", KINDS["receive"].data_schema,
     {"from": "a", "ship_event": "s", "from_": 5}, True),
    # required, None, wrong container types
    ("required-missing", _ENVELOPE, _with(_ENV, "actor", _DROP), False),
    ("null-not-allowed", _ENVELOPE, _with(_ENV, "time", None), False),
    ("defaults-applied", _ENVELOPE, _ENV, True),
    ("data-not-dict", _ENVELOPE, _with(_ENV, "data", ["x"]), False),
    ("not-a-dict", _SALE, ["receipt"], False),
    ("mapping-not-dict", _SALE, _Map({"receipt": "R"}), True),
    ("bytes-value", _SALE, {"receipt": b"R"}, True),
    ("bytes-invalid-utf8", _SALE, {"receipt": b"\xff"}, False),
    ("str-subclass", _SALE, {"receipt": _Str("R")}, True),
    # custom field (LotQuantities) through its own _deserialize
    ("lots-ok", _ENVELOPE, _with(_ENV, "inputs", [{"lot": "L", "qty": "1.5", "unit": "kg"}]), True),
    ("lots-zero", _ENVELOPE, _with(_ENV, "inputs", [{"lot": "L", "qty": "0", "unit": "kg"}]), False),
    ("lots-null", _ENVELOPE, _with(_ENV, "inputs", None), False),
    # schema hook: RegisterData must name something
    ("hook-empty", KINDS["register"].data_schema, {}, False),
    ("hook-empty-lists", KINDS["register"].data_schema, {"parties": [], "keys": []}, False),
    ("hook-ok", KINDS["register"].data_schema,
     {"parties": [{"id": "p", "name": "P", "role": "farm"}]}, True),
]


@pytest.mark.parametrize(("schema", "value", "valid"), [b[1:] for b in BOUNDARIES],
                         ids=[b[0] for b in BOUNDARIES])
def test_boundaries(schema: Schema, value: Any, valid: bool) -> None:
    assert (_oracle(schema, value) is not _REJECTED) is valid, "the table disagrees with marshmallow"
    fast = check(schema, value, complete=True)
    if valid and _is_json(value):
        assert fast is not None


def test_include_keeps_marshmallows_key_order() -> None:
    value = {"receipt": "R", **{f"k{i}": i for i in range(40)}, "payment_ref": "P"}
    fast = check(_SALE, value, complete=True)
    assert fast is not None and list(fast)[:2] == ["receipt", "payment_ref"]


def test_load_with_uses_the_fast_result_and_keeps_marshmallows_errors() -> None:
    assert load_with(_SALE, {"receipt": "R", "x": 1}, prefix="data") == {"receipt": "R", "x": 1}
    with pytest.raises(ValidationError) as info:
        load_with(_SALE, {"receipt": "R" * 101}, prefix="data")
    assert (info.value.field, info.value.message) == (
        "data.receipt", "Length must be between 1 and 100.")


# -- constructs the registry does not use ---------------------------------------------------

class _Inner(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Length(equal=3))


class _Kitchen(Schema):
    """Every construct the compiler claims, beyond what the registry uses."""

    class Meta:
        unknown = EXCLUDE

    count = fields.Integer(validate=validate.Range(min=1, max=10))
    open_range = fields.Integer(validate=validate.Range(min=0, max=5, min_inclusive=False,
                                                        max_inclusive=False))
    exact = fields.String(validate=validate.Equal("yes"))
    level = fields.Integer(validate=validate.OneOf([1, 2, 3]))
    renamed = fields.String(data_key="Renamed-Key", attribute="renamed_attr")
    fixed = fields.String(load_default="dflt")
    made = fields.List(fields.String(), load_default=list)
    maybe = fields.String(allow_none=True, validate=validate.Length(min=2))
    nullable = fields.Integer(load_default=None)
    anything = fields.Raw()
    loose = fields.Dict()
    typed = fields.Dict(keys=fields.String(validate=validate.Regexp(r"[a-z]+\Z")),
                        values=fields.Integer())
    flag = fields.Boolean(truthy={"ja"}, falsy={"nein"})
    any_flag = fields.Boolean(truthy=set())
    inner = fields.Nested(_Inner, unknown=INCLUDE)
    inners = fields.Nested(_Inner, many=True, validate=validate.Length(max=2))
    listed = fields.List(fields.Nested(_Inner), validate=validate.Length(min=1))
    optional_items = fields.List(fields.String(allow_none=True))
    lots = LotQuantities()


class _Hooked(Schema):
    a = fields.Integer()
    b = fields.Integer()

    @validates_schema(pass_original=True)
    def _ordered(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        assert kwargs == {"partial": None, "many": self.many, "unknown": RAISE}
        if data.get("a", 0) > data.get("b", 0) or "c" in original:
            raise marshmallow.ValidationError("a after b")

    @validates_schema(pass_collection=True)
    def _few(self, data: Any, **kwargs: Any) -> None:
        if kwargs["many"] and len(data) > 2:
            raise marshmallow.ValidationError("too many")


class _Whole(Schema):
    class Meta:
        unknown = INCLUDE

    items = fields.Nested(_Hooked, many=True)
    one = fields.Nested(_Hooked)


@pytest.mark.parametrize("schema", [_Kitchen(), _Hooked(), _Hooked(many=True), _Whole(),
                                    _Kitchen(many=True), _Inner(unknown=INCLUDE)],
                         ids=["kitchen", "hooked", "hooked-many", "whole", "kitchen-many",
                              "inner-include"])
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_other_constructs_match_marshmallow(schema: Schema, data: st.DataObject) -> None:
    assert fallback_reason(schema) is None
    one = objects(schema)
    value = data.draw(st.lists(one, max_size=3) | _WRONG if schema.many else one)
    # Not complete: marshmallow's Integer also takes "12", which the fast path declines.
    check(schema, value, complete=False)


KITCHEN_CASES: list[tuple[str, Any, bool]] = [
    ("empty", {}, True),
    ("range-low", {"count": 0}, False),
    ("range-min", {"count": 1}, True),
    ("range-max", {"count": 10}, True),
    ("range-high", {"count": 11}, False),
    ("range-bool", {"count": True}, False),
    ("range-exclusive-low", {"open_range": 0}, False),
    ("range-exclusive-in", {"open_range": 4}, True),
    ("range-exclusive-high", {"open_range": 5}, False),
    ("integer-from-string", {"count": "3"}, True),
    ("equal", {"exact": "yes"}, True),
    ("not-equal", {"exact": "no"}, False),
    ("oneof-int", {"level": 2}, True),
    ("oneof-int-miss", {"level": 4}, False),
    ("data-key", {"Renamed-Key": "v"}, True),
    ("attribute-name-is-not-the-key", {"renamed_attr": "v", "renamed": "w"}, True),
    ("allow-none", {"maybe": None}, True),
    ("allow-none-checked", {"maybe": "x"}, False),
    ("nullable-by-default", {"nullable": None}, True),
    ("raw-none", {"anything": None}, False),
    ("dict-typed", {"typed": {"ab": 1}}, True),
    ("dict-bad-key", {"typed": {"AB": 1}}, False),
    ("dict-bad-value", {"typed": {"ab": "x"}}, False),
    ("dict-coerced-value", {"typed": {"ab": "1"}}, True),
    ("custom-truthy", {"flag": "ja"}, True),
    ("custom-truthy-default-not-used", {"flag": "true"}, False),
    ("empty-truthy-is-bool", {"any_flag": [1]}, True),
    ("nested-include", {"inner": {"code": "abc", "more": 1}}, True),
    ("nested-length", {"inner": {"code": "ab"}}, False),
    ("nested-many", {"inners": [{"code": "abc"}, {"code": "xyz"}]}, True),
    ("nested-many-too-long", {"inners": [{"code": "abc"}] * 3}, False),
    ("nested-many-not-list", {"inners": {"code": "abc"}}, False),
    ("list-of-nested-raise", {"listed": [{"code": "abc", "x": 1}]}, False),
    ("list-of-nested-min", {"listed": []}, False),
    ("list-none-item", {"optional_items": ["a", None]}, True),
    ("exclude-unknown", {"zzz": 1, "count": 2}, True),
]


@pytest.mark.parametrize(("value", "valid"), [c[1:] for c in KITCHEN_CASES],
                         ids=[c[0] for c in KITCHEN_CASES])
def test_kitchen_cases(value: Any, valid: bool) -> None:
    schema = _Kitchen()
    assert (_oracle(schema, value) is not _REJECTED) is valid
    fast = check(schema, value, complete=False)
    if valid and value not in ({"count": "3"}, {"typed": {"ab": "1"}}):  # coerced: declined
        assert fast is not None


@pytest.mark.parametrize(("schema", "value", "valid"), [
    (_Hooked(), {"a": 1, "b": 2}, True),
    (_Hooked(), {"a": 3, "b": 2}, False),
    (_Hooked(), {"a": 1, "b": 2, "c": 0}, False),  # the original data reaches the hook
    (_Hooked(many=True), [{"a": 1, "b": 1}, {"b": 1}], True),
    (_Hooked(many=True), [{"b": 1}, {"b": 1}, {}], False),  # pass_collection sees the list
    (_Hooked(many=True), [{"a": 2, "b": 1}], False),
    (_Whole(), {"items": [{"a": 1, "b": 1}], "one": {"b": 2}}, True),
    (_Whole(), {"items": [{}, {}, {}]}, False),
], ids=["ok", "item-hook", "original", "many-ok", "collection-hook", "many-item-hook",
        "nested-ok", "nested-collection-hook"])
def test_validates_schema_hooks(schema: Schema, value: Any, valid: bool) -> None:
    assert fallback_reason(schema) is None
    assert (_oracle(schema, value) is not _REJECTED) is valid
    fast = check(schema, value, complete=True)
    assert (fast is not None) is valid


class _MarkedField(fields.String):
    """A custom field with its own deserialize: the compiled code calls it, missing too."""

    def deserialize(self, value: Any, attr: str | None = None,
                    data: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if value is marshmallow.missing:
            return "absent"
        return f"<{super().deserialize(value, attr, data, **kwargs)}>"


class _Custom(Schema):
    mark = _MarkedField()
    marks = fields.List(_MarkedField())


@pytest.mark.parametrize("value", [{}, {"mark": "a"}, {"mark": 1}, {"marks": ["a", "b"]},
                                   {"marks": [None]}])
def test_custom_field_runs_its_own_deserialize(value: Any) -> None:
    schema = _Custom()
    assert fallback_reason(schema) is None
    check(schema, value, complete=True)
    assert loader_for(schema)({}) == {"mark": "absent"}


# Constructs the compiler declines wholesale: their schemas always run in marshmallow.
class _PreLoad(Schema):
    a = fields.String()

    @pre_load
    def _strip(self, data: Any, **kwargs: Any) -> Any:
        return data


class _PostLoad(Schema):
    a = fields.String()

    @post_load
    def _make(self, data: Any, **kwargs: Any) -> Any:
        return data


class _Validates(Schema):
    a = fields.String()

    @validates("a")
    def _check_a(self, value: Any, data_key: str) -> None:
        pass


class _OwnDeserialize(Schema):
    a = fields.String()

    def _deserialize(self, data: Any, **kwargs: Any) -> Any:
        return super()._deserialize(data, **kwargs)


class _OrderedDictClass(Schema):
    dict_class = OrderedDict
    a = fields.String()


UNSUPPORTED: list[tuple[str, Schema, str]] = [
    ("pre_load", _PreLoad(), "@pre_load"),
    ("post_load", _PostLoad(), "@post_load"),
    ("validates", _Validates(), "@validates"),
    ("schema-method", _OwnDeserialize(), "overrides _deserialize"),
    ("partial", _Kitchen(partial=True), "partial"),
    ("email", Schema.from_dict({"a": fields.Email()})(), "Email"),
    ("pluck", Schema.from_dict({"a": fields.Pluck(_Inner, "code")})(), "Pluck"),
    ("predicate", Schema.from_dict({"a": fields.String(
        validate=validate.Predicate("isdigit"))})(), "Predicate"),
    ("function-validator", Schema.from_dict({"a": fields.String(validate=len)})(), "validator"),
    ("field-pre-load", Schema.from_dict({"a": fields.String(pre_load=str.strip)})(), "pre_load"),
    ("dotted-attribute", Schema.from_dict({"a": fields.String(attribute="x.y")})(), "dotted"),
    ("nested-hook", Schema.from_dict({"a": fields.Nested(_PostLoad)})(), "@post_load"),
    ("dict-class", _OrderedDictClass(), "dict_class"),
    ("oneof-objects", Schema.from_dict({"a": fields.Raw(
        validate=validate.OneOf([object()]))})(), "OneOf"),
]


@pytest.mark.parametrize(("schema", "why"), [u[1:] for u in UNSUPPORTED],
                         ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_constructs_fall_back_wholesale(schema: Schema, why: str) -> None:
    reason = fallback_reason(schema)
    assert reason is not None and why in reason
    with pytest.raises(Unsupported):
        compile_schema(schema)
    assert loader_for(schema)({"a": "x"}) is None


def test_loaders_are_cached_per_instance_and_forgotten_with_it() -> None:
    one, two = _Kitchen(), _Kitchen()
    assert loader_for(one) is loader_for(one)
    assert loader_for(one) is not loader_for(two)
    key = id(two)
    del two
    gc.collect()
    assert key not in _fastschema._CACHE


def test_generated_source_is_readable() -> None:
    source = compile_schema(_SALE).source  # type: ignore[attr-defined]
    assert re.search(r"^def _load_SaleData_\d+\(data\):$", source, re.M)
    assert "raise _Decline" in source
