"""Does an output look like a failure the server did not flag (``is_error`` false)?

Real servers report failures as ordinary results: ``{"error": "'annual_expense'"}``,
``Invalid arguments: min_value must be <= max_value``, ``Emoji not found: no-such-emoji``,
``Database error: Catalog Error: ...``, a Python traceback. ``looks_like_error`` returns a short
reason, or None. It is a hint for the caller (which records such an output as an *inferred* error
observation), never a parse decision: the view is derived the same way either way.

The rules, strongest first:

1. a Python traceback anywhere (``Traceback (most recent call last):``);
2. an object view (or the one value of a one-key envelope such as ``{"result": ...}``, where a
   string counts as unstructured text) with a failure field: ``error``/``errors``/``error_message``/``exception``/
   ``错误`` (any case) holding something non-empty, ``ok`` or ``success`` false, ``status`` one of
   error/failed/failure/fail;
3. text whose first line starts (after emoji or symbols) with a failure word and a colon or
   a space: ``Error``, ``Exception``, ``Fatal``, ``Failed``, ``Invalid``, ``Cannot``, ``Could not``,
   ``Unable to``, ``Not found``, ``No such``, ``Unknown``, ``Unsupported``, ``Missing``, ``Denied``,
   ``Forbidden``, ``Unauthorized``, ``Bad request``, or an exception name (``ValueError: ...``,
   ``Database error: ...``), or a common equivalent in Chinese, German, French or Spanish;
4. only for a short unstructured output (a scalar or plain text, at most 300 characters, 3 lines):
   a failure phrase anywhere (``not found``, ``does not exist``, ``no such``, ``invalid``,
   ``failed``, ``error``, ``请输入``...).

Rules 3 and 4 read the text only when the view is unstructured or the text's first line is a
failure word with a colon, so a table with an "Error rate" column or a field "Missing values: 3"
inside a key-value list is not a failure. Neither is a measure named "... error" ("Standard
error: 0.52"), nor a one-word output such as ``Unknown`` (it may be the answer itself), except
the words error, failed, failure, exception and fatal.
"""

from __future__ import annotations

import re
from typing import Any

_TRACEBACK = "Traceback (most recent call last)"
_ERROR_KEYS = frozenset({"error", "errors", "error_message", "errormessage", "error_msg", "exception", "fault", "错误", "错误信息"})
_FALSE_KEYS = ("ok", "success", "succeeded")
_FAILED_STATUS = frozenset({"error", "failed", "failure", "fail"})
_WORDS = (
    r"error|errors|exception|fatal|failed|failure|invalid|cannot|can't|can not|could not|couldn't|"
    r"unable to|not found|no such|unknown|unsupported|missing|denied|forbidden|unauthorized|bad request|"
    r"错误|失败|无效|异常|未找到|不存在|请输入|fehler|ungültig|erreur|échec|invalide|no encontrado|inválido"
)
# Measures named "... error" are results, not failures ("Standard error: 0.52").
_STATISTIC = (
    r"(?!(?:[\w ]* )?(?:standard|mean|squared|absolute|relative|rounding|measurement|sampling|percentage|margin of)"
    r" error)"
)
# After optional emoji/symbols: a failure word, or "<Something> error:" / "ValueError:".
_LEADING = re.compile(
    r"^[^\w]{0,4}\s*(?:(?P<word>" + _WORDS + r")(?=[\s:：,.!]|$)|" + _STATISTIC
    + r"(?P<exc>[A-Za-z_][\w.]*(?:Error|Exception)|[A-Za-z][\w ]{0,30} error)\s*[:：])",
    re.IGNORECASE,
)
# A one-word output such as "Unknown" or "Missing" may be the answer itself.
_ONE_WORD = re.compile(r"[A-Za-z]+")
_ONE_WORD_FAILURES = frozenset({"error", "failed", "failure", "exception", "fatal"})
_LEADING_COLON = re.compile(r"^[^\w]{0,4}\s*(?:" + _WORDS + r")\s*[:：]", re.IGNORECASE)
_ANYWHERE = re.compile(
    r"\b(?:not found|does not exist|doesn't exist|no such|invalid|failed|could not|cannot|unable to)\b"
    r"|(?<!standard )(?<!mean )(?<!squared )(?<!absolute )(?<!relative )(?<!rounding )(?<!sampling )\berror\b"
    r"|错误|失败|无效|不存在|未找到|请输入",
    re.IGNORECASE,
)
_SHORT = 300


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _field_failure(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    for key, item in value.items():
        low = key.lower() if isinstance(key, str) else key
        if low in _ERROR_KEYS and item not in (None, "", [], {}, False, 0):
            return f"{key!r} field: {_short(item)}"
        if low in _FALSE_KEYS and item is False:
            return f"{key!r} is false"
        if low == "status" and isinstance(item, str) and item.lower() in _FAILED_STATUS:
            return f"status {item!r}"
    return None


def looks_like_error(text: str | None, view_value: Any, *, unstructured: bool) -> str | None:
    """The reason an output looks like a failure, or None (see the module docstring).

    ``text`` is the raw text (None for a structured value), ``view_value`` the derived view,
    ``unstructured`` whether that view is a bare scalar or plain text with spans.
    """
    if text is not None and _TRACEBACK in text[:100_000]:
        return "Python traceback"
    found = _field_failure(view_value)
    if found is None and isinstance(view_value, dict) and len(view_value) == 1:
        # An envelope such as {"result": {...}} or {"result": "Emoji not found: x"}: look one level in.
        inner = next(iter(view_value.values()))
        if isinstance(inner, str) and text is None:
            text, unstructured = inner, True
        else:
            found = _field_failure(inner)
    if found is not None:
        return found
    if text is None:
        return None
    stripped = text.strip()
    if _ONE_WORD.fullmatch(stripped) and stripped.lower() not in _ONE_WORD_FAILURES:
        return None
    first = stripped[:400].split("\n", 1)[0]
    if unstructured or _LEADING_COLON.match(first):
        m = _LEADING.match(first)
        if m is not None:
            said = m.group("word") or m.group("exc")
            return f"starts with {said.strip()!r}"
    if unstructured and len(stripped) <= _SHORT and stripped.count("\n") < 3:
        m2 = _ANYWHERE.search(stripped)
        if m2 is not None:
            return f"says {m2.group().lower()!r}"
    return None
