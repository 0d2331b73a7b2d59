"""The fast row check (jsonschema-rs) agrees with jsonschema, on real rows of every format and on mutants."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from exporters import FORMATS
from exporters._bfcl import BfclFormat
from exporters._observations import TrlSftObservationsFormat
from exporters._trl_tools import TrlGrpoToolsFormat
from exporters._verl_tool_agent import VerlToolAgentFormat
from schemas import RECORD_MODELS, UnsupportedSchema, VersionInfo, compile_schema, json_schema

from ._examples import every_kind, ivory_coast, make_version

EXPORT_SCHEMAS = sorted(n for n in RECORD_MODELS if n.startswith("export-") and n != "export-manifest")


def _rows(version: VersionInfo) -> dict[str, list[Any]]:
    """Real rows (plain JSON values) of every export schema, from every kind of example."""
    rows: dict[str, list[Any]] = {name: [] for name in EXPORT_SCHEMAS}
    examples = [*every_kind(), ivory_coast()]
    variants = [VerlToolAgentFormat(), TrlSftObservationsFormat(), TrlGrpoToolsFormat()]  # --multi-turn etc.
    for fmt in [*FORMATS.values(), *variants]:
        for i, example in enumerate(examples):
            for row in fmt.rows(example, 0.5, "train", i, version):
                rows[fmt.schema_name].append(row)
                if isinstance(fmt, BfclFormat):
                    rows["export-bfcl-answer"].append(fmt.answer_row(example, row["id"]))
    return rows


_JUNK: list[Any] = [None, True, 0, 1.5, "", "x", [], {}, [1], {"a": 1}, "assistant", "function", -1]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(row: Any, rng: random.Random) -> Any:
    """One random edit: replace a value, delete a key or item, or add a key."""
    row = copy.deepcopy(row)
    path = rng.choice(_paths(row)[1:])
    parent = row
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.random()
    if action < 0.6:
        parent[last] = rng.choice(_JUNK)
    elif action < 0.85:
        del parent[last]
    elif isinstance(parent, dict):
        parent["unexpected_key"] = rng.choice(_JUNK)
    else:
        parent.append(rng.choice(_JUNK))
    return row


@pytest.mark.parametrize("schema_name", EXPORT_SCHEMAS + ["export-manifest"])
def test_valid_and_mutated_rows_get_jsonschemas_verdict(schema_name: str) -> None:
    schema = json_schema(schema_name)
    fast = compile_schema(schema)
    reference = Draft202012Validator(schema)
    if schema_name == "export-manifest":
        rows = [{"version_id": "v", "dataset": "d", "version": 1, "content_hash": "h", "format": "trl-sft",
                 "file": "x.parquet", "row_count": 2, "sha256": None, "files": [], "splits": {"train": 2},
                 "filters": {"dedup": True, "split": {"train": 1.0}, "pass_rate_band": [0.1, 0.9]},
                 "selection": None, "created_by": "backchain export", "load_drift": []}]
    else:
        rows = _rows(make_version())[schema_name]
    assert rows
    for row in rows:
        assert fast(row) and reference.is_valid(row)
    rng = random.Random(schema_name)
    disagreements = []
    invalid = 0
    for _ in range(1500):
        mutant = _mutate(rng.choice(rows), rng)
        expected = reference.is_valid(mutant)
        invalid += not expected
        if fast(mutant) != expected:
            disagreements.append(mutant)
    assert not disagreements[:3]
    assert invalid > 300  # the mutations do reach the schema's checks


def test_json_schema_semantics_that_python_gets_wrong_by_default() -> None:
    check = compile_schema({"type": "object", "properties": {
        "n": {"type": "number"}, "i": {"type": "integer"}, "c": {"const": 1}, "e": {"enum": [False]},
    }})
    assert check({"n": 1, "i": 2.0, "c": 1.0, "e": False})
    assert not check({"n": True})  # a bool is not a number
    assert not check({"i": 2.5})
    assert not check({"c": True})  # True is not 1 for const
    assert not check({"e": 0})  # nor 0 False for enum
    assert not compile_schema({"pattern": "^a"})("ba") and compile_schema({"pattern": "a"})("ba")


def test_every_keyword_is_checked_and_a_schema_is_never_fetched() -> None:
    assert not compile_schema({"type": "array", "uniqueItems": True})([1, 1])  # 2020-12 in full
    with pytest.raises(UnsupportedSchema, match="cannot fetch"):
        compile_schema({"$ref": "https://example.com/schema.json"})
    with pytest.raises(UnsupportedSchema, match="does not exist"):
        compile_schema({"$ref": "#/$defs/missing"})
