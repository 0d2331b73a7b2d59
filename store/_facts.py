"""Facts about tools and tasks learned along the way: the tool graph, volatile fields, difficulty.

Kept apart from `_store.py` (versions, runs, rows) as a mixin of `Store`: the
same connection and write path, different concerns. Tables arrive with
migration m003; the public views are:

    tool_edges(from_toolset, from_tool, field, to_toolset, to_tool, param,
               candidates, confirmed, failed, runs)
    volatile_fields(toolset, tool, pointer, runs, last_seen)
    difficulty(example_id, solver_model, attempts, passes, errors, pass_rate,
               reward_variance, measured_at)      -- the latest measurement per pair
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from schemas import Observation, TaskDifficulty, ToolEdge, VolatileField

from . import _arrow

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import duckdb

M003_TABLES: tuple[str, ...] = (
    """
    CREATE TABLE edge_rows (
        run_id VARCHAR NOT NULL, from_toolset VARCHAR NOT NULL, from_tool VARCHAR NOT NULL,
        field VARCHAR NOT NULL, to_toolset VARCHAR NOT NULL, to_tool VARCHAR NOT NULL,
        param VARCHAR NOT NULL, kind VARCHAR NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (run_id, from_toolset, from_tool, field, to_toolset, to_tool, param, kind)
    )
    """,
    """
    CREATE TABLE volatility_rows (
        run_id VARCHAR NOT NULL, toolset VARCHAR NOT NULL, tool VARCHAR NOT NULL,
        pointer VARCHAR NOT NULL, observed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (run_id, toolset, tool, pointer)
    )
    """,
    """
    CREATE TABLE difficulty_rows (
        example_id VARCHAR NOT NULL, solver_model VARCHAR NOT NULL, attempts INTEGER NOT NULL,
        passes INTEGER NOT NULL, errors INTEGER NOT NULL, measured_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (example_id, solver_model, measured_at)
    )
    """,
)

M003_VIEWS: tuple[str, ...] = (
    """
    CREATE OR REPLACE VIEW tool_edges AS
    SELECT from_toolset, from_tool, field, to_toolset, to_tool, param,
           count(*) FILTER (WHERE kind = 'candidate') > 0 AS candidates,
           coalesce(sum(n) FILTER (WHERE kind = 'confirmed'), 0)::BIGINT AS confirmed,
           coalesce(sum(n) FILTER (WHERE kind = 'failed'), 0)::BIGINT AS failed,
           count(DISTINCT run_id) AS runs
    FROM edge_rows GROUP BY ALL
    """,
    """
    CREATE OR REPLACE VIEW volatile_fields AS
    SELECT toolset, tool, pointer, count(DISTINCT run_id) AS runs, max(observed_at) AS last_seen
    FROM volatility_rows GROUP BY ALL
    """,
    """
    CREATE OR REPLACE VIEW difficulty AS
    SELECT example_id, solver_model, attempts, passes, errors,
           CASE WHEN attempts > 0 THEN passes / attempts ELSE 0 END AS pass_rate,
           CASE WHEN attempts > 0 THEN (passes / attempts) * (1 - passes / attempts) ELSE 0 END AS reward_variance,
           measured_at
    FROM difficulty_rows
    QUALIFY row_number() OVER (PARTITION BY example_id, solver_model ORDER BY measured_at DESC) = 1
    """,
)

FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "tool_edges": ("from_toolset", "from_tool", "field", "to_toolset", "to_tool", "param",
                   "candidates", "confirmed", "failed", "runs"),
    "volatile_fields": ("toolset", "tool", "pointer", "runs", "last_seen"),
    "difficulty": ("example_id", "solver_model", "attempts", "passes", "errors", "pass_rate",
                   "reward_variance", "measured_at"),
}


M004_VIEWS: tuple[str, ...] = (
    """
    CREATE OR REPLACE VIEW observations AS
    SELECT "observation_id", "toolset", "tool", "arguments", "output", "is_error", "error",
           "latency_ms", "started_at", "call_key", "toolset_version", "run_id",
           NOT is_error AND (
               output IS NULL OR output::VARCHAR IN ('[]', '{}', '""', 'null')
               -- an object whose lists are all empty: {"route": "JFK-EEN", "flights": []}
               OR (json_type(output) = 'OBJECT'
                   AND len(list_filter(json_keys(output), lambda k: json_type(output -> k) = 'ARRAY')) > 0
                   AND len(list_filter(json_keys(output),
                           lambda k: json_type(output -> k) = 'ARRAY' AND json_array_length(output -> k) > 0)) = 0)
           ) AS is_empty
    FROM obs_rows
    """,
)


def m004_flag_empty_results(con: duckdb.DuckDBPyConnection) -> None:
    """observations.is_empty: a call that succeeded but returned nothing, or only empty lists.

    Empty results are observations like any other (agents must learn "no data");
    the flag makes them easy to find and to offer to back-chaining.
    """
    for statement in M004_VIEWS:
        con.execute(statement)


def m003_tool_graph_volatility_difficulty(con: duckdb.DuckDBPyConnection) -> None:
    """The tool graph, volatile fields and solver difficulty (issues 4 and 5)."""
    for statement in (*M003_TABLES, *M003_VIEWS):
        con.execute(statement)


class FactsMixin:
    """Store methods for edges, volatile fields, difficulty, and reading observations back."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def _write(self, action: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...
        def _insert(self, table: str, rows: pa.Table) -> int: ...

    def save_edges(self, run_id: str, edges: Sequence[ToolEdge]) -> int:
        """Store a run's tool-graph edges (candidate, confirmed, failed, with counts)."""
        columns: dict[str, list[Any]] = {k: [] for k in (
            "run_id", "from_toolset", "from_tool", "field", "to_toolset", "to_tool", "param", "kind", "n")}
        for e in edges:
            for k, v in (("run_id", run_id), *e.model_dump().items()):
                columns[k].append(v)
        with self._write("save tool edges"):
            return self._insert("edge_rows", pa.table(columns))

    def save_volatility(self, run_id: str, fields: Sequence[VolatileField]) -> int:
        """Store which output fields changed on replay in a run."""
        now = _arrow.now_utc()
        table = pa.table({
            "run_id": [run_id] * len(fields),
            "toolset": [f.toolset for f in fields],
            "tool": [f.tool for f in fields],
            "pointer": [f.pointer for f in fields],
            "observed_at": pa.array([now] * len(fields), type=_arrow.UTC_TS),
        })
        with self._write("save volatile fields"):
            return self._insert("volatility_rows", table)

    def save_difficulty(self, results: Sequence[TaskDifficulty]) -> int:
        """Store solver measurements; the difficulty view shows the latest per task and solver."""
        now = _arrow.now_utc()
        table = pa.table({
            "example_id": [r.example_id for r in results],
            "solver_model": [r.solver_model for r in results],
            "attempts": pa.array([r.attempts for r in results], type=pa.int32()),
            "passes": pa.array([r.passes for r in results], type=pa.int32()),
            "errors": pa.array([r.errors for r in results], type=pa.int32()),
            "measured_at": pa.array([now] * len(results), type=_arrow.UTC_TS),
        })
        with self._write("save difficulty"):
            return self._insert("difficulty_rows", table)

    def iter_observations(self, toolsets: Sequence[str] | None = None, *, batch_size: int = 1000) -> Iterator[Observation]:
        """Recorded observations (optionally of some toolsets), streamed; e.g. for a replay simulator."""
        sql = ("SELECT toolset, toolset_version, tool, arguments, output, is_error, error, latency_ms, started_at, "
               "raw, parser, coalesce(error_inferred, false) FROM obs_rows")
        params: list[Any] = []
        if toolsets is not None:
            sql += " WHERE list_contains(?, toolset)"
            params.append(list(toolsets))
        cursor = self.con.cursor()
        try:
            cursor.execute(sql + " ORDER BY started_at, observation_id", params)
            while rows := cursor.fetchmany(batch_size):
                for ts, ver, tool, args, out, err, msg, lat, at, raw, parser, inferred in rows:
                    yield Observation(
                        toolset=ts, toolset_version=ver, tool=tool, arguments=json.loads(args),
                        output=json.loads(out) if out is not None else None, is_error=err, error=msg,
                        latency_ms=lat or 0.0, started_at=at,
                        raw=json.loads(raw) if raw is not None else None, parser=parser, error_inferred=inferred,
                    )
        finally:
            cursor.close()
