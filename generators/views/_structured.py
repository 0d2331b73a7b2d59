"""Parsers for text that is already a data structure: JSON, JSON lines, Python literals, a scalar.

Each takes the text and returns the parsed value, or None to decline. None of them calls ``eval``:
Python literals go through ``ast.literal_eval`` with a size limit, and results that are not
JSON-compatible are converted (``_scalars.to_json``) or declined.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from ._scalars import Declined, coerce_scalar, is_number, to_json
from ._spans import token_kind

_MAX_LITERAL = 1 << 20  # ast.literal_eval holds the whole syntax tree: keep it bounded
_FENCE = re.compile(r"\A```[\w+-]*[ \t]*\n(.*)\n```\Z", re.S)
_OPENERS = {"{": "}", "[": "]"}


def _unfence(text: str) -> str:
    """Text inside one markdown code fence (```json ... ```), or the text unchanged."""
    if text.startswith("```"):
        m = _FENCE.match(text)
        if m is not None:
            return m.group(1).strip()
    return text


def parse_json(text: str) -> Any:
    """A JSON object, array or string (optionally inside one code fence). Scalars are left to
    ``parse_scalar``, so ``212.0`` is not JSON here."""
    s = _unfence(text.strip())
    if not s:
        return None
    first = s[0]
    if first in _OPENERS:
        if s[-1] != _OPENERS[first]:
            return None
    elif first != '"' or s[-1] != '"' or len(s) < 2:
        return None
    try:
        return json.loads(s)
    except (ValueError, RecursionError):
        return None


def parse_json_lines(text: str) -> Any:
    """Several JSON objects or arrays, one per line (JSON lines): a list."""
    s = text.strip()
    if not s or s[0] not in _OPENERS or "\n" not in s:
        return None
    items: list[Any] = []
    for line in s.splitlines():
        line = line.strip()
        if not line:
            continue
        if line[0] not in _OPENERS or line[-1] != _OPENERS[line[0]]:
            return None
        try:
            items.append(json.loads(line))
        except (ValueError, RecursionError):
            return None
    return items if len(items) >= 2 else None


def parse_python_literal(text: str) -> Any:
    """A Python literal (a repr: ``{'a': 1}``, ``[(1, 'Paris')]``, ``'text'``) via ast.literal_eval."""
    s = _unfence(text.strip())
    if len(s) < 2 or len(s) > _MAX_LITERAL or s[0] not in "{[('\"":
        return None
    closers = {"{": "}", "[": "]", "(": ")", "'": "'", '"': '"'}
    if s[-1] != closers[s[0]]:
        return None
    try:
        value = ast.literal_eval(s)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    try:
        return to_json(value)
    except Declined:
        return None


_QUANTITY_KINDS = frozenset({"number", "money"})


def parse_scalar(text: str) -> Any:
    """One bare value on one line with no spaces: ``212.0``, ``true``, a UUID, a date, a word.

    The view is ``{"value": V, "kind": K}``: V typed as in ``_scalars.coerce_scalar``, K one of
    number, boolean, null, a span kind (uuid, date, datetime, time, hash, ip, version, url, email,
    path, id, slug, code) or string. A number glued to a unit or currency (``4700Ω``, ``$5``,
    ``12%``) is declined, so the span fallback records its unit.
    """
    s = text.strip()
    if not s or len(s) > 256 or s[0] in "{[(\"'`":
        return None
    if any(c.isspace() for c in s):
        return None
    value = coerce_scalar(s)
    if isinstance(value, bool):
        return {"value": value, "kind": "boolean"}
    if value is None:
        return {"value": None, "kind": "null"}
    if is_number(value):
        return {"value": value, "kind": "number"}
    kind, span = token_kind(s)
    if kind in _QUANTITY_KINDS:
        if span is not None and "unit" in span:
            return None
        if span is not None and "," in s:  # 10,048.31: a number with thousands separators
            return {"value": span["value"], "kind": "number"}
        kind = "string"  # "007": number-like text the server chose to write as text
    return {"value": value, "kind": kind}
