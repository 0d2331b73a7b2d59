"""Typed scalars: how a table cell, a ``key: value`` value, a list item or a bare output becomes JSON.

The rule is the same everywhere, so a pointer's value has the type a reader expects:

- a JSON number (``360``, ``-2.5``, ``1e-06``, ``211.99999999999991``) becomes a number; an integer
  of more than 15 digits stays a string (ids, card numbers: a float would lose digits);
- ``true``/``false`` (any case) become booleans, ``null``/``None`` become null;
- anything else stays a string, stripped; an empty cell is null.

``to_json`` turns what ``ast.literal_eval`` returns (tuples, sets, bytes, non-string keys) into
JSON-compatible values, or declines.
"""

from __future__ import annotations

import math
import re
from typing import Any

_INT = re.compile(r"[-+]?(?:0|[1-9]\d*)\Z")
_FLOAT = re.compile(r"[-+]?(?:(?:0|[1-9]\d*)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?\Z")
_MAX_INT_DIGITS = 15
_TRUE = frozenset({"true"})
_FALSE = frozenset({"false"})
_NULL = frozenset({"null", "None"})


class Declined(Exception):
    """Raised inside a parser's helpers to give up; the parser turns it into None (never escapes)."""


def coerce_scalar(text: str) -> Any:
    """The typed value of one cell or value text (see the module docstring)."""
    s = text.strip()
    if not s:
        return None
    if _INT.match(s):
        digits = len(s.lstrip("+-"))
        return int(s) if digits <= _MAX_INT_DIGITS else s
    if _FLOAT.match(s):
        value = float(s)
        return value if math.isfinite(value) else s
    low = s.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    if s in _NULL:
        return None
    return s


def is_number(value: Any) -> bool:
    """A JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return repr(key)
    if isinstance(key, tuple):
        return ", ".join(_key(k) for k in key)
    raise Declined(f"a dict key of type {type(key).__name__}")


def to_json(value: Any, depth: int = 0) -> Any:
    """A Python literal as JSON: tuples and sets become lists (sets sorted by repr), bytes text,
    keys strings, non-finite floats strings. Raises Declined for anything else (complex, Ellipsis)
    or past 200 levels of nesting."""
    if depth > 200:
        raise Declined("nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, list | tuple):
        return [to_json(v, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return [to_json(v, depth + 1) for v in sorted(value, key=repr)]
    if isinstance(value, dict):
        return {_key(k): to_json(v, depth + 1) for k, v in value.items()}
    raise Declined(f"a value of type {type(value).__name__}")


def unique_names(names: list[str]) -> list[str]:
    """Column names usable as object keys: empty ones become column_N (1-based), repeats get _2, _3."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names, start=1):
        name = raw.strip() or f"column_{i}"
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|`([^`]+)`|(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")


def strip_inline_markdown(text: str) -> str:
    """``**bold**``, ``__bold__``, ``*em*`` and ``code`` spans reduced to their text."""
    if "*" not in text and "_" not in text and "`" not in text:
        return text
    return _EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), text)
