"""Matching values against text and answers against expectations.

One place decides what "the user said it" and "the model got it right" mean,
so provenance, leakage and the answer checker cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from schemas import Answer, Normaliser


def normalise_text(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).casefold().strip()


# A number not glued to a preceding word or decimal point ("7th" states 7; "5.5" does not state 5).
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?!\d|\.\d)")


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


def values_equal(expected: Any, got: Any, normaliser: Normaliser) -> bool:
    """Compare one value under a normaliser (number tolerance, case)."""
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
    if answer.normaliser.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return any(values_equal(value, n, answer.normaliser) for n in _numbers_in(normalise_text(text)))
    return value_in_text(value, text)
