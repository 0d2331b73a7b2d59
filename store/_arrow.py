"""Records to Arrow tables: the one bulk path into the database.

Every bulk write builds a ``pyarrow.Table`` whose columns match a storage
table by name and runs ``INSERT OR IGNORE INTO t BY NAME SELECT * FROM arrow``.
DuckDB scans Arrow memory directly, so a million observations cost one
statement, not a million round trips (``executemany`` is row by row).

Conventions:

* JSON columns are sent as canonical JSON text (``schemas.canonical_json``:
  sorted keys, no whitespace); DuckDB casts the text to its JSON type on insert.
  A Python ``None`` output is SQL NULL, not the JSON text ``null``.
* Timestamps are timezone-aware UTC (``timestamp[us, UTC]``); a naive datetime
  is taken to be UTC already.
* Rows are de-duplicated by primary key here, first one wins, so one batch
  never carries a key twice.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from schemas import Example, Judgement, Observation, Tool, canonical_json, content_hash

from ._rendered import RENDERED_ARROW, rendered_columns

UTC_TS = pa.timestamp("us", tz="UTC")


def utc(value: _dt.datetime) -> _dt.datetime:
    """A timezone-aware UTC datetime; naive input is taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC)


def now_utc() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _json(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def _unique(rows: Iterable[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[k] for k in key), row)
    return list(seen.values())


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    columns = {f.name: [r[f.name] for r in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def tool_id(tool: Tool) -> str:
    """Content hash of the tool's JSON: its primary key."""
    return content_hash(tool.model_dump(mode="json"))


TOOL_SCHEMA = pa.schema(
    [
        ("tool_id", pa.string()), ("toolset", pa.string()), ("name", pa.string()),
        ("description", pa.string()), ("input_schema", pa.string()),
        ("output_schema", pa.string()), ("side_effect", pa.string()),
        ("side_effect_source", pa.string()), ("first_run_id", pa.string()),
    ]
)


def tools_table(tools: Sequence[Tool], run_id: str | None) -> pa.Table:
    rows = (
        {
            "tool_id": tool_id(t), "toolset": t.toolset, "name": t.name,
            "description": t.description, "input_schema": canonical_json(t.input_schema),
            "output_schema": _json(t.output_schema), "side_effect": t.side_effect,
            "side_effect_source": t.side_effect_source, "first_run_id": run_id,
        }
        for t in tools
    )
    return _table(_unique(rows, ["tool_id"]), TOOL_SCHEMA)


OBS_SCHEMA = pa.schema(
    [
        ("observation_id", pa.string()), ("call_key", pa.string()), ("toolset", pa.string()),
        ("toolset_version", pa.string()), ("tool", pa.string()), ("arguments", pa.string()),
        ("output", pa.string()), ("is_error", pa.bool_()), ("error", pa.string()),
        ("latency_ms", pa.float64()), ("started_at", UTC_TS), ("run_id", pa.string()),
        ("raw", pa.string()), ("parser", pa.string()), ("error_inferred", pa.bool_()),  # m009
    ]
)


def observations_table(observations: Sequence[Observation], run_id: str | None) -> pa.Table:
    rows = (
        {
            "observation_id": o.observation_id, "call_key": o.call_key, "toolset": o.toolset,
            "toolset_version": o.toolset_version, "tool": o.tool,
            "arguments": canonical_json(o.arguments), "output": _json(o.output),
            "is_error": o.is_error, "error": o.error, "latency_ms": float(o.latency_ms),
            "started_at": utc(o.started_at), "run_id": run_id,
            "raw": None if o.raw is None else _json(o.raw), "parser": o.parser, "error_inferred": o.error_inferred,
        }
        for o in observations
    )
    return _table(_unique(rows, ["observation_id"]), OBS_SCHEMA)


EXAMPLE_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()), ("task_key", pa.string()), ("kind", pa.string()),
        ("user_request", pa.string()), ("writer", pa.string()), ("writer_model", pa.string()),
        ("trace", pa.string()), ("answer", pa.string()), ("body", pa.string()),
        ("created_at", UTC_TS), *RENDERED_ARROW,
    ]
)


def _example_row(example: Example, created_at: _dt.datetime) -> dict[str, Any]:
    # One model_dump per example: it already carries the computed ids, and
    # computing them again (each one a canonical-JSON hash) dominated bulk saves.
    body = example.model_dump(mode="json")
    task = body["task"]
    text = canonical_json(body)
    return {
        "example_id": body["example_id"], "task_key": example.task_key, "kind": task["kind"],
        "user_request": task["user_request"], "writer": task["writer"],
        "writer_model": task["writer_model"], "trace": canonical_json(body["trace"]),
        "answer": canonical_json(task["answer"]), "body": text,
        "created_at": created_at, **rendered_columns(text),  # m005: the chat rendering
    }


def examples_table(examples: Iterable[Example], created_at: _dt.datetime) -> pa.Table:
    rows = (_example_row(e, created_at) for e in examples)
    return _table(_unique(rows, ["example_id"]), EXAMPLE_SCHEMA)


CANDIDATE_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()), ("dataset", pa.string()), ("example_id", pa.string()),
        ("status", pa.string()), ("reason", pa.string()), ("score", pa.float64()),
        ("rubric_id", pa.string()), ("rubric_hash", pa.string()),
    ]
)


def candidates_table(run_id: str, dataset: str, judgements: Iterable[Judgement]) -> pa.Table:
    rows = (
        {
            "run_id": run_id, "dataset": dataset, "example_id": j.example_id,
            "status": j.status, "reason": j.reason, "score": j.score,
            "rubric_id": j.rubric_id, "rubric_hash": j.rubric_hash,
        }
        for j in judgements
    )
    return _table(_unique(rows, ["run_id", "example_id"]), CANDIDATE_SCHEMA)


LEAF_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()), ("rubric_hash", pa.string()), ("node_id", pa.string()),
        ("kind", pa.string()), ("critical", pa.bool_()), ("passed", pa.bool_()),
        ("score", pa.float64()), ("p_yes", pa.float64()), ("coverage", pa.float64()),
        ("skipped", pa.bool_()), ("reason", pa.string()),
    ]
)


def leaves_table(judgements: Iterable[Judgement]) -> pa.Table:
    rows = (
        {
            "example_id": j.example_id, "rubric_hash": j.rubric_hash, "node_id": leaf.node_id,
            "kind": leaf.kind, "critical": leaf.critical, "passed": leaf.passed,
            "score": leaf.score, "p_yes": leaf.p_yes, "coverage": leaf.coverage,
            "skipped": leaf.skipped, "reason": leaf.reason,
        }
        for j in judgements
        for leaf in j.leaves
    )
    return _table(_unique(rows, ["example_id", "rubric_hash", "node_id"]), LEAF_SCHEMA)


MEMBER_SCHEMA = pa.schema(
    [
        ("version_id", pa.string()), ("example_id", pa.string()), ("split", pa.string()),
        ("score", pa.float64()),
    ]
)


def members_table(version_id: str, members: dict[str, float | None], split: str) -> pa.Table:
    rows = [
        {"version_id": version_id, "example_id": eid, "split": split, "score": score}
        for eid, score in members.items()
    ]
    return _table(rows, MEMBER_SCHEMA)
