"""What each run spent, and the numbers of a run report, as views and table macros.

A mixin of `Store` like `_facts.py`: same connection and write path. The flow
(flows/) collects per stage what the clients counted and hands it here; this
module only stores it and defines how it is read. Tables arrive with m007:

    run_stage_rows   one row per stage executed: wall time
    run_model_rows   one row per chat request: endpoint, model, tokens, latency, cache hit, error
    run_tool_rows    per stage and toolset: tool calls executed, failed, answered from the
                     call cache (``cached``, m008)

Public views (the accounting, per run):

    runs             + wall_seconds, tokens_in, tokens_out, model_requests, cached_replies,
                       model_errors, tool_calls, tool_errors, stage_seconds (JSON stage -> s),
                       cached_tool_calls
    run_stages       run_id, stage, started_at, seconds, model_requests, cached_replies,
                     tokens_in, tokens_out, tool_calls, tool_errors, cached_tool_calls
    run_model_usage  run_id, stage, endpoint, model, requests, cached, errors, tokens_in,
                     tokens_out, cached_tokens_in, cached_tokens_out, p50_ms, p95_ms
    run_tool_calls   run_id, stage, toolset, calls, errors, cached
    model_requests   one row per request

Tokens are the servers' ``usage`` counts of requests actually sent; a reply
answered from the cache costs no new tokens and is counted in ``cached_*``;
likewise a tool call answered from the call cache is counted in ``cached`` /
``cached_tool_calls``, not in ``calls`` / ``tool_calls``.
Latency percentiles leave cache hits out.

Table macros taking (dataset, ref), the numbers of `backchain report`, each
over the version the reference names and the run(s) that made it
(``version_runs``: the run that sealed it; for a version made from others, the
run credited with each member, as `Store.member_runs` does):

    report_runs, report_tool_coverage, report_edges, report_chain_lengths, report_kinds,
    report_scores, report_leaves, report_rejections, report_stages, report_model_usage,
    report_latency

(the report's summary and sampled rows, report_summary and report_samples, are m011's:
store/_report.py; `AccountingMixin.report_tables` calls them all.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from schemas import ModelRequest, StageTiming, ToolCallCount

from . import _arrow
from ._report import SAMPLE_ROWS, SAMPLE_SEED

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import duckdb

M007_TABLES: tuple[str, ...] = (
    """
    CREATE TABLE run_stage_rows (
        run_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
        seconds DOUBLE NOT NULL
    )
    """,
    """
    CREATE TABLE run_model_rows (
        run_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, endpoint VARCHAR NOT NULL,
        model VARCHAR NOT NULL, request_key VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
        latency_ms DOUBLE NOT NULL, tokens_in BIGINT NOT NULL, tokens_out BIGINT NOT NULL,
        cached BOOLEAN NOT NULL, error VARCHAR
    )
    """,
    """
    CREATE TABLE run_tool_rows (
        run_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, toolset VARCHAR NOT NULL,
        calls BIGINT NOT NULL, errors BIGINT NOT NULL
    )
    """,
)

_VIEW_MODEL_REQUESTS = """
    CREATE OR REPLACE VIEW model_requests AS
    SELECT run_id, stage, endpoint, model, started_at, latency_ms, tokens_in, tokens_out, cached,
           error, request_key
    FROM run_model_rows
    """
_VIEW_RUN_MODEL_USAGE = """
    CREATE OR REPLACE VIEW run_model_usage AS
    SELECT run_id, stage, endpoint, model,
           count(*) FILTER (WHERE NOT cached) AS requests,
           count(*) FILTER (WHERE cached) AS cached,
           count(*) FILTER (WHERE error IS NOT NULL) AS errors,
           coalesce(sum(tokens_in) FILTER (WHERE NOT cached), 0)::BIGINT AS tokens_in,
           coalesce(sum(tokens_out) FILTER (WHERE NOT cached), 0)::BIGINT AS tokens_out,
           coalesce(sum(tokens_in) FILTER (WHERE cached), 0)::BIGINT AS cached_tokens_in,
           coalesce(sum(tokens_out) FILTER (WHERE cached), 0)::BIGINT AS cached_tokens_out,
           quantile_cont(latency_ms, 0.5) FILTER (WHERE NOT cached) AS p50_ms,
           quantile_cont(latency_ms, 0.95) FILTER (WHERE NOT cached) AS p95_ms
    FROM run_model_rows GROUP BY run_id, stage, endpoint, model
    """


def _tool_views(cached: bool) -> tuple[str, ...]:
    """run_tool_calls, run_stages and runs; ``cached``: with m008's cached tool calls (m007: without)."""
    tool = ", coalesce(sum(cached), 0)::BIGINT AS cached" if cached else ""
    stage = ", coalesce(sum(cached), 0)::BIGINT AS cached_tool_calls" if cached else ""
    stage_out = ",\n           coalesce(t.cached_tool_calls, 0)::BIGINT AS cached_tool_calls" if cached else ""
    run = ",\n               sum(cached_tool_calls)::BIGINT AS cached_tool_calls" if cached else ""
    run_out = ", a.cached_tool_calls" if cached else ""
    return (
    f"""
    CREATE OR REPLACE VIEW run_tool_calls AS
    SELECT run_id, stage, toolset, sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors{tool}
    FROM run_tool_rows GROUP BY run_id, stage, toolset
    """,
    # A stage run twice (a resumed run) adds its seconds; started_at is its first start.
    f"""
    CREATE OR REPLACE VIEW run_stages AS
    WITH s AS (
        SELECT run_id, stage, min(started_at) AS started_at, sum(seconds) AS seconds
        FROM run_stage_rows GROUP BY run_id, stage
    ), m AS (
        SELECT run_id, stage, count(*) FILTER (WHERE NOT cached) AS model_requests,
               count(*) FILTER (WHERE cached) AS cached_replies,
               coalesce(sum(tokens_in) FILTER (WHERE NOT cached), 0)::BIGINT AS tokens_in,
               coalesce(sum(tokens_out) FILTER (WHERE NOT cached), 0)::BIGINT AS tokens_out
        FROM run_model_rows GROUP BY run_id, stage
    ), t AS (
        SELECT run_id, stage, sum(calls)::BIGINT AS tool_calls, sum(errors)::BIGINT AS tool_errors{stage}
        FROM run_tool_rows GROUP BY run_id, stage
    ), k AS (
        SELECT run_id, stage FROM s UNION SELECT run_id, stage FROM m UNION SELECT run_id, stage FROM t
    )
    SELECT k.run_id, k.stage, s.started_at, coalesce(s.seconds, 0.0) AS seconds,
           coalesce(m.model_requests, 0) AS model_requests,
           coalesce(m.cached_replies, 0) AS cached_replies,
           coalesce(m.tokens_in, 0)::BIGINT AS tokens_in, coalesce(m.tokens_out, 0)::BIGINT AS tokens_out,
           coalesce(t.tool_calls, 0)::BIGINT AS tool_calls, coalesce(t.tool_errors, 0)::BIGINT AS tool_errors{stage_out}
    FROM k
    LEFT JOIN s ON s.run_id = k.run_id AND s.stage = k.stage
    LEFT JOIN m ON m.run_id = k.run_id AND m.stage = k.stage
    LEFT JOIN t ON t.run_id = k.run_id AND t.stage = k.stage
    """,
    # A run from before m007 (or one that never reached a stage) has NULL accounting, not 0.
    f"""
    CREATE OR REPLACE VIEW runs AS
    WITH a AS (
        SELECT run_id, sum(tokens_in)::BIGINT AS tokens_in, sum(tokens_out)::BIGINT AS tokens_out,
               sum(model_requests)::BIGINT AS model_requests,
               sum(cached_replies)::BIGINT AS cached_replies,
               sum(tool_calls)::BIGINT AS tool_calls, sum(tool_errors)::BIGINT AS tool_errors,
               json_group_object(stage, seconds) AS stage_seconds{run}
        FROM run_stages GROUP BY run_id
    ), e AS (
        SELECT run_id, count(*) AS model_errors FROM run_model_rows WHERE error IS NOT NULL
        GROUP BY run_id
    )
    SELECT r.run_id, r.dataset, r.flow_run_id, r.started_at, r.finished_at, r.status, r.stats,
           r.models, r.rubric_hash, r.config_hash, r.config,
           epoch(r.finished_at - r.started_at) AS wall_seconds,
           a.tokens_in, a.tokens_out, a.model_requests, a.cached_replies,
           CASE WHEN a.run_id IS NULL THEN NULL ELSE coalesce(e.model_errors, 0) END AS model_errors,
           a.tool_calls, a.tool_errors, a.stage_seconds{run_out}
    FROM run_rows AS r
    LEFT JOIN a ON a.run_id = r.run_id
    LEFT JOIN e ON e.run_id = r.run_id
    """,
    )


M007_VIEWS = (_VIEW_MODEL_REQUESTS, _VIEW_RUN_MODEL_USAGE, *_tool_views(cached=False))

# report_runs and report_stages, with m008's cached tool calls filled in ({run}, {stage}) or not.
_REPORT_RUNS = """
    CREATE OR REPLACE MACRO report_runs(dataset, ref) AS TABLE
    SELECT r.run_id, r.dataset, r.status, r.started_at, r.finished_at, r.wall_seconds,
           r.tokens_in, r.tokens_out, r.model_requests, r.cached_replies, r.model_errors,
           r.tool_calls, r.tool_errors, r.flow_run_id{run}
    FROM runs AS r
    JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = r.run_id
    ORDER BY r.started_at, r.run_id
"""
_REPORT_STAGES = """
    CREATE OR REPLACE MACRO report_stages(dataset, ref) AS TABLE
    SELECT s.stage, sum(s.seconds) AS seconds, sum(s.model_requests)::BIGINT AS model_requests,
           sum(s.cached_replies)::BIGINT AS cached_replies,
           sum(s.tokens_in)::BIGINT AS tokens_in, sum(s.tokens_out)::BIGINT AS tokens_out,
           sum(s.tool_calls)::BIGINT AS tool_calls, sum(s.tool_errors)::BIGINT AS tool_errors{stage}
    FROM run_stages AS s
    JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = s.run_id
    GROUP BY s.stage
    ORDER BY min(s.started_at) NULLS LAST, s.stage
"""

# Macro parameters shadow column names inside a macro body (dataset, ref,
# version_id): every column below is qualified by its table alias.
M007_MACROS: tuple[str, ...] = (
    # The run(s) a version came from: the run that sealed it; for a version made
    # from others (derive, merge, rollback, seal), the run credited with each
    # member: one of the version's dataset if any, else the latest.
    """
    CREATE OR REPLACE MACRO version_runs(version_id) AS TABLE
    WITH v AS (
        SELECT vr.version_id AS vid, vr.dataset AS ds, vr.run_id AS rid FROM version_rows AS vr
        WHERE vr.version_id = CAST(version_id AS VARCHAR)
    ), credited AS (
        SELECT c.run_id AS rid FROM member_rows AS m
        JOIN v ON m.version_id = v.vid
        JOIN candidate_rows AS c ON c.example_id = m.example_id
        JOIN run_rows AS r ON r.run_id = c.run_id
        WHERE v.rid IS NULL
        QUALIFY row_number() OVER (PARTITION BY m.example_id
                                   ORDER BY (c.dataset = v.ds) DESC, r.started_at DESC, c.run_id) = 1
    )
    SELECT v.rid AS run_id FROM v WHERE v.rid IS NOT NULL
    UNION
    SELECT credited.rid FROM credited
    """,
    _REPORT_RUNS.format(run=""),
    # Per toolset: tools recorded, called (by the runs), answered without error at
    # least once, and used by the version's examples; calls and failed calls.
    """
    CREATE OR REPLACE MACRO report_tool_coverage(dataset, ref) AS TABLE
    WITH vid AS (SELECT resolve_version(dataset, ref) AS id),
    obs AS (
        SELECT o.toolset, o.tool, o.is_error FROM obs_rows AS o
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = o.run_id
    ),
    used AS (
        SELECT DISTINCT json_extract_string(st.step, '$.toolset') AS toolset,
               json_extract_string(st.step, '$.tool') AS tool
        FROM member_rows AS m JOIN vid ON m.version_id = vid.id
        JOIN example_rows AS e ON e.example_id = m.example_id,
        unnest(CAST(coalesce(json_extract(e.trace, '$.steps[*]'), []) AS JSON[])) AS st(step)
    ),
    sets AS (SELECT obs.toolset FROM obs UNION SELECT used.toolset FROM used),
    known AS (
        SELECT t.toolset, count(DISTINCT t.name) AS n FROM tool_rows AS t
        WHERE t.toolset IN (SELECT sets.toolset FROM sets) GROUP BY t.toolset
    ),
    called AS (
        SELECT obs.toolset, count(DISTINCT obs.tool) AS called,
               count(DISTINCT obs.tool) FILTER (WHERE NOT obs.is_error) AS succeeded,
               count(*) AS calls, count(*) FILTER (WHERE obs.is_error) AS errors
        FROM obs GROUP BY obs.toolset
    ),
    inv AS (SELECT used.toolset, count(DISTINCT used.tool) AS n FROM used GROUP BY used.toolset)
    SELECT sets.toolset,
           greatest(coalesce(known.n, 0), coalesce(called.called, 0), coalesce(inv.n, 0)) AS tools,
           coalesce(called.called, 0) AS tools_called,
           coalesce(called.succeeded, 0) AS tools_succeeded,
           coalesce(inv.n, 0) AS tools_in_version,
           coalesce(called.calls, 0) AS calls, coalesce(called.errors, 0) AS errors,
           coalesce(called.called, 0) / greatest(coalesce(known.n, 0), coalesce(called.called, 0),
                                                 coalesce(inv.n, 0), 1) AS tool_coverage
    FROM sets
    LEFT JOIN known ON known.toolset = sets.toolset
    LEFT JOIN called ON called.toolset = sets.toolset
    LEFT JOIN inv ON inv.toolset = sets.toolset
    ORDER BY sets.toolset
    """,
    # One row. Edges as tool_edges keys them (output field -> parameter), by kind,
    # over the runs; pairs: tool A's output fed tool B, confirmed by the runs vs
    # used by the version's examples (a step's argument taken from an earlier step).
    """
    CREATE OR REPLACE MACRO report_edges(dataset, ref) AS TABLE
    WITH vid AS (SELECT resolve_version(dataset, ref) AS id),
    ed AS (
        SELECT DISTINCT er.from_toolset, er.from_tool, er.field, er.to_toolset, er.to_tool,
               er.param, er.kind
        FROM edge_rows AS er
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = er.run_id
    ),
    steps AS (
        SELECT e.example_id, st.i, json_extract(e.trace, '$.steps[' || st.i || ']') AS step, e.trace
        FROM member_rows AS m JOIN vid ON m.version_id = vid.id
        JOIN example_rows AS e ON e.example_id = m.example_id,
        range(CAST(coalesce(json_array_length(e.trace, '$.steps'), 0) AS BIGINT)) AS st(i)
    ),
    fed AS (
        SELECT DISTINCT
               json_extract_string(steps.trace, '$.steps[' ||
                   json_extract_string(steps.step, '$.sources.' || to_json(k.param) || '.step') || '].toolset')
                   AS from_toolset,
               json_extract_string(steps.trace, '$.steps[' ||
                   json_extract_string(steps.step, '$.sources.' || to_json(k.param) || '.step') || '].tool')
                   AS from_tool,
               json_extract_string(steps.step, '$.toolset') AS to_toolset,
               json_extract_string(steps.step, '$.tool') AS to_tool
        FROM steps, unnest(coalesce(json_keys(steps.step, '$.sources'), []::VARCHAR[])) AS k(param)
        WHERE json_extract_string(steps.step, '$.sources.' || to_json(k.param) || '.origin') = 'step'
    ),
    pairs AS (
        SELECT DISTINCT ed.from_toolset, ed.from_tool, ed.to_toolset, ed.to_tool FROM ed
        WHERE ed.kind = 'confirmed'
    )
    SELECT
        (SELECT count(*) FROM ed WHERE ed.kind = 'candidate') AS candidate_edges,
        (SELECT count(*) FROM ed WHERE ed.kind = 'confirmed') AS confirmed_edges,
        (SELECT count(*) FROM ed WHERE ed.kind = 'failed') AS failed_edges,
        (SELECT count(*) FROM pairs) AS confirmed_pairs,
        (SELECT count(*) FROM fed) AS pairs_in_version,
        (SELECT count(*) FROM fed) / nullif((SELECT count(*) FROM pairs), 0) AS pair_coverage
    """,
    """
    CREATE OR REPLACE MACRO report_chain_lengths(dataset, ref) AS TABLE
    SELECT CAST(coalesce(json_array_length(e.trace, '$.steps'), 0) AS BIGINT) AS steps,
           count(*) AS examples
    FROM member_rows AS m JOIN example_rows AS e ON e.example_id = m.example_id
    WHERE m.version_id = resolve_version(dataset, ref)
    GROUP BY ALL ORDER BY steps
    """,
    """
    CREATE OR REPLACE MACRO report_kinds(dataset, ref) AS TABLE
    SELECT e.kind, count(*) AS examples, count(*) / sum(count(*)) OVER () AS share
    FROM member_rows AS m JOIN example_rows AS e ON e.example_id = m.example_id
    WHERE m.version_id = resolve_version(dataset, ref)
    GROUP BY e.kind ORDER BY examples DESC, e.kind
    """,
    # Ten buckets [0, 0.1), ..., [0.9, 1.0] (1.0 in the last): the version's member
    # scores, and every scored candidate of the runs (rejected ones included).
    """
    CREATE OR REPLACE MACRO report_scores(dataset, ref) AS TABLE
    WITH b AS (SELECT CAST(t.i AS INTEGER) AS bucket FROM range(10) AS t(i)),
    ms AS (
        SELECT CAST(least(floor(m.score * 10), 9) AS INTEGER) AS bucket, count(*) AS n
        FROM member_rows AS m
        WHERE m.version_id = resolve_version(dataset, ref) AND m.score IS NOT NULL
        GROUP BY 1
    ),
    cs AS (
        SELECT CAST(least(floor(c.score * 10), 9) AS INTEGER) AS bucket, count(*) AS n
        FROM candidate_rows AS c
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = c.run_id
        WHERE c.score IS NOT NULL
        GROUP BY 1
    )
    SELECT b.bucket, b.bucket / 10 AS lower, (b.bucket + 1) / 10 AS upper,
           coalesce(ms.n, 0) AS members, coalesce(cs.n, 0) AS candidates
    FROM b LEFT JOIN ms ON ms.bucket = b.bucket LEFT JOIN cs ON cs.bucket = b.bucket
    ORDER BY b.bucket
    """,
    # Per rubric leaf over the runs' candidates: passed, failed, skipped, and leaves
    # with neither verdict nor skip (a judge that could not answer).
    """
    CREATE OR REPLACE MACRO report_leaves(dataset, ref) AS TABLE
    WITH cands AS (
        SELECT DISTINCT c.example_id, c.rubric_hash FROM candidate_rows AS c
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = c.run_id
    )
    SELECT l.node_id, l.kind, bool_or(l.critical) AS critical, count(*) AS leaves,
           count(*) FILTER (WHERE l.passed) AS passed,
           count(*) FILTER (WHERE NOT l.passed) AS failed,
           count(*) FILTER (WHERE l.skipped) AS skipped,
           count(*) FILTER (WHERE l.passed IS NULL AND NOT l.skipped) AS errors,
           count(*) FILTER (WHERE l.passed) / nullif(count(*) FILTER (WHERE l.passed IS NOT NULL), 0)
               AS pass_rate,
           avg(l.score) AS mean_score, avg(l.p_yes) AS mean_p_yes, avg(l.coverage) AS mean_coverage
    FROM leaf_rows AS l JOIN cands ON cands.example_id = l.example_id AND cands.rubric_hash = l.rubric_hash
    GROUP BY l.node_id, l.kind
    ORDER BY l.kind, l.node_id
    """,
    # Rejected and judge_error candidates of the runs by failing leaf (the part of
    # the reason before ':'; "score ... below min_score" as one group), with one
    # reason as an example.
    """
    CREATE OR REPLACE MACRO report_rejections(dataset, ref) AS TABLE
    WITH c AS (
        SELECT c.status, c.reason,
               CASE WHEN c.reason LIKE 'score % below min_score %' THEN 'below min_score'
                    ELSE split_part(c.reason, ':', 1) END AS leaf
        FROM candidate_rows AS c
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = c.run_id
        WHERE c.status <> 'accepted'
    )
    SELECT c.status, c.leaf, count(*) AS candidates, min(c.reason) AS example_reason
    FROM c GROUP BY c.status, c.leaf
    ORDER BY candidates DESC, c.status, c.leaf
    """,
    _REPORT_STAGES.format(stage=""),
    """
    CREATE OR REPLACE MACRO report_model_usage(dataset, ref) AS TABLE
    SELECT u.stage, u.endpoint, u.model, sum(u.requests)::BIGINT AS requests,
           sum(u.cached)::BIGINT AS cached, sum(u.errors)::BIGINT AS errors,
           sum(u.tokens_in)::BIGINT AS tokens_in, sum(u.tokens_out)::BIGINT AS tokens_out
    FROM run_model_usage AS u
    JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = u.run_id
    GROUP BY u.stage, u.endpoint, u.model
    ORDER BY u.stage, u.endpoint, u.model
    """,
    # Model requests actually sent, per endpoint; tool calls of the runs, per tool.
    """
    CREATE OR REPLACE MACRO report_latency(dataset, ref) AS TABLE
    WITH lat AS (
        SELECT 'model' AS source, mr.endpoint AS name, mr.latency_ms FROM run_model_rows AS mr
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = mr.run_id
        WHERE NOT mr.cached
        UNION ALL
        SELECT 'tool', o.toolset || '.' || o.tool, o.latency_ms FROM obs_rows AS o
        JOIN version_runs(resolve_version(dataset, ref)) AS vr ON vr.run_id = o.run_id
    )
    SELECT lat.source, lat.name, count(*) AS calls,
           quantile_cont(lat.latency_ms, 0.5) AS p50_ms, quantile_cont(lat.latency_ms, 0.9) AS p90_ms,
           quantile_cont(lat.latency_ms, 0.99) AS p99_ms, max(lat.latency_ms) AS max_ms
    FROM lat GROUP BY lat.source, lat.name
    ORDER BY lat.source, lat.name
    """,
)

# The report's macros, in the order the report shows them.
REPORT_MACROS: tuple[str, ...] = (
    "report_runs", "report_stages", "report_model_usage", "report_latency", "report_tool_coverage",
    "report_edges", "report_chain_lengths", "report_kinds", "report_scores", "report_leaves",
    "report_rejections",
)

ACCOUNTING_COLUMNS: dict[str, tuple[str, ...]] = {
    "model_requests": ("run_id", "stage", "endpoint", "model", "started_at", "latency_ms", "tokens_in",
                       "tokens_out", "cached", "error", "request_key"),
    "run_model_usage": ("run_id", "stage", "endpoint", "model", "requests", "cached", "errors",
                        "tokens_in", "tokens_out", "cached_tokens_in", "cached_tokens_out",
                        "p50_ms", "p95_ms"),
    "run_tool_calls": ("run_id", "stage", "toolset", "calls", "errors", "cached"),
    "run_stages": ("run_id", "stage", "started_at", "seconds", "model_requests", "cached_replies",
                   "tokens_in", "tokens_out", "tool_calls", "tool_errors", "cached_tool_calls"),
    "version_runs": ("run_id",),
    "report_runs": ("run_id", "dataset", "status", "started_at", "finished_at", "wall_seconds",
                    "tokens_in", "tokens_out", "model_requests", "cached_replies", "model_errors",
                    "tool_calls", "tool_errors", "flow_run_id", "cached_tool_calls"),
    "report_tool_coverage": ("toolset", "tools", "tools_called", "tools_succeeded", "tools_in_version",
                             "calls", "errors", "tool_coverage"),
    "report_edges": ("candidate_edges", "confirmed_edges", "failed_edges", "confirmed_pairs",
                     "pairs_in_version", "pair_coverage"),
    "report_chain_lengths": ("steps", "examples"),
    "report_kinds": ("kind", "examples", "share"),
    "report_scores": ("bucket", "lower", "upper", "members", "candidates"),
    "report_leaves": ("node_id", "kind", "critical", "leaves", "passed", "failed", "skipped", "errors",
                      "pass_rate", "mean_score", "mean_p_yes", "mean_coverage"),
    "report_rejections": ("status", "leaf", "candidates", "example_reason"),
    "report_stages": ("stage", "seconds", "model_requests", "cached_replies", "tokens_in", "tokens_out",
                      "tool_calls", "tool_errors", "cached_tool_calls"),
    "report_model_usage": ("stage", "endpoint", "model", "requests", "cached", "errors", "tokens_in",
                           "tokens_out"),
    "report_latency": ("source", "name", "calls", "p50_ms", "p90_ms", "p99_ms", "max_ms"),
}

ACCOUNTING_MACROS: dict[str, str] = {
    "version_runs": "version_runs(version_id)",
    **{name: f"{name}(dataset, ref)" for name in REPORT_MACROS},
}

# Appended to the runs view's contract by m007 (cached_tool_calls by m008).
RUNS_ACCOUNTING_COLUMNS: tuple[str, ...] = (
    "wall_seconds", "tokens_in", "tokens_out", "model_requests", "cached_replies", "model_errors",
    "tool_calls", "tool_errors", "stage_seconds", "cached_tool_calls",
)


def m007_run_accounting(con: duckdb.DuckDBPyConnection) -> None:
    """Accounting per run (stage time, model requests and tokens, tool calls) and the report macros."""
    for statement in (*M007_TABLES, *M007_VIEWS, *M007_MACROS):
        con.execute(statement)


M008_STATEMENTS: tuple[str, ...] = (
    "ALTER TABLE run_tool_rows ADD COLUMN cached BIGINT DEFAULT 0",
    *_tool_views(cached=True),
    _REPORT_RUNS.format(run=", r.cached_tool_calls"),
    _REPORT_STAGES.format(stage=",\n           sum(s.cached_tool_calls)::BIGINT AS cached_tool_calls"),
)


def m008_cached_tool_calls(con: duckdb.DuckDBPyConnection) -> None:
    """Tool calls answered from the call cache, apart from calls executed (a resumed run's are not new).

    Rows stored before count every call as executed (cached 0), as they were.
    """
    for statement in M008_STATEMENTS:
        con.execute(statement)


def _append(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """INSERT an Arrow table by column name (these tables have no key: rows are appended)."""
    con.register("_accounting_in", rows)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _accounting_in")
    finally:
        con.unregister("_accounting_in")


class AccountingMixin:
    """Store methods that record what a run spent and read a version's report numbers."""

    if TYPE_CHECKING:
        @property
        def con(self) -> duckdb.DuckDBPyConnection: ...

        def _write(self, action: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...
        def describe(self, dataset: str, ref: Any = ...) -> dict[str, Any]: ...

    def save_accounting(
        self, run_id: str, *, stages: Sequence[StageTiming] = (), requests: Sequence[ModelRequest] = (),
        tool_calls: Sequence[ToolCallCount] = (),
    ) -> None:
        """Append a run's stage timings, model requests and tool-call counts, in one transaction."""
        stage_table = pa.table({
            "run_id": [run_id] * len(stages),
            "stage": [s.stage for s in stages],
            "started_at": pa.array([s.started_at for s in stages], type=_arrow.UTC_TS),
            "seconds": pa.array([s.seconds for s in stages], type=pa.float64()),
        })
        model_table = pa.table({
            "run_id": [run_id] * len(requests),
            "stage": [r.stage for r in requests],
            "endpoint": [r.endpoint for r in requests],
            "model": [r.model for r in requests],
            "request_key": [r.key for r in requests],
            "started_at": pa.array([r.started_at for r in requests], type=_arrow.UTC_TS),
            "latency_ms": pa.array([r.latency_ms for r in requests], type=pa.float64()),
            "tokens_in": pa.array([r.tokens_in for r in requests], type=pa.int64()),
            "tokens_out": pa.array([r.tokens_out for r in requests], type=pa.int64()),
            "cached": pa.array([r.cached for r in requests], type=pa.bool_()),
            "error": pa.array([r.error for r in requests], type=pa.string()),
        })
        tool_table = pa.table({
            "run_id": [run_id] * len(tool_calls),
            "stage": [t.stage for t in tool_calls],
            "toolset": [t.toolset for t in tool_calls],
            "calls": pa.array([t.calls for t in tool_calls], type=pa.int64()),
            "errors": pa.array([t.errors for t in tool_calls], type=pa.int64()),
            "cached": pa.array([t.cached for t in tool_calls], type=pa.int64()),
        })
        with self._write("save run accounting") as con:
            for table, rows in (("run_stage_rows", stage_table), ("run_model_rows", model_table),
                                ("run_tool_rows", tool_table)):
                if rows.num_rows:
                    _append(con, table, rows)

    def report_tables(self, dataset: str, ref: Any, *, samples: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED,
                      ) -> tuple[dict[str, Any], dict[str, tuple[list[str], list[tuple[Any, ...]]]]]:
        """The version a reference names (the versions view's row) and every report macro's result:
        ``report_summary``, ``report_samples`` (``samples`` rows of each kind, ``seed``) and REPORT_MACROS.

        The macros are called with the version's number, so all of them read the
        same version even if a tag moves meanwhile.
        """
        meta = self.describe(dataset, ref)
        args = [meta["dataset"], str(meta["version"])]
        calls = [("report_summary", "report_summary(?, ?)", args),
                 ("report_samples", "report_samples(?, ?, n := ?, seed := ?)", [*args, samples, seed]),
                 *((name, f"{name}(?, ?)", args) for name in REPORT_MACROS)]
        out: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        for name, call, params in calls:
            cur = self.con.execute(f"SELECT * FROM {call}", params)
            out[name] = ([d[0] for d in cur.description], cur.fetchall())
        return meta, out
