"""A fast JSON Schema check for export rows: jsonschema-rs, the same verdict as ``jsonschema``.

Every exported row is validated against its format's JSON Schema (schemas/json/export-*.json).
``jsonschema``'s Draft 2020-12 validator interprets the schema for every row: about 1,000-6,000
rows a second per format on 2 cores, most of an export's time, which would make a million rows
take close to an hour. ``compile_schema`` builds a jsonschema-rs validator (Rust, Draft 2020-12,
every keyword) once per schema; a row then costs one call into Rust.

It replaced a compiler of our own that turned a schema into nested Python closures: measured by
bench/fastschema.py on the rows every exporter builds (20,000 per format, all 14 row schemas),
jsonschema-rs checked about 9x as many rows a second as the hand-written closures, 5x as many as
pydantic's ``TypeAdapter.validate_python`` of the row model, and 30x as many as fastjsonschema,
with no disagreement with ``jsonschema`` on thousands of mutated rows. The row model itself is
not the contract: pydantic accepts values its generated schema refuses (an assistant message
with ``content: null``, a lax ``"3"`` for an integer), and the files say they match the schema.

It answers only valid / invalid; for an invalid row the caller asks ``jsonschema`` for the
precise error (the path and message that ``ExportError`` quotes), so what users see is
jsonschema's own report. Semantics are Draft 2020-12 as ``jsonschema`` implements them:
booleans are not numbers, ``1.0`` is an integer, ``const``/``enum`` tell ``True`` from ``1``,
``pattern`` is an unanchored search. tests/exporters/test_fastschema.py checks agreement with
``jsonschema`` on valid rows of every format and on thousands of mutated ones. (Where the two
differ, on values no JSON row holds: a tuple counts as an array here, NaN as no number.)

A schema is never fetched: a ``$ref`` outside the document, or a schema that is not valid
2020-12, raises ``UnsupportedSchema`` and the caller checks every row with ``jsonschema``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs

Check = Callable[[Any], bool]


class UnsupportedSchema(ValueError):
    """The schema cannot be compiled offline (a remote ``$ref``, or not a valid schema)."""


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function ``row -> bool`` equivalent to ``jsonschema``'s ``is_valid`` for ``schema``."""
    try:
        validator = jsonschema_rs.Draft202012Validator(schema, offline=True)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedSchema(f"cannot compile the schema: {first}") from exc
    return validator.is_valid
