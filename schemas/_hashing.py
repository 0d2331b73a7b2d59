"""Canonical JSON and content hashes.

Every stored record is keyed by a hash of its canonical JSON (sorted keys, no
whitespace, UTF-8), so the same content always gets the same key and storing it
twice stores it once. Cache keys for tool calls and model requests use the same
function over *all* of their inputs.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=canonical_json)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"value of type {type(value).__name__} is not JSON-serialisable")


def canonical_json(value: Any) -> str:
    """The one serialisation that hashes are taken over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def content_hash(value: Any) -> str:
    """A 32-hex-digit SHA-256 prefix of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:32]
