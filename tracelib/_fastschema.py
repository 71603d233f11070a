"""Compiled fast paths for ``marshmallow.Schema.load``: every appended event is loaded
with two schemas (the envelope, then its kind's data), which cost marshmallow about as
much CPU as the Ed25519 check they precede.

The marshmallow schemas stay the single source of truth: the docs are generated from them
and every error message comes from them. :func:`compile_schema` reads a schema instance's
declared fields, their options and validators once and generates a plain Python function
specialised to that schema; :func:`loader_for` caches it per schema instance. The caller
runs the loader first and ``schema.load`` only when the loader declines.

Invariants
----------
* For every input ``x``, ``loader(x)`` is either ``None`` (declined) or equal to
  ``schema.load(x)``, key order included, and then ``schema.load(x)`` does not raise. The
  fast path is never looser than marshmallow: a failed check, an input of an unexpected
  Python type, or any exception at all (from a validator, a custom field or a schema hook)
  declines, and marshmallow then produces the real result or error.
* It accepts only plain JSON shapes: ``dict`` (exactly; not another Mapping), ``list``
  (not tuple), ``str`` (not ``bytes``, which ``fields.String`` would decode, nor a ``str``
  subclass, which it would copy to ``str``), ``int`` for ``Integer`` (not ``"12"`` or
  ``12.0``, which marshmallow coerces), and for ``Boolean`` exactly the field's own
  ``truthy`` / ``falsy`` sets. Everything else declines.
* A schema using a construct this module does not reproduce is not compiled at all (its
  loader always declines) and :func:`fallback_reason` says why. Compiled: ``String``,
  ``Boolean``, ``Integer``, ``Raw``, ``Dict`` (with or without ``keys`` / ``values``),
  ``List`` and ``Nested`` (one or many) fields with ``required``, ``load_default``
  (value or callable), ``allow_none``, ``data_key`` and ``attribute``; ``Length``,
  ``Regexp``, ``OneOf``, ``Range`` and ``Equal`` validators; ``Meta.unknown`` RAISE,
  INCLUDE and EXCLUDE (and ``Nested(unknown=...)``); ``@validates_schema`` hooks, called
  as marshmallow calls them. Fields defined outside marshmallow (``LotQuantities``) run
  their own ``_deserialize`` / ``deserialize``. Not compiled: other field classes (also
  subclasses of marshmallow's, such as ``Email``), other validators, field ``pre_load`` /
  ``post_load`` callables, ``@pre_load`` / ``@post_load`` / ``@validates`` hooks,
  ``partial``, a non-dict ``dict_class`` and schemas overriding marshmallow's load
  machinery.
* A schema is read when it is first compiled (on first use, once per instance and
  process); a schema instance mutated afterwards (``schema.unknown = ...``) keeps its old
  loader. The schemas of this package are module-level constants. A loader holds its
  schema and fields only weakly, so the cache never keeps a schema alive.
"""

from __future__ import annotations

import inspect
import re
import types
import weakref
from collections.abc import Callable
from typing import Any

import marshmallow
from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, validate
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

__all__ = ["Loader", "Unsupported", "compile_schema", "fallback_reason", "loader_for"]

#: A compiled loader: ``schema.load(value)``'s result, or ``None`` to let marshmallow decide.
Loader = Callable[[Any], Any]

_MISSING = marshmallow.missing
# Nested schemas deeper than this are not compiled (a self-nesting schema never ends).
_MAX_DEPTH = 16
# marshmallow's load path (marshmallow 4 schema.py): a schema overriding any of these does
# something this module does not reproduce.
_SCHEMA_LOAD_METHODS = (
    "load", "_do_load", "_deserialize", "_invoke_field_validators",
    "_invoke_schema_validators", "_run_validator", "_invoke_load_processors",
    "_invoke_processors", "_call_and_store",
)
_FIELD_LOAD_METHODS = ("deserialize", "_deserialize", "_validate", "_validate_missing")
# Choices of a OneOf whose ``in`` test a frozenset reproduces (hash consistent with ==).
_HASHABLE_CHOICES = (str, int, bool, type(None))


class Unsupported(Exception):
    """A schema uses a construct the compiler does not reproduce exactly."""


class _Decline(Exception):
    """Raised inside a compiled loader: the input is not proven valid."""


def _check_plain_methods(obj: object, base: type, names: tuple[str, ...], what: str) -> None:
    for name in names:
        if name in vars(obj) or getattr(type(obj), name) is not getattr(base, name):
            raise Unsupported(f"{what} overrides {name}")


class _Compiler:
    """Generates the source of one module: a function per (schema, unknown) reached."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"_Decline": _Decline, "_missing": _MISSING}
        self.blocks: list[str] = []
        self.functions: dict[tuple[int, str], str] = {}
        self.keep: list[Schema] = []  # keeps ids unique while compiling
        self.count = 0
        self.depth = 0  # nesting depth of the schema whose fields are being compiled

    def name(self, hint: str) -> str:
        self.count += 1
        return f"_{hint}{self.count}"

    def const(self, value: Any, hint: str) -> str:
        name = self.name(hint)
        self.ns[name] = value
        return name

    def ref(self, owner: Any) -> str:
        """A weak reference to a schema or field: a compiled loader must not keep its
        schema alive (the cache forgets a loader when its schema dies)."""
        return self.const(weakref.ref(owner), "ref")

    def method(self, field: fields.Field[Any], name: str) -> str:
        """The start of a call of ``field.<name>(...)``, as ``function(ref(), `` (close it)."""
        function = self.const(getattr(type(field), name), _ident(name.lstrip("_")))
        return f"{function}({self.ref(field)}(), "

    # -- schemas -------------------------------------------------------------------

    def schema_function(self, schema: Schema, unknown: str, depth: int) -> str:
        """Name of ``f``: ``f(x)`` returns ``schema.load(x, unknown=unknown)`` or raises."""
        if depth > _MAX_DEPTH:
            raise Unsupported(f"schemas nested more than {_MAX_DEPTH} deep")
        key = (id(schema), unknown)
        if key in self.functions:
            return self.functions[key]
        label = type(schema).__name__
        if not isinstance(schema, Schema):
            raise Unsupported(f"{label} is not a marshmallow Schema")
        _check_plain_methods(schema, Schema, _SCHEMA_LOAD_METHODS, label)
        if schema.dict_class is not dict:
            raise Unsupported(f"{label}.dict_class is not dict")
        if schema.partial is not None:
            raise Unsupported(f"{label} has partial={schema.partial!r}")
        if unknown not in (RAISE, INCLUDE, EXCLUDE):
            raise Unsupported(f"{label} has unknown={unknown!r}")
        hooks = schema._hooks
        for tag in (PRE_LOAD, POST_LOAD, VALIDATES):
            if hooks.get(tag):
                raise Unsupported(f"{label} has a @{tag} hook")
        many = bool(schema.many)
        name = self.name(f"load_{_ident(label)}_")
        self.functions[key] = name
        self.keep.append(schema)
        # Schema._do_load: @validates_schema hooks with pass_collection=True run first, then
        # the others; each as Schema._run_validator calls it.
        found = hooks.get(VALIDATES_SCHEMA, [])
        calls: list[tuple[bool, str, bool]] = []
        for attr, whole, kwargs in [h for h in found if h[1]] + [h for h in found if not h[1]]:
            if set(kwargs) - {"pass_original", "skip_on_field_errors"}:
                raise Unsupported(f"{label}.{attr}: @validates_schema options {sorted(kwargs)}")
            function = inspect.getattr_static(type(schema), attr, None)
            if attr in vars(schema) or not isinstance(function, types.FunctionType):
                raise Unsupported(f"{label}.{attr}: @validates_schema on a non-method")
            hook = f"{self.const(function, f'hook_{_ident(attr)}_')}({self.ref(schema)}(), "
            calls.append((bool(whole), hook, bool(kwargs.get("pass_original", False))))
        hook_kwargs = f"partial=None, many={many!r}, unknown={unknown!r}"
        if not many:
            lines = self.object_function(name, schema, unknown, depth)
            for _whole, hook, original in calls:
                # Schema._run_validator: hook(output[, original_data], partial=, many=, unknown=)
                lines.append(f"    {hook}out, {'data, ' if original else ''}{hook_kwargs})")
            lines.append("    return out")
            self.blocks.append("\n".join(lines))
            return name
        item = self.name(f"item_{_ident(label)}_")
        self.blocks.append("\n".join([*self.object_function(item, schema, unknown, depth),
                                      "    return out"]))
        lines = [f"def {name}(data):",
                 "    if type(data) is not list:",
                 "        raise _Decline",
                 f"    out = [{item}(d) for d in data]"]
        for whole, hook, original in calls:
            if whole:
                lines.append(f"    {hook}out, {'data, ' if original else ''}{hook_kwargs})")
            else:
                lines.append("    for i, d in zip(out, data, strict=True):")
                lines.append(f"        {hook}i, {'d, ' if original else ''}{hook_kwargs})")
        lines.append("    return out")
        self.blocks.append("\n".join(lines))
        return name

    def object_function(self, name: str, schema: Schema, unknown: str, depth: int) -> list[str]:
        """``Schema._deserialize`` of one object, without the final ``return out``."""
        label = type(schema).__name__
        lines = [f"def {name}(data):",
                 "    if type(data) is not dict:",
                 "        raise _Decline",
                 "    get = data.get",
                 "    out = {}",
                 "    n = 0"]
        data_keys: set[str] = set()
        out_keys: set[str] = set()
        outer, self.depth = self.depth, depth
        for attr_name, field in schema.load_fields.items():
            where = f"{label}.{attr_name}"
            data_key = field.data_key if field.data_key is not None else attr_name
            out_key = field.attribute or attr_name
            if type(data_key) is not str or type(out_key) is not str:
                raise Unsupported(f"{where}: non-string data_key or attribute")
            if "." in out_key:
                raise Unsupported(f"{where}: dotted attribute {out_key!r}")
            if data_key in data_keys or out_key in out_keys:
                raise Unsupported(f"{where}: data_key or attribute used twice")
            data_keys.add(data_key)
            out_keys.add(out_key)
            lines.extend(self.field_block(field, data_key, out_key, where))
        self.depth = outer
        if unknown != EXCLUDE:
            # Schema._deserialize: unknown keys are ``set(data) - {data keys}``; INCLUDE
            # copies them in that set's order (the same set, so the same order).
            known = self.const(frozenset(data_keys), "known")
            lines += ["    if n != len(data):",
                      f"        extra = set(data) - {known}"]
            if unknown == RAISE:
                lines += ["        if extra:",
                          "            raise _Decline"]
            else:
                lines += ["        for k in extra:",
                          "            out[k] = data[k]"]
        return lines

    # -- fields ----------------------------------------------------------------------

    def field_block(self, field: fields.Field[Any], data_key: str, out_key: str,
                    where: str) -> list[str]:
        """Schema._deserialize for one declared field: look the key up, load, store."""
        key, dst = repr(data_key), f"out[{out_key!r}]"
        lines = [f"    v = get({key}, _missing)"]
        if not _is_builtin(field) and not _plain_custom(field):
            # Own deserialize: marshmallow calls it even for a missing key.
            des = self.method(field, "deserialize")
            return [*lines,
                    "    if v is not _missing:",
                    "        n += 1",
                    f"    v = {des}v, {key}, data)",
                    "    if v is not _missing:",
                    f"        {dst} = v"]
        # Field.deserialize: missing -> required error or load_default (called if callable).
        lines.append("    if v is _missing:")
        default = field.load_default
        if field.required:
            lines.append("        raise _Decline")
        elif default is _MISSING:
            lines.append("        pass")
        elif callable(default):
            lines.append(f"        {dst} = {self.const(default, 'default')}()")
        else:
            lines.append(f"        {dst} = {self.const(default, 'default')}")
        lines += ["    else:", "        n += 1"]
        body, result = self.value(field, "v", (key, "data"), where)
        lines += _indent(body, 2)
        lines.append(f"        {dst} = {result}")
        return lines

    def check_field(self, field: fields.Field[Any], where: str) -> None:
        if not isinstance(field, fields.Field):
            raise Unsupported(f"{where}: {type(field).__name__} is not a marshmallow Field")
        for name in _FIELD_LOAD_METHODS:
            if name in vars(field):
                raise Unsupported(f"{where}: the field instance overrides {name}")
        if field.pre_load or field.post_load:
            raise Unsupported(f"{where}: field pre_load / post_load callables")

    def value(self, field: fields.Field[Any], src: str, call: tuple[str, str],
              where: str) -> tuple[list[str], str]:
        """Lines checking the present value ``src`` for ``field`` and the expression of its
        loaded value (Field.deserialize after the missing check). ``call`` is the
        ``(attr, data)`` marshmallow passes on to a custom field."""
        self.check_field(field, where)
        if not _is_builtin(field) and not _plain_custom(field):
            return [], f"{self.method(field, 'deserialize')}{src}, {call[0]}, {call[1]})"
        body, result = self.typed(field, src, call, where)
        checks = self.validators(field, result, where)
        if checks and not result.isidentifier():
            tmp = self.name("t")
            body, result = [*body, f"{tmp} = {result}"], tmp
            checks = self.validators(field, result, where)
        body += checks
        if not field.allow_none:
            return body, result
        # Field.deserialize: with allow_none, None loads as None before any check.
        tmp = self.name("r")
        return ([f"if {src} is None:", f"    {tmp} = None", "else:",
                 *_indent(body, 1), f"    {tmp} = {result}"], tmp)

    def typed(self, field: fields.Field[Any], src: str, call: tuple[str, str],
              where: str) -> tuple[list[str], str]:
        """``field._deserialize`` of a value that is not None (or None when not allowed)."""
        kind = type(field)
        if not _is_builtin(field):
            des = self.method(field, "_deserialize")
            return [f"if {src} is None:", "    raise _Decline"], \
                f"{des}{src}, {call[0]}, {call[1]})"
        if kind is fields.String or kind is fields.Integer:
            # String: bytes are decoded and str subclasses copied by marshmallow; declined
            # here. Integer: marshmallow coerces "12" and 12.0 and refuses bools; only an
            # exact int passes here, and it loads as itself.
            plain = "str" if kind is fields.String else "int"
            return [f"if type({src}) is not {plain}:", "    raise _Decline"], src
        if kind is fields.Raw:
            return [f"if {src} is None:", "    raise _Decline"], src
        if kind is fields.Boolean:
            truthy, falsy = field.truthy, field.falsy  # type: ignore[attr-defined]
            if not truthy:
                return [], f"bool({src})"
            tmp = self.name("b")
            # Boolean._deserialize: truthy first, then falsy (an unhashable value raises
            # TypeError, which declines).
            return [f"if {src} in {self.const(truthy, 'truthy')}:", f"    {tmp} = True",
                    f"elif {src} in {self.const(falsy, 'falsy')}:", f"    {tmp} = False",
                    "else:", "    raise _Decline"], tmp
        if kind is fields.List:
            return self.list_value(field, src, where)
        if kind is fields.Dict:
            return self.dict_value(field, src, where)
        if kind is fields.Nested:
            return self.nested_value(field, src, where)
        raise Unsupported(f"{where}: field type {kind.__module__}.{kind.__qualname__}")

    def list_value(self, field: Any, src: str, where: str) -> tuple[list[str], str]:
        item, tmp = self.name("e"), self.name("l")
        body, result = self.value(field.inner, item, ("None", "None"), f"{where}[]")
        lines = [f"if type({src}) is not list:", "    raise _Decline"]
        if result == item:  # items load as themselves: check them, then copy the list
            if body:
                lines += [f"for {item} in {src}:", *_indent(body, 1)]
            return [*lines, f"{tmp} = list({src})"], tmp
        if not body:
            return [*lines, f"{tmp} = [{result} for {item} in {src}]"], tmp
        return [*lines, f"{tmp} = []", f"for {item} in {src}:", *_indent(body, 1),
                f"    {tmp}.append({result})"], tmp

    def dict_value(self, field: Any, src: str, where: str) -> tuple[list[str], str]:
        lines = [f"if type({src}) is not dict:", "    raise _Decline"]
        tmp = self.name("d")
        if field.key_field is None and field.value_field is None:
            return [*lines, f"{tmp} = dict({src})"], tmp
        # Mapping._deserialize: {key_field(k): value_field(v)} in the value's order.
        k, e = self.name("k"), self.name("e")
        key_body, key_result = ([], k) if field.key_field is None else self.value(
            field.key_field, k, ("None", "None"), f"{where}{{key}}")
        val_body, val_result = ([], e) if field.value_field is None else self.value(
            field.value_field, e, ("None", "None"), f"{where}{{value}}")
        return [*lines, f"{tmp} = {{}}", f"for {k}, {e} in {src}.items():",
                *_indent(key_body + val_body, 1), f"    {tmp}[{key_result}] = {val_result}"], tmp

    def nested_value(self, field: Any, src: str, where: str) -> tuple[list[str], str]:
        try:
            schema = field.schema
        except Exception as e:  # a registry or factory failure: marshmallow will say
            raise Unsupported(f"{where}: nested schema cannot be built: {e}") from e
        if bool(schema.many or field.many) != bool(schema.many):
            raise Unsupported(f"{where}: Nested many= disagrees with its schema")
        unknown = schema.unknown if field.unknown is None else field.unknown
        function = self.schema_function(schema, unknown, self.depth + 1)
        # Nested._deserialize: _test_collection, then schema.load (the function checks the
        # list or dict itself).
        return [], f"{function}({src})"

    def validators(self, field: fields.Field[Any], value: str, where: str) -> list[str]:
        """Field._validate: every validator must pass (marshmallow runs them all)."""
        lines: list[str] = []
        for check in field.validators:
            kind: type[Any] = type(check)
            if isinstance(check, validate.Length) and kind is validate.Length:
                lines += self.length(check, value, where)
            elif isinstance(check, validate.Regexp) and kind is validate.Regexp:
                # Regexp.__call__: regex.match(value) is None -> error.
                match = self.const(check.regex.match, "match")
                lines += [f"if {match}({value}) is None:", "    raise _Decline"]
            elif isinstance(check, validate.OneOf) and kind is validate.OneOf:
                choices = check.choices
                if not isinstance(choices, (tuple, list, set, frozenset)) or not all(
                        type(c) in _HASHABLE_CHOICES for c in choices):
                    raise Unsupported(f"{where}: OneOf choices {choices!r}")
                # OneOf.__call__: value not in choices -> error; a frozenset of these
                # choices answers ``in`` as the container does (unhashable values decline).
                name = self.const(frozenset(choices), "choices")
                lines += [f"if {value} not in {name}:", "    raise _Decline"]
            elif isinstance(check, validate.Range) and kind is validate.Range:
                lines += self.range(check, value)
            elif isinstance(check, validate.Equal) and kind is validate.Equal:
                other = self.const(check.comparable, "equal")
                lines += [f"if {value} != {other}:", "    raise _Decline"]
            else:
                raise Unsupported(f"{where}: validator {check!r}")
        return lines

    def length(self, check: validate.Length, value: str, where: str) -> list[str]:
        bounds = (check.min, check.max, check.equal)
        if any(b is not None and type(b) is not int for b in bounds):
            raise Unsupported(f"{where}: Length bounds {bounds!r}")
        # Length.__call__: equal alone if given, else min and max.
        if check.equal is not None:
            test = f"len({value}) != {check.equal!r}"
        elif check.min is not None and check.max is not None:
            test = f"not {check.min!r} <= len({value}) <= {check.max!r}"
        elif check.min is not None:
            test = f"len({value}) < {check.min!r}"
        elif check.max is not None:
            test = f"len({value}) > {check.max!r}"
        else:
            test = f"len({value}) < 0"  # still raises TypeError for unsized values
        return [f"if {test}:", "    raise _Decline"]

    def range(self, check: validate.Range, value: str) -> list[str]:
        # Range.__call__: value < min (<= when exclusive), value > max (>= when exclusive).
        lines: list[str] = []
        if check.min is not None:
            low = self.const(check.min, "min")
            op = "<" if check.min_inclusive else "<="
            lines += [f"if {value} {op} {low}:", "    raise _Decline"]
        if check.max is not None:
            high = self.const(check.max, "max")
            op = ">" if check.max_inclusive else ">="
            lines += [f"if {value} {op} {high}:", "    raise _Decline"]
        return lines


def _is_builtin(field: fields.Field[Any]) -> bool:
    return type(field).__module__.partition(".")[0] == "marshmallow"


def _plain_custom(field: fields.Field[Any]) -> bool:
    """A custom field whose only load logic is ``_deserialize`` (LotQuantities): the
    compiled code does Field.deserialize's missing / None / validator steps itself."""
    kind = type(field)
    return (not _is_builtin(field) and not field.validators
            and all(getattr(kind, n) is getattr(fields.Field, n)
                    for n in ("deserialize", "_validate", "_validate_missing")))


def _ident(text: str) -> str:
    return re.sub(r"\W", "_", text)


def _indent(lines: list[str], levels: int) -> list[str]:
    pad = "    " * levels
    return [pad + line for line in lines]


def compile_schema(schema: Schema) -> Loader:
    """Compile ``schema`` into a loader: ``loader(x)`` is ``schema.load(x)`` or ``None``.

    Raises :class:`Unsupported` when the schema (or a schema nested in it) uses a
    construct the compiled code would not reproduce exactly."""
    compiler = _Compiler()
    entry = compiler.schema_function(schema, schema.unknown, 0)
    source = "\n\n".join(compiler.blocks) + "\n"
    # The generated source is built only from identifiers made here, repr() of the str
    # and int constants of the schema (data keys, lengths, the unknown option) and names
    # bound in ``compiler.ns`` (the approach of attrs' generated __init__).
    code = compile(source, f"<fastschema {type(schema).__qualname__}>", "exec")
    exec(code, compiler.ns)  # noqa: S102
    function: Callable[[Any], Any] = compiler.ns[entry]

    def load(value: Any) -> Any:
        try:
            return function(value)
        except Exception:  # _Decline, or anything unexpected: marshmallow decides
            return None

    load.__doc__ = f"Compiled {type(schema).__qualname__}.load (None: not proven valid)."
    load.source = source  # type: ignore[attr-defined]
    return load


def _decline(value: Any) -> None:
    return None


# Per schema instance: (weak reference, loader, reason it is not compiled or None).
_CACHE: dict[int, tuple[weakref.ref[Schema], Loader, str | None]] = {}


def _entry(schema: Schema) -> tuple[weakref.ref[Schema], Loader, str | None]:
    key = id(schema)
    entry = _CACHE.get(key)
    if entry is not None and entry[0]() is schema:
        return entry
    reason: str | None = None
    try:
        loader = compile_schema(schema)
    except Unsupported as e:
        loader, reason = _decline, str(e)

    def forget(ref: weakref.ref[Schema], key: int = key) -> None:
        if _CACHE.get(key, (None,))[0] is ref:
            del _CACHE[key]

    entry = (weakref.ref(schema, forget), loader, reason)
    _CACHE[key] = entry
    return entry


def loader_for(schema: Schema) -> Loader:
    """The compiled loader of ``schema``, compiled on first use and cached per instance;
    for a schema that is not compiled, a loader that always declines."""
    entry = _CACHE.get(id(schema))
    if entry is not None and entry[0]() is schema:
        return entry[1]
    return _entry(schema)[1]


def fallback_reason(schema: Schema) -> str | None:
    """Why ``schema`` is not compiled (its loads all run in marshmallow), or None."""
    return _entry(schema)[2]
