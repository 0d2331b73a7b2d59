"""``Json`` columns as JSON text, and what ``datasets`` loads back from them.

JSON texts are written by the standard library (datasets' own encoder would round floats to
10 decimals). What datasets will load differently (its JSON decoder is not exact for some
floats) is recorded per value in the manifest's ``load_drift``; values without a float or a
long integer literal in their text cannot drift and are not decoded again. ``drift_of``
answers the same question for a JSON text on its own (the fast path has texts, not values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from datasets import Json
from datasets.utils.json import ujson_dumps, ujson_loads

from schemas import Example, ExportError, LoadDrift

from ._base import compact_json

_RISKY = re.compile(r"[0-9][.eE]|[0-9]{16}")
"""A float literal or a long integer: the only JSON text datasets' decoder may read back changed."""
_EXACT: dict[tuple[str, str], None] = {}
"""JSON texts already found to load back exactly (per file type): tool lists and tool outputs
repeat across rows, so most values are decoded once. Bounded; cleared when full."""
_EXACT_LIMIT = 20_000
LOAD_DRIFT_LIMIT = 1000
"""Drifting values listed in a manifest; ``load_drift_total`` counts them all."""


def _may_drift(text: str) -> bool:
    return _RISKY.search(text) is not None


class DriftLog(list[LoadDrift]):
    """The first LOAD_DRIFT_LIMIT drifting values, and how many there were in all."""

    total = 0

    def add(self, entry: LoadDrift) -> None:
        self.total += 1
        if len(self) < LOAD_DRIFT_LIMIT:
            self.append(entry)


def as_json_text(value: Any, column: str, example: Example, file_type: str, drift: list[LoadDrift]) -> Any:
    """JSON text for a ``Json`` / ``List(Json())`` column, written by the standard library.

    datasets' own encoder would round floats to 10 decimals; text it can parse is stored as
    given. Values that datasets will nevertheless load changed are recorded in ``drift``.
    """
    try:
        if isinstance(value, list):
            texts = [compact_json(item) for item in value]
            for i, (item, text) in enumerate(zip(value, texts, strict=True)):
                if _may_drift(text):
                    _record_drift(item, text, f"{column}/{i}", example, file_type, drift)
            return texts
        text = compact_json(value)
    except ValueError as exc:  # NaN or infinity: not JSON
        raise ExportError(
            f"example {example.example_id}: {column} holds a value JSON cannot represent ({exc})"
        ) from exc
    if _may_drift(text):
        _record_drift(value, text, column, example, file_type, drift)
    return text


_DRIFTS: dict[tuple[str, str], tuple[tuple[str, Any, Any], ...]] = {}
"""drift_of's answers by (file type, text); bounded like _EXACT."""


def drift_of(text: str, file_type: str) -> tuple[tuple[str, Any, Any], ...]:
    """What ``datasets`` loads changed in the JSON ``text``: (path inside the value, written,
    loaded) per value; empty for a text that loads back exactly. The same test as the rows'
    own (``_record_drift``), for a text given without its value (exporters/_fast.py)."""
    if not _may_drift(text):
        return ()
    key = (file_type, text)
    found = _DRIFTS.get(key)
    if found is None:
        found = tuple(_differences(json.loads(text), _loaded_by_datasets(text, file_type), ""))
        if len(_DRIFTS) >= _EXACT_LIMIT:
            _DRIFTS.clear()
        _DRIFTS[key] = found
    return found


def _loaded_by_datasets(text: str, file_type: str) -> Any:
    """What ``load_dataset`` returns for a ``Json`` value written as ``text``.

    Parquet: the feature's own encode/decode. JSON Lines: the json loader parses each line,
    re-encodes the JSON fields (10 decimals) and the feature decodes them.
    """
    feature = Json()
    try:
        if file_type == ".parquet":
            return feature.decode_example(feature.encode_example(text))
        return feature.decode_example(ujson_dumps(ujson_loads(text)))
    except ValueError as exc:
        return f"<datasets cannot read this value: {exc}>"


def _record_drift(
    value: Any, text: str, field_path: str, example: Example, file_type: str, drift: list[LoadDrift]
) -> None:
    key = (file_type, text)
    if key in _EXACT:
        return
    loaded = _loaded_by_datasets(text, file_type)
    found = False
    for path, written, got in _differences(value, loaded, field_path):
        found = True
        entry = LoadDrift(example_id=example.example_id, field=path, written=written, loaded=got)
        if isinstance(drift, DriftLog):
            drift.add(entry)
        else:
            drift.append(entry)
    if not found:
        if len(_EXACT) >= _EXACT_LIMIT:
            _EXACT.clear()
        _EXACT[key] = None


def _differences(written: Any, loaded: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """Leaves where ``loaded`` is not exactly ``written`` (value and JSON type)."""
    if isinstance(written, dict) and isinstance(loaded, dict) and written.keys() == loaded.keys():
        for key in written:
            yield from _differences(written[key], loaded[key], f"{path}/{_escape(key)}")
    elif isinstance(written, list) and isinstance(loaded, list) and len(written) == len(loaded):
        for i, (w, got) in enumerate(zip(written, loaded, strict=True)):
            yield from _differences(w, got, f"{path}/{i}")
    elif type(written) is not type(loaded) or written != loaded:
        yield path, written, loaded


def _escape(key: str) -> str:
    """RFC 6901 escaping, so a key holding '/' cannot be misread as two levels."""
    return key.replace("~", "~0").replace("/", "~1")
