"""Matching values against text and answers against expectations.

One place decides what "the user said it" and "the model got it right" mean,
so provenance, leakage and the answer checker cannot drift apart.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import unicodedata
from typing import Any

from schemas import Answer, Normaliser


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).casefold().strip()


# A number standing on its own: "7th" states 7 and "-73.77" states -73.77, but
# the parts of "2013-07-04", "14:00", "5.5" or "5-10" state no 7, 0, 5 or 10.
_NUMBER = re.compile(
    r"(?<![\w.:/-])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?!\d|\.\d|[-/:]\d)"
    r"|(?<=\s)-\d+(?:\.\d+)?(?!\d|\.\d|[-/:]\d)"
)


def _numbers_in(norm: str) -> list[float]:
    return [float(m.group(0)) for m in _NUMBER.finditer(norm)]


def _word_in(needle: str, norm: str) -> bool:
    """``needle`` as a whole word or phrase ("US" is not in "tell us more")."""
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", norm) is not None


def value_in_text(value: Any, text: str) -> bool:
    """Whether ``value`` is stated in ``text`` (every scalar of a list or object).

    Numbers are compared as numbers (48.8566 matches "48.85660", not "48.85661");
    strings and booleans as whole words, after NFKC and case folding.
    """
    norm = normalise_text(text)
    if isinstance(value, bool):
        words = ("true", "yes") if value else ("false", "no")
        return any(_word_in(w, norm) for w in words)
    if isinstance(value, (int, float)):
        target = float(value)
        return any(n == target for n in _numbers_in(norm))
    if isinstance(value, str):
        if value.isupper() and len(value.strip()) <= 2:
            # Two-letter codes keep their case: "US" is not stated by "tell us", "IT" by "it".
            return _word_in(unicodedata.normalize("NFKC", value.strip()), unicodedata.normalize("NFKC", text))
        return _word_in(normalise_text(value), norm)
    if isinstance(value, list):
        return all(value_in_text(v, text) for v in value)
    if isinstance(value, dict):
        return all(value_in_text(v, text) for v in value.values())
    if value is None:
        return True
    return normalise_text(json.dumps(value)) in norm


def parse_when(value: Any) -> _dt.date | _dt.datetime | None:
    """A date or date-time from ISO 8601 or a common written form ("21 June 2024"), else None."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value
    if not isinstance(value, str) or not re.search(r"\d", value):
        return None
    text = value.strip()
    try:
        return _dt.date.fromisoformat(text) if len(text) == 10 else _dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        from dateutil import parser as _dateparser

        parsed = _dateparser.parse(text, fuzzy=False)
    except (ValueError, OverflowError):
        return None
    has_time = bool(re.search(r"\d:\d", text))
    return parsed if has_time else parsed.date()


def _same_when(expected: Any, got: Any) -> bool:
    a, b = parse_when(expected), parse_when(got)
    if a is None or b is None:
        return False
    if isinstance(a, _dt.datetime) and isinstance(b, _dt.datetime):
        if (a.tzinfo is None) != (b.tzinfo is None):
            return a.replace(tzinfo=None) == b.replace(tzinfo=None)
        return a == b
    day_a = a.date() if isinstance(a, _dt.datetime) else a
    day_b = b.date() if isinstance(b, _dt.datetime) else b
    return day_a == day_b


def values_equal(expected: Any, got: Any, normaliser: Normaliser) -> bool:
    """Compare one value under a normaliser (number tolerance, case, dates)."""
    if normaliser.kind == "date":
        return _same_when(expected, got) or (
            isinstance(expected, str) and isinstance(got, str) and normalise_text(expected) == normalise_text(got))
    if normaliser.kind == "number":
        try:
            a, b = float(expected), float(got)
        except (TypeError, ValueError):
            return False
        if math.isnan(a) or math.isnan(b):
            return False
        return math.isclose(a, b, rel_tol=normaliser.tolerance, abs_tol=normaliser.tolerance)
    if normaliser.kind == "casefold":
        if isinstance(expected, str) and isinstance(got, str):
            return normalise_text(expected) == normalise_text(got)
    return bool(expected == got)


def answer_in_text(answer: Answer, text: str) -> bool:
    """The answer checker for free text: does a model's reply state the recorded answer?"""
    value = answer.value
    if answer.normaliser.kind == "date" and parse_when(value) is not None:
        if value_in_text(value, text):
            return True
        candidates = re.findall(
            r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.+\-Z]+)?|\d{1,2} \w+ \d{4}|\w+ \d{1,2},? \d{4}|\d{1,2}/\d{1,2}/\d{4}", text)
        return any(_same_when(value, c) for c in candidates)
    if answer.normaliser.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return any(values_equal(value, n, answer.normaliser) for n in _numbers_in(normalise_text(text)))
    return value_in_text(value, text)
