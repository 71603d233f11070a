"""Tests for tracelib.canonical (RFC 8785 JCS), with the rfc8785 package as oracle."""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelib.canonical import MAX_DEPTH, MAX_SAFE_INTEGER, canonicalize, dumps, loads
from tracelib.errors import ValidationError

# Characters that stress JCS: non-BMP (surrogate pairs D800..DFFF in UTF-16) and
# the top of the BMP (U+E000..U+FFFF): by code point the former sort after the
# latter, by UTF-16 code unit before them (RFC 8785 §3.2.3). Also controls, JSON
# specials and U+2028/U+2029.
_TRICKY = [
    "\U0001f600", "\U00010000", "\U0010ffff", "\ue000", "\ufb33", "\uffff", "\ufffd",
    "\u2028", "\u2029", "\x00", "\x08", "\x1f", "\x7f", "\x80", '"', "\\", "/", "a", "é",
]
_chars = st.one_of(st.characters(codec="utf-8"), st.sampled_from(_TRICKY))
_text = st.text(alphabet=_chars, max_size=12)
# Small alphabet so keys often share a prefix and then differ at a tricky char.
_keys = st.one_of(_text, st.text(alphabet=st.sampled_from(
    ["a", "\ue000", "\uffff", "\ufb33", "\U0001f600", "\U00010000", "\U0010ffff"]), max_size=3))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER), _text)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(_keys, children, max_size=6)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_dumps_matches_rfc8785_oracle(value: Any) -> None:
    assert dumps(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, st.integers(0, 9), min_size=2, max_size=8))
def test_key_order_matches_oracle_on_tricky_keys(value: dict[str, int]) -> None:
    assert dumps(value) == rfc8785.dumps(value)
    assert dumps({"outer": [value]}) == rfc8785.dumps({"outer": [value]})


@settings(max_examples=300, deadline=None)
@given(_json)
def test_round_trip(value: Any) -> None:
    encoded = dumps(value)
    assert loads(encoded) == value
    assert loads(encoded.decode("utf-8")) == value
    assert canonicalize(encoded) == encoded


# RFC 8785 §3.2.3 "Sorting of Object Properties": the RFC's own example. The emoji
# (UTF-16 D83D DE00) sorts before U+FB33 by code unit, after it by code point.
RFC8785_SORT_INPUT = (
    '{\n'
    '  "\\u20ac": "Euro Sign",\n'
    '  "\\r": "Carriage Return",\n'
    '  "\\ufb33": "Hebrew Letter Dalet With Dagesh",\n'
    '  "1": "One",\n'
    '  "\\ud83d\\ude00": "Emoji: Grinning Face",\n'
    '  "\\u0080": "Control",\n'
    '  "\\u00f6": "Latin Small Letter O With Diaeresis"\n'
    '}'
)
RFC8785_SORTED_VALUES = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def test_rfc8785_sorting_example() -> None:
    out = canonicalize(RFC8785_SORT_INPUT)
    assert out == (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    ).encode("utf-8")
    assert list(json.loads(out).values()) == RFC8785_SORTED_VALUES
    assert out == rfc8785.dumps(json.loads(RFC8785_SORT_INPUT))


@pytest.mark.parametrize(("value", "expected"), [
    # Code-point order would put U+FFFF / U+E000 first; UTF-16 order puts the emoji first.
    ({"\uffff": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\uffff":1}'),
    ({"\ue000": 1, "\U00010000": 2}, '{"\U00010000":2,"\ue000":1}'),
    ({"a\ufb33": 1, "a\U0001f600": 2, "a": 0}, '{"a":0,"a\U0001f600":2,"a\ufb33":1}'),
    # Nested object on the slow path, outer object ASCII.
    ({"z": {"\uffff": 1, "\U0001f600": 2}, "a": [1]},
     '{"a":[1],"z":{"\U0001f600":2,"\uffff":1}}'),
    # Non-BMP keys whose orders agree still come out right.
    ({"b": 1, "\U0001f600": 2, "a": 3}, '{"a":3,"b":1,"\U0001f600":2}'),
])
def test_utf16_key_order(value: dict[str, Any], expected: str) -> None:
    assert dumps(value) == expected.encode("utf-8")
    assert dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(("value", "expected"), [
    # RFC 8785 §3.2.2.2: short escapes, lowercase \u00xx, nothing else escaped.
    ("\x00\x08\t\n\x0c\r\x1f\x7f", '"\\u0000\\b\\t\\n\\f\\r\\u001f\x7f"'),
    ('"\\/', '"\\"\\\\/"'),
    ("\u2028\u2029\U0001f600", '"\u2028\u2029\U0001f600"'),
    (MAX_SAFE_INTEGER, "9007199254740991"),
    (-MAX_SAFE_INTEGER, "-9007199254740991"),
    (0, "0"),
    ([True, False, None], "[true,false,null]"),
    ((1, "a"), '[1,"a"]'),
    ({}, "{}"),
    ([], "[]"),
    ({"b": [], "a": {"d": True, "c": None}}, '{"a":{"c":null,"d":true},"b":[]}'),
])
def test_dumps_table(value: Any, expected: str) -> None:
    assert dumps(value) == expected.encode("utf-8")


def _nested(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize(("value", "field", "words"), [
    (1.5, None, "floating-point"),
    (1.0, None, "floating-point"),
    (float("nan"), None, "floating-point"),
    (float("inf"), None, "floating-point"),
    ({"inputs": [{"qty": 12.5}]}, "inputs[0].qty", "floating-point"),
    ({"a": {1: "x"}}, "a", "not a string"),
    ({"n": 2**53}, "n", "safe range"),
    ({"n": -(2**53)}, "n", "safe range"),
    ([0, 10**30], "[1]", "safe range"),
    ({"s": "\ud800"}, "s", "surrogate"),
    ({"\udc00": 1}, '["\\udc00"]', "surrogate"),
    ({"\U0001f600": ["\ud83d"]}, '["\\ud83d\\ude00"][0]', "surrogate"),
    ({"d": decimal.Decimal("1.5")}, "d", "Decimal"),
    ({"b": b"x"}, "b", "bytes"),
    ({"s": {1, 2}}, "s", "set"),
    ({"odd key": 0.5}, '["odd key"]', "floating-point"),
    (_nested(MAX_DEPTH + 1), None, "nesting"),
])
def test_dumps_rejects(value: Any, field: str | None, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        dumps(value)
    assert type(info.value) is ValidationError
    assert info.value.field == field
    assert words in info.value.message


def test_dumps_rejects_cycles() -> None:
    a: list[Any] = []
    a.append(a)
    with pytest.raises(ValidationError, match="nesting"):
        dumps(a)


def test_dumps_accepts_max_depth() -> None:
    assert dumps(_nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH


@pytest.mark.parametrize(("data", "words", "field"), [
    (b'{"a":1e5}', "fraction or exponent", None),
    (b'{"a":1.0}', "fraction or exponent", None),
    (b"[1E-2]", "fraction or exponent", None),
    (b"NaN", "NaN", None),
    (b"[Infinity]", "Infinity", None),
    (b"-Infinity", "Infinity", None),
    (b'{"a":1,"a":2}', "duplicate object key 'a'", "a"),
    (b'{"x":[{"b":0},{"a":1,"b":2,"a":3}]}', "duplicate object key 'a'", "x[1].a"),
    (b'[{"k":{"z":1,"z":1}}]', "duplicate object key 'z'", "[0].k.z"),
    (b'"\xff"', "not valid UTF-8", None),
    (b'{"a":"\xed\xa0\x80"}', "not valid UTF-8", None),  # encoded surrogate
    (b"\xef\xbb\xbf{}", "BOM", None),
    (b"9007199254740992", "safe range", None),
    (b"-9007199254740992", "safe range", None),
    (b"1" * 5000, "safe range", None),
    (b'"\\ud800"', "surrogate", None),
    (b'{"k":["ok","\\udfff"]}', "surrogate", "k[1]"),
    (b'{"\\uD800x":1}', "surrogate", '["\\ud800x"]'),
    (b"{} x", "Extra data", None),
    (b"[1,]", "invalid JSON", None),
    (b"", "invalid JSON", None),
    (b"01", "invalid JSON", None),
    (b'"a\nb"', "invalid JSON", None),  # raw control character in a string
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nesting", None),
    (b"[" * 100000, "nesting", None),
])
def test_loads_rejects(data: bytes, words: str, field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        loads(data)
    assert words in str(info.value)
    assert info.value.field == field


def test_loads_rejects_raw_lone_surrogate_in_str() -> None:
    with pytest.raises(ValidationError, match="surrogate"):
        loads('"\ud800"')


def test_loads_rejects_non_text() -> None:
    with pytest.raises(ValidationError):
        loads(123)  # type: ignore[arg-type]


def test_loads_accepts_pairs_and_edges() -> None:
    assert loads(b'"\\ud83d\\ude00"') == "\U0001f600"
    assert loads(b" [9007199254740991, -9007199254740991, -0] ") == [
        MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]
    assert loads(bytearray(b"{}")) == {}
    assert canonicalize(b'{ "b" : [1, "\\u00e9"], "a" : null }') == b'{"a":null,"b":[1,"\xc3\xa9"]}'


def test_error_is_never_bare_value_error() -> None:
    for bad in (b"[1.5]", b'{"a":1,"a":1}', b"\xff", b"nope"):
        with pytest.raises(ValidationError):
            canonicalize(bad)


def test_values_the_fast_encoder_refuses_take_the_json_encoder() -> None:
    """orjson refuses str-subclass keys; such documents are still written, identically."""
    class Name(str):
        pass

    class Items(list):  # type: ignore[type-arg]
        pass

    value = {Name("b"): Items([Name("中"), 1]), "a": {Name("k"): True}}
    plain = {"b": ["中", 1], "a": {"k": True}}
    assert dumps(value) == dumps(plain) == rfc8785.dumps(plain)
