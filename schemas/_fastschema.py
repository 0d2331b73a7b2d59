"""A compiled JSON Schema check for export rows: the same verdict as ``jsonschema``, ~50x faster.

Every exported row is validated against its format's JSON Schema (schemas/json/export-*.json).
``jsonschema``'s Draft 2020-12 validator interprets the schema for every row: with the message
``oneOf`` (tried branch by branch, each through ``$ref`` lookups) it managed about 340 trl-sft
rows a second, 87% of an export's time (measured on 20,000 rows; see bench/export.py), which
would make a million rows take close to an hour.

``compile_schema`` turns a schema into nested Python closures once, so a row costs only the
checks themselves. It covers the keywords pydantic emits for the row models (``type``,
``properties``, ``required``, ``additionalProperties``, ``items``, ``prefixItems``, ``minItems``,
``maxItems``, ``minLength``,
``pattern``, ``const``, ``enum``, ``minimum``, ``maximum``, ``anyOf``, ``oneOf``, ``$ref`` into
``$defs``; annotations such as ``title`` and ``description`` are ignored) and raises
``UnsupportedSchema`` for anything else, so a schema it cannot judge is never half-checked:
the caller then falls back to ``jsonschema`` for every row. It answers only valid / invalid;
for an invalid row the caller asks ``jsonschema`` for the precise error (the path and message
that ``ExportError`` quotes), so what users see is jsonschema's own report.

``oneOf`` whose branches each pin one property to a distinct ``const`` (the role of a chat
message, the tag pydantic's discriminated unions carry) dispatches on that property: the other
branches cannot match, so "exactly one" reduces to "the selected branch matches".

Semantics follow Draft 2020-12 as ``jsonschema`` implements it: booleans are not numbers,
``1.0`` is an integer, ``const``/``enum`` compare ``True`` and ``1`` as different, ``pattern`` is
an unanchored ``re.search``. tests/exporters/test_fastschema.py checks agreement with
``jsonschema`` on valid rows of every format and on thousands of mutated ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "discriminator", "$schema", "$id", "$comment",
     "deprecated", "readOnly", "writeOnly"}
)


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this compiler does not implement."""


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function ``row -> bool`` equivalent to ``jsonschema``'s ``is_valid`` for ``schema``."""
    return _Compiler(schema).compile(schema)


def _all_of(checks: list[Check]) -> Check:
    """One function for several checks, without a generator per call (it adds up per row)."""
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    if len(checks) == 3:
        a, b, c = checks
        return lambda v: a(v) and b(v) and c(v)
    head, rest = checks[0], _all_of(checks[1:])
    return lambda v: head(v) and rest(v)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: True is not 1, 1 is 1.0, containers compared deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"a schema must be an object or a boolean, got {schema!r}")
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS or key == "$defs":
                continue
            build = getattr(self, "_kw_" + key.lstrip("$"), None)
            if build is None:
                raise UnsupportedSchema(f"keyword {key!r} is not supported")
            if key in ("additionalProperties",) and "properties" in schema:
                continue  # compiled together with properties
            if key in ("required",) and "properties" in schema:
                continue
            if key == "items" and "prefixItems" in schema:
                continue  # 2020-12: items then applies after the prefix; compiled with it
            checks.append(build(value, schema))
        return _all_of(checks)

    # -- keywords ---------------------------------------------------------------------------

    def _kw_ref(self, ref: str, _schema: dict[str, Any]) -> Check:
        if not ref.startswith("#/$defs/"):
            raise UnsupportedSchema(f"$ref {ref!r}: only local #/$defs/ references are supported")
        name = ref[len("#/$defs/"):]
        if ref not in self.refs:
            holder: list[Check] = []
            self.refs[ref] = lambda v: holder[0](v)  # recursion-safe placeholder
            compiled = self.compile(self.root["$defs"][name])
            holder.append(compiled)
            self.refs[ref] = compiled  # placeholders handed out meanwhile keep working
        return self.refs[ref]

    def _kw_type(self, value: str | list[str], _schema: dict[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        unknown = [n for n in names if n not in _TYPES]
        if unknown:
            raise UnsupportedSchema(f"unknown type {unknown[0]!r}")
        tests = tuple(_TYPES[n] for n in names)
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(t(v) for t in tests)

    def _kw_properties(self, properties: dict[str, Any], schema: dict[str, Any]) -> Check:
        compiled = {name: self.compile(sub) for name, sub in properties.items()}
        required = tuple(schema.get("required", ()))
        extra = schema.get("additionalProperties", True)
        extra_check: Check | None = None if extra is True else self.compile(extra)
        items = tuple(compiled.items())

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name in required:
                if name not in v:
                    return False
            for name, sub in items:
                if name in v and not sub(v[name]):
                    return False
            if extra_check is not None:
                for name, item in v.items():
                    if name not in compiled and not extra_check(item):
                        return False
            return True

        return check

    def _kw_required(self, names: list[str], _schema: dict[str, Any]) -> Check:
        required = tuple(names)
        return lambda v: not isinstance(v, dict) or all(n in v for n in required)

    def _kw_additionalProperties(self, extra: Any, _schema: dict[str, Any]) -> Check:
        sub = self.compile(extra)  # no "properties" beside it: every key is additional
        return lambda v: not isinstance(v, dict) or all(sub(item) for item in v.values())

    def _kw_items(self, items: Any, _schema: dict[str, Any]) -> Check:
        sub = self.compile(items)

        def check(v: Any) -> bool:
            if isinstance(v, list):
                for item in v:
                    if not sub(item):
                        return False
            return True

        return check

    def _kw_prefixItems(self, prefix: list[Any], schema: dict[str, Any]) -> Check:
        subs = tuple(self.compile(p) for p in prefix)
        rest = self.compile(schema["items"]) if "items" in schema else None
        n = len(subs)

        def check(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            for sub, item in zip(subs, v):
                if not sub(item):
                    return False
            if rest is not None:
                for item in v[n:]:
                    if not rest(item):
                        return False
            return True

        return check

    def _kw_minItems(self, n: int, _schema: dict[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= n

    def _kw_maxItems(self, n: int, _schema: dict[str, Any]) -> Check:
        return lambda v: not isinstance(v, list) or len(v) <= n

    def _kw_minLength(self, n: int, _schema: dict[str, Any]) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= n

    def _kw_maxLength(self, n: int, _schema: dict[str, Any]) -> Check:
        return lambda v: not isinstance(v, str) or len(v) <= n

    def _kw_pattern(self, pattern: str, _schema: dict[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def _kw_minimum(self, bound: float, _schema: dict[str, Any]) -> Check:
        return lambda v: not _is_number(v) or v >= bound

    def _kw_maximum(self, bound: float, _schema: dict[str, Any]) -> Check:
        return lambda v: not _is_number(v) or v <= bound

    def _kw_exclusiveMinimum(self, bound: float, _schema: dict[str, Any]) -> Check:
        return lambda v: not _is_number(v) or v > bound

    def _kw_const(self, value: Any, _schema: dict[str, Any]) -> Check:
        if isinstance(value, str):  # the common case (a role, a type tag): no deep comparison
            return lambda v: v.__class__ is str and v == value
        return lambda v: _json_equal(v, value)

    def _kw_enum(self, values: list[Any], _schema: dict[str, Any]) -> Check:
        options = tuple(values)
        return lambda v: any(_json_equal(v, o) for o in options)

    def _kw_anyOf(self, branches: list[Any], _schema: dict[str, Any]) -> Check:
        subs = tuple(self.compile(b) for b in branches)
        return lambda v: any(s(v) for s in subs)

    def _kw_oneOf(self, branches: list[Any], _schema: dict[str, Any]) -> Check:
        dispatch = self._dispatch(branches)
        if dispatch is not None:
            prop, table = dispatch

            def by_tag(v: Any) -> bool:
                if isinstance(v, dict):
                    tag = v.get(prop)
                    if isinstance(tag, str) and tag in table:
                        return table[tag](v)
                # no branch pins this value: each branch fails on the tag (or the value is
                # not an object, and then every branch's "type": "object" fails)
                return False

            return by_tag
        subs = tuple(self.compile(b) for b in branches)
        return lambda v: sum(1 for s in subs if s(v)) == 1

    def _dispatch(self, branches: list[Any]) -> tuple[str, dict[str, Check]] | None:
        """(property, tag -> branch) when every branch is an object schema that requires one
        property pinned to a distinct string const; else None."""
        resolved = [self._resolve(b) for b in branches]
        prop: str | None = None
        table: dict[str, Check] = {}
        for branch, target in zip(branches, resolved, strict=True):
            if not isinstance(target, dict) or target.get("type") != "object":
                return None
            pinned = [
                (name, sub["const"]) for name, sub in target.get("properties", {}).items()
                if isinstance(sub, dict) and isinstance(sub.get("const"), str)
                and name in target.get("required", ())
            ]
            candidates = [p for p in pinned if prop is None or p[0] == prop]
            if not candidates:
                return None
            name, tag = candidates[0]
            if tag in table:
                return None
            prop = name
            table[tag] = self.compile(branch)
        return (prop, table) if prop is not None else None

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and set(schema) - _ANNOTATIONS == {"$ref"} and seen < 32:
            ref = schema["$ref"]
            if not ref.startswith("#/$defs/"):
                return None
            schema = self.root["$defs"][ref[len("#/$defs/"):]]
            seen += 1
        return schema
