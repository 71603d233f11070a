"""RFC 8785 JSON Canonicalization Scheme (JCS) for tracelib events.

Events are hashed and signed over the bytes :func:`dumps` returns, so those bytes
must be the same on every machine, in every version, forever.

Invariants
----------
* ``dumps(v)`` is the RFC 8785 serialisation of ``v`` for every value it accepts.
  It accepts only the JSON values tracelib allows: ``dict`` (``str`` keys),
  ``list``/``tuple``, ``str``, ``int`` with ``|n| <= MAX_SAFE_INTEGER``, ``bool`` and
  ``None``. Floats are refused outright (quantities are decimal strings such as
  ``"12.50"``), which is what makes a fast path through :mod:`json` exact: for an
  integer, ECMAScript ``Number.prototype.toString`` (RFC 8785 §3.2.2.3) prints
  the same digits as Python's ``int.__repr__``.
* ``loads(data)`` returns only values ``dumps`` accepts, so
  ``dumps(loads(b))`` never raises for a ``b`` that ``loads`` accepted, and
  ``loads(dumps(v)) == v`` for every accepted ``v`` (tuples come back as lists).
* Every refusal is a :class:`~tracelib.errors.ValidationError` whose ``field``
  is the dotted path of the offending value (``"inputs[0].qty"``; ``None`` for
  the top level), never a bare ``ValueError``.
* The ``rfc8785`` package is used only as a test oracle, never at run time.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import orjson

from tracelib.errors import ValidationError

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "canonicalize", "dumps", "loads"]

#: Largest integer magnitude allowed: IEEE 754 doubles represent every integer up
#: to here exactly (RFC 8785 §3.2.2.3 defers to I-JSON, RFC 7493 §2.2).
MAX_SAFE_INTEGER = 2**53 - 1

#: Deepest nesting of arrays and objects accepted (guards against recursion
#: exhaustion and reference cycles; events are a handful of levels deep).
MAX_DEPTH = 128

# Fast path. RFC 8785 §3.2.2.2: strings escape only '"', '\\' and U+0000..U+001F,
# the latter as \b \t \n \f \r or \u00xx with lowercase hex; everything else is
# emitted as is (no ensure_ascii). Python's json escaper does exactly that.
# RFC 8785 §3.2.1: no whitespace between tokens -> separators=(",", ":").
# RFC 8785 §3.2.3: members sorted by key -> sort_keys (valid only while the
# code-point order Python uses equals the UTF-16 code-unit order JCS uses; see
# _walk). check_circular is off because _walk's depth limit already catches
# cycles; allow_nan is off as a second guard (floats never get here).
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    check_circular=False,
    sort_keys=True,
    separators=(",", ":"),
)
_encode = _ENCODER.encode
# The same serialisation from orjson, in about a sixth of the time (an event's ~800 bytes:
# 1.5 against 10 µs): it escapes exactly '"', '\\' and U+0000..U+001F, the latter as \b \t
# \n \f \r or \u00xx in lowercase hex, writes everything else as UTF-8, adds no
# whitespace, and OPT_SORT_KEYS orders members by code point (UTF-16 order for the keys
# _walk lets through). It is only handed values _walk has accepted (so no floats, whose NaN
# it would write as null); what it refuses (lone surrogates, str-subclass keys, nesting past
# its own limit) goes to the json encoder above. tests/test_canonical.py holds both to the
# rfc8785 package.
_orjson_dumps = orjson.dumps
_ORJSON_SORTED = orjson.OPT_SORT_KEYS
_encode_str = json.encoder.encode_basestring  # the C escaper, same rules as above

_MAX = MAX_SAFE_INTEGER
_MIN = -MAX_SAFE_INTEGER
_BMP_MAX = "\uffff"
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class _Invalid(Exception):
    """Internal: a refusal found during a walk; ``path`` is built leaf to root."""

    def __init__(self, message: str, *, locate: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.locate = locate  # False: the path would be noise (too-deep nesting)
        self.path: list[str | int] = []


def _render_path(path: list[str | int]) -> str | None:
    """Render root-first path segments as ``a.b[0].c`` (``["k y"]`` for odd keys)."""
    out: list[str] = []
    for seg in path:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _SIMPLE_KEY.match(seg):
            out.append(f".{seg}" if out else seg)
        else:
            out.append(f"[{json.dumps(seg, ensure_ascii=True)}]")
    return "".join(out) or None


def _fail(err: _Invalid) -> NoReturn:
    err.path.reverse()
    where = _render_path(err.path) if err.locate else None
    raise ValidationError(err.message, field=where) from None


def _describe(value: object) -> str:
    if isinstance(value, float):
        return (f"floating-point number {value!r} is not allowed "
                "(write quantities as decimal strings such as \"12.50\")")
    return f"values of type {type(value).__name__} are not allowed in canonical JSON"


def _scalar(v: object) -> None:
    """Check a value that is not a str/int/bool/None of the exact builtin type."""
    if isinstance(v, bool) or v is None:
        return
    if isinstance(v, float):
        raise _Invalid(_describe(v))
    if isinstance(v, int):
        if not _MIN <= v <= _MAX:
            raise _Invalid(f"integer {v} is outside the safe range "
                           f"-{MAX_SAFE_INTEGER}..{MAX_SAFE_INTEGER} (RFC 7493 §2.2)")
        return
    if isinstance(v, str):
        return
    raise _Invalid(_describe(v))


def _walk(obj: Any, depth: int) -> bool:
    """Validate ``obj`` (a dict, list or tuple); return True if some object in it
    has keys whose UTF-16 order may differ from their code-point order.

    RFC 8785 §3.2.3 sorts keys by UTF-16 code units; Python sorts by code
    points. The two orders differ only when a key holds a character above
    U+FFFF (a surrogate pair, code units D800..DFFF) compared with one in
    U+E000..U+FFFF. Any non-BMP character in any key sends the whole document
    to the slow path: a cheap, conservative test (``isascii`` is O(1) in CPython).
    Strings are not checked for lone surrogates here: encoding the result to
    UTF-8 refuses them, and only then is the walk repeated to name the field.
    """
    if depth > MAX_DEPTH:
        raise _Invalid(f"nesting deeper than {MAX_DEPTH} levels (or a reference cycle)",
                       locate=False)
    slow = False
    if isinstance(obj, dict):
        for k, v in obj.items():
            if type(k) is not str and not isinstance(k, str):
                raise _Invalid(f"object key {k!r} is a {type(k).__name__}, "
                               "not a string (RFC 8259 §4)")
            if not k.isascii() and max(k) > _BMP_MAX:
                slow = True
            t = type(v)
            if t is str or t is bool or v is None:
                continue
            try:
                if t is int:
                    if not _MIN <= v <= _MAX:
                        _scalar(v)
                elif t is dict or t is list or t is tuple:
                    if _walk(v, depth + 1):
                        slow = True
                elif isinstance(v, (dict, list, tuple)):
                    if _walk(v, depth + 1):
                        slow = True
                else:
                    _scalar(v)
            except _Invalid as e:
                e.path.append(k)
                raise
        return slow
    for i, v in enumerate(obj):
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        try:
            if t is int:
                if not _MIN <= v <= _MAX:
                    _scalar(v)
            elif t is dict or t is list or t is tuple:
                if _walk(v, depth + 1):
                    slow = True
            elif isinstance(v, (dict, list, tuple)):
                if _walk(v, depth + 1):
                    slow = True
            else:
                _scalar(v)
        except _Invalid as e:
            e.path.append(i)
            raise
    return slow


def _find_surrogate(obj: Any) -> None:
    """Raise ``_Invalid`` at the first string (key or value) that is not valid
    Unicode scalar values (a lone surrogate); RFC 8785 §3.2.2.2 needs UTF-8."""
    def bad(s: str) -> bool:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    if isinstance(obj, str):
        if bad(obj):
            raise _Invalid("string contains a lone surrogate (not valid Unicode)")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            try:
                if bad(k):
                    raise _Invalid("object key contains a lone surrogate (not valid Unicode)")
                _find_surrogate(v)
            except _Invalid as e:
                e.path.append(k)
                raise
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            try:
                _find_surrogate(v)
            except _Invalid as e:
                e.path.append(i)
                raise


def _utf16_key(k: str) -> bytes:
    # RFC 8785 §3.2.3: compare keys as arrays of UTF-16 code units. Big-endian
    # UTF-16 bytes compare, byte by byte, exactly as their code units do.
    return k.encode("utf-16-be")


def _slow(obj: Any, out: list[str]) -> None:
    """Serialise an already validated value with JCS key order (RFC 8785 §3.2.3)."""
    if isinstance(obj, dict):
        out.append("{")
        first = True
        for k in sorted(obj, key=_utf16_key):
            if not first:
                out.append(",")
            first = False
            out.append(_encode_str(k))
            out.append(":")
            _slow(obj[k], out)
        out.append("}")
    elif isinstance(obj, (list, tuple)):
        out.append("[")
        for i, v in enumerate(obj):
            if i:
                out.append(",")
            _slow(v, out)
        out.append("]")
    else:
        # Scalars: the fast encoder's output is already JCS for these.
        out.append(_encode(obj))


def dumps(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``obj``.

    Accepts ``dict`` with ``str`` keys, ``list``/``tuple``, ``str``, ``int``
    within ``±MAX_SAFE_INTEGER``, ``bool`` and ``None``. Raises
    :class:`ValidationError` (``field`` = dotted path) for floats (any, NaN and
    infinities included), non-string keys, unsafe integers, strings with lone
    surrogates, nesting beyond :data:`MAX_DEPTH` and every other type.
    """
    t = type(obj)
    try:
        if t is dict or t is list or t is tuple or isinstance(obj, (dict, list, tuple)):
            slow = _walk(obj, 1)
        else:
            _scalar(obj)
            slow = False
    except _Invalid as e:
        _fail(e)
    try:
        if not slow:
            try:
                return _orjson_dumps(obj, option=_ORJSON_SORTED)
            except TypeError:  # orjson.JSONEncodeError
                return _encode(obj).encode("utf-8")
        out: list[str] = []
        _slow(obj, out)
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        # RFC 8785 §3.2.2.2 / RFC 8259 §8.1: output is UTF-8, which cannot
        # carry a lone surrogate. Walk again to say where it is.
        try:
            _find_surrogate(obj)
        except _Invalid as e:
            _fail(e)
        raise ValidationError("value contains text that is not valid Unicode") from None


# ---------------------------------------------------------------------------
# Parsing


def _reject_float(s: str) -> NoReturn:
    raise ValidationError(f"number {s} has a fraction or exponent; only integers are "
                          "allowed (write quantities as decimal strings such as \"12.50\")")


def _reject_constant(s: str) -> NoReturn:
    raise ValidationError(f"{s} is not valid JSON (RFC 8259 §6 has no NaN or Infinity)")


def _parse_int(s: str) -> int:
    if len(s) > 17:  # 2**53 has 16 digits; 17 leaves room for a sign
        raise ValidationError(f"integer {s[:40]}{'...' if len(s) > 40 else ''} is outside "
                              f"the safe range ±{MAX_SAFE_INTEGER} (RFC 7493 §2.2)")
    n = int(s)
    if not _MIN <= n <= _MAX:
        raise ValidationError(f"integer {s} is outside the safe range "
                              f"±{MAX_SAFE_INTEGER} (RFC 7493 §2.2)")
    return n


class _Dup:
    """Marker left in place of an object that had a duplicate key."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


def _find_dup(obj: Any) -> None:
    if isinstance(obj, _Dup):
        e = _Invalid(f"duplicate object key {obj.key!r} (RFC 7493 §2.3)")
        e.path.append(obj.key)
        raise e
    if isinstance(obj, dict):
        for k, v in obj.items():
            try:
                _find_dup(v)
            except _Invalid as e:
                e.path.append(k)
                raise
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            try:
                _find_dup(v)
            except _Invalid as e:
                e.path.append(i)
                raise


# Cheap pre-filter: an escaped surrogate always starts with \uD (JSON's \u is lowercase).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD]")


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON strictly into values :func:`dumps` accepts.

    Refuses (``ValidationError``): bytes that are not UTF-8 (RFC 8259 §8.1, no
    BOM), duplicate keys (RFC 7493 §2.3; the message names the key, ``field``
    its path), numbers with a fraction or exponent, ``NaN``/``Infinity``,
    integers beyond ``±MAX_SAFE_INTEGER``, strings with lone surrogates
    (RFC 7493 §2.1), nesting beyond :data:`MAX_DEPTH`, and trailing garbage.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValidationError(f"input is not valid UTF-8: invalid byte at offset {e.start} "
                                  "(RFC 8259 §8.1)") from e
        raw_checked = True  # Python's UTF-8 decoder refuses encoded surrogates
    elif isinstance(data, str):
        text = data
        raw_checked = False
    else:
        raise ValidationError(f"expected bytes or str, got {type(data).__name__}")

    dups = False

    def pairs_hook(pairs: list[tuple[str, Any]]) -> Any:
        nonlocal dups
        d = dict(pairs)
        if len(d) != len(pairs):
            dups = True
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    return _Dup(k)
                seen.add(k)
        return d

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook, parse_float=_reject_float,
                           parse_int=_parse_int, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise ValidationError(f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                              line=e.lineno) from e
    except RecursionError as e:
        raise ValidationError(f"nesting too deep (limit {MAX_DEPTH})") from e
    except ValueError as e:  # e.g. int() digit limits
        raise ValidationError(f"invalid JSON: {e}") from e
    try:
        if dups:
            _find_dup(value)
        if text.count("[") + text.count("{") > MAX_DEPTH and isinstance(value, (dict, list)):
            _walk(value, 1)  # depth limit (so dumps accepts whatever loads returns)
        if not raw_checked:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as e:
                raise _Invalid("input contains a lone surrogate (not valid Unicode)") from e
        if _SURROGATE_ESCAPE.search(text):
            _find_surrogate(value)
    except _Invalid as e:
        _fail(e)
    return value


def canonicalize(data: bytes | bytearray | str) -> bytes:
    """Parse ``data`` strictly (:func:`loads`) and return its RFC 8785 bytes."""
    return dumps(loads(data))
