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


def _number_forms(value: float | int) -> set[str]:
    forms = {repr(value), f"{value:g}"}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    return {f for f in forms if f}


def value_in_text(value: Any, text: str) -> bool:
    """Whether ``value`` is stated in ``text`` (every scalar of a list or object)."""
    norm = normalise_text(text)
    if isinstance(value, bool):
        return str(value).lower() in norm or ("yes" if value else "no") in norm
    if isinstance(value, (int, float)):
        for form in _number_forms(value):
            if re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", norm):
                return True
        return False
    if isinstance(value, str):
        needle = normalise_text(value)
        return bool(needle) and needle in norm
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
        for match in re.finditer(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", normalise_text(text)):
            if values_equal(value, match.group(0), answer.normaliser):
                return True
        return False
    return value_in_text(value, text)
